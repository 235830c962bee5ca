"""MCP ``tools/list`` captures -> catalogue servers, so the generator can draw on real tools.

Accepted shapes: a ``tools/list`` result ``{"tools": [...]}`` (or the JSON-RPC response around it), a bare list
of tools (both become one server named after the file), and the LiveMCPBench ``tools.json`` list of
``{name, description, category, tools: {<server>: {server_name, tools: [...]}}}`` (one server per entry).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from data_gen.catalogue import ServerSpec
from data_gen.importers.common import optional_str, require
from data_gen.importers.errors import ImporterError, fail
from data_gen.importers.servers import catalogue_schema, make_tool, server_name, write_servers
from data_gen.registry import TOOLS, importer

__all__ = ["load_servers", "parse_servers", "write_servers"]


@importer("mcp", TOOLS)
def load_servers(path: str | os.PathLike) -> list[ServerSpec]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ImporterError(
            f"{path}: invalid JSON ({err.msg} at line {err.lineno} column {err.colno})"
        ) from None
    return parse_servers(data, str(path), Path(path).stem)


def parse_servers(data: Any, where: str, default_name: str) -> list[ServerSpec]:
    """Servers from decoded JSON; ``default_name`` names the server of a plain tool list."""
    if isinstance(data, dict) and isinstance(data.get("result"), dict):  # a whole JSON-RPC response
        data = data["result"]
    taken: set[str] = set()
    if isinstance(data, dict):
        tools = require(data, "tools", list, where)
        return [_server(default_name, "mcp", f"MCP server {default_name}", tools, where, "tools", taken)]
    if not isinstance(data, list):
        raise ImporterError(f"{where}: expected a tools/list result or a list, got {type(data).__name__}")
    if not (data and isinstance(data[0], dict) and isinstance(data[0].get("tools"), dict)):
        return [_server(default_name, "mcp", f"MCP server {default_name}", data, where, "<root>", taken)]
    servers = []
    for i, entry in enumerate(data):
        here = f"{where}[{i}]"
        for key, inner in require(entry, "tools", dict, here).items():
            field = f"tools.{key}"
            if not isinstance(inner, dict):
                raise fail(here, field, f"expected an object, got {type(inner).__name__}")
            title = optional_str(entry, "name", here) or key
            servers.append(
                _server(
                    optional_str(inner, "server_name", here, field) or key,
                    str(entry.get("category") or "mcp").lower(),
                    optional_str(entry, "description", here) or f"MCP server {title}",
                    require(inner, "tools", list, here, field),
                    here,
                    f"{field}.tools",
                    taken,
                )
            )
    return servers


def _server(
    raw_name: str, domain: str, description: str, tools: list[Any], where: str, field: str, taken: set[str]
) -> ServerSpec:
    if not tools:
        raise fail(where, field, "the server lists no tools")
    names: set[str] = set()
    specs = []
    for j, tool in enumerate(tools):
        here = f"{field}[{j}]"
        name = require(tool, "name", str, where, here)
        annotations = tool.get("annotations")
        if annotations is not None and not isinstance(annotations, dict):
            raise fail(where, f"{here}.annotations", f"expected an object, got {type(annotations).__name__}")
        output = tool.get("outputSchema")
        specs.append(
            make_tool(
                name,
                optional_str(tool, "description", where, here),
                catalogue_schema(tool.get("inputSchema"), where, f"{here}.inputSchema"),
                names,
                output=None if output is None else catalogue_schema(output, where, f"{here}.outputSchema"),
                annotations=annotations,
            )
        )
    return ServerSpec(
        server=server_name(raw_name, taken), domain=domain, description=description, tools=specs
    )
