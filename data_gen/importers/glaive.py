"""glaiveai/glaive-function-calling-v2 -> trajectories: the benign conversations MCIP's attacks were built on.

A record is ``{"system": "SYSTEM: <prose> -\\n{function}\\n\\n{function}", "chat": "USER: ...\\n\\n\\nASSISTANT:
<functioncall> {...} <|endoftext|>\\n\\n\\nFUNCTION RESPONSE: {...}\\n\\n\\nASSISTANT: ..."}``. The prose stays as the
system message and the functions become ``tools``. A ``<functioncall>`` payload writes its arguments as a
single-quoted JSON string (not valid JSON) or as a plain object; both are read. Each FUNCTION RESPONSE answers
the latest call.
"""

from __future__ import annotations

import json
import re
from typing import Any

from data_gen.importers.common import (
    CallLog,
    arguments_object,
    conversation_importer,
    function_tool,
    make_trajectory,
    optional_str,
    require,
    source_record,
)
from data_gen.importers.errors import fail
from mcip.record import Trajectory

SOURCE = "glaive"
# Turns are separated by blank lines, which keeps a "USER:" inside a message from starting a turn.
_TURN = re.compile(r"(?:\A|\n\n)\s*(USER|ASSISTANT|FUNCTION RESPONSE):[ \t]*")
_END = "<|endoftext|>"
_CALL = "<functioncall>"
# {"name": "f", "arguments": '{"a": 1}'}: the quoted arguments are raw JSON text (a ' inside may be escaped).
_QUOTED_ARGS = re.compile(r"\{\s*\"name\"\s*:\s*\"([^\"]+)\"\s*,\s*\"arguments\"\s*:\s*'(.*)'\s*\}", re.S)


@conversation_importer("glaive")
def parse_one(obj: Any, where: str = "<record>", index: int | None = None) -> Trajectory:
    chat = require(obj, "chat", str, where)
    prose, tools = _system(optional_str(obj, "system", where) or "", where)
    messages: list[dict[str, Any]] = [{"role": "system", "content": prose}] if prose else []
    calls = CallLog()
    turns = _TURN.split(chat)
    if turns[0].strip():
        raise fail(where, "chat", f"text before the first USER/ASSISTANT turn: {turns[0].strip()[:60]!r}")
    for n, (role, text) in enumerate(zip(turns[1::2], turns[2::2]), 1):
        text = text.replace(_END, "").strip()
        label = f"{role} turn {n}"
        if role == "USER":
            messages.append({"role": "user", "content": text})
        elif role == "FUNCTION RESPONSE":
            messages.append(calls.result(text, where, f"chat: {label}"))
        else:
            messages.append(_assistant(text, calls, where, f"chat: {label}"))
    return make_trajectory(source_record(SOURCE, index, tools, messages), where)


def _system(text: str, where: str) -> tuple[str, list[dict[str, Any]]]:
    """(prose, tools): the functions are the JSON objects after the prose, separated by blank lines."""
    text = text.strip().removeprefix("SYSTEM:").strip()
    start = text.find("{")
    if start < 0:
        return text, []
    decoder, tools, pos = json.JSONDecoder(), [], start
    while pos < len(text):
        try:
            fn, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as err:
            raise fail(
                where, "system", f"function {len(tools) + 1}: invalid JSON ({err.msg} at char {err.pos})"
            ) from None
        tools.append(function_tool(fn, where, f"system: function {len(tools) + 1}"))
        pos = len(text) - len(text[pos:].lstrip())
    return text[:start].strip().removesuffix("-").strip(), tools


def _assistant(text: str, calls: CallLog, where: str, field: str) -> dict[str, Any]:
    content, marker, payload = text.partition(_CALL)
    if not marker:
        return {"role": "assistant", "content": text}
    name, args = _payload(payload.strip(), where, field)
    return {"role": "assistant", "content": content.strip() or None, "tool_calls": [calls.call(name, args)]}


def _payload(payload: str, where: str, field: str) -> tuple[str, dict[str, Any]]:
    """(name, arguments) of a <functioncall>: JSON with object or JSON-text arguments, or the single-quoted form."""
    quoted = _QUOTED_ARGS.fullmatch(payload)
    if quoted:
        name, args = quoted.group(1), quoted.group(2).replace("\\'", "'")
    else:
        try:
            call = json.loads(payload)
        except json.JSONDecodeError as err:
            raise fail(
                where, field, f"unparsable {_CALL} payload ({err.msg} at char {err.pos}): {payload[:80]!r}"
            ) from None
        if not isinstance(call, dict) or not isinstance(call.get("name"), str):
            raise fail(where, field, f"{_CALL} payload without a function name: {payload[:80]!r}")
        name, args = call["name"], call.get("arguments")
    return name, arguments_object(args, where, f"{field}: arguments")
