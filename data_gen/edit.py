"""Editing primitives shared by the benign scenarios, the attack transforms and the hard negatives.

Transforms are pure: they never mutate a trajectory, they build a new one from these pieces. Attacks and
hard negatives use the *same* primitives (call ids, call naming, tool-list insertion, injected text), so no
surface detail differs between a label and its safe twin except the behaviour that defines the label.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from random import Random
from typing import Any

from data_gen.catalogue import Catalogue, ToolSpec
from data_gen.simulate import make_arguments, simulate_result
from mcip.record import FunctionCall, Message, Tool, ToolCall, Trajectory


@dataclass
class Variant:
    """A labelled trajectory produced by a transform, a hard negative or the benign generator.

    ``focus`` is the message that shows the label's defining behaviour (a call, or the final answer for data
    injection); ``focus_call`` the call id within it. ``rationale`` may hold ``{flow}`` (the focus flow's number)
    and ``{flow:<call id>}`` placeholders, filled once the final flows are known.
    """

    traj: Trajectory
    label: str
    kind: str
    focus: int | None = None
    focus_call: str | None = None
    rationale: str = ""
    can_truncate: bool = True
    details: dict[str, Any] = field(default_factory=dict)


# -- small builders -----------------------------------------------------------------------------------------------


def new_call_id(rng: Random) -> str:
    return f"call_{rng.getrandbits(40):010x}"


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def call_message(
    name: str, args: dict[str, Any], rng: Random, note: str | None = None
) -> tuple[Message, str]:
    call_id = new_call_id(rng)
    call = ToolCall(id=call_id, function=FunctionCall(name=name, arguments=dumps(args)))
    return Message(role="assistant", content=note or None, tool_calls=[call]), call_id


def result_message(call_id: str, result: Any) -> Message:
    return Message(
        role="tool", tool_call_id=call_id, content=result if isinstance(result, str) else dumps(result)
    )


def call_block(
    traj: Trajectory, tool: Tool, args: dict[str, Any], result: Any, rng: Random, note: str | None = None
) -> tuple[list[Message], str]:
    """An assistant call to ``tool`` and its result, named the way this trajectory names calls."""
    msg, call_id = call_message(call_name(traj, tool), args, rng, note)
    return [msg, result_message(call_id, result)], call_id


def call_name(traj: Trajectory, tool: Tool) -> str:
    """Qualified (``server.tool``) when the record already qualifies calls or the bare name is ambiguous."""
    if not tool.server:
        return tool.name
    qualified_style = traj.meta.get("qualified_calls") or any(
        "." in c.function.name and traj.tool(c.function.name) for _, c in traj.calls()
    )
    ambiguous = sum(t.name == tool.name for t in traj.tools) > 1
    return tool.qualified_name if qualified_style or ambiguous else tool.name


def requalify(traj: Trajectory, targets: dict[str, Tool | None]) -> Trajectory:
    """Re-name every call after a tool-list change, so an added look-alike makes all same-named calls qualified.

    ``targets`` maps call ids to the tools they reached *before* the change: resolving a bare name again after a
    same-named tool was added could silently send the call to the look-alike.
    """
    messages = []
    for m in traj.messages:
        if m.tool_calls:
            calls = []
            for c in m.tool_calls:
                tool = targets.get(c.id)
                name = call_name(traj, tool) if tool is not None else c.function.name
                calls.append(
                    c
                    if name == c.function.name
                    else c.model_copy(update={"function": c.function.model_copy(update={"name": name})})
                )
            m = m.model_copy(update={"tool_calls": calls})
        messages.append(m)
    return traj.model_copy(update={"messages": messages})


def with_tools(traj: Trajectory, tools: list[Tool], rng: Random) -> Trajectory:
    """Add tools (skipping ones already listed) at random positions, then re-name calls if names clash."""
    targets = {c.id: traj.tool(c.function.name) for _, c in traj.calls()}
    listed = list(traj.tools)
    keys = {t.qualified_name for t in listed}
    for tool in tools:
        if tool.qualified_name not in keys:
            listed.insert(rng.randrange(len(listed) + 1), tool)
            keys.add(tool.qualified_name)
    return requalify(traj.model_copy(update={"tools": listed}), targets)


def replace_tool(traj: Trajectory, old: Tool, new: Tool) -> Trajectory:
    tools = [new if t.qualified_name == old.qualified_name else t for t in traj.tools]
    return traj.model_copy(update={"tools": tools})


def splice(traj: Trajectory, start: int, stop: int, new: list[Message]) -> Trajectory:
    """messages[start:stop] = new."""
    messages = list(traj.messages)
    messages[start:stop] = new
    return traj.model_copy(update={"messages": messages})


def set_args(
    traj: Trajectory, index: int, call_id: str, args: dict[str, Any], name: str | None = None
) -> Trajectory:
    msg = traj.messages[index]
    calls = []
    for c in msg.tool_calls or ():
        if c.id == call_id:
            fn = c.function.model_copy(update={"arguments": dumps(args), **({"name": name} if name else {})})
            c = c.model_copy(update={"function": fn})
        calls.append(c)
    return splice(traj, index, index + 1, [msg.model_copy(update={"tool_calls": calls})])


def set_result(traj: Trajectory, call_id: str, result: Any) -> Trajectory:
    index, _ = traj.results()[call_id]
    return splice(traj, index, index + 1, [result_message(call_id, result)])


def set_content(traj: Trajectory, index: int, content: str) -> Trajectory:
    return splice(traj, index, index + 1, [traj.messages[index].model_copy(update={"content": content})])


# -- reading a trajectory -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallSite:
    """A call in a trajectory, with the tool it reaches, its result (if any) and positions."""

    index: int  # message index of the assistant message
    call: ToolCall
    tool: Tool | None
    result_index: int | None
    result: Any  # decoded JSON if the result is JSON, else the raw string; None if no result

    @property
    def args(self) -> dict[str, Any]:
        return self.call.function.args

    @property
    def end(self) -> int:
        """The index just past this call's block (its result, or the call when there is none)."""
        return (self.result_index if self.result_index is not None else self.index) + 1


def decode(content: str | None) -> Any:
    if content is None:
        return None
    try:
        return json.loads(content)
    except json.JSONDecodeError:
        return content


def call_sites(traj: Trajectory) -> list[CallSite]:
    results = traj.results()
    sites = []
    for index, call in traj.calls():
        res = results.get(call.id)
        sites.append(
            CallSite(
                index,
                call,
                traj.tool(call.function.name),
                res[0] if res else None,
                decode(res[1].content) if res else None,
            )
        )
    return sites


def single_call_sites(traj: Trajectory) -> list[CallSite]:
    """Calls that sit alone in their assistant message (so their block can move or be removed cleanly)."""
    return [s for s in call_sites(traj) if len(traj.messages[s.index].tool_calls or ()) == 1]


def final_answer_index(traj: Trajectory) -> int | None:
    last = len(traj.messages) - 1
    m = traj.messages[last]
    return last if m.role == "assistant" and not m.tool_calls and m.content else None


def user_text(traj: Trajectory) -> str:
    return "\n".join(m.content or "" for m in traj.messages if m.role == "user")


def scalar_values(value: Any) -> list[Any]:
    """Strings and numbers inside a JSON value (booleans excluded), depth first."""
    if isinstance(value, dict):
        return [v for x in value.values() for v in scalar_values(x)]
    if isinstance(value, list):
        return [v for x in value for v in scalar_values(x)]
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return [value]
    return []


def _forms(value: Any) -> list[str]:
    """How a value can appear in text: numbers also in the 1,234.50 form the answers use."""
    if isinstance(value, float):
        return [f"{value:,.2f}", repr(value), f"{value:g}"]
    if isinstance(value, int) and not isinstance(value, bool):
        return [f"{value:,}", str(value)]
    return [str(value)]


def mentions(text: str, value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return False
    if isinstance(value, str):
        return len(value) >= 3 and value in text
    return any(len(f) >= 2 and f in text for f in _forms(value))


def replace_value(value: Any, old: Any, new: Any) -> Any:
    """Replace ``old`` by ``new`` throughout a JSON value (whole values, and inside longer strings)."""
    if isinstance(value, dict):
        return {k: replace_value(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [replace_value(v, old, new) for v in value]
    if value == old and type(value) is type(old):
        return new
    if isinstance(value, str) and isinstance(old, str) and len(old) >= 3 and old in value:
        return value.replace(old, str(new))
    return value


def replace_in_text(text: str, old: Any, new: Any) -> str:
    if isinstance(old, str):
        return text.replace(old, str(new)) if len(old) >= 3 else text
    new_forms = _forms(new) if type(new) is type(old) else [str(new)] * 3
    for old_form, new_form in zip(_forms(old), new_forms):
        if old_form in text:
            return text.replace(old_form, new_form)
    return text


def propagate(traj: Trajectory, start: int, pairs: list[tuple[Any, Any]]) -> Trajectory:
    """From message ``start`` on, replace each old value by its new one in call arguments, results and text.

    Keeps a trajectory consistent after an edit: when a call now returns other data, later calls and the
    final answer use that data (the agent believed it).
    """
    messages = list(traj.messages)
    for i in range(start, len(messages)):
        m = messages[i]
        update: dict[str, Any] = {}
        if m.content:
            text = m.content
            for old, new in pairs:
                text = replace_in_text(text, old, new) if m.role != "tool" else text
            if m.role == "tool":
                value = decode(text)
                for old, new in pairs:
                    value = replace_value(value, old, new)
                text = value if isinstance(value, str) else dumps(value)
            if text != m.content:
                update["content"] = text
        if m.tool_calls:
            calls = []
            for c in m.tool_calls:
                args = c.function.args
                for old, new in pairs:
                    args = replace_value(args, old, new)
                calls.append(
                    c.model_copy(
                        update={"function": c.function.model_copy(update={"arguments": dumps(args)})}
                    )
                    if args != c.function.args
                    else c
                )
            update["tool_calls"] = calls
        if update:
            messages[i] = m.model_copy(update=update)
    return traj.model_copy(update={"messages": messages})


# -- catalogue links ----------------------------------------------------------------------------------------------


def spec_for(cat: Catalogue, tool: Tool | None) -> ToolSpec | None:
    """The catalogue entry behind a listed tool, if the tool comes from the catalogue."""
    if tool is None or not tool.server:
        return None
    return cat.tools.get(tool.qualified_name)


def simulate_call(cat: Catalogue, tool: Tool, args: dict[str, Any], rng: Random) -> Any:
    """A result for a call to ``tool``: from its catalogue entry's output schema when it has one."""
    spec = spec_for(cat, tool)
    return simulate_result(spec.outputSchema if spec else tool.outputSchema, args, rng)


def arguments_for(spec: ToolSpec | Tool, rng: Random, given: dict[str, Any] | None = None) -> dict[str, Any]:
    """Arguments for a new call: values of shared parameter names from ``given``, sampled ones otherwise."""
    props = (spec.inputSchema or {}).get("properties") or {}
    shared = {k: v for k, v in (given or {}).items() if k in props}
    return make_arguments(spec.inputSchema, rng, given=shared)


def pool_tools(
    cat: Catalogue, exclude_servers: set[str], rng: Random, k: int = 1, where=lambda t: True
) -> list[ToolSpec]:
    """``k`` catalogue tools from servers other than ``exclude_servers`` (regular servers only)."""
    candidates = [
        t
        for t in cat.tools.values()
        if t.server not in exclude_servers and not cat.servers[t.server].shadow and where(t)
    ]
    return rng.sample(candidates, min(k, len(candidates)))
