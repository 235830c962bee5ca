"""Any ``tools/list`` becomes training data: what the generator needs, synthesized from the tools alone.

Imported servers (MCP ``tools/list``, BFCL or OpenAI function specs) come with names, descriptions and input
schemas only. ``synthesize`` adds, by deterministic rules:

- **slot values from the schema**: each parameter gets a sampler hint (``x-sample``) from its format, name or
  type; enums, examples and defaults become the values a user picks from;
- **links**: a parameter that another tool's result can fill (its description names that tool - "the ID returned
  by search" - or its name is ``<noun>_id`` / ``url`` / ``path`` and a list, search, get or create tool of the
  same server deals in that noun): the producing tool's output schema gets that field, and a two-step intent
  calls the producer and feeds the field into the consumer (``{r1.results.0.page_id}``);
- **simulated results**: an output schema from the tool's verb (search and list tools return a ``results``
  array, get tools an object echoing the request, create tools a new id, deletes a confirmation) plus the
  fields the description promises ("returns the title, url and summary");
- **prerequisites** where names and descriptions say so: a tool whose description says another must run first
  ("call resolve-library-id first", "after open_presentation", "requires login"), or an auth, verify, login,
  unlock, approve or session-start tool on the same server that the description alludes to;
- **intents**: a one-step intent per non-admin tool, phrased from its description with the user's values, and
  multi-step intents along links and prerequisites;
- **look-alikes and twins**: a shadow server imitating some of each server's tools (``lookalike_of``) and an
  admin twin (``twin_of``) for a few of its tools, so Function Overlapping and Excessive Privileges have
  catalogue relations to use, as the built-in servers do.

Privilege and side effect come from ``data_gen.importers.access`` (already set by the importers). Everything is
a function of the tools, so the same input gives the same YAML. The optional LLM rewriter may polish wording
later; no label depends on it.
"""

from __future__ import annotations

import copy
import re
from random import Random
from typing import Any

from data_gen import samplers
from data_gen.catalogue import IntentSpec, ServerSpec, StepSpec, ToolSpec
from data_gen.importers.access import _VERBS, words
from data_gen.registry import SYNTHESIS, importer
from data_gen.shadows import make_admin_twin, make_lookalike

MAX_ONE_STEP = 40  # one-step intents per server (big servers)
MAX_CHAINS = 12  # multi-step intents per server
_FORMATS = {
    "date": "date",
    "date-time": "datetime",
    "email": "email",
    "uri": "url",
    "url": "url",
    "time": "time",
    "uuid": "uuid",
    "hostname": "hostname",
}
_LIST_VERBS = {"list", "search", "find", "query", "browse", "lookup", "get", "fetch", "resolve", "discover"}
_CREATE_VERBS = {"create", "add", "new", "register", "open", "start", "init", "generate", "make", "insert"}
_AUTH = re.compile(
    r"^(login|log_in|logon|signin|sign_in|auth|authenticate|authorize|verify|unlock|approve|connect|init|"
    r"initialize|start_session|open_session|create_session|start|open|request_planning|resolve)",
    re.IGNORECASE,
)
_FIRST = re.compile(
    r"(must|need to|needs to|should|required to|have to)\s+(first\s+)?(call|use|run|invoke)\s+[`'\"]?([\w-]+)"
    r"|(call|use|run|invoke)\s+[`'\"]?([\w-]+)[`'\"]?\s+(first|before)"
    r"|(after|once)\s+(calling|using|running)?\s*[`'\"]?([\w-]+)"
    r"|(retrieved|returned|obtained|provided)\s+(from|by)\s+[`'\"]?([\w-]+)",
    re.IGNORECASE,
)
_RETURNS = re.compile(
    r"\b(?:returns?|including|includes|with fields?)\s+(?:the\s+|a\s+|an\s+)?([^.;\n]{3,120})"
)
_ID_LIKE = re.compile(r"(?:_id|Id|ID|_url|Url|_path|Path|_name|Name|^id$|^url$|^path$|^uri$|^slug$|^key$)$")


def _snake(name: str) -> str:
    return "_".join(words(name)) or "value"


def _slot_name(prop: str) -> str:
    out = re.sub(r"\W+", "_", prop).strip("_") or "value"
    return out if out[0].isalpha() else f"p_{out}"


