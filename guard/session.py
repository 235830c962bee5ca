"""One guarded session as a trajectory: the user's requests, every listed tool, the calls and their results.

Where the user's request comes from (a wire proxy sees tool calls, never the chat), in order of precedence:

1. ``_meta`` on the ``tools/call`` request: ``{"mcip/user_request": "<the user's latest message>"}``, set by a
   host that knows it. A new value starts a new user turn in the session's log.
2. A session file (``mcip-guard proxy --session-file PATH``): JSON ``{"user_request": "..."}`` or
   ``{"user_requests": ["...", ...]}``, rewritten by the host or an IDE extension as the chat goes on; read again
   whenever it changes.
3. A pre-tool-use hook (``mcip-guard hook``): the client hands over its transcript, so the request is known.

When none is known the log holds no user turn; the guardian judges the calls without it, the review says
``request: unknown``, and the policy's ``unknown_request`` decides (``review``, ``ask`` or ``block``).
"""

from __future__ import annotations

import itertools
import json
import uuid
from pathlib import Path
from typing import Any

from mcip.record import Message, Tool, ToolCall, Trajectory

REQUEST_META_KEY = "mcip/user_request"


def result_text(content: list[Any], structured: Any = None) -> str:
    """A tool result as the one string the interchange format stores (MCP content blocks joined)."""
    parts = []
    for block in content or ():
        kind = getattr(block, "type", None)
        if kind == "text":
            parts.append(block.text)
        elif kind == "resource":
            res = block.resource
            parts.append(getattr(res, "text", None) or f"[resource {res.uri}]")
        elif kind == "resource_link":
            parts.append(f"[resource link {block.uri}]")
        else:
            parts.append(f"[{kind} {getattr(block, 'mime_type', '')}]".strip())
    if not parts and structured is not None:
        parts.append(json.dumps(structured, ensure_ascii=False))
    return "\n".join(parts)


class SessionFile:
    """The latest user request(s) a host writes to a file; re-read when its modification time changes."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._stamp: tuple[int, int] | None = None
        self.requests: list[str] = []
        self.error: str | None = None

    def read(self) -> list[str]:
        try:
            st = self.path.stat()
        except OSError:
            self.error = f"{self.path}: missing"
            return self.requests
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp != self._stamp:
            self._stamp = stamp
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
                reqs = data.get("user_requests") or (
                    [data["user_request"]] if data.get("user_request") else []
                )
                if not all(isinstance(r, str) for r in reqs):
                    raise ValueError("requests must be strings")
                self.requests, self.error = list(reqs), None
            except (OSError, ValueError, AttributeError, KeyError) as err:
                self.error = f"{self.path}: unreadable session file ({err})"
        return self.requests


class Session:
    """The growing log of one client session; ``snapshot`` gives the trajectory a review sees."""

    def __init__(self, server: str, session_file: SessionFile | None = None):
        self.id = uuid.uuid4().hex[:12]
        self.server = server
        self.session_file = session_file
        self.tools: dict[str, Tool] = {}
        self.messages: list[Message] = []
        self.requests: list[str] = []
        self.request_source = "unknown"
        self._ids = itertools.count(1)

    def set_tools(self, tools: list[Any]) -> list[Tool]:
        """Record a full ``tools/list`` answer (SDK ``Tool`` objects) in the interchange shape."""
        out = []
        for t in tools:
            annotations = t.annotations.model_dump(exclude_none=True) if t.annotations else None
            out.append(
                Tool(
                    name=t.name,
                    title=t.title,
                    description=t.description or "",
                    inputSchema=t.input_schema or {"type": "object", "properties": {}},
                    server=self.server,
                    annotations=annotations,
                )
            )
        self.tools = {t.name: t for t in out}
        return out

    def note_request(self, meta: dict[str, Any] | None) -> None:
        """Take the user's request from the call's ``_meta`` or the session file; a new one is a new user turn."""
        text = (meta or {}).get(REQUEST_META_KEY)
        if isinstance(text, str) and text.strip():
            self._add_request(text, "meta")
            return
        if self.session_file is not None:
            for req in self.session_file.read():
                if req not in self.requests:
                    self._add_request(req, "session_file")

    def _add_request(self, text: str, source: str) -> None:
        self.request_source = source
        if self.requests and self.requests[-1] == text:
            return
        self.requests.append(text)
        self.messages.append(Message(role="user", content=text))

    def propose(self, name: str, arguments: dict[str, Any]) -> str:
        """Append the proposed call; returns its call id."""
        call_id = f"call_{next(self._ids)}"
        call = ToolCall(id=call_id, function={"name": name, "arguments": arguments})
        self.messages.append(Message(role="assistant", tool_calls=[call]))
        return call_id

    def record_result(self, call_id: str, text: str) -> None:
        self.messages.append(Message(role="tool", tool_call_id=call_id, content=text))

    def snapshot(self, upto_call: str | None = None, meta: dict[str, Any] | None = None) -> Trajectory:
        """The session's trajectory; with ``upto_call``, ending with that call (results after it left out)."""
        msgs = list(self.messages)
        if upto_call is not None:
            end = next(i for i, m in enumerate(msgs) if any(c.id == upto_call for c in m.tool_calls or ()))
            msgs = msgs[: end + 1]
            # calls proposed concurrently and still unanswered are not part of this call's history
            answered = {m.tool_call_id for m in msgs if m.role == "tool"}
            msgs = [
                m
                for i, m in enumerate(msgs)
                if i == end or not m.tool_calls or all(c.id in answered for c in m.tool_calls)
            ]
        return Trajectory(
            id=f"{self.id}-{upto_call}" if upto_call else self.id,
            tools=list(self.tools.values()),
            messages=msgs,
            meta={"session": self.id, "server": self.server, "request": self.request_source, **(meta or {})},
        )
