"""OpenAI-style chat exports and their ShareGPT cousins -> trajectories.

- ``{"messages": [...], "tools": [...], "label"?, "id"?, "meta"?}``: messages are already our format (call
  arguments may be objects or JSON text; null fields are dropped); tools may be OpenAI function tools or MCP
  tools.
- ``{"conversations": [{"from", "value"}], "tools": "<JSON text>", "system"?}`` (LLaMA-Factory's ShareGPT
  layout): ``function_call`` values are JSON ``{"name", "arguments"}`` (or a list of them, parallel calls);
  ``observation`` answers the latest calls, split in order when it is a JSON list with one entry per call.
"""

from __future__ import annotations

import json
from typing import Any

from data_gen.importers.common import (
    CallLog,
    arguments_object,
    conversation_importer,
    dump_result,
    function_tool,
    loads_if_text,
    make_trajectory,
    optional_str,
    require,
    source_record,
)
from data_gen.importers.errors import fail
from mcip.record import Trajectory

SOURCE = "openai"
_KNOWN = {"messages", "tools", "label", "id", "meta"}
_IGNORED = {"parallel_tool_calls"}  # request options that say nothing about the conversation
_ROLES = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "system": "system",
    "function_call": "call",
    "observation": "tool",
    "tool": "tool",
}


@conversation_importer("openai")
def parse_one(obj: Any, where: str = "<record>", index: int | None = None) -> Trajectory:
    if isinstance(obj, dict) and "conversations" in obj:
        return _sharegpt(obj, where, index)
    messages = require(obj, "messages", list, where)
    if unknown := sorted(set(obj) - _KNOWN - _IGNORED):
        raise fail(where, unknown[0], f"unknown field (expected some of {', '.join(sorted(_KNOWN))})")
    # API dumps spell absent fields as null (refusal, function_call...): drop those so only real fields remain
    messages = [{k: v for k, v in m.items() if v is not None} if isinstance(m, dict) else m for m in messages]
    record = source_record(SOURCE, index, _tools(obj, where), messages)
    meta = obj.get("meta") or {}
    if not isinstance(meta, dict):
        raise fail(where, "meta", f"expected an object, got {type(meta).__name__}")
    record["meta"] = {**meta, **record["meta"]}  # the export's own meta, under our provenance
    if obj.get("id") is not None:
        record["id"] = str(obj["id"])
    if obj.get("label") is not None:
        record["label"] = obj["label"]
    return make_trajectory(record, where)


def _tools(obj: dict[str, Any], where: str) -> list[dict[str, Any]]:
    tools = loads_if_text(obj.get("tools") or [], where, "tools")
    if not isinstance(tools, list):
        raise fail(where, "tools", f"expected a list of tools, got {type(tools).__name__}")
    return [function_tool(t, where, f"tools[{i}]") for i, t in enumerate(tools)]


def _sharegpt(obj: dict[str, Any], where: str, index: int | None) -> Trajectory:
    turns = require(obj, "conversations", list, where)
    system = optional_str(obj, "system", where)
    messages: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
    calls = CallLog()
    for i, turn in enumerate(turns):
        field = f"conversations[{i}]"
        who = require(turn, "from", str, where, field)
        value = require(turn, "value", str, where, field)
        role = _ROLES.get(who)
        if role is None:
            raise fail(
                where, f"{field}.from", f"unknown speaker {who!r} (expected one of {', '.join(_ROLES)})"
            )
        if role == "call":
            messages.append(
                {"role": "assistant", "tool_calls": _calls(value, calls, where, f"{field}.value")}
            )
        elif role == "tool":
            messages.extend(_observation(value, calls, where, f"{field}.value"))
        else:
            messages.append({"role": role, "content": value})
    return make_trajectory(source_record(SOURCE, index, _tools(obj, where), messages), where)


def _calls(value: str, calls: CallLog, where: str, field: str) -> list[dict[str, Any]]:
    payload = loads_if_text(value, where, field)
    items = payload if isinstance(payload, list) else [payload]
    out = []
    for j, item in enumerate(items):
        if not (isinstance(item, dict) and isinstance(item.get("name"), str)):
            raise fail(
                where, field, f'call {j + 1}: expected {{"name", "arguments"}}, got {json.dumps(item)[:80]}'
            )
        args = arguments_object(item.get("arguments"), where, f"{field}: call {j + 1} arguments")
        out.append(calls.call(item["name"], args, new_turn=j == 0))
    return out


def _observation(value: str, calls: CallLog, where: str, field: str) -> list[dict[str, Any]]:
    """Tool messages for one observation: split across parallel calls when it lists one result per call."""
    if len(calls.pending) > 1:
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = None
        if isinstance(parsed, list) and len(parsed) == len(calls.pending):
            return [calls.result(dump_result(item), where, field) for item in parsed]
    return [calls.result(value, where, field)]