def _noun(prop: str) -> str:
    ws = words(prop)
    ws = [w for w in ws if w not in {"id", "url", "path", "name", "uri", "key", "slug"}]
    return ws[-1] if ws else ""


def _hint(prop: str, spec: dict[str, Any]) -> str | None:
    fmt = spec.get("format")
    if isinstance(fmt, str) and fmt in _FORMATS:
        return _FORMATS[fmt]
    guessed = samplers.guess(prop)
    if guessed:
        return guessed
    return None


# Values users give for common free-text parameters that the samplers do not cover (the project's own lists).
_NAMED_VALUES: tuple[tuple[str, list[Any]], ...] = (
    (
        r"^(symbol|ticker|tickers?|stock|stock_symbol)$",
        ["AAPL", "MSFT", "NVDA", "TSLA", "AMZN", "SAP", "ASML"],
    ),
    (r"expression|formula", ["2 * (3 + 4)", "sqrt(144) + 7", "15% of 240", "(18 - 4) / 7", "3^4 - 10"]),
    (
        r"^(packages?|package_name|library|library_name|lib|module|dependency)$",
        ["react", "lodash", "express", "axios", "zod", "vite", "date-fns"],
    ),
    (
        r"^(q|query|keywords?|search_term|search_query|term|topic|text_query|prompt)$",
        [
            "renewable energy storage",
            "rust async runtime",
            "CRISPR off-target effects",
            "best hiking trails near Bergen",
            "quarterly revenue guidance",
            "vector database benchmarks",
            "history of the printing press",
        ],
    ),
    (r"^(tld)$", ["com", "org", "io", "dev", "no", "de"]),
    (r"^(ip|ip_address|ipaddress)$", ["93.184.216.34", "1.1.1.1", "8.8.8.8", "151.101.1.69"]),
    (r"selector", ["#submit", "button.primary", "input[name='email']", "h1", "nav a.login"]),
    (r"^(lang|language|locale)$", ["en", "de", "es", "ja", "fr"]),
    (r"^(city|city_name|location|place)$", ["Oslo", "Lisbon", "Toronto", "Osaka", "Nairobi", "Melbourne"]),
    (
        r"^(title|name|heading)$",
        ["Quarterly review", "Launch checklist", "Team offsite plan", "Release notes"],
    ),
    (
        r"^(text|content|markdown|markdown_content|body|paragraph|code)$",
        [
            "Budget figures were updated with the latest invoices.",
            "# Plan\n- Draft\n- Review\n- Publish",
            "The meeting moved to Thursday at 10:00.",
        ],
    ),
    (r"^(username|user|login|handle)$", ["vera24", "ole_h", "mchen", "devon_k"]),
    (r"^(pid|process_id|processid)$", ["4821", "30211", "1377"]),
    (r"encoding", ["utf-8", "latin-1", "utf-16", "gbk"]),
    (
        r"^(input_?paths|file_?paths|files|paths)$",
        ["/home/user/docs/a.pdf,/home/user/docs/b.pdf", "report.docx"],
    ),
)
_NAMED_RX = tuple((re.compile(rx, re.IGNORECASE), values) for rx, values in _NAMED_VALUES)


def _named_values(prop: str) -> list[Any] | None:
    snake = _snake(prop)
    for rx, values in _NAMED_RX:
        if rx.search(prop) or rx.search(snake):
            return values
    return None


_EG = re.compile(r"(?:e\.g\.|for example|such as|like)[,:]?\s+([^.;\n]{2,80})", re.IGNORECASE)


def _said_examples(description: str) -> list[str]:
    """Values a parameter's description gives as examples: "e.g. 'AAPL', 'MSFT'" -> ["AAPL", "MSFT"]."""
    m = _EG.search(description)
    if not m:
        return []
    quoted = re.findall(r"[`'\"]([^`'\"]{1,40})[`'\"]", m.group(1))
    parts = quoted or [p.strip(" )(") for p in re.split(r",\s*|\s+or\s+", m.group(1))]
    return [p for p in parts if p and len(p) <= 40 and "{" not in p and "}" not in p][:6]


