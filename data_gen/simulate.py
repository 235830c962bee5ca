"""Deterministic tool simulation: arguments and results that follow the tools' JSON schemas.

A result follows the tool's ``outputSchema``: each property is drawn from its ``x-sample`` sampler, echoes the
call argument of the same name (so a ``get_file(path)`` result names the same path), or is guessed from the
property name. Tools without an output schema (imported ones) get a small generic result. The same rng
state gives the same values.
"""

from __future__ import annotations

from random import Random
from typing import Any

from data_gen import samplers

_GENERIC_OUTPUT = {"type": "object", "properties": {"status": {"type": "string", "x-sample": "ok_status"}}}


def _type_of(schema: dict[str, Any]) -> str:
    typ = schema.get("type", "string")
    if isinstance(typ, list):
        typ = next((t for t in typ if t != "null"), "string")
    return {"dict": "object", "float": "number", "int": "integer", "bool": "boolean", "list": "array"}.get(
        typ, typ
    )


def value_for(name: str, schema: dict[str, Any], rng: Random, echo: dict[str, Any] | None = None) -> Any:
    """One value for property ``name`` following ``schema``."""
    if echo and name in echo and schema.get("x-echo", True):
        return echo[name]
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return rng.choice(schema["enum"])
    hint = schema.get("x-sample")
    if hint:
        return samplers.sample(hint, rng)
    typ = _type_of(schema)
    if typ == "object":
        return fill_object(schema, rng, echo=echo)
    if typ == "array":
        items = schema.get("items") if isinstance(schema.get("items"), dict) else {"type": "string"}
        n = rng.randrange(
            schema.get("minItems", 1), max(schema.get("minItems", 1), schema.get("x-max-items", 3)) + 1
        )
        return [value_for(name.rstrip("s") or name, items, rng) for _ in range(n)]
    if typ == "boolean":
        return rng.random() < 0.8
    guessed = samplers.guess(name)
    if typ in ("integer", "number"):
        lo, hi = schema.get("minimum"), schema.get("maximum")
        if lo is not None or hi is not None:
            lo, hi = lo if lo is not None else 0, hi if hi is not None else (lo or 0) + 100
            return rng.randint(int(lo), int(hi)) if typ == "integer" else round(rng.uniform(lo, hi), 2)
        value = samplers.sample(guessed, rng) if guessed else rng.randrange(1, 100)
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            value = rng.randrange(1, 100)
        return int(value) if typ == "integer" else value
    value = samplers.sample(guessed, rng) if guessed else samplers.sample("word", rng)
    return value if isinstance(value, str) else str(value)


def fill_object(
    schema: dict[str, Any],
    rng: Random,
    echo: dict[str, Any] | None = None,
    given: dict[str, Any] | None = None,
    optional: float = 0.0,
) -> dict[str, Any]:
    """An object for ``schema``: required properties always, optional ones with probability ``optional``.

    ``given`` values are used as they are; ``echo`` values answer properties of the same name.
    """
    given = given or {}
    props = schema.get("properties") or {}
    # No "required" key: every property is wanted (result schemas); an explicit list, even empty, is respected.
    required = set(schema["required"]) if "required" in schema else set(props)
    out: dict[str, Any] = {}
    for name, spec in props.items():
        if name in given:
            out[name] = given[name]
        elif name in required or rng.random() < optional:
            out[name] = value_for(name, spec if isinstance(spec, dict) else {}, rng, echo)
    return out


def make_arguments(
    input_schema: dict[str, Any], rng: Random, given: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Arguments for a call: the given ones, plus sampled values for required parameters."""
    schema = dict(input_schema)
    schema.setdefault("required", [])
    return fill_object(schema, rng, given=given, optional=0.25)


def simulate_result(
    output_schema: dict[str, Any] | None, args: dict[str, Any], rng: Random
) -> dict[str, Any]:
    """A result following ``output_schema``; properties named like an argument echo it."""
    schema = output_schema or _GENERIC_OUTPUT
    if output_schema is None:
        return {**fill_object(schema, rng), **{k: v for k, v in list(args.items())[:2]}}
    return fill_object(schema, rng, echo=args)
