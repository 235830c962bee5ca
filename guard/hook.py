"""``mcip-guard hook``: a pre-tool-use hook for clients that run one before every tool call (Claude Code's
``PreToolUse``; the same JSON shape is easy to produce from any host).

Reads one JSON object on stdin: ``{"tool_name": ..., "tool_input": {...}, "transcript_path": ..., "session_id":
...}``. The transcript (Claude Code's JSONL: user and assistant turns with ``tool_use`` / ``tool_result`` blocks)
gives what a wire proxy cannot see: the user's requests and the earlier calls and results of every server. The
decision goes to stdout as ``{"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision":
"allow" | "deny" | "ask", "permissionDecisionReason": ...}}``; ``ask`` maps to the client's own prompt. The model
loads on every call (a hook is one process per call): keep a small guardian, or serve it behind ``--api-base``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import anyio

from guard.audit import AuditLog, Redactor, env_secrets
from guard.gate import Gate, GuardianLoader
from mcip.record import Message, Tool, ToolCall, Trajectory

_DECISION = {"allow": "allow", "log": "allow", "block": "deny", "ask": "ask"}


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(_text(b.get("text", b.get("content", ""))) for b in content if isinstance(b, dict))
    return "" if content is None else json.dumps(content)


def transcript_messages(path: str | None) -> list[Message]:
    """User turns, tool calls and tool results from a Claude-Code-style JSONL transcript (unknown lines skipped)."""
    msgs: list[Message] = []
    seen: set[str] = set()
    if not path:
        return msgs
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError:
        return msgs
    for line in lines:
        try:
            entry = json.loads(line)
            msg = entry.get("message") or {}
            role, content = msg.get("role") or entry.get("type"), msg.get("content")
        except (json.JSONDecodeError, AttributeError):
            continue
        blocks = content if isinstance(content, list) else [{"type": "text", "text": content}]
        for b in blocks:
            if not isinstance(b, dict):
                continue
            if role == "user" and b.get("type") == "text" and _text(b.get("text")).strip():
                msgs.append(Message(role="user", content=_text(b.get("text"))))
            elif role == "assistant" and b.get("type") == "tool_use" and b.get("id") and b["id"] not in seen:
                seen.add(b["id"])
                call = ToolCall(
                    id=b["id"], function={"name": b.get("name", "?"), "arguments": b.get("input") or {}}
                )
                msgs.append(Message(role="assistant", tool_calls=[call]))
            elif role == "user" and b.get("type") == "tool_result" and b.get("tool_use_id") in seen:
                msgs.append(
                    Message(role="tool", tool_call_id=b["tool_use_id"], content=_text(b.get("content")))
                )
    return msgs


def run_hook(args, policy, factory) -> int:
    event = json.load(sys.stdin)
    name, tool_input = event.get("tool_name", "?"), event.get("tool_input") or {}
    msgs = transcript_messages(event.get("transcript_path"))
    call = ToolCall(id="proposed", function={"name": name, "arguments": tool_input})
    msgs.append(Message(role="assistant", tool_calls=[call]))
    known = any(m.role == "user" for m in msgs)
    names = {c.function.name for m in msgs for c in m.tool_calls or ()}
    traj = Trajectory(
        id=f"hook-{event.get('session_id', 'session')}",
        tools=[Tool(name=n) for n in sorted(names)],  # a hook sees calls, not tool lists
        messages=msgs,
        meta={"session": event.get("session_id"), "request": "transcript" if known else "unknown"},
    )
    gate = Gate(policy, GuardianLoader(factory, args.guardian or args.api_model))
    decision = anyio.run(
        lambda: gate.decide(traj, name, None, listed=True, drifted=False, request_known=known)
    )
    if args.audit_log:
        meta = {
            **traj.meta,
            "guard": {"tool": name, **decision.to_dict()},
            # a prediction, never a label: unlabelled until a person labels it
            "label_source": "unlabelled",
            "guardian_verdict": decision.review.label if decision.review else None,
        }
        red = policy.model.redact
        redactor = Redactor(red.arguments, env_secrets() if red.env else {}, content=red.content)
        AuditLog(args.audit_log, redactor).write(traj.model_copy(update={"meta": meta, "label": None}))
    out = {
        "hookSpecificOutput": {
            "hookEventName": "PreToolUse",
            "permissionDecision": _DECISION[decision.action],
            "permissionDecisionReason": f"mcip-guard: {decision.reason}",
        }
    }
    print(json.dumps(out))
    return 0
