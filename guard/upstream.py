"""Starting and watching the upstream MCP server: the process behind a stdio upstream, its stderr, its exit.

The SDK's ``stdio_client`` spawns the server and owns its shutdown (close stdin, wait, kill the process group);
it does not hand out the process. ``stdio_transport`` wraps it so the proxy can

- tell whether the server is still alive before a guardian pass is spent on a call it can no longer run;
- name the exit code and the last lines of stderr when the server fails to start (exits, or never answers
  ``initialize`` within the start timeout).

The server's stderr still reaches the proxy's stderr (the host's log) line by line; the last lines are kept.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import sys
import threading
from collections.abc import AsyncIterator
from typing import Any

import anyio
import mcp.client.stdio as sdk_stdio
from mcp import StdioServerParameters

TAIL_LINES = 20


class UpstreamStartError(RuntimeError):
    """The upstream server could not be started or did not answer ``initialize`` in time; the message says which
    command, its exit code (or that it was still running) and its last stderr lines."""


class UpstreamProcess:
    """The stdio upstream's process (once spawned) and the tail of its stderr."""

    def __init__(self, command: list[str]):
        self.command = command
        self.process: Any = None
        self.tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
        self._reader: threading.Thread | None = None

    @property
    def returncode(self) -> int | None:
        return None if self.process is None else self.process.returncode

    @property
    def exited(self) -> bool:
        return self.returncode is not None

    async def wait(self) -> None:
        """Until the process has exited and its exit code is known (polled, like the SDK: ``process.wait()``
        also waits for pipe EOF, which a grandchild holding the pipe delays for ever)."""
        while self.process is not None and self.process.returncode is None:
            await anyio.sleep(0.05)

    def _pipe(self):
        """A write end for the server's stderr; a daemon thread copies each line to ours and keeps the tail."""
        rfd, wfd = os.pipe()

        def pump() -> None:
            with os.fdopen(rfd, "r", encoding="utf-8", errors="replace") as src:
                for line in src:
                    self.tail.append(line.rstrip("\n"))
                    with contextlib.suppress(OSError, ValueError):
                        sys.stderr.write(line)
                        sys.stderr.flush()

        self._reader = threading.Thread(target=pump, name="upstream-stderr", daemon=True)
        self._reader.start()
        return os.fdopen(wfd, "w")

    def stderr_tail(self, wait: float = 0.5) -> list[str]:
        if self._reader is not None and self.exited:
            self._reader.join(wait)  # the pipe ends with the process: let the last lines arrive
        return list(self.tail)

    def describe(self, what: str, stopped: bool = False) -> str:
        """``what`` plus the command, its exit code (or that it was still running, ``stopped`` by the proxy) and
        its last stderr lines."""
        cmd = " ".join(self.command)
        code = self.returncode
        if self.process is None:
            state = "it was never started"
        elif code is None or stopped:
            state = f"it was still running (pid {self.process.pid}), so the proxy stopped it"
        elif code < 0:
            state = f"it was killed by signal {-code}"
        else:
            state = f"it exited with code {code}"
        tail = self.stderr_tail()
        lines = [f"the upstream MCP server `{cmd}` {what}; {state}."]
        if tail:
            lines.append(f"Its last {len(tail)} stderr line(s):")
            lines += [f"  | {t}" for t in tail]
        else:
            lines.append("It wrote nothing on stderr.")
        return "\n".join(lines)


@contextlib.asynccontextmanager
async def stdio_transport(params: StdioServerParameters, watch: UpstreamProcess) -> AsyncIterator[Any]:
    """The SDK's ``stdio_client`` for ``params``, with the spawned process recorded in ``watch`` and its stderr
    teed through ``watch``. (The SDK spawns through a module-level function; it is wrapped only for the spawn.)"""
    spawn = sdk_stdio._create_platform_compatible_process
    errlog = watch._pipe()

    async def recording_spawn(*args: Any, **kwargs: Any) -> Any:
        watch.process = await spawn(*args, **kwargs)
        return watch.process

    async with contextlib.AsyncExitStack() as stack:
        sdk_stdio._create_platform_compatible_process = recording_spawn
        try:
            streams = await stack.enter_async_context(sdk_stdio.stdio_client(params, errlog=errlog))
        finally:
            sdk_stdio._create_platform_compatible_process = spawn
            errlog.close()  # the child holds its own copy; ours would keep the pipe open for ever
        yield streams


class TransportErrors(logging.Handler):
    """The last error the SDK's streamable-HTTP client transport logged. Its writer task logs a failed POST
    (an unreachable host, a refused connection) and ends, closing the stream without the cause; the start error
    names the cause from here."""

    LOGGER = "mcp.client.streamable_http"

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.last: BaseException | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[1] is not None:
            self.last = record.exc_info[1]

    @contextlib.contextmanager
    def watching(self):
        log = logging.getLogger(self.LOGGER)
        log.addHandler(self)
        try:
            yield self
        finally:
            log.removeHandler(self)
