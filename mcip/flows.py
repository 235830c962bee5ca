"""MCI (model contextual integrity) flows: derive and check them (rendering lives in mcip/prompt.py).

Each message of a trajectory carries one or more information flows, 5-tuples after Contextual Integrity:
*sender* sends *subject*'s *information type* to *recipient* under a *transmission principle*. Derivation is
a pure function of the record, so the same log always yields the same flows. The ordered flow list is both
the tracking record (MAESTRO L5) and what the guardian reads (L6).
"""

from __future__ import annotations

from mcip.record import Finding, Flow, Message, ToolCall, Trajectory

# Argument keys whose value names the person or account the data is about (the flow's data subject).
SUBJECT_KEYS = (
    "user_id",
    "username",
    "account_id",
    "customer_id",
    "patient_id",
    "employee_id",
    "member_id",
    "student_id",
    "contact_id",
    "owner",
    "user",
)

PRINCIPLE = {
    "request": "consent",
    "instruction": "configuration",
    "note": "transparency",
    "response": "transparency",
    "call": "necessity",
    "result": "service provision",
}


def call_target(traj: Trajectory, call: ToolCall) -> str:
    """The recipient of a call: ``server.tool`` when the record knows the server, else the bare name."""
    tool = traj.tool(call.function.name)
    if tool is not None and tool.server and "." not in call.function.name:
        return tool.qualified_name
    return call.function.name


def call_subject(call: ToolCall) -> str:
    args = call.function.args
    for key in SUBJECT_KEYS:
        value = args.get(key)
        if isinstance(value, (str, int)) and str(value):
            return str(value)
    return "user"


def call_info_type(call: ToolCall) -> str:
    keys = list(call.function.args)
    return "arguments: " + ", ".join(keys) if keys else "no arguments"


def message_flows(
    traj: Trajectory, index: int, msg: Message, calls: dict[str, tuple[str, str]]
) -> list[Flow]:
    """The flows one message carries. ``calls`` maps call id -> (recipient, subject) for results seen later."""
    if msg.role == "user":
        return [
            Flow(
                sender="user",
                recipient="assistant",
                subject="user",
                info_type="request",
                principle=PRINCIPLE["request"],
                message=index,
            )
        ]
    if msg.role == "system":
        return [
            Flow(
                sender="system",
                recipient="assistant",
                subject="user",
                info_type="instruction",
                principle=PRINCIPLE["instruction"],
                message=index,
            )
        ]
    if msg.role == "tool":
        recipient, subject = calls.get(msg.tool_call_id, (msg.name or "tool", "user"))
        return [
            Flow(
                sender=recipient,
                recipient="assistant",
                subject=subject,
                info_type="result",
                principle=PRINCIPLE["result"],
                message=index,
                call_id=msg.tool_call_id,
            )
        ]
    out = []
    if msg.content and msg.content.strip():
        kind = "note" if msg.tool_calls else "response"
        out.append(
            Flow(
                sender="assistant",
                recipient="user",
                subject="user",
                info_type=kind,
                principle=PRINCIPLE[kind],
                message=index,
            )
        )
    for call in msg.tool_calls or ():
        target, subject = call_target(traj, call), call_subject(call)
        calls[call.id] = (target, subject)
        out.append(
            Flow(
                sender="assistant",
                recipient=target,
                subject=subject,
                info_type=call_info_type(call),
                principle=PRINCIPLE["call"],
                message=index,
                call_id=call.id,
            )
        )
    return out


def derive_flows(traj: Trajectory) -> list[Flow]:
    calls: dict[str, tuple[str, str]] = {}
    flows: list[Flow] = []
    for i, msg in enumerate(traj.messages):
        flows.extend(message_flows(traj, i, msg, calls))
    return flows


def flags(traj: Trajectory) -> list[Finding]:
    """Deviations worth reporting that are not errors: calls to tools the log does not list, and logs that bend
    the trajectory grammar (``check_grammar``)."""
    out = []
    if traj.tools:
        for i, call in traj.calls():
            if traj.tool(call.function.name) is None:
                out.append(
                    Finding(f"messages.{i}.tool_calls", f"call to {call.function.name!r}, not in tools")
                )
    out.extend(check_grammar(traj))
    return out


def ends_with_proposed_call(traj: Trajectory) -> bool:
    """True when the log ends with a call awaiting review: the guard sees it before it runs."""
    last = traj.messages[-1]
    if last.role != "assistant" or not last.tool_calls:
        return False
    answered = {m.tool_call_id for m in traj.messages if m.role == "tool"}
    return not any(c.id in answered for c in last.tool_calls)


def check_grammar(traj: Trajectory) -> list[Finding]:
    """Flag logs that bend the trajectory grammar (query first; response or proposed call last)."""
    found: list[Finding] = []
    msgs = traj.messages
    first = next((i for i, m in enumerate(msgs) if m.role != "system"), None)
    if first is None:
        return [Finding("messages", "no user query: only system messages")]
    if msgs[first].role != "user":
        found.append(
            Finding(
                f"messages.{first}", f"log starts with a {msgs[first].role} message, not the user's query"
            )
        )
    last = msgs[-1]
    if not (last.role == "assistant" and (not last.tool_calls or ends_with_proposed_call(traj))):
        what = "a tool result" if last.role == "tool" else f"a {last.role} message"
        found.append(
            Finding(
                f"messages.{len(msgs) - 1}",
                f"log ends with {what}, not a response to the user or a proposed call",
            )
        )
    answered = {m.tool_call_id for m in msgs if m.role == "tool"}
    for i, m in enumerate(msgs[:-1]):
        for c in m.tool_calls or ():
            if c.id not in answered:
                found.append(Finding(f"messages.{i}", f"call {c.id!r} to {c.function.name!r} has no result"))
    return found
