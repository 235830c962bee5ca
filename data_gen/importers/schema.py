"""Tool schemas in other dialects -> valid JSON Schema (draft 2020-12) with an object at the root.

Function-calling datasets write types their own way: BFCL ``"dict"``, ``"float"``, ``"tuple"``, ``"any"`` and
Java/JavaScript names (``"String"``, ``"HashMap"``, ``"long"``), xLAM Python annotations (``"List[str]"``,
``"int, optional"``), older MCP servers draft-07 forms (``exclusiveMinimum: true``, ``items: [...]``). The
catalogue and the prompt expect plain JSON Schema, so everything is rewritten here once.
"""

from __future__ import annotations

import re
from typing import Any

import jsonschema

from data_gen.importers.errors import fail

# Type names of every dialect we meet, lower-cased, to JSON Schema types.
_TYPES = {
    **dict.fromkeys(("string", "str", "char", "character", "date", "datetime"), "string"),
    **dict.fromkeys(("integer", "int", "long", "short", "byte"), "integer"),
    **dict.fromkeys(("number", "float", "double", "decimal"), "number"),
    **dict.fromkeys(("boolean", "bool"), "boolean"),
    **dict.fromkeys(("array", "list", "tuple", "set", "arraylist", "sequence", "iterable"), "array"),
    **dict.fromkeys(("object", "dict", "hashmap", "map", "mapping"), "object"),
    **dict.fromkeys(("null", "none", "nonetype"), "null"),
}
# Types JSON Schema cannot narrow: any value is accepted.
_UNCONSTRAINED = {"any", "callable", "function"}
_GENERIC = re.compile(r"([A-Za-z_][\w.]*)\s*(?:\[(.*)\])?", re.S)
_OPTIONAL = re.compile(r",\s*(?:optional|default)\b[^\]]*$", re.I)  # a top-level suffix only

_SUBSCHEMA = ("additionalProperties", "not", "if", "then", "else", "contains", "propertyNames")
_SUBSCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SUBSCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_NULL_OK = ("default", "const")  # keywords where a null value means something
_BOUNDS = {"exclusiveMinimum": "minimum", "exclusiveMaximum": "maximum"}


def parse_type(text: str, where: str, field: str) -> tuple[dict[str, Any], bool]:
    """A dialect type name -> (JSON Schema fragment, optional?): ``"List[str], optional"`` -> array of string."""
    core, optional = _OPTIONAL.sub("", text).strip(), bool(_OPTIONAL.search(text))
    if not core:
        return {}, optional
    match = _GENERIC.fullmatch(core)
    if not match:
        raise fail(where, field, f"unknown type {text!r}")
    base, inner = match.group(1).lower().removeprefix("typing."), match.group(2)
    if base in _UNCONSTRAINED:  # before the arguments: Callable[[float], float] has no types of ours inside
        return {}, optional
    args = [parse_type(arg, where, field)[0] for arg in _split_args(inner or "") if arg != "..."]
    if base == "optional" and len(args) == 1:
        return args[0], True
    if base == "union" and args:
        return _union(args), optional or {"type": "null"} in args
    if base not in _TYPES:
        raise fail(where, field, f"unknown type {text!r}")
    out: dict[str, Any] = {"type": _TYPES[base]}
    if out["type"] == "array" and args:
        if base == "tuple" and any(a != args[0] for a in args):
            out["prefixItems"] = args
        else:
            out["items"] = args[0]
    elif out["type"] == "object" and len(args) == 2 and args[1]:
        out["additionalProperties"] = args[1]
    return out, optional


