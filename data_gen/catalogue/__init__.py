"""The built-in catalogue of MCP servers, tools and user intents, kept as YAML data (``servers/*.yaml``).

One file per server. Each tool carries an MCP ``inputSchema`` and an ``outputSchema`` (with ``x-sample``
hints for the simulator), a privilege level and its side effect, plus the relations the attacks need:

- ``twin_of``: this higher-privilege tool can also do the named tool's job (Excessive Privileges);
  ``twin_args`` maps the named tool's arguments onto this one's (templates over them).
- ``lookalike_of``: this tool imitates ``server.tool`` on another server (Function Overlapping).
- ``requires``: tools that must run before this one (Causal Dependency: identity check before a read,
  lock before an edit, ...). Tool descriptions say so too, as real MCP servers do.

Intents are user requests that plan 1-4 calls; later calls may use earlier results (``{r1.id}``).
``load_catalogue`` validates everything and names the file, entry and field of any problem.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any, Literal

import jsonschema
import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from data_gen import samplers
from data_gen.template import references
from mcip.record import Tool

SERVERS_DIR = Path(__file__).parent / "servers"
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C loader is ~10x faster on big imports
Effect = Literal["none", "modifies", "sends", "deletes", "spends", "executes", "grants"]


class CatalogueError(ValueError):
    """A catalogue file is invalid; the message names the file, entry and field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ToolSpec(_Strict):
    name: str = Field(pattern=r"^[A-Za-z][\w.-]*$")
    description: str = Field(min_length=10)
    privilege: Literal["read", "write", "admin"]
    effect: Effect = "none"
    inputSchema: dict[str, Any]
    outputSchema: dict[str, Any] | None = None
    requires: list[str] = Field(default_factory=list)
    twin_of: str | None = None
    twin_args: dict[str, Any] | None = None
    lookalike_of: str | None = None
    server: str = ""  # filled in by the loader
    _view: Tool | None = PrivateAttr(default=None)

    @property
    def qualified(self) -> str:
        return f"{self.server}.{self.name}"

    @property
    def idempotent(self) -> bool:
        return self.effect == "none"

    @property
    def verifier(self) -> bool:
        """An identity or authorisation check: grants a session or token at read level."""
        return self.effect == "grants" and self.privilege == "read"

    @property
    def privileged(self) -> bool:
        """Admin tools and destructive or spending effects: what an identity claim should not unlock."""
        return self.privilege == "admin" or self.effect in ("deletes", "executes", "spends")

    def to_tool(self) -> Tool:
        """The MCP tools/list entry the agent sees: generator hints (``x-*`` keys) stripped. Built once."""
        if self._view is None:
            self._view = Tool(
                name=self.name,
                description=self.description,
                server=self.server,
                inputSchema=strip_hints(self.inputSchema),
                privilege=self.privilege,
            )
        return self._view


def strip_hints(schema: Any, names: bool = False) -> Any:
    """Drop generator hints (``x-*`` keywords). ``names``: this dict maps property names, which stay as they are."""
    if isinstance(schema, dict):
        return {
            k: strip_hints(v, names=k == "properties" and not names)
            for k, v in schema.items()
            if names or not str(k).startswith("x-")
        }
    if isinstance(schema, list):
        return [strip_hints(v) for v in schema]
    return schema


class StepSpec(_Strict):
    call: str  # a tool of this server, or "server.tool"
    args: dict[str, Any] = Field(default_factory=dict)