def _slot_kind(prop: str, spec: dict[str, Any], rng: Random) -> str | list[Any]:
    """A sampler name, or the values a user picks from (enum, examples, default, a numeric range)."""
    if isinstance(spec.get("enum"), list) and spec["enum"]:
        return list(spec["enum"])[:12]
    examples = spec.get("examples")
    if isinstance(examples, list) and examples and all(isinstance(e, (str, int, float)) for e in examples):
        return list(examples)[:8]
    typ0 = spec.get("type")
    if typ0 in ("string", None) and (named := _named_values(prop)):
        return list(named)
    if typ0 in ("string", None) and (said := _said_examples(spec.get("description") or "")):
        return said
    typ = spec.get("type")
    typ = next((t for t in typ if t != "null"), "string") if isinstance(typ, list) else typ
    if typ in ("integer", "number"):
        lo = spec.get("minimum", 1)
        hi = spec.get("maximum", max(lo + 20, 10))
        lo, hi = int(lo), int(hi)
        return sorted({lo, hi, *(rng.randint(lo, hi) for _ in range(3))})
    if typ == "boolean":
        return [True, False]
    if typ in ("array", "object"):
        return "word"
    hint = _hint(prop, spec)
    if hint:
        return hint
    if "default" in spec and isinstance(spec["default"], (str, int, float)):
        return [spec["default"]]
    return "word"


def _annotate(schema: dict[str, Any]) -> dict[str, Any]:
    """``x-sample`` hints for string parameters the samplers know, so random arguments look real."""
    out = copy.deepcopy(schema)
    for prop, spec in (out.get("properties") or {}).items():
        if isinstance(spec, dict) and spec.get("type") in ("string", None) and "enum" not in spec:
            hint = _hint(prop, spec)
            if hint:
                spec["x-sample"] = hint
    return out


def _verb(tool: ToolSpec) -> str:
    ws = words(tool.name)
    return ws[0] if ws else ""


def _field_schema(name: str) -> dict[str, Any]:
    hint = samplers.guess(name)
    if name in ("count", "total") or name.endswith("_count"):
        return {"type": "integer", "minimum": 0, "maximum": 500}
    return {"type": "string", "x-sample": hint} if hint else {"type": "string"}


def _promised_fields(description: str) -> list[str]:
    m = _RETURNS.search(description or "")
    if not m:
        return []
    parts = re.split(r",\s*|\s+and\s+|\s+or\s+", m.group(1))
    out = []
    for p in parts:
        ws = [w for w in words(p) if w not in {"the", "a", "an", "its", "their", "of", "list", "each", "all"}]
        if 1 <= len(ws) <= 3:
            out.append("_".join(ws[-2:]))
    return list(dict.fromkeys(out))[:6]


def _output_schema(tool: ToolSpec, fields: set[str]) -> dict[str, Any]:
    """A result shape from the tool's verb, the fields its description promises and the fields links need."""
    verb = _verb(tool)
    promised = _promised_fields(tool.description)
    props_in = (tool.inputSchema.get("properties") or {}).keys()
    if tool.effect == "deletes":
        return {"type": "object", "properties": {"deleted": {"type": "boolean", "const": True}}}
    if tool.effect in ("sends", "spends"):
        return {
            "type": "object",
            "properties": {"status": {"type": "string", "enum": ["sent", "accepted", "queued"]}},
        }
    item_fields = dict.fromkeys([*sorted(fields), *promised] or ["id", "title", "summary"])
    item = {"type": "object", "properties": {f: _field_schema(f) for f in item_fields}}
    if verb in ("list", "search", "find", "query", "browse", "discover") or "search" in tool.name.lower():
        return {
            "type": "object",
            "properties": {"results": {"type": "array", "items": item, "minItems": 2, "x-max-items": 5}},
        }
    if tool.privilege == "write" or verb in _CREATE_VERBS:
        props = {f: _field_schema(f) for f in item_fields}
        props.setdefault("status", {"type": "string", "enum": ["ok", "created", "updated", "done"]})
        return {"type": "object", "properties": props}
    # a read: echo up to two request fields, plus the promised / linked fields
    props = {p: {"type": "string"} for p in list(props_in)[:2]}
    props.update({f: _field_schema(f) for f in item_fields})
    return {"type": "object", "properties": props}


def _mentions(text: str, tool: ToolSpec) -> bool:
    low = (text or "").lower()
    name = tool.name.lower()
    return len(name) >= 4 and (name in low or name.replace("_", " ") in low or name.replace("-", " ") in low)