def _split_args(text: str) -> list[str]:
    """Top-level comma split of ``"str, Dict[str, int]"`` -> ``["str", "Dict[str, int]"]``."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += {"[": 1, "]": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    tail = text[start:].strip()
    return [*parts, tail] if tail else parts


def _union(options: list[dict[str, Any]]) -> dict[str, Any]:
    if {} in options:
        return {}
    if all(set(o) == {"type"} for o in options):
        return {"type": list(dict.fromkeys(o["type"] for o in options))}
    return {"anyOf": options}


def _type_keyword(value: Any, where: str, field: str) -> dict[str, Any]:
    """The ``type`` keyword rewritten; may add ``items`` for generic names, or drop the type for ``any``."""
    if isinstance(value, str):
        return parse_type(value, where, field)[0]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        names = [parse_type(v, where, field)[0].get("type") for v in value]
        if None in names:
            return {}
        flat = dict.fromkeys(n for name in names for n in (name if isinstance(name, list) else [name]))
        return {"type": next(iter(flat)) if len(flat) == 1 else list(flat)}
    raise fail(where, field, f"expected a type name or a list of them, got {value!r}")


def normalise_schema(schema: Any, where: str, field: str) -> dict[str, Any] | bool:
    """Rewrite one schema (recursively) into draft 2020-12; unknown keywords are kept as they are."""
    if isinstance(schema, bool):
        return schema
    if not isinstance(schema, dict):
        raise fail(where, field, f"expected a schema object, got {type(schema).__name__}")
    out: dict[str, Any] = {}
    for key, value in schema.items():
        sub = f"{field}.{key}"
        if key == "$schema" or (value is None and key not in _NULL_OK):
            continue  # we emit 2020-12 whatever the source declared; null keywords carry nothing
        if key == "type":
            # explicit keywords (an "items" beside "type": "List[str]") win over what the type name implies
            out.update(
                {k: v for k, v in _type_keyword(value, where, sub).items() if k == "type" or k not in schema}
            )
        elif key in _SUBSCHEMA_MAPS:
            if not isinstance(value, dict):
                raise fail(where, sub, f"expected an object, got {type(value).__name__}")
            out[key] = {name: normalise_schema(s, where, f"{sub}.{name}") for name, s in value.items()}
        elif key in _SUBSCHEMA_LISTS:
            if not isinstance(value, list):
                raise fail(where, sub, f"expected a list, got {type(value).__name__}")
            out[key] = [normalise_schema(s, where, f"{sub}.{i}") for i, s in enumerate(value)]
        elif key == "items" and isinstance(value, list):  # draft-07 tuple form
            out["prefixItems"] = [normalise_schema(s, where, f"{sub}.{i}") for i, s in enumerate(value)]
            if "additionalItems" in schema:
                out["items"] = normalise_schema(schema["additionalItems"], where, f"{field}.additionalItems")
        elif key in _SUBSCHEMA or key == "items":
            out[key] = normalise_schema(value, where, sub)
        elif key in _BOUNDS and isinstance(value, bool):  # draft-04 boolean form: the bound moves here
            if value and _BOUNDS[key] in schema:
                out[key] = schema[_BOUNDS[key]]
        elif key == "additionalItems" and isinstance(schema.get("items"), list):
            continue  # folded into "items" above
        else:
            out[key] = value
    for key, bound in _BOUNDS.items():
        if schema.get(key) is True:
            out.pop(bound, None)
    return out


def input_schema(params: Any, where: str, field: str) -> dict[str, Any]:
    """A tool's ``inputSchema``: normalised, an object at the root (an absent schema means no arguments)."""
    if params is None:
        return {"type": "object", "properties": {}}
    schema = normalise_schema(params, where, field)
    if not isinstance(schema, dict):
        raise fail(where, field, "expected a schema object, got a boolean")
    schema = {"type": "object", **schema} if "type" not in schema else schema
    if schema["type"] != "object":
        raise fail(where, f"{field}.type", f"the root must be an object schema, got {schema['type']!r}")
    return schema


def check_schema(schema: dict[str, Any], where: str, field: str) -> None:
    """Raise unless ``schema`` is valid draft 2020-12 (what the catalogue loader will demand)."""
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as err:
        path = ".".join(str(p) for p in err.path)
        raise fail(
            where, f"{field}.{path}" if path else field, f"invalid JSON schema: {err.message}"
        ) from None
