"""Salesforce xlam-function-calling-60k -> trajectories that end with the proposed calls, awaiting review.

A record is ``{"id", "query", "tools": "<JSON text>", "answers": "<JSON text>"}``: the user's query and the calls
that answer it, with no results. That is a valid ending in our grammar (the guard judges the calls before they
run). Tool parameters use xLAM's own dialect, ``{param: {"type": "List[str]", "description", "default"}}``,
which becomes a JSON Schema object; a parameter is required when it has no default and is not ``, optional``.
"""

from __future__ import annotations

from typing import Any

from data_gen.importers.common import (
    CallLog,
    arguments_object,
    conversation_importer,
    loads_if_text,
    make_trajectory,
    optional_str,
    require,
    source_record,
)
from data_gen.importers.errors import fail
from data_gen.importers.schema import input_schema, parse_type
from mcip.record import Trajectory

SOURCE = "xlam"


@conversation_importer("xlam")
def parse_one(obj: Any, where: str = "<record>", index: int | None = None) -> Trajectory:
    query = require(obj, "query", str, where)
    tools = _list(obj, "tools", where)
    answers = _list(obj, "answers", where)
    calls = CallLog()
    tool_calls = []
    for j, answer in enumerate(answers):
        field = f"answers[{j}]"
        name = require(answer, "name", str, where, field)
        tool_calls.append(
            calls.call(name, arguments_object(answer.get("arguments"), where, f"{field}.arguments"))
        )
    messages: list[dict[str, Any]] = [{"role": "user", "content": query}]
    if tool_calls:  # an empty answer list (xLAM's irrelevance data) leaves the query unanswered
        messages.append({"role": "assistant", "tool_calls": tool_calls})
    record = source_record(
        SOURCE, index, [_tool(t, where, f"tools[{i}]") for i, t in enumerate(tools)], messages
    )
    if obj.get("id") is not None:
        record["id"] = f"{SOURCE}-{obj['id']}"
        record["meta"]["source_id"] = obj["id"]
    return make_trajectory(record, where)


def _list(obj: Any, key: str, where: str) -> list[Any]:
    value = loads_if_text(require(obj, key, (str, list), where), where, key)
    if not isinstance(value, list):
        raise fail(where, key, f"expected a list, got {type(value).__name__}")
    return value


def _tool(tool: Any, where: str, field: str) -> dict[str, Any]:
    name = require(tool, "name", str, where, field)
    params = tool.get("parameters") or {}
    if not isinstance(params, dict):
        raise fail(where, f"{field}.parameters", f"expected an object, got {type(params).__name__}")
    return {
        "name": name,
        "description": optional_str(tool, "description", where, field) or "",
        "inputSchema": xlam_schema(params, where, f"{field}.parameters"),
    }


def _is_json_schema(params: dict[str, Any]) -> bool:
    # In xLAM's dialect "type" would be a parameter (an object), never a type name.
    return isinstance(params.get("type"), str) and isinstance(params.get("properties"), dict)


def xlam_schema(params: dict[str, Any], where: str, field: str) -> dict[str, Any]:
    """``{param: {type, description, default}}`` -> ``{"type": "object", "properties", "required"}``; parameters
    already written as JSON Schema (later xLAM releases) are only normalised."""
    if _is_json_schema(params):
        return input_schema(params, where, field)
    properties, required = {}, []
    for name, spec in params.items():
        here = f"{field}.{name}"
        if not isinstance(spec, dict):
            raise fail(where, here, f"expected an object, got {type(spec).__name__}")
        kind = spec.get("type", "")
        if not isinstance(kind, str):
            raise fail(where, f"{here}.type", f"expected a type name, got {kind!r}")
        schema, optional = parse_type(kind, where, f"{here}.type")
        # keep description and default beside the type (a null default still means "has a default")
        properties[name] = {
            **schema,
            **{k: v for k, v in spec.items() if k != "type" and (v is not None or k == "default")},
        }
        if not optional and "default" not in spec:
            required.append(name)
    schema = {"type": "object", "properties": properties}
    return {**schema, "required": required} if required else schema