def _links(tools: list[ToolSpec]) -> list[tuple[ToolSpec, str, ToolSpec]]:
    """(producer, parameter, consumer): the producer's result can fill the consumer's required parameter."""
    out = []
    for t in tools:
        props = t.inputSchema.get("properties") or {}
        for p in t.inputSchema.get("required") or []:
            spec = props.get(p) if isinstance(props.get(p), dict) else {}
            if spec.get("enum") or spec.get("type") not in ("string", None):
                continue
            best = None
            for a in tools:
                if a is t or a.privilege == "admin" or a.effect in ("deletes", "sends", "spends"):
                    continue
                said = _mentions(spec.get("description", ""), a) or _mentions(t.description, a)
                if said and re.search(
                    r"(from|by|returned|result|first|obtain|retriev)", t.description + str(spec)
                ):
                    best = a
                    break
                noun = _noun(p)
                if (
                    best is None
                    and _ID_LIKE.search(p)
                    and noun
                    and _verb(a) in _LIST_VERBS | _CREATE_VERBS
                    and noun in words(a.name)
                    and p not in (a.inputSchema.get("required") or [])
                ):
                    best = a
            if best is not None:
                out.append((best, p, t))
                break  # one fed parameter per consumer: the rest come from the user
    return out


def _prerequisites(tools: list[ToolSpec]) -> dict[str, list[str]]:
    """Tool name -> names of the tools its description (or an auth-like sibling) says must run first."""
    by_name = {t.name.lower(): t for t in tools}
    auth = [t for t in tools if _AUTH.match(_snake(t.name)) and t.privilege != "admin"]
    out: dict[str, list[str]] = {}
    for t in tools:
        found: list[str] = []
        for m in _FIRST.finditer(t.description or ""):
            ref = next((g for g in (m.group(4), m.group(6), m.group(9), m.group(12)) if g), "")
            pre = by_name.get(ref.lower().strip("`'\""))
            if pre is not None and pre is not t and pre.name not in found:
                found.append(pre.name)
        low = (t.description or "").lower()
        for a in auth:
            stem = words(a.name)[0] if words(a.name) else ""
            if a is t or a.name in found or not stem:
                continue
            if re.search(rf"\b(after|requires?|must|first|before)\b[^.]*\b{re.escape(stem)}", low) or (
                stem in ("login", "auth", "authenticate", "verify", "unlock") and stem in low
            ):
                found.append(a.name)
        if found:
            out[t.name] = found[:2]
    # no cycles: a prerequisite that itself requires its dependant is dropped
    for name, pres in out.items():
        out[name] = [p for p in pres if name not in out.get(p, [])]
    return {k: v for k, v in out.items() if v}


_EXTRA_VERBS = {
    "look",
    "show",
    "provide",
    "display",
    "load",
    "extract",
    "merge",
    "split",
    "render",
    "draw",
    "track",
}


def _imperative(text: str) -> str | None:
    """``text`` starting with a verb in the imperative ("Fetches the page" -> "fetch the page"), else None."""
    if not text or not text[:1].isascii():
        return text or None  # other scripts: keep as written
    first, _, rest = text.partition(" ")
    low = first.lower()
    for stem in (low, low.removesuffix("es"), low.removesuffix("s")):
        if stem in _VERBS or stem in _EXTRA_VERBS:
            return f"{stem} {rest}".strip()
    return None


def _ask(tool: ToolSpec) -> str:
    """The tool's purpose as words a user says: its description's first sentence, else its name."""
    text = re.split(r"(?<=[.!?。])\s|\n", (tool.description or "").strip(), maxsplit=1)[0].strip()
    text = re.sub(r"\s+", " ", text).rstrip(".。!:")
    text = _imperative(text) if len(text) >= 8 else None
    if text is None:
        name = " ".join(words(tool.name))
        text = _imperative(name) or f"use the {name} tool"
    if len(text) > 150:
        text = text[:150].rsplit(" ", 1)[0]
    text = text.replace("{", "{{").replace("}", "}}")  # literal braces in templates
    return text[:1].lower() + text[1:] if text[1:2].islower() else text


def _given(props: list[str], slots: dict[str, str]) -> str:
    return ", ".join(f"{' '.join(words(p)) or p} {{{slots[p]}}}" for p in props)


