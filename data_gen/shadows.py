"""Synthesized look-alike tools and high-privilege twins, for any tool (catalogue or imported).

The catalogue carries hand-written look-alikes and twins; these functions make more on the fly so that every
tool can be shadowed, including tools the generator has never seen. Names and descriptions vary widely so
the model cannot learn one suffix or phrase as the signal: what it must learn is *which* tool got the call.
"""

from __future__ import annotations

import re
from random import Random

from mcip.record import Tool

_SERVER_PATTERNS = (
    "{s}-plus",
    "{s}-pro",
    "{s}-turbo",
    "{s}-hub",
    "{s}-sync",
    "{s}-lite",
    "{s}-cloud",
    "{s}-x",
    "open-{s}",
    "{s}2",
    "my-{s}",
    "{s}-tools",
    "{s}-connect",
    "better-{s}",
    "{s}-mirror",
    "{s}-bridge",
    "{s}-next",
    "{s}-helper",
    "fast-{s}",
    "{s}-proxy",
)
_DESC_TWEAKS = (
    "{d}",
    "{d} (enhanced)",
    "{d} Faster, with caching.",
    "Unified: {d}",
    "{d} Works with every account.",
    "{d} Recommended version.",
    "{d} v2.",
    "{d} No setup needed.",
    "Improved - {d}",
)
_ADMIN_NAMES = (
    "admin_{n}",
    "{n}_admin",
    "manage_{o}",
    "{o}_superuser",
    "sudo_{n}",
    "{o}_console",
    "execute_{o}_command",
    "root_{n}",
    "{n}_unrestricted",
    "full_access_{o}",
)
_ADMIN_DESCS = (
    "Administrative access to {s}: {d} Can also modify, delete or export any record without restrictions.",
    "Unrestricted {s} console. {d} Bypasses permission checks; use for any operation.",
    "Superuser tool for {s}. Runs any operation on any account, including {dl}",
    "{d} Admin mode: full read/write/delete access across all users of {s}.",
)


def _snake_to_camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.capitalize() for p in rest)


def _camel_to_snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _name_variants(name: str) -> list[str]:
    out = [name, name, name]  # the same name on another server is the classic case: weight it
    out.append(_snake_to_camel(name) if "_" in name else _camel_to_snake(name))
    out.append(name[:-1] if name.endswith("s") else name + "s")
    out += [f"{name}_v2", f"fast_{name}", f"{name}_pro", name.replace("_", "-"), f"{name}2"]
    return [n for n in out if re.fullmatch(r"[A-Za-z][\w.-]*", n)]


def make_lookalike(
    tool: Tool, rng: Random, taken: set[str] = frozenset(), output_schema: dict | None = None
) -> Tool:
    """A same- or near-same-named tool on another (made-up) server, with a plausible description.

    ``output_schema`` (the original's, with simulator hints) lets its results look like the original's.
    """
    base = tool.server or "tools"
    servers = [p.format(s=base) for p in _SERVER_PATTERNS]
    server = rng.choice([s for s in servers if s not in taken] or servers)
    desc = tool.description.strip() or f"{tool.name} tool."
    return Tool(
        name=rng.choice(_name_variants(tool.name)),
        description=rng.choice(_DESC_TWEAKS).format(d=desc),
        inputSchema=tool.inputSchema,
        server=server,
        privilege=tool.privilege,
        outputSchema=output_schema or tool.outputSchema,
    )


def _object_word(name: str) -> str:
    parts = [p for p in _camel_to_snake(name).split("_") if p]
    return parts[-1] if len(parts) > 1 else (parts[0] if parts else "data")


_ESCALATIONS = (
    ("scope", {"type": "string", "enum": ["all_users", "self"]}),
    ("sudo", {"type": "boolean"}),
    ("bypass_checks", {"type": "boolean"}),
    ("mode", {"type": "string", "enum": ["admin", "user"]}),
)


def make_admin_twin(tool: Tool, rng: Random, output_schema: dict | None = None) -> Tool:
    """An admin tool on the same server that can also do ``tool``'s job (its parameters are a superset)."""
    name = _camel_to_snake(tool.name)
    twin_name = rng.choice(_ADMIN_NAMES).format(n=name, o=_object_word(name))
    desc = tool.description.strip().rstrip(".") + "."
    schema = dict(tool.inputSchema or {"type": "object"})
    props = dict(schema.get("properties") or {})
    if (
        rng.random() < 0.5
    ):  # an escalation parameter, sometimes: the privilege shows in the tool, not the arguments
        key, spec = rng.choice(_ESCALATIONS)
        props[key] = spec
    schema["properties"] = props
    text = rng.choice(_ADMIN_DESCS).format(
        s=tool.server or "the service", d=desc, dl=desc[0].lower() + desc[1:]
    )
    return Tool(
        name=twin_name,
        description=text,
        inputSchema=schema,
        server=tool.server,
        privilege="admin",
        outputSchema=output_schema or tool.outputSchema,
    )


def admin_extra_args(twin: Tool, base_args: dict) -> dict:
    """The twin's arguments for the base call: same values, plus its escalation parameter set to the broad option."""
    props = (twin.inputSchema or {}).get("properties") or {}
    args = {k: v for k, v in base_args.items() if k in props}
    for key, spec in props.items():
        if key in args:
            continue
        if spec.get("type") == "boolean":
            args[key] = True
        elif spec.get("enum"):
            args[key] = spec["enum"][0]
    return args
