"""Real-length text for sessions: tool documentation as real MCP servers write it, and long tool results.

Real ``tools/list`` entries range from a terse line to hundreds of tokens of usage notes, parameter docs,
return-value notes and JSON examples; real tool results carry listings with dozens of entries and documents of
several paragraphs. ``document`` expands a tool's description (and annotates its input schema) in one of several
house styles; ``lengthen_results`` pads results with further entries of the same shape, or further paragraphs.

Both are applied to every tool and every result of a session, whatever the label, after the attack transform
ran: length and style carry no label. The expansion of a tool is a function of its qualified name alone, so the
same tool reads the same in every record (as a real server's would). Padding never adds a value that the
log's user turns, agent messages or call arguments contain, so it cannot make a faked value look returned or an
injected call look informed by a result.

All wording here is the project's own.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from random import Random
from typing import Any

from data_gen import samplers
from data_gen.simulate import value_for
from mcip.record import Tool, Trajectory

# -- tool documentation ----------------------------------------------------------------------------------------

_READ_NOTES = (
    "This tool only reads; it never changes anything on the server, so it is safe to call repeatedly.",
    "Read-only. Calling it twice returns the same data unless something else changed it in between.",
    "Use it to look things up before deciding on any change; it has no side effects.",
    "Results reflect the state at the time of the call and may be a few seconds stale.",
    "Prefer this over broader listing tools when you already know what you are looking for.",
)
_WRITE_NOTES = (
    "This tool changes data on the server. Confirm the target with the user when the request is ambiguous.",
    "Writes are applied immediately and are visible to other clients of the same account.",
    "The change is recorded in the account's activity history together with the calling client's name.",
    "Calling it twice with the same arguments applies the change twice; do not retry a call that succeeded.",
    "Only the fields you pass are changed; omitted optional fields keep their current values.",
)
_ADMIN_NOTES = (
    "Requires administrator rights on the account. Do not use it for tasks a narrower tool can do.",
    "This is a privileged operation: it bypasses the per-user checks that the regular tools apply.",
    "Every call is audited. Use it only when the user explicitly asks for an administrative action.",
    "Acts on every resource of the organisation, not only the current user's.",
)
_GENERAL_NOTES = (
    "Times are in UTC unless a timezone parameter says otherwise.",
    "Identifiers are case-sensitive and must be passed exactly as other tools of this server return them.",
    "Large responses are paginated; pass the cursor from the previous response to fetch the next page.",
    "The server enforces a rate limit of about 60 calls a minute per client; excess calls fail with 429.",
    "Errors come back as a result with an `error` field and a short code rather than as an exception.",
    "Strings are UTF-8; leading and trailing whitespace in parameters is ignored.",
    "If a required parameter is missing, the call fails with a validation error naming it.",
    "Empty results are not errors: the response then holds an empty list.",
    "Values the user gave should be passed unchanged; do not guess identifiers.",
    "The tool works on the account the server was configured with; it cannot switch accounts.",
)
_WHEN_NOT = (
    "Do not use this tool to {other}; the server has a dedicated tool for that.",
    "Not meant for bulk jobs: call it once per item the user named.",
    "Do not call it speculatively; call it when the user's request needs its result.",
    "It does not notify anyone; use a messaging tool if the user wants people told.",
)
_OTHER_JOBS = ("delete records", "change permissions", "send messages", "export everything", "schedule jobs")
_ERRORS = (
    ("not_found", "the identifier does not exist or is not visible to this account"),
    ("invalid_argument", "a parameter has the wrong type or format"),
    ("permission_denied", "the account lacks the right for this operation"),
    ("rate_limited", "too many calls in a short time; wait and retry"),
    ("conflict", "the resource changed since it was read; read it again first"),
    ("unavailable", "the backend did not answer in time; retrying later usually works"),
)
_RETURNS = (
    "Returns a JSON object with the fields listed above.",
    "Returns the resulting record as JSON.",
    "On success the response holds the affected record; on failure an `error` object with `code` and `message`.",
    "The response is a JSON object; list fields may be empty.",
)
_PARAM_PHRASES = (
    "The {words} to use.",
    "{Words} for this call.",
    "Which {words} the operation applies to.",
    "The {words}, exactly as the user gave it or as another tool returned it.",
    "{Words}.",
)
_FORMAT_HINTS = {
    "date": "Format YYYY-MM-DD.",
    "time": "24-hour HH:MM.",
    "email": "A full email address.",
    "url": "An absolute http(s) URL.",
    "path": "An absolute path; `~` is not expanded.",
    "id": "An opaque identifier string.",
    "amount": "A decimal number in the account's currency unless `currency` is given.",
    "limit": "Maximum number of items to return.",
    "query": "Free text; quotes match an exact phrase.",
}


def _words(name: str) -> str:
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name).replace("_", " ").replace("-", " ").strip().lower()


def _format_hint(name: str) -> str:
    low = name.lower()
    for key, hint in _FORMAT_HINTS.items():
        if key in low:
            return hint
    return ""


def _param_doc(name: str, spec: dict[str, Any], required: bool, rng: Random) -> tuple[str, str]:
    """(type text, sentence) for one parameter."""
    typ = spec.get("type", "string")
    typ = "|".join(typ) if isinstance(typ, list) else str(typ)
    if typ == "array" and isinstance(spec.get("items"), dict):
        typ = f"array of {spec['items'].get('type', 'string')}"
    words = _words(name)
    text = spec.get("description") or rng.choice(_PARAM_PHRASES).format(
        words=words, Words=words[:1].upper() + words[1:]
    )
    extra = []
    if spec.get("enum"):
        extra.append("One of: " + ", ".join(f"`{v}`" for v in spec["enum"]) + ".")
    elif hint := _format_hint(name):
        extra.append(hint)
    if "minimum" in spec or "maximum" in spec:
        extra.append(f"Between {spec.get('minimum', 'any')} and {spec.get('maximum', 'any')}.")
    if "default" in spec:
        extra.append(f"Defaults to `{spec['default']}`.")
    if not required and rng.random() < 0.5:
        extra.append("Optional.")
    return typ, " ".join([text.rstrip(".") + ".", *extra])


def _notes(tool: Tool, rng: Random, k: int) -> list[str]:
    pool = list(_GENERAL_NOTES)
    if tool.privilege == "admin":
        first = rng.choice(_ADMIN_NOTES)
    elif tool.privilege == "write":
        first = rng.choice(_WRITE_NOTES)
    else:
        first = rng.choice(_READ_NOTES)
    rest = rng.sample(pool, min(len(pool), max(0, k - 1)))
    if rng.random() < 0.4:
        rest.append(rng.choice(_WHEN_NOT).format(other=rng.choice(_OTHER_JOBS)))
    return [first, *rest]


def _example(tool: Tool, rng: Random) -> dict[str, Any]:
    props = (tool.inputSchema or {}).get("properties") or {}
    required = set((tool.inputSchema or {}).get("required") or ())
    out = {}
    for name, spec in props.items():
        if name in required or rng.random() < 0.4:
            out[name] = value_for(name, spec if isinstance(spec, dict) else {}, Random(rng.random()))
    return out


def _params(tool: Tool, rng: Random) -> list[tuple[str, str, bool, str]]:
    schema = tool.inputSchema or {}
    required = set(schema.get("required") or ())
    out = []
    for name, spec in (schema.get("properties") or {}).items():
        typ, text = _param_doc(name, spec if isinstance(spec, dict) else {}, name in required, rng)
        out.append((name, typ, name in required, text))
    return out


def _style_docstring(tool: Tool, rng: Random, long: bool) -> str:
    lines = [tool.description.strip(), ""]
    lines += _notes(tool, rng, 3 if long else 1)
    params = _params(tool, rng)
    if params:
        lines += ["", "Args:"]
        lines += [f"    {n} ({t}{', required' if r else ''}): {d}" for n, t, r, d in params]
    lines += ["", "Returns:", "    " + rng.choice(_RETURNS)]
    if long:
        lines += ["", "Raises:"]
        lines += [f"    {code}: {why}." for code, why in rng.sample(_ERRORS, rng.randint(2, 4))]
    return "\n".join(lines)


def _style_markdown(tool: Tool, rng: Random, long: bool) -> str:
    parts = [tool.description.strip()]
    notes = _notes(tool, rng, rng.randint(2, 4) if long else 2)
    parts.append("**Usage notes**\n" + "\n".join(f"- {n}" for n in notes))
    params = _params(tool, rng)
    if params:
        rows = "\n".join(f"- `{n}` ({t}){' **required**' if r else ''}: {d}" for n, t, r, d in params)
        parts.append("**Parameters**\n" + rows)
    if long:
        example = json.dumps(_example(tool, rng), indent=2, ensure_ascii=False)
        parts.append(f"**Example**\n```json\n{example}\n```")
        parts.append(
            "**Errors**\n" + "\n".join(f"- `{c}`: {w}" for c, w in rng.sample(_ERRORS, rng.randint(2, 5)))
        )
    return "\n\n".join(parts)


def _style_tags(tool: Tool, rng: Random, long: bool) -> str:
    notes = _notes(tool, rng, 3 if long else 2)
    out = [f"<purpose>{tool.description.strip()}</purpose>"]
    out.append(
        "<instructions>\n" + "\n".join(f"{i}. {n}" for i, n in enumerate(notes, 1)) + "\n</instructions>"
    )
    if long:
        params = _params(tool, rng)
        out.append(
            "<parameters>\n" + "\n".join(f"{n}: {d}" for n, _, _, d in params) + "\n</parameters>"
            if params
            else "<parameters>none</parameters>"
        )
        example = json.dumps(_example(tool, rng), ensure_ascii=False)
        out.append(f"<example>{tool.name}({example})</example>")
    return "\n".join(out)


def _style_prose(tool: Tool, rng: Random, long: bool) -> str:
    notes = _notes(tool, rng, 3 if long else 2)
    text = tool.description.strip().rstrip(".") + ". " + " ".join(notes)
    if long:
        params = _params(tool, rng)
        text += " " + " ".join(f"`{n}`: {d}" for n, _, _, d in params)
        text += " Example call: " + json.dumps(_example(tool, rng), ensure_ascii=False) + "."
    return text


_STYLES = (_style_docstring, _style_markdown, _style_tags, _style_prose)
_DOC_CACHE: dict[tuple, Tool] = {}


def _annotate_schema(schema: dict[str, Any], rng: Random) -> dict[str, Any]:
    """Parameter descriptions, format hints and examples inside the input schema (call arguments stay valid)."""
    out = copy.deepcopy(schema)
    props = out.get("properties")
    if not isinstance(props, dict):
        return out
    for name, spec in props.items():
        if not isinstance(spec, dict):
            continue
        _, text = _param_doc(name, spec, name in (out.get("required") or ()), rng)
        spec["description"] = text
        if rng.random() < 0.4 and "enum" not in spec and spec.get("type") in ("string", "integer", "number"):
            spec["examples"] = [value_for(name, spec, Random(rng.random()))]
    if rng.random() < 0.3:
        out["title"] = "".join(
            w.capitalize() for w in _words(str(out.get("title", "")) or "arguments").split()
        )
    return out


def document(tool: Tool) -> Tool:
    """``tool`` with real-length documentation; a function of its qualified name and text alone (cached)."""
    props = (tool.inputSchema or {}).get("properties") or {}
    key = (tool.qualified_name, tool.description, tool.privilege, tuple(props))
    hit = _DOC_CACHE.get(key)
    if hit is not None:
        return hit
    rng = Random(f"doc/{tool.qualified_name}")
    tier = rng.random()
    if tier < 0.5:  # terse, as many real tools are
        description = tool.description
        if rng.random() < 0.3:
            description = description.rstrip() + " " + rng.choice((*_READ_NOTES[:2], *_GENERAL_NOTES[:4]))
        schema = tool.inputSchema
    else:
        long = tier >= 0.86
        description = rng.choice(_STYLES)(tool, rng, long)
        if tier >= 0.97:  # the few very long ones: a second example and a longer notes section
            more = rng.sample(_GENERAL_NOTES, 4)
            description += "\n\nMore notes:\n" + "\n".join(f"* {n}" for n in more)
            description += "\n\nAnother example:\n" + json.dumps(_example(tool, rng), ensure_ascii=False)
        schema = _annotate_schema(tool.inputSchema, rng)
    out = tool.model_copy(update={"description": description, "inputSchema": schema})
    if len(_DOC_CACHE) > 20000:
        _DOC_CACHE.clear()
    _DOC_CACHE[key] = out
    return out


# -- long results ------------------------------------------------------------------------------------------------

_PARAGRAPH_OPENERS = (
    "Background",
    "Summary",
    "Details",
    "Next steps",
    "Context",
    "Notes from the meeting",
    "Open questions",
    "Scope",
)
_PARAGRAPH_LINES = (
    "The team agreed to revisit the plan once the first measurements are in.",
    "Most of the work so far went into cleaning up the inputs and writing down the assumptions.",
    "Nobody objected to the proposal, although two people asked for more time to read it.",
    "The previous version is kept in the archive folder for reference.",
    "Feedback should go to the owner listed at the top of this document.",
    "Several smaller items were moved to the backlog and will be picked up later.",
    "The figures below are preliminary and may change after the review.",
    "A short recap will be shared with everyone who could not attend.",
    "The schedule has some slack, but the review date is fixed.",
    "Responsibilities are split between the core group and the reviewers.",
    "The draft still lacks a section on risks, which is planned for the next revision.",
    "Everything marked as optional can be skipped in the first round.",
    "This section describes what changed since the last update and why.",
    "Questions that came up during the discussion are listed at the end.",
)
_TEXT_KEYS = ("content", "body", "text", "document", "snippet", "markdown", "page", "html", "description")


_NUMBER = re.compile(r"(?<![A-Za-z\d])\d[\d,]*(?:\.\d+)?")


class _Avoid:
    """The text padding must not echo: its strings (by substring) and its numbers (by value)."""

    def __init__(self, text: str):
        self.text = text
        self.numbers = {float(x.replace(",", "")) for x in _NUMBER.findall(text)}

    def clean(self, value: Any) -> bool:
        if isinstance(value, dict):
            return all(self.clean(v) for v in value.values())
        if isinstance(value, list):
            return all(self.clean(v) for v in value)
        if isinstance(value, bool) or value is None:
            return True
        if isinstance(value, (int, float)):
            return float(value) not in self.numbers
        text = str(value)
        if len(text) >= 3 and text in self.text:
            return False
        return not any(float(x.replace(",", "")) in self.numbers for x in _NUMBER.findall(text))


@functools.lru_cache(maxsize=4096)
def _guess(key: str) -> str | None:
    return samplers.guess(key)


def _vary(value: Any, key: str, rng: Random) -> Any:
    """A fresh value of the same kind as ``value`` (for a further list entry)."""
    if isinstance(value, dict):
        return {k: _vary(v, k, rng) for k, v in value.items()}
    if isinstance(value, list):
        return [_vary(v, key, rng) for v in value[:3]]
    if isinstance(value, bool) or value is None:
        return value
    guessed = _guess(key) if key else None
    if isinstance(value, int):
        return rng.randrange(max(1, value // 3), max(2, value * 3 + 10))
    if isinstance(value, float):
        return round(rng.uniform(max(0.01, value / 3), value * 3 + 1), 2)
    if guessed:
        fresh = samplers.sample(guessed, rng)
        if isinstance(fresh, str):
            return fresh
    if re.fullmatch(r"[A-Za-z]+[-_]?\d+", value):  # ids like ord1234567
        prefix = re.match(r"[A-Za-z]+[-_]?", value).group(0)
        return prefix + "".join(rng.choice("0123456789") for _ in range(len(value) - len(prefix)))
    return " ".join(rng.choice(samplers.WORDS) for _ in range(max(1, min(4, len(value.split())))))


def _grow_list(items: list[Any], key: str, rng: Random, avoid: _Avoid, target: int) -> list[Any]:
    if not items:
        return items
    out = list(items)
    tries = 0
    while len(out) < target and tries < target * 2:
        tries += 1
        fresh = _vary(rng.choice(items), key, rng)
        if fresh in out or not avoid.clean(fresh):
            continue
        out.insert(rng.randint(len(items), len(out)), fresh)  # the original entries stay first, in order
    return out


def _document_text(rng: Random, n: int) -> str:
    paras = []
    for _ in range(n):
        head = rng.choice(_PARAGRAPH_OPENERS)
        paras.append(f"{head}: " + " ".join(rng.sample(_PARAGRAPH_LINES, rng.randint(2, 5))))
    return "\n\n".join(paras)


def _counts(value: dict[str, Any]) -> set[int]:
    return {v for v in value.values() if isinstance(v, int) and not isinstance(v, bool)}


def lengthen(value: Any, rng: Random, avoid: _Avoid, scale: int) -> Any:
    """A longer version of a decoded result: lists grow towards ``scale`` entries, text fields gain paragraphs.

    A list whose length a sibling field states (``count``) is left alone; no new scalar appears in ``avoid``.
    """
    if isinstance(value, list):
        return _grow_list(value, "", rng, avoid, scale)
    if not isinstance(value, dict):
        return value
    out = dict(value)
    counts = _counts(value)
    for k, v in value.items():
        if isinstance(v, list) and v and len(v) not in counts and len(json.dumps(v)) < 4000:
            out[k] = _grow_list(v, k, rng, avoid, scale)
        elif isinstance(v, str) and k.lower() in _TEXT_KEYS and len(v) < 3000:
            out[k] = v.rstrip() + "\n\n" + _document_text(rng, max(1, scale // 6))
        elif isinstance(v, dict):
            out[k] = lengthen(v, rng, avoid, scale)
    return out


P_LONG_RESULT = 0.4


def lengthen_results(traj: Trajectory, rng: Random, share: float = P_LONG_RESULT) -> Trajectory:
    """Lengthen a share of the JSON results of ``traj`` (see ``lengthen``)."""
    avoid = _Avoid(
        "\n".join(
            (m.content or "") + " ".join(c.function.arguments for c in m.tool_calls or ())
            for m in traj.messages
            if m.role != "tool"
        )
    )
    messages = list(traj.messages)
    changed = False
    for i, m in enumerate(messages):
        if m.role != "tool" or not m.content or m.content[:1] not in "{[" or rng.random() >= share:
            continue
        try:
            value = json.loads(m.content)
        except json.JSONDecodeError:
            continue
        scale = rng.choice((4, 6, 8, 12, 16, 24, 36, 50))
        longer = lengthen(value, rng, avoid, scale)
        if longer != value:
            messages[i] = m.model_copy(update={"content": json.dumps(longer, ensure_ascii=False)})
            changed = True
    return traj.model_copy(update={"messages": messages}) if changed else traj


def document_tools(traj: Trajectory) -> Trajectory:
    return traj.model_copy(update={"tools": [document(t) for t in traj.tools]})
