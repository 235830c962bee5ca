"""Start, stop and failure of ``mcip-guard proxy`` with real processes: an upstream that never answers
``initialize``, one that exits at start, a client that goes away (no orphans), and an upstream that dies between
two calls (reported before any guardian pass). The client is the SDK's real ``mcp.Client`` or a bare pipe."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from mcip.record import load_jsonl
from tests.test_guard_proxy import LOG_ONLY, REPO, REQUEST, SERVER, run_session, text, write_policy

pytestmark = pytest.mark.slow  # real processes: 5-20 s a test on 2 cores

HANG = """import os, sys, time
open(sys.argv[1], "w").write(str(os.getpid()))
print("hang server: loading a very large index", file=sys.stderr, flush=True)
time.sleep(3600)
"""
DIE = """import sys
print("die server: cannot read /etc/die-server.toml", file=sys.stderr, flush=True)
sys.exit(7)
"""


def _env(extra: dict | None = None) -> dict:
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    return (
        base
        | {"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "PYTHONPATH": str(REPO)}
        | (extra or {})
    )


def _proxy_argv(guardian, upstream: list[str], *extra: str) -> list[str]:
    return ["-m", "guard.cli", "proxy", "--guardian", str(guardian), *extra, "--", *upstream]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.1)
    return False


def _connect_fails(params: StdioServerParameters, errpath: Path) -> float:
    """Connect the SDK client to the proxy; the connection must fail. Returns the seconds it took."""

    async def main():
        with open(errpath, "w", encoding="utf-8") as errlog:
            async with Client(stdio_client(params, errlog=errlog), cache=None):
                pass

    start = time.perf_counter()
    with pytest.raises(Exception):  # noqa: B017, PT011 - the SDK's own connection error; the cause is on stderr
        anyio.run(main)
    return time.perf_counter() - start


def test_an_upstream_that_never_answers_times_out_naming_command_and_stderr(tmp_path, tiny_model_dir):
    script, pidfile = tmp_path / "hang_server.py", tmp_path / "hang.pid"
    script.write_text(HANG)
    upstream = [sys.executable, str(script), str(pidfile)]
    argv = _proxy_argv(tiny_model_dir, upstream, "--start-timeout", "3")
    params = StdioServerParameters(command=sys.executable, args=argv, env=_env(), cwd=str(REPO))
    seconds = _connect_fails(params, tmp_path / "err.txt")
    err = (tmp_path / "err.txt").read_text()
    assert f"`{' '.join(upstream)}`" in err  # the command, as run
    # the SDK client's first request: `server/discover` (its probe for a 2026 server), else `initialize`
    assert re.search(r"did not answer `(server/discover|initialize)` within the 3 s start timeout", err), err
    assert "still running" in err and "hang server: loading a very large index" in err  # its last stderr line
    assert seconds < 60
    assert _wait_gone(int(pidfile.read_text()), 10)  # the proxy stopped the upstream it started


def test_an_upstream_that_exits_at_start_names_its_exit_code(tmp_path, tiny_model_dir):
    script = tmp_path / "die_server.py"
    script.write_text(DIE)
    argv = _proxy_argv(tiny_model_dir, [sys.executable, str(script)])
    params = StdioServerParameters(command=sys.executable, args=argv, env=_env(), cwd=str(REPO))
    _connect_fails(params, tmp_path / "err.txt")
    err = (tmp_path / "err.txt").read_text()
    assert f"`{sys.executable} {script}` failed to start" in err
    assert "exited with code 7" in err and "die server: cannot read /etc/die-server.toml" in err


def test_an_unreachable_http_upstream_is_named(tmp_path, tiny_model_dir):
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/mcp"
    args = ["-m", "guard.cli", "proxy", "--guardian", str(tiny_model_dir), "--start-timeout", "20"]
    params = StdioServerParameters(
        command=sys.executable, args=[*args, "--upstream", url], env=_env(), cwd=str(REPO)
    )
    _connect_fails(params, tmp_path / "err.txt")
    err = (tmp_path / "err.txt").read_text()
    assert f"the upstream MCP server at {url} failed to start (ConnectError" in err


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "pipe", "version": "0"},
    },
}


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        out += [int(c) for c in (task / "children").read_text().split()]
    return out


@pytest.mark.parametrize("stage", ["starting", "serving"])
def test_no_orphans_when_the_client_goes_away(tmp_path, tiny_model_dir, stage):
    """The client's end of stdin closes (it exited or was killed): the proxy and its upstream stop, whether the
    upstream was still starting (it would never answer) or serving."""
    pidfile = tmp_path / "hang.pid"
    if stage == "starting":
        (tmp_path / "hang_server.py").write_text(HANG)
        upstream = [sys.executable, str(tmp_path / "hang_server.py"), str(pidfile)]
    else:
        upstream = SERVER
    argv = [sys.executable, *_proxy_argv(tiny_model_dir, upstream, "--start-timeout", "300")]
    with open(tmp_path / "err.txt", "w") as errlog:
        proxy = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errlog, env=_env(), cwd=REPO
        )
    try:
        deadline = time.time() + 60
        if stage == "serving":  # the relay forwards the client's initialize; the upstream answers it
            proxy.stdin.write((json.dumps(INITIALIZE) + "\n").encode())
            proxy.stdin.flush()
            answer = json.loads(proxy.stdout.readline())
            assert answer["id"] == 1 and answer["result"]["serverInfo"]["name"] == "mail", answer
        while (
            not pidfile.exists()
            if stage == "starting"
            else "guarding 'mail'" not in (tmp_path / "err.txt").read_text()
        ):
            assert proxy.poll() is None and time.time() < deadline, (tmp_path / "err.txt").read_text()
            time.sleep(0.1)
        upstream_pid = int(pidfile.read_text()) if stage == "starting" else _children(proxy.pid)[0]
        assert _alive(upstream_pid)
        proxy.stdin.close()  # the client goes away
        proxy.wait(30)  # far below the 300 s start timeout
        assert _wait_gone(upstream_pid, 10)
    finally:
        if proxy.poll() is None:
            proxy.kill()
            proxy.wait()


def _find_upstream(marker: str) -> int:
    """The pid of the mail server started with ``MCIP_TEST_MARKER=marker`` in its environment."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            if (
                f"MCIP_TEST_MARKER={marker}".encode() in (proc / "environ").read_bytes()
                and argv[1:2] == [SERVER[1].encode()]  # the server itself, not the proxy that names it
            ):
                return int(proc.name)
        except OSError:
            continue
    raise AssertionError("the upstream mail server is not running")


