"""ToolACE conversations -> trajectories.

A record is ``{"system": "...<JSON list of functions>...", "conversations": [{"from": "user"|"assistant"|"tool",
"value"}]}``. Assistant calls are Python-like, ``[get_weather(city="Oslo"), Market Trends API(kind='up')]``
(names may hold spaces); they are read with ``ast`` on literals only, never evaluated. A tool turn is JSON: a
list with one result per call of the latest turn (``{"name", "results"}`` entries are unwrapped), or a single
result for the next call.
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any

from data_gen.importers.common import (
    CallLog,
    conversation_importer,
    dump_result,
    function_tool,
    make_trajectory,
    optional_str,
    require,
    source_record,
)
from data_gen.importers.errors import fail
from mcip.record import Trajectory

SOURCE = "toolace"
_CALL_LIST = re.compile(r"\[\s*[^\[\]()\"']+\(.*\)\s*\]", re.S)  # "[name(...), ...]", as opposed to prose
_FUNCTION_LIST = re.compile(r"\[\s*\{")
_NAMES = {"true": True, "false": False, "null": None, "True": True, "False": False, "None": None}


@conversation_importer("toolace")
def parse_one(obj: Any, where: str = "<record>", index: int | None = None) -> Trajectory:
    turns = require(obj, "conversations", list, where)
    prose, tools = _system(optional_str(obj, "system", where) or "", where)
    messages: list[dict[str, Any]] = [{"role": "system", "content": prose}] if prose else []
    calls = CallLog()
    for i, turn in enumerate(turns):
        here = f"conversations[{i}]"
        who = require(turn, "from", str, where, here)
        value = require(turn, "value", str, where, here)
        field = f"{here}.value"
        if who == "user":
            messages.append({"role": "user", "content": value})
        elif who == "assistant" and _CALL_LIST.fullmatch(value.strip()):
            parsed = parse_calls(value.strip(), where, field)
            batch = [calls.call(name, args, new_turn=k == 0) for k, (name, args) in enumerate(parsed)]
            messages.append({"role": "assistant", "tool_calls": batch})
        elif who == "assistant":
            messages.append({"role": "assistant", "content": value})
        elif who == "tool":
            messages.extend(_results(value, calls, where, field))
        else:
            raise fail(where, f"{here}.from", f"unknown speaker {who!r} (expected user, assistant or tool)")
    return make_trajectory(source_record(SOURCE, index, tools, messages), where)


def _system(text: str, where: str) -> tuple[str, list[dict[str, Any]]]:
    """(prose without the function list, tools): the first JSON list of named objects in the text."""
    decoder = json.JSONDecoder()
    starts = [m.start() for m in _FUNCTION_LIST.finditer(text)]
    for start in starts:
        try:
            functions, end = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            continue
        if all(isinstance(f, dict) and "name" in f for f in functions):
            tools = [function_tool(f, where, f"system: function {k + 1}") for k, f in enumerate(functions)]
            return (text[:start] + text[end:]).strip(), tools
    if starts:
        raise fail(where, "system", "it lists functions but no JSON list of named functions parses")
    return text.strip(), []


def parse_calls(text: str, where: str, field: str) -> list[tuple[str, dict[str, Any]]]:
    """``[f(a=1), g(b='x')]`` -> ``[("f", {"a": 1}), ("g", {"b": "x"})]``."""
    out = []
    for k, item in enumerate(_split_top(text.strip()[1:-1]), 1):
        name, _, rest = item.partition("(")
        try:
            call = ast.parse(f"f({rest}", mode="eval").body
        except SyntaxError as err:
            raise fail(where, field, f"call {k}: unparsable ({err.msg}): {item[:80]!r}") from None
        if not isinstance(call, ast.Call) or call.args or any(kw.arg is None for kw in call.keywords):
            raise fail(where, field, f"call {k}: arguments must be name=value pairs: {item[:80]!r}")
        try:
            args = {kw.arg: _literal(kw.value) for kw in call.keywords}
        except ValueError as err:
            raise fail(where, field, f"call {k}: argument is not a literal: {err}") from None
        out.append((name.strip(), args))
    return out


def _split_top(text: str) -> list[str]:
    """Split at commas outside brackets and string quotes."""
    parts, depth, quote, escaped, start = [], 0, "", False, 0
    for i, ch in enumerate(text):
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def _literal(node: ast.expr) -> Any:
    """A JSON value from a literal expression; JSON's true/false/null are accepted beside Python's."""
    if isinstance(node, ast.Constant) and (node.value is None or isinstance(node.value, (str, int, float))):
        return node.value
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return [_literal(e) for e in node.elts]
    if isinstance(node, ast.Dict) and all(k is not None for k in node.keys):
        return {str(_literal(k)): _literal(v) for k, v in zip(node.keys, node.values)}
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        value = _literal(node.operand)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return -value
    if isinstance(node, ast.Name) and node.id in _NAMES:
        return _NAMES[node.id]
    raise ValueError(ast.unparse(node)[:60])


def _results(value: str, calls: CallLog, where: str, field: str) -> list[dict[str, Any]]:
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        return [calls.result(value, where, field)]  # plain text answers the next call as it is
    if not (isinstance(parsed, list) and parsed and len(parsed) == len(calls.pending)):
        return [calls.result(value, where, field)]
    out = []
    for k, item in enumerate(parsed):
        if isinstance(item, dict) and set(item) == {"name", "results"}:
            expected = calls.pending[0][1]
            if item["name"] != expected:
                raise fail(
                    where, field, f"result {k + 1} is for {item['name']!r} but call {k + 1} is {expected!r}"
                )
            item = item["results"]
        out.append(calls.result(dump_result(item), where, field))
    return out
