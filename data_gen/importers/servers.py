"""Imported tools -> catalogue servers: names and descriptions the catalogue accepts, guessed privilege and
effect, checked schemas, and YAML files that ``data_gen.catalogue.load_catalogue`` reads back unchanged."""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from data_gen.catalogue import ServerSpec, ToolSpec
from data_gen.importers.access import infer_access
from data_gen.importers.errors import ImporterError
from data_gen.importers.schema import check_schema, input_schema
from mcip.io import atomic_write

_YAML_HEADER = (
    "# Imported by data_gen.importers: regenerate it from the source data rather than editing it.\n"
)


def _unique(name: str, taken: set[str], sep: str) -> str:
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name}{sep}{n}", n + 1
    taken.add(candidate)
    return candidate


def server_name(raw: str, taken: set[str]) -> str:
    """A catalogue server name (``^[a-z][a-z0-9-]*$``), unique among ``taken``: ``EventSettingsApi`` ->
    ``event-settings-api``, ``12306-mcp`` -> ``server-12306-mcp``."""
    kebab = re.sub(r"([a-z0-9])([A-Z])", r"\1-\2", raw)
    name = re.sub(r"[^a-z0-9]+", "-", kebab.lower()).strip("-") or "server"
    return _unique(name if name[0].isalpha() else f"server-{name}", taken, "-")


def tool_name(raw: str, taken: set[str]) -> str:
    """A tool name unique on its server, letters, digits, ``_`` and ``-`` only.

    Dots become ``_`` too: ``Catalogue.resolve`` reads ``a.b`` as server ``a``, tool ``b``.
    """
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", raw).lstrip("_-0123456789") or "tool"
    return _unique(name, taken, "_")


def pad_description(name: str, description: str | None) -> str:
    """The catalogue wants at least 10 characters; short ones get the tool name as context."""
    text = (description or "").strip()
    if len(text) >= 10:
        return text
    return f"The {name} tool: {text}" if text else f"The {name} tool (no description given)."


def catalogue_schema(value: Any, where: str, field: str) -> dict[str, Any]:
    """A normalised object schema that passes the same draft 2020-12 check the catalogue loader runs."""
    schema = input_schema(value, where, field)
    check_schema(schema, where, field)
    return schema


def make_tool(
    raw_name: str,
    description: str | None,
    schema: dict[str, Any],
    taken: set[str],
    output: dict[str, Any] | None = None,
    annotations: dict[str, Any] | None = None,
) -> ToolSpec:
    name = tool_name(raw_name, taken)
    privilege, effect = infer_access(raw_name, description or "", annotations)
    return ToolSpec(
        name=name,
        description=pad_description(name, description),
        privilege=privilege,
        effect=effect,
        inputSchema=schema,
        outputSchema=output,
    )


def write_servers(servers: list[ServerSpec], out_dir: str | os.PathLike) -> list[Path]:
    """One ``<server>.yaml`` per server, each written atomically; returns the paths.

    Pass the folder to ``load_catalogue([out_dir])`` to use the tools as an extra pool.
    """
    if dupes := sorted(n for n, k in Counter(s.server for s in servers).items() if k > 1):
        raise ImporterError(f"{out_dir}: duplicate server name(s) {dupes}: each server needs its own file")
    paths = []
    for spec in servers:
        data = spec.model_dump(mode="json", exclude_defaults=True, exclude={"tools": {"__all__": {"server"}}})
        path = Path(out_dir) / f"{spec.server}.yaml"
        with atomic_write(path) as fh:
            fh.write(_YAML_HEADER)
            yaml.safe_dump(data, fh, sort_keys=False, allow_unicode=True, width=110)
        paths.append(path)
    return paths