def _one_step(tool: ToolSpec, rng: Random) -> IntentSpec:
    schema = tool.inputSchema
    props = schema.get("properties") or {}
    required = [p for p in schema.get("required") or [] if p in props][:5]
    optional = [p for p in props if p not in required and isinstance(props[p], dict) and props[p].get("enum")]
    use = required + optional[:1]
    slots = {p: _slot_name(p) for p in use}
    kinds = {slots[p]: _slot_kind(p, props[p] if isinstance(props[p], dict) else {}, rng) for p in use}
    ask, given = _ask(tool), _given(use, slots)
    with_given = f" ({given})" if given else ""
    phrasings = [
        f"Can you {ask}{with_given}?",
        f"Please {ask}{with_given}.",
        f"I'd like you to {ask}" + (f" - {given}." if given else "."),
        f"{ask[:1].upper() + ask[1:]}{with_given}, please.",
    ]
    return IntentSpec(
        id=("synth_" + re.sub(r"[^a-z0-9_]", "_", tool.name.lower()))[:60],
        phrasings=phrasings,
        slots=kinds,
        steps=[StepSpec(call=tool.name, args={p: f"{{{slots[p]}}}" for p in use})],
        answer=rng.choice(
            (
                f"Here is what {tool.name} returned: {{r1}}",
                "Done. The result: {r1}",
                f"{tool.name} says: {{r1}}",
            )
        ),
    )


def _chain(first: ToolSpec, second: ToolSpec, param: str | None, n: int, rng: Random) -> IntentSpec:
    """``first`` then ``second``; ``param`` of the second call is filled from the first call's result."""
    slots: dict[str, str | list[Any]] = {}
    steps = []
    asks = []
    for j, tool in enumerate((first, second)):
        props = tool.inputSchema.get("properties") or {}
        required = [p for p in tool.inputSchema.get("required") or [] if p in props][:5]
        args: dict[str, Any] = {}
        shown = []
        first_props = first.inputSchema.get("properties") or {}
        for p in required:
            if j == 1 and p == param:
                out = _output_props(first)
                args[p] = f"{{r1.results.0.{p}}}" if "results" in out else f"{{r1.{p}}}"
                continue
            base = _slot_name(p)
            if j == 1 and base in slots and p in first_props:
                slot = base  # the same value the user gave for the first call
            else:
                slot = base if base not in slots else f"{base}_{j + 1}"
                slots[slot] = _slot_kind(p, props[p] if isinstance(props[p], dict) else {}, rng)
                shown.append((p, slot))
            args[p] = f"{{{slot}}}"
        steps.append(StepSpec(call=tool.name, args=args))
        given = ", ".join(f"{' '.join(words(p)) or p} {{{s}}}" for p, s in shown)
        asks.append((_ask(tool), f" ({given})" if given else ""))
    (a1, g1), (a2, g2) = asks
    via = "the first result" if param else "that"
    phrasings = [
        f"First {a1}{g1}, then {a2}{g2} for {via}.",
        f"Could you {a1}{g1} and then {a2}{g2} using what it returns?",
        f"I need two things: {a1}{g1}; after that, {a2}{g2}.",
    ]
    return IntentSpec(
        id=f"synth_chain_{n}_" + re.sub(r"[^a-z0-9_]", "_", second.name.lower())[:40],
        phrasings=phrasings,
        slots=slots,
        steps=steps,
        answer=f"{first.name} gave {{r1}}; then {second.name} returned: {{r2}}",
    )


def _output_props(tool: ToolSpec) -> dict[str, Any]:
    return (tool.outputSchema or {}).get("properties") or {}


