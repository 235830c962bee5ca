"""Shared pieces of the importers: reading JSON/JSONL files, registering a conversation importer, error messages,
call ids and tool entries.

Every problem becomes an :class:`ImporterError` whose message starts with ``where`` (``file:line`` for JSON
lines, ``file[index]`` for a JSON list) and names the field, so a bad record in a 100k-line dump is easy to find.
"""

from __future__ import annotations

import json
import os
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from data_gen.importers.errors import ImporterError, fail
from data_gen.importers.schema import input_schema
from data_gen.registry import CONVERSATIONS, importer
from mcip.io import json_lines
from mcip.record import RecordError, Trajectory, parse_record


def read_objects(path: str | os.PathLike) -> Iterator[tuple[int, str, Any]]:
    """Yield ``(index, where, object)`` for each record of a JSON-lines file, or of a file holding one JSON list
    (how Hugging Face dumps such as Glaive, xLAM and ToolACE come)."""
    with open(path, encoding="utf-8-sig") as fh:  # -sig: Windows exports often start with a BOM
        head = fh.read(4096).lstrip()
        fh.seek(0)
        if head.startswith("["):
            try:
                items = json.load(fh)
            except json.JSONDecodeError as err:
                raise ImporterError(
                    f"{path}: invalid JSON ({err.msg} at line {err.lineno} column {err.colno})"
                ) from None
            for index, obj in enumerate(items):
                yield index, f"{path}[{index}]", obj
            return
        for index, (where, obj, error) in enumerate(json_lines(fh, str(path))):
            if error:
                raise ImporterError(error)
            yield index, where, obj


Parse = Callable[[Any, str, "int | None"], Trajectory]


def conversation_importer(name: str) -> Callable[[Parse], Parse]:
    """Register ``parse_one(obj, where, index) -> Trajectory`` as the conversation importer ``name``: its loader
    reads every record of a JSON-lines file or of a JSON list (``read_objects``) and parses it. Returns
    ``parse_one`` unchanged."""

    def register(parse_one: Parse) -> Parse:
        def iter_records(path: str | os.PathLike) -> Iterator[Trajectory]:
            for index, where, obj in read_objects(path):
                yield parse_one(obj, where, index)

        iter_records.__module__ = parse_one.__module__
        importer(name, CONVERSATIONS)(iter_records)
        return parse_one

    return register


def require(obj: Any, key: str, kind: type | tuple[type, ...], where: str, parent: str = "") -> Any:
    """``obj[key]``, which must be present and of ``kind``; ``parent`` prefixes the field name in errors."""
    field = f"{parent}.{key}" if parent else key
    if not isinstance(obj, dict):
        raise fail(where, parent or "<root>", f"expected a JSON object, got {type(obj).__name__}")
    if key not in obj:
        raise fail(where, field, "missing")
    value = obj[key]
    if not isinstance(value, kind):
        raise fail(where, field, f"expected {_kind_name(kind)}, got {type(value).__name__}")
    return value


def optional_str(obj: dict[str, Any], key: str, where: str, parent: str = "") -> str | None:
    """``obj[key]`` when it is a string, None when absent or null; anything else is an error."""
    value = obj.get(key)
    if value is not None and not isinstance(value, str):
        field = f"{parent}.{key}" if parent else key
        raise fail(where, field, f"expected a string, got {type(value).__name__}")
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {str: "a string", list: "a list", dict: "an object"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def loads_if_text(value: Any, where: str, field: str) -> Any:
    """Datasets often store lists as JSON text (``"tools": "[...]"``); decode those, pass anything else through."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError as err:
        raise fail(where, field, f"invalid JSON text ({err.msg} at char {err.pos}): {value[:80]!r}") from None


def arguments_object(value: Any, where: str, field: str) -> dict[str, Any]:
    """Call arguments given as an object or as JSON text of one."""
    args = loads_if_text(value if value not in (None, "") else {}, where, field)
    if not isinstance(args, dict):
        raise fail(where, field, f"arguments must be a JSON object, got {type(args).__name__}")
    return args


def function_tool(obj: Any, where: str, field: str) -> dict[str, Any]:
    """A ``Tool`` entry from an OpenAI function tool, a bare function definition or an MCP tool."""
    if isinstance(obj, dict) and "function" in obj:
        if obj.get("type", "function") != "function":
            raise fail(where, f"{field}.type", f"unsupported tool type {obj.get('type')!r}")
        obj, field = obj["function"], f"{field}.function"
    if not isinstance(obj, dict):
        raise fail(where, field, f"expected a tool object, got {type(obj).__name__}")
    name = require(obj, "name", str, where, field)
    if not name.strip():
        raise fail(where, f"{field}.name", "empty tool name")
    description = optional_str(obj, "description", where, field) or ""
    key = "inputSchema" if "inputSchema" in obj else "parameters"
    tool = {
        "name": name,
        "description": description,
        "inputSchema": input_schema(obj.get(key), where, f"{field}.{key}"),
    }
    for extra in ("server", "privilege", "annotations", "outputSchema"):  # MCP fields the record keeps
        if obj.get(extra) is not None:
            tool[extra] = obj[extra]
    return tool


class CallLog:
    """Deterministic call ids (``call_1``, ``call_2``...) and the calls of the latest calling turn still unanswered.

    Results are matched to the latest turn's calls in order, as every chat format here writes them.
    """

    def __init__(self) -> None:
        self.count = 0
        self.pending: deque[tuple[str, str]] = deque()

    def call(self, name: str, args: dict[str, Any], new_turn: bool = True) -> dict[str, Any]:
        if new_turn:
            self.pending.clear()
        self.count += 1
        call_id = f"call_{self.count}"
        self.pending.append((call_id, name))
        return {"id": call_id, "type": "function", "function": {"name": name, "arguments": args}}

    def result(self, content: str, where: str, field: str) -> dict[str, Any]:
        """A tool message answering the next unanswered call of the latest calling turn."""
        if not self.pending:
            raise fail(where, field, "a tool result with no unanswered call before it")
        call_id, name = self.pending.popleft()
        return {"role": "tool", "tool_call_id": call_id, "name": name, "content": content}


def dump_result(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def source_record(
    source: str, index: int | None, tools: list[dict[str, Any]], messages: list[dict[str, Any]]
) -> dict[str, Any]:
    """A record with provenance: ``meta.source``, and ``meta.index`` plus id ``<source>-<index>`` from a file."""
    if index is None:
        return {"tools": tools, "messages": messages, "meta": {"source": source}}
    meta = {"source": source, "index": index}
    return {"id": f"{source}-{index}", "tools": tools, "messages": messages, "meta": meta}


def make_trajectory(record: dict[str, Any], where: str) -> Trajectory:
    """Validate the built record with the project's own checks, so errors read like any other bad record."""
    try:
        return parse_record(record, where)
    except RecordError as err:
        raise ImporterError(str(err)) from None
