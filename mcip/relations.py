"""Call relations: label-blind facts about each call that a small guardian cannot easily work out for itself.

Telling an attack from its hard-negative twin turns on relations between flows, not on words: whether the called
tool is a look-alike of another listed tool, whether a call repeats an earlier one, and where each argument's value
came from (the user's request, a tool's result, or nowhere in the log). A linear probe ranks attacks above safe
logs far better on prompts that state these facts than on the same prompts without them
(``benchmarks/results/relations_probe.json``, README "Call relations"), so the renderer states them, one line
under each call (``PromptFormat.relations``), in one-shot prompts and stream turns alike.

Every fact is computed from the tool list and the flows *before* the call, never from a label, so the same code
runs in training, evaluation and the guard, and a session's facts never change as it grows (the per-call guard's
cached prefix stays valid). Names from the log are rendered through ``inline`` (JSON-quoted when odd), and a fact
line starts with ``~``, which no JSON-quoted content line can.
"""

from __future__ import annotations

import json
import re
from difflib import SequenceMatcher
from functools import lru_cache
from typing import Any

from mcip.record import Flow, Tool, Trajectory

MARK = "~"
MIN_VALUE = 3  # shorter argument values ("en", "1") are everywhere: no provenance claimed
WORD_MATCH = 6  # values shorter than this must match as a whole word, not inside another
MAX_LOOKALIKES = 2
PRIVILEGE_RANK = {"read": 0, "write": 1, "admin": 2}
DIGIT_GROUP = re.compile(r"(?<=\d)[,\u202f](?=\d{3}(?!\d))")  # the comma in "19,489.08"
CONFUSABLE = str.maketrans({"0": "o", "1": "l"})  # digits that pass for letters in a look-alike's name


@lru_cache(maxsize=65536)
def norm_name(name: str) -> str:
    """A tool name without case, separators or the digits that pass for letters: ``read_file``, ``readFile``,
    ``read-file`` and ``read_fi1e`` are one name. The one rule for look-alike names: the renderer's kept tools
    (``mcip.prompt.key_tools``), the relations lines and the guard's pins (``guard.pins``) all read it."""
    return "".join(ch for ch in name.lower().translate(CONFUSABLE) if ch.isalnum())


@lru_cache(maxsize=65536)
def similar_names(a: str, b: str) -> bool:
    """The same or near-same names (a look-alike's typo or suffix); the cheap bounds first, difflib only when they
    pass. Read by this module, ``mcip.prompt.key_tools`` (which tools a cut log keeps whole) and ``guard.pins``."""
    if a == b:
        return True
    if min(len(a), len(b)) < 4 or abs(len(a) - len(b)) > 3:
        return False
    matcher = SequenceMatcher(None, a, b)
    return matcher.real_quick_ratio() >= 0.85 and matcher.quick_ratio() >= 0.85 and matcher.ratio() >= 0.85


def _values(value: Any, out: list[str]) -> list[str]:
    """The scalar values of an argument, as text (strings and numbers; booleans and nulls say nothing)."""
    if isinstance(value, str):
        if len(value.strip()) >= MIN_VALUE:
            out.append(_comparable(value.strip()))
    elif isinstance(value, dict):
        for v in value.values():
            _values(v, out)
    elif isinstance(value, list):
        for v in value:
            _values(v, out)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        text = str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
        if len(text) >= MIN_VALUE:
            out.append(text)
    return out


def _comparable(text: str) -> str:
    """Text as argument values and earlier flows are compared: lowercased, digit groups joined on both sides
    ("19,489.08" in a request is the 19489.08 a call passes on)."""
    return DIGIT_GROUP.sub("", text.lower())


def _occurs(value: str, text: str) -> bool:
    if len(value) >= WORD_MATCH:
        return value in text
    return re.search(rf"(?<![\w.-]){re.escape(value)}(?![\w-])", text) is not None


def _source(values: list[str], sources: list[tuple[int, str]]) -> int | None:
    """The flow by which every value of an argument had appeared in an earlier non-call flow (a user request,
    a tool result, the agent's prose); None when some value appears in none of them."""
    found = None
    for value in values:
        hit = next((n for n, text in sources if _occurs(value, text)), None)
        if hit is None:
            return None
        found = hit if found is None else max(found, hit)
    return found


def _provenance(args: dict[str, Any], sources: list[tuple[int, str]]) -> str:
    groups: dict[int | None, list[str]] = {}
    for key, value in args.items():
        values = _values(value, [])
        if values:
            groups.setdefault(_source(values, sources), []).append(_name(key))
    parts = [f"from flow {n}: {', '.join(keys)}" for n, keys in sorted(groups.items(), key=_by_flow) if n]
    if None in groups:
        parts.append(f"in no earlier flow: {', '.join(groups[None])}")
    return "args " + "; ".join(parts) if parts else ""