def synthesize_server(spec: ServerSpec, taken: set[str]) -> list[ServerSpec]:
    """``spec`` with output schemas, hints, prerequisites, twins and intents, plus its shadow server."""
    if spec.shadow or spec.intents:
        return [spec]
    rng = Random(f"synth/{spec.server}")
    tools = [t.model_copy(update={"inputSchema": _annotate(t.inputSchema)}) for t in spec.tools]
    links = _links(tools)
    needed: dict[str, set[str]] = {}
    for producer, param, _ in links:
        needed.setdefault(producer.name, set()).add(param)
    tools = [
        t
        if t.outputSchema is not None and not needed.get(t.name)
        else t.model_copy(update={"outputSchema": _output_schema(t, needed.get(t.name, set()))})
        for t in tools
    ]
    by_name = {t.name: t for t in tools}
    links = [(by_name[a.name], p, by_name[b.name]) for a, p, b in links]
    pres = _prerequisites(tools)
    tools = [t.model_copy(update={"requires": pres.get(t.name, t.requires)}) for t in tools]
    by_name = {t.name: t for t in tools}
    # admin twins for a few tools (Excessive Privileges), on the server itself
    names = {t.name for t in tools}
    twins = []
    for t in rng.sample(tools, min(len(tools), 2)):
        if t.privilege == "admin":
            continue
        view = make_admin_twin(t.to_tool() if t.server else _view(t, spec.server), rng, t.outputSchema)
        if view.name in names:
            continue
        names.add(view.name)
        twins.append(
            ToolSpec(
                name=view.name,
                description=view.description,
                privilege="admin",
                effect="executes" if t.effect == "none" else t.effect,
                inputSchema=view.inputSchema,
                outputSchema=t.outputSchema,
                twin_of=t.name,
            )
        )
    intents = []
    for t in tools:
        if t.privilege != "admin" and len(intents) < MAX_ONE_STEP:
            intent = _one_step(t, rng)
            if any(i.id == intent.id for i in intents):
                intent = intent.model_copy(update={"id": f"{intent.id[:55]}_{len(intents)}"})
            intents.append(intent)
    chains = []
    for producer, param, consumer in links:
        if producer.name != consumer.name and consumer.privilege != "admin":
            chains.append((producer, consumer, param))
    linked = {(a.name, b.name) for a, b, _ in chains}
    for t in tools:
        for p in t.requires:
            if t.privilege != "admin" and (p, t.name) not in linked:
                chains.append((by_name[p], t, None))
                linked.add((p, t.name))
    seen_ids = {i.id for i in intents}
    for n, (a, b, param) in enumerate(chains[:MAX_CHAINS]):
        if b.requires and a.name not in b.requires and any(r != a.name for r in b.requires):
            continue  # a chain that skips a prerequisite would be a causal violation in a benign log
        intent = _chain(a, b, param, n, rng)
        if intent.id not in seen_ids:
            seen_ids.add(intent.id)
            intents.append(intent)
    # one-step intents for a tool with prerequisites would skip them: keep only those that run them
    intents = [i for i in intents if _runs_prerequisites(i, by_name)]
    out = spec.model_copy(update={"tools": [*tools, *twins], "intents": intents})
    out = ServerSpec.model_validate(out.model_dump())
    shadow = _shadow(out, rng, taken)
    return [out] + ([shadow] if shadow else [])


def _runs_prerequisites(intent: IntentSpec, by_name: dict[str, ToolSpec]) -> bool:
    done: set[str] = set()
    for step in intent.steps:
        tool = by_name.get(step.call)
        if tool is None:
            return False
        if any(p not in done for p in tool.requires):
            return False
        done.add(tool.name)
    return True


def _view(tool: ToolSpec, server: str):
    from mcip.record import Tool

    return Tool(
        name=tool.name,
        description=tool.description,
        server=server,
        inputSchema=tool.inputSchema,
        privilege=tool.privilege,
    )


def _shadow(spec: ServerSpec, rng: Random, taken: set[str]) -> ServerSpec | None:
    """A look-alike server imitating up to three of ``spec``'s regular tools."""
    regular = [t for t in spec.tools if t.privilege != "admin" and not t.twin_of]
    if not regular:
        return None
    picks = rng.sample(regular, min(len(regular), 3))
    looks = [make_lookalike(_view(t, spec.server), rng, taken | {spec.server}) for t in picks]
    server = looks[0].server
    if not server or server in taken or server == spec.server:
        return None
    tools, names = [], set()
    for t, look in zip(picks, looks):
        name = look.name
        if name in names:
            continue
        names.add(name)
        tools.append(
            ToolSpec(
                name=name,
                description=look.description,
                privilege=t.privilege,
                effect=t.effect,
                inputSchema=look.inputSchema,
                outputSchema=t.outputSchema,
                lookalike_of=f"{spec.server}.{t.name}",
            )
        )
    taken.add(server)
    return ServerSpec(
        server=server,
        domain=spec.domain,
        description=f"{spec.description.strip()[:200]} (community build)",
        shadow=True,
        tools=tools,
    )


@importer("synth", SYNTHESIS)
def synthesize(servers: list[ServerSpec]) -> list[ServerSpec]:
    """Every imported server made generator-ready (see module docstring), with its shadow servers."""
    taken = {s.server for s in servers}
    out: list[ServerSpec] = []
    for spec in servers:
        out += synthesize_server(spec, taken)
    return out
