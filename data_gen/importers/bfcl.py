"""BFCL function definitions -> catalogue servers.

Input: JSON lines of ``{"function": {name, description, parameters}}`` (the function may also be a list, as in
BFCL's own test files; ``source_files`` names the files it came from) or bare ``{name, description,
parameters}``. BFCL's type dialect (``dict``, ``float``, ``tuple``, ``any``, Java/JavaScript names) becomes JSON
Schema; an optional ``response`` schema becomes the ``outputSchema``.

Servers: functions sharing a dotted prefix (at least two of them) form a server named after it (``math.sum``
-> server ``math``, tool ``sum``); the rest are grouped by source file. Groups over ``max_tools`` are split
(``requests-1``, ``requests-2``). Identical definitions are imported once; different definitions that share a
name (BFCL has many variants of e.g. ``calculate_bmi``) keep apart as ``calculate_bmi``, ``calculate_bmi_2``.
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from data_gen.catalogue import ServerSpec, ToolSpec
from data_gen.importers.common import optional_str, read_objects, require
from data_gen.importers.errors import fail
from data_gen.importers.servers import catalogue_schema, make_tool, server_name, write_servers
from data_gen.registry import TOOLS, importer

__all__ = ["load_servers", "write_servers"]

MAX_TOOLS = 25


@dataclass(frozen=True)
class _Function:
    name: str
    description: str | None
    schema: dict[str, Any]
    output: dict[str, Any] | None
    source: str  # stem of the file it came from


@importer("bfcl", TOOLS)
def load_servers(path: str | os.PathLike, max_tools: int = MAX_TOOLS) -> list[ServerSpec]:
    functions = _read_functions(path)
    prefixes = Counter(f.name.split(".", 1)[0] for f in functions if "." in f.name)
    groups: dict[tuple[str, str], list[tuple[str, _Function]]] = {}
    for fn in functions:
        prefix, _, rest = fn.name.partition(".")
        if rest and prefixes[prefix] >= 2:
            groups.setdefault(("prefix", prefix), []).append((rest, fn))
        else:
            groups.setdefault(("file", fn.source), []).append((fn.name, fn))
    taken: set[str] = set()
    servers = []
    for (kind, key), members in groups.items():
        size = math.ceil(len(members) / math.ceil(len(members) / max_tools))  # 27 -> 14 + 13, not 25 + 2
        chunks = [members[i : i + size] for i in range(0, len(members), size)]
        sources = ", ".join(sorted({fn.source for _, fn in members}))
        about = (
            f"BFCL functions {key}.* (from {sources})" if kind == "prefix" else f"BFCL functions from {key}"
        )
        for n, chunk in enumerate(chunks, 1):
            name = server_name(f"{key}-{n}" if len(chunks) > 1 else key, taken)
            servers.append(ServerSpec(server=name, domain=key, description=about, tools=_tools(chunk)))
    return servers


def _tools(members: list[tuple[str, _Function]]) -> list[ToolSpec]:
    names: set[str] = set()
    return [make_tool(name, fn.description, fn.schema, names, output=fn.output) for name, fn in members]


def _read_functions(path: str | os.PathLike) -> list[_Function]:
    seen: set[str] = set()
    out = []
    for _, where, obj in read_objects(path):
        for fn, field, source in _definitions(obj, where, Path(path).stem):
            key = json.dumps(fn, sort_keys=True)
            if key not in seen:  # the same definition again (BFCL repeats them per question): one tool
                seen.add(key)
                out.append(_function(fn, where, field, source))
    return out


def _definitions(obj: Any, where: str, default_source: str) -> list[tuple[Any, str, str]]:
    """(definition, field, source stem) for each function a record holds."""
    if not (isinstance(obj, dict) and "function" in obj):
        return [(obj, "", default_source)]
    sources = obj.get("source_files") or [default_source]
    if not (isinstance(sources, list) and all(isinstance(s, str) for s in sources)):
        raise fail(where, "source_files", "expected a list of file names")
    source = Path(sources[0]).stem
    if isinstance(obj["function"], list):
        return [(fn, f"function[{i}]", source) for i, fn in enumerate(obj["function"])]
    return [(obj["function"], "function", source)]


def _function(fn: Any, where: str, field: str, source: str) -> _Function:
    def sub(key: str) -> str:
        return f"{field}.{key}" if field else key

    name = require(fn, "name", str, where, field)
    response = fn.get("response")
    return _Function(
        name=name,
        description=optional_str(fn, "description", where, field),
        schema=catalogue_schema(fn.get("parameters"), where, sub("parameters")),
        output=None if response is None else catalogue_schema(response, where, sub("response")),
        source=source,
    )
