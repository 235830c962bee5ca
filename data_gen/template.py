"""Tiny templates for intents: ``{slot}`` and ``{r2.items.0.id}`` (the result of step 2, by path).

A template that is exactly one placeholder keeps the value's type (a number stays a number), so call
arguments come out typed. ``{{`` and ``}}`` are literal braces.
"""

from __future__ import annotations

import re
from typing import Any

PLACEHOLDER = re.compile(r"(?<!\{)\{([A-Za-z_][\w]*(?:\.[\w-]+)*)\}(?!\})")


class TemplateError(KeyError):
    pass


def references(template: Any) -> set[str]:
    """Every placeholder root (``path``, ``r1``) that a template or nested structure mentions."""
    if isinstance(template, str):
        return {m.group(1).split(".")[0] for m in PLACEHOLDER.finditer(template)}
    if isinstance(template, dict):
        return set().union(*(references(v) for v in template.values())) if template else set()
    if isinstance(template, list):
        return set().union(*(references(v) for v in template)) if template else set()
    return set()


def lookup(path: str, scope: dict[str, Any]) -> Any:
    root, *rest = path.split(".")
    if root not in scope:
        raise TemplateError(f"unknown placeholder {{{path}}}")
    value = scope[root]
    for part in rest:
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            raise TemplateError(f"placeholder {{{path}}}: no {part!r} in {str(value)[:60]}")
    return value


def to_text(value: Any) -> str:
    """A value as answers show it: 1,234.50 for large floats, lists joined, dicts as their first fields."""
    if isinstance(value, float):  # never round: an answer must not state a number that no result holds
        return f"{value:,.2f}" if abs(value) >= 1000 and round(value, 2) == value else repr(value)
    if isinstance(value, list):
        return ", ".join(to_text(v) for v in value)
    if isinstance(value, dict):  # a whole result in an answer: its first fields, readably
        return ", ".join(f"{k.replace('_', ' ')} {to_text(v)}" for k, v in list(value.items())[:4])
    return str(value)


def render(template: Any, scope: dict[str, Any]) -> Any:
    """Fill a template (string, or dict/list of templates) from ``scope``."""
    if isinstance(template, dict):
        return {k: render(v, scope) for k, v in template.items()}
    if isinstance(template, list):
        return [render(v, scope) for v in template]
    if not isinstance(template, str):
        return template
    whole = PLACEHOLDER.fullmatch(template)
    if whole:
        return lookup(whole.group(1), scope)
    out = PLACEHOLDER.sub(lambda m: to_text(lookup(m.group(1), scope)), template)
    return out.replace("{{", "{").replace("}}", "}")