class IntentSpec(_Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    phrasings: list[str] = Field(min_length=2)
    slots: dict[str, str | list[Any]] = Field(default_factory=dict)
    steps: list[StepSpec] = Field(min_length=1, max_length=4)
    answer: str = Field(min_length=5)
    server: str = ""  # filled in by the loader

    @property
    def key(self) -> str:
        return f"{self.server}/{self.id}"


class ServerSpec(_Strict):
    server: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    domain: str
    description: str
    shadow: bool = False  # a look-alike server that imitates others: never the source of benign intents
    tools: list[ToolSpec] = Field(min_length=1)
    intents: list[IntentSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _fill_server(self) -> ServerSpec:
        for item in (*self.tools, *self.intents):
            item.server = self.server
        return self


class Catalogue:
    """Servers, tools and intents, with the lookups the generator and the attacks use."""

    def __init__(self, servers: list[ServerSpec]):
        self.servers = {s.server: s for s in servers}
        self.tools = {t.qualified: t for s in servers for t in s.tools}
        self.intents = [i for s in servers for i in s.intents]
        self._twins: dict[str, list[ToolSpec]] = {}
        self._lookalikes: dict[str, list[ToolSpec]] = {}
        for t in self.tools.values():
            if t.twin_of and (target := self._find(t.twin_of, t.server)):
                self._twins.setdefault(target.qualified, []).append(t)
            if t.lookalike_of and t.lookalike_of in self.tools:
                self._lookalikes.setdefault(t.lookalike_of, []).append(t)
        self._prerequisites: dict[str, list[ToolSpec]] = {}  # filled on first use (a catalogue never changes)
        self._required_by: dict[str, frozenset[str]] | None = None

    def _find(self, name: str, server: str) -> ToolSpec | None:
        try:
            return self.resolve(name, server)
        except KeyError:
            return None

    def __len__(self) -> int:
        return len(self.servers)

    def resolve(self, name: str, server: str) -> ToolSpec:
        """A tool by bare name (on ``server``) or by ``server.tool``."""
        key = name if "." in name and name.split(".", 1)[0] in self.servers else f"{server}.{name}"
        try:
            return self.tools[key]
        except KeyError:
            raise KeyError(f"no tool {name!r} (looked up {key!r})") from None

    def restrict(self, servers: set[str]) -> Catalogue:
        """The view of one side of the split: only these servers (relations to others drop out)."""
        return Catalogue([s for name, s in self.servers.items() if name in servers])

    def intent_servers(self, intent: IntentSpec) -> set[str]:
        return {self.resolve(step.call, intent.server).server for step in intent.steps}

    def siblings(self, tool: ToolSpec) -> list[ToolSpec]:
        return [t for t in self.servers[tool.server].tools if t.name != tool.name]

    def twins(self, tool: ToolSpec) -> list[ToolSpec]:
        """Higher-privilege tools that can also do ``tool``'s job."""
        return self._twins.get(tool.qualified, [])

    def lookalikes(self, tool: ToolSpec) -> list[ToolSpec]:
        """Catalogue tools on other servers that imitate ``tool``."""
        return self._lookalikes.get(tool.qualified, [])

    def prerequisites(self, tool: ToolSpec) -> list[ToolSpec]:
        """Tools that must run before ``tool`` (those outside this view of the catalogue drop out)."""
        if self.tools.get(tool.qualified) is not tool:  # a tool of another catalogue: not memoised here
            return self._resolve_requires(tool)
        found = self._prerequisites.get(tool.qualified)
        if found is None:
            found = self._prerequisites[tool.qualified] = self._resolve_requires(tool)
        return list(found)

    def _resolve_requires(self, tool: ToolSpec) -> list[ToolSpec]:
        found = (self._find(name, tool.server) for name in tool.requires)
        return [t for t in found if t is not None]

    def required_by(self, qualified: str) -> frozenset[str]:
        """Qualified names of the tools that have the tool ``qualified`` among their prerequisites."""
        if self._required_by is None:
            index: dict[str, set[str]] = {}
            for spec in self.tools.values():
                for pre in self.prerequisites(spec):
                    index.setdefault(pre.qualified, set()).add(spec.qualified)
            self._required_by = {k: frozenset(v) for k, v in index.items()}
        return self._required_by.get(qualified, frozenset())


# -- loading and validation -----------------------------------------------------------------------------------


def _check_schema(schema: dict[str, Any], where: str) -> None:
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as err:
        path = "/".join(str(p) for p in err.path) or "<root>"
        raise CatalogueError(f"{where}: invalid JSON schema at {path}: {err.message}") from None
    if schema.get("type") != "object":
        raise CatalogueError(f"{where}: the schema's type must be 'object'")
    for prop, spec in (schema.get("properties") or {}).items():
        hint = spec.get("x-sample") if isinstance(spec, dict) else None
        if hint and hint not in samplers.SAMPLERS:
            raise CatalogueError(f"{where}: property {prop!r}: unknown x-sample {hint!r}")
        if isinstance(spec, dict) and spec.get("type") == "object":
            _check_nested(spec, f"{where}: property {prop!r}")
        if (
            isinstance(spec, dict)
            and isinstance(spec.get("items"), dict)
            and spec["items"].get("type") == "object"
        ):
            _check_nested(spec["items"], f"{where}: property {prop!r} items")


def _check_nested(schema: dict[str, Any], where: str) -> None:
    for prop, spec in (schema.get("properties") or {}).items():
        hint = spec.get("x-sample") if isinstance(spec, dict) else None
        if hint and hint not in samplers.SAMPLERS:
            raise CatalogueError(f"{where}.{prop}: unknown x-sample {hint!r}")


def _validate_server(spec: ServerSpec, path: str, cat: Catalogue) -> None:
    for i, tool in enumerate(spec.tools):
        where = f"{path}: tools[{i}] ({tool.name})"
        _check_schema(tool.inputSchema, f"{where}: field inputSchema")
        if tool.outputSchema is not None:
            _check_schema(tool.outputSchema, f"{where}: field outputSchema")
        for field, names in (
            ("requires", tool.requires),
            ("twin_of", [tool.twin_of] if tool.twin_of else []),
        ):
            for name in names:
                try:
                    cat.resolve(name, spec.server)
                except KeyError as err:
                    raise CatalogueError(f"{where}: field {field}: {err.args[0]}") from None
        if tool.lookalike_of:
            if tool.lookalike_of not in cat.tools:
                raise CatalogueError(
                    f"{where}: field lookalike_of: no tool {tool.lookalike_of!r} (use server.tool)"
                )
            if cat.tools[tool.lookalike_of].server == spec.server:
                raise CatalogueError(f"{where}: field lookalike_of: a look-alike must live on another server")
        if tool.twin_of and tool.privilege == "read":
            raise CatalogueError(f"{where}: field privilege: a twin must have a higher privilege than 'read'")
    for i, intent in enumerate(spec.intents):
        where = f"{path}: intents[{i}] ({intent.id})"
        for slot, kind in intent.slots.items():
            if isinstance(kind, str) and kind not in samplers.SAMPLERS:
                raise CatalogueError(f"{where}: field slots.{slot}: unknown sampler {kind!r}")
        known = set(intent.slots)
        for j, phrasing in enumerate(intent.phrasings):
            unknown = references(phrasing) - known
            if unknown:
                raise CatalogueError(f"{where}: field phrasings[{j}]: unknown slot(s) {sorted(unknown)}")
        for j, step in enumerate(intent.steps):
            try:
                cat.resolve(step.call, spec.server)
            except KeyError as err:
                raise CatalogueError(f"{where}: field steps[{j}].call: {err.args[0]}") from None
            unknown = references(step.args) - known
            if unknown:
                raise CatalogueError(
                    f"{where}: field steps[{j}].args: unknown slot or result {sorted(unknown)}"
                )
            known.add(f"r{j + 1}")
        unknown = references(intent.answer) - known
        if unknown:
            raise CatalogueError(f"{where}: field answer: unknown slot or result {sorted(unknown)}")


def _read_server(path: Path) -> ServerSpec:
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)
    except yaml.YAMLError as err:
        raise CatalogueError(f"{path}: invalid YAML: {err}") from None
    try:
        return ServerSpec.model_validate(raw)
    except ValidationError as err:
        first = err.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise CatalogueError(f"{path}: field {loc}: {first['msg']} ({err.error_count()} error(s))") from None


def load_catalogue(paths: list[str | os.PathLike] | None = None) -> Catalogue:
    """Load and validate server files (default: the built-in ``servers/`` folder); extra dirs or files add to it."""
    files: list[Path] = []
    for p in paths or [SERVERS_DIR]:
        p = Path(p)
        files.extend(sorted(p.glob("*.yaml")) if p.is_dir() else [p])
    if not files:
        raise CatalogueError(f"no server files found in {', '.join(map(str, paths or [SERVERS_DIR]))}")
    specs, seen = [], {}
    for f in files:
        spec = _read_server(f)
        if spec.server in seen:
            raise CatalogueError(
                f"{f}: field server: {spec.server!r} is already defined in {seen[spec.server]}"
            )
        seen[spec.server] = f
        specs.append(spec)
    cat = Catalogue(specs)
    for spec in specs:
        _validate_server(spec, str(seen[spec.server]), cat)
        names = [t.name for t in spec.tools]
        if len(set(names)) != len(names):
            raise CatalogueError(f"{seen[spec.server]}: field tools: duplicate tool names")
        ids = [i.id for i in spec.intents]
        if len(set(ids)) != len(ids):
            raise CatalogueError(f"{seen[spec.server]}: field intents: duplicate intent ids")
    return cat


@functools.lru_cache(maxsize=4)
def builtin_catalogue() -> Catalogue:
    return load_catalogue()