def test_schema_check_secret_redaction_and_a_dead_upstream_before_any_guardian_pass(tmp_path, tiny_model_dir):
    """One session through the proxy: a call with arguments its schema rejects is blocked without a guardian pass;
    a key in a call's arguments stays out of the audit log; after the upstream dies between two calls, the next
    call is reported as gone, with no guardian pass spent on it."""
    marker = uuid.uuid4().hex
    aws_key = "AKIA" + uuid.uuid4().hex[:16].upper().replace("0", "Q").replace("1", "Z")
    audit = tmp_path / "audit.jsonl"
    policy = write_policy(tmp_path, LOG_ONLY)
    argv = _proxy_argv(tiny_model_dir, SERVER, "--policy", str(policy), "--audit-log", str(audit))
    params = StdioServerParameters(
        command=sys.executable, args=argv, env=_env({"MCIP_TEST_MARKER": marker}), cwd=str(REPO)
    )

    async def script(c):
        bad = await c.call_tool("add", {"a": "two", "b": 2}, meta=REQUEST)
        sent = await c.call_tool("send_email", {"to": "ops@example.com", "body": f"the key is {aws_key}"})
        pid = _find_upstream(marker)
        os.kill(pid, signal.SIGKILL)
        await anyio.to_thread.run_sync(_wait_gone, pid, 10)
        await anyio.sleep(0.5)  # the proxy's event loop sees the exit
        after = await c.call_tool("add", {"a": 1, "b": 2})
        return bad, sent, after

    bad, sent, after = run_session(params, script, tmp_path / "err.txt")
    assert bad.is_error and "do not match the input schema of 'add'" in text(bad) and "(at a)" in text(bad)
    assert not sent.is_error and json.loads(text(sent)) == {"sent": True, "to": "ops@example.com"}
    assert after.is_error and "is gone" in text(after) and "killed by signal 9" in text(after)
    raw = audit.read_text()
    assert aws_key not in raw and "[REDACTED:AWS Access Key]" in raw
    records = load_jsonl(audit)
    guard = [r.meta["guard"] for r in records]
    assert [g["rule"] for g in guard] == ["invalid_arguments", "guardian", "upstream_gone"]
    assert guard[0]["review"] is None and guard[2]["review"] is None  # no guardian pass on either
    assert guard[2]["outcome"]["ran"] is False
    # a guardian's verdict is never a label: the record is unlabelled, the verdict kept in meta
    assert all(r.label is None and r.meta["label_source"] == "unlabelled" for r in records)
    assert records[1].meta["guardian_verdict"] == guard[1]["review"]["label"]


def test_a_first_call_gets_a_verdict_with_the_shipped_default_policy(tmp_path, smollm2_dir):
    """A new user's first guarded call with `recipes/guard/default.yaml` and a SmolLM2-sized guardian on this
    CPU: the deadline is measured when the guardian loads, so the call gets the guardian's verdict instead of
    "missed its deadline" (which blocked every call with the old fixed 5 s)."""
    audit = tmp_path / "audit.jsonl"
    policy = REPO / "recipes" / "guard" / "default.yaml"
    argv = _proxy_argv(smollm2_dir, SERVER, "--policy", str(policy), "--audit-log", str(audit))
    params = StdioServerParameters(command=sys.executable, args=argv, env=_env(), cwd=str(REPO))

    async def script(c):
        return await c.call_tool("add", {"a": 2, "b": 40}, meta=REQUEST)

    run_session(params, script, tmp_path / "err.txt")
    (rec,) = load_jsonl(audit)
    guard = rec.meta["guard"]
    assert guard["rule"] == "guardian", guard["reason"]  # a verdict, not a missed deadline
    assert guard["review"]["p_unsafe"] is not None
    err = (tmp_path / "err.txt").read_text()
    assert "guardian ready; a pass takes" in err and "ms (auto)" in err