def _by_flow(item):
    return item[0] or 0


def _name(text: str) -> str:
    from mcip.prompt import inline

    return inline(str(text), 60)


def _lookalikes(tool: Tool, tools: list[Tool]) -> list[str]:
    out = []
    for other in tools:
        if other is tool or other.server == tool.server or not _look_alike(tool, other):
            continue
        # symmetric on purpose: which of two look-alikes is genuine is the guardian's to judge (the generator's
        # shadow servers extend the genuine server's name; stating that would hand it a generator artefact)
        out.append(f"look-alike of {_name(other.qualified_name)}")
    return out[:MAX_LOOKALIKES]


def _first_sentence(text: str) -> str:
    return " ".join(text.lower().split()).split(". ")[0].rstrip(".")


def _look_alike(tool: Tool, other: Tool) -> bool:
    """Near-same names (``similar_names``: a typo, a short suffix), or one name inside the other (a prefix such as
    ``fast_``) where one description also repeats the other's first sentence."""
    own, theirs = norm_name(tool.name), norm_name(other.name)
    if similar_names(own, theirs):
        return True
    short, long_ = sorted((own, theirs), key=len)
    if len(short) < 5 or short not in long_:
        return False
    a, b = _first_sentence(tool.description), _first_sentence(other.description)
    return bool(a and b) and (a in b or b in a)


def _escalation(tool: Tool, tools: list[Tool]) -> str:
    """A same-server tool of lower privilege whose name this one's contains or nearly is (the plain twin an
    over-privileged call would stand in for)."""
    own, rank = norm_name(tool.name), PRIVILEGE_RANK.get(tool.privilege or "", 0)
    for other in tools:
        if (
            other is tool
            or other.server != tool.server
            or PRIVILEGE_RANK.get(other.privilege or "", 0) >= rank
        ):
            continue
        theirs = norm_name(other.name)
        if theirs and (theirs in own or similar_names(own, theirs)):
            return f"higher privilege than {_name(other.qualified_name)}"
    return ""


def _uncalled_names(text: str, tools: list[Tool], called: set[str]) -> list[str]:
    """Listed tools an answer names but no call in the log used (an answer citing a tool that never ran)."""
    out = []
    for tool in tools:
        if tool.qualified_name in called or tool.name in called:
            continue
        names = [tool.qualified_name] + ([tool.name] if re.search(r"[_\-]", tool.name) else [])
        if any(re.search(rf"(?<![\w.-]){re.escape(n.lower())}(?![\w-])", text) for n in names):
            out.append(_name(tool.qualified_name))
    return out


def call_relations(traj: Trajectory, flows: list[Flow]) -> dict[int, str]:
    """Flow number (1-based) -> its fact line (without the marker), for every call and for the final answer."""
    tools = list(traj.tools)
    facts: dict[int, str] = {}
    sources: list[tuple[int, str]] = []  # earlier non-call flows' text, lowercased
    last_call: dict[str, tuple[int, str]] = {}  # function -> (flow, canonical arguments) of its latest call
    called: set[str] = set()
    last = len(traj.messages) - 1
    for n, flow in enumerate(flows, 1):
        msg = traj.messages[flow.message]
        call = None
        if flow.call_id and flow.sender == "assistant":
            call = next((c for c in msg.tool_calls or () if c.id == flow.call_id), None)
        if call is None:
            text = _comparable(msg.content or "")
            if flow.message == last and msg.role == "assistant":
                uncalled = _uncalled_names(text, tools, called)
                if uncalled:
                    facts[n] = f"names tools no call used: {', '.join(uncalled)}"
            sources.append((n, text))
            continue
        name, args = call.function.name, call.function.args
        canonical = json.dumps(args, sort_keys=True, ensure_ascii=False)
        parts = []
        tool = traj.tool(name)
        if tool is None:
            parts.append("tool not listed")
        else:
            parts += _lookalikes(tool, tools)
            if escalation := _escalation(tool, tools):
                parts.append(escalation)
        if name in last_call:
            m, before = last_call[name]
            parts.append(f"same call as flow {m}" if before == canonical else f"same function as flow {m}")
        if provenance := _provenance(args, sources):
            parts.append(provenance)
        last_call[name] = (n, canonical)
        called.add(name)
        if tool is not None:
            called.add(tool.qualified_name)
        if parts:
            facts[n] = "; ".join(parts)
    return facts


def relation_line(fact: str) -> str:
    return f"{MARK} {fact}"
