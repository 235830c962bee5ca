"""Sessions at real size and shape: one labelled episode inside a multi-server, multi-turn MCP session.

A real agent is connected to several servers at once and sees every tool of every one of them; a session holds
several user requests, later ones often following up on earlier results; results are long, agent messages carry
prose, and calls fail and are retried. ``compose`` takes the labelled episode made by a transform, a hard
negative or the benign generator (the *main* episode) and places it at a random turn of such a session:

- context episodes are benign scenarios of the same side of the split, some on the same servers, some following
  up on a value an earlier turn used or returned ("For that ord1234567 ..."); they may carry an error and its
  retry, and agent prose between calls;
- the tool list is the whole ``tools/list`` of every connected server (grouped by server, as clients show
  them), plus idle servers the user has connected, plus the episodes' own extra entries (twins, look-alikes);
- every tool gets real-length documentation and a share of the results get long (``data_gen.longform``).

Context episodes never call a tool the main episode calls or planned, its prerequisites, an identity check, or a
tool its rationale names, so each label's defining behaviour stays in the main episode and no context flow
repeats, enables or excuses it. A share of records stays short (one request, few tools), as in the old build.
"""

from __future__ import annotations

import contextlib
import re
from random import Random
from typing import Any

from data_gen import longform
from data_gen.catalogue import Catalogue, IntentSpec, ToolSpec, builtin_catalogue
from data_gen.edit import Variant, call_sites, requalify
from data_gen.scenarios import benign
from mcip.record import Message, Tool, Trajectory

P_SHORT = 0.25  # records left as they were: one request, a handful of tools
TURNS = (1, 1, 1, 2, 2, 3, 3, 4, 6)  # user requests per session (composed records)
IDLE_SERVERS = (0, 0, 0, 1, 1, 2, 3, 6)  # connected servers no request uses
P_SAME_SERVER = 0.5  # a context request on a server already in the session
P_FOLLOW_UP = 0.7  # reuse a value an earlier turn used or returned, when the intent has a slot of its kind
P_ERROR = 0.2  # a context episode whose call fails once and is retried
P_PROSE = 0.5  # agent prose before a context call
GENERIC_KINDS = {
    "word",
    "file_content",
    "ok_status",
    "topic",
    "sentence",
    "uuid",
}  # too vague to follow up on

CONNECTORS = (
    "",
    "",
    "Thanks. ",
    "Great, thanks! ",
    "One more thing: ",
    "Next, ",
    "Also, ",
    "Okay. ",
    "Another request: ",
    "Perfect. Now ",
)
FOLLOW_UPS = (
    "About {value} from your last answer: ",
    "Following up on {value}: ",
    "Using {value} from before: ",
    "Same {what} as before ({value}). ",
    "Now for {value} again: ",
    "Thanks. Taking {value} from that result, ",
)
PROSE = (
    "To answer this I need {tool}; it returns what you asked for.",
    "I'll start with {tool} and use its result for the answer.",
    "Let me look at this with {tool} first, then I'll summarise what it returns.",
    "The {server} server has a tool for exactly this: {tool}. Calling it now.",
    "I checked the tool list: {tool} on {server} covers this request.",
    "Working on it. {tool} should give me the details; I'll report back once it answers.",
)


def _prose(rng: Random, tool: Tool) -> str:
    return rng.choice(PROSE).format(tool=tool.name, server=tool.server or "the")


# -- what context episodes must not touch -------------------------------------------------------------------


def _intent_index(side) -> dict[str, IntentSpec]:
    index = getattr(side, "_by_key", None)
    if index is None:
        index = {i.key: i for i in side.intents}
        side._by_key = index
    return index


def _forbidden(variant: Variant, cat: Catalogue, side) -> set[str]:
    """Qualified names of tools no context episode may call (see module docstring)."""
    traj = variant.traj
    names = {s.tool.qualified_name for s in call_sites(traj) if s.tool is not None}
    intent = _intent_index(side).get(str(traj.meta.get("intent", "")))
    if intent is not None:
        for step in intent.steps:
            with contextlib.suppress(KeyError):
                names.add(cat.resolve(step.call, intent.server).qualified)
    text = variant.rationale or ""
    names |= {t.qualified_name for t in traj.tools if t.qualified_name in text or f" {t.name} " in text}
    out = set(names)
    for name in names:
        spec = cat.tools.get(name)
        if spec is not None:
            out |= {p.qualified for p in cat.prerequisites(spec)}
    for name in names:  # tools that require a forbidden one
        out |= cat.required_by(name)
    return out


def _usable(spec: ToolSpec, forbidden: set[str]) -> bool:
    out_props = (spec.outputSchema or {}).get("properties") or {}
    return (
        spec.qualified not in forbidden
        and spec.effect != "grants"
        and "verified" not in out_props
        and spec.privilege != "admin"
    )


# -- follow-up values -----------------------------------------------------------------------------------------


def _returned_values(traj: Trajectory, cat: Catalogue) -> dict[str, tuple[Any, bool]]:
    """Sampler kind -> a value this episode's calls returned (result fields with an ``x-sample`` hint)."""
    out: dict[str, tuple[Any, bool]] = {}
    for s in call_sites(traj):
        spec = cat.tools.get(s.tool.qualified_name) if s.tool else None
        props = ((spec.outputSchema if spec else None) or {}).get("properties") or {}
        if isinstance(s.result, dict):
            for k, p in props.items():
                v = s.result.get(k)
                if (
                    isinstance(p, dict)
                    and p.get("x-sample")
                    and isinstance(v, (str, int))
                    and len(str(v)) >= 4
                ):
                    out.setdefault(p["x-sample"], (v, True))
    return out


def _pick_intent(
    side, cat: Catalogue, rng: Random, servers: list[str], forbidden: set[str]
) -> IntentSpec | None:
    for _ in range(12):
        pool = side.intents
        if servers and rng.random() < P_SAME_SERVER:
            same = [i for i in _intents_on(side, rng.choice(servers))]
            pool = same or pool
        intent = rng.choice(pool)
        try:
            specs = [cat.resolve(step.call, intent.server) for step in intent.steps]
        except KeyError:
            continue
        if all(_usable(s, forbidden) for s in specs):
            return intent
    return None


def _intents_on(side, server: str) -> list[IntentSpec]:
    cache = getattr(side, "_by_server", None)
    if cache is None:
        cache = {}
        for i in side.intents:
            cache.setdefault(i.server, []).append(i)
        side._by_server = cache
    return cache.get(server, [])


def _context_episode(
    side, rng: Random, servers: list[str], forbidden: set[str], known: dict[str, tuple[Any, bool]]
) -> Trajectory | None:
    cat = side.cat
    intent = _pick_intent(side, cat, rng, servers, forbidden)
    if intent is None:
        return None
    given, reference = {}, None
    if known and rng.random() < P_FOLLOW_UP:
        for slot, kind in intent.slots.items():
            if isinstance(kind, str) and kind in known and kind not in GENERIC_KINDS:
                value, returned = known[kind]
                given[slot] = value
                reference = (value, slot, returned)
                break
    traj = benign(intent, cat, rng, given).traj
    if rng.random() < P_ERROR:
        from data_gen.negatives import retry_after_error

        retried = retry_after_error(traj, cat, rng)
        if retried is not None:
            traj = retried.traj
    if rng.random() < P_PROSE:
        messages = list(traj.messages)
        for i, m in enumerate(messages):
            if m.tool_calls and len(m.tool_calls) == 1 and not m.content:
                tool = traj.tool(m.tool_calls[0].function.name)
                if tool is not None:
                    messages[i] = m.model_copy(update={"content": _prose(rng, tool)})
                break
        traj = traj.model_copy(update={"messages": messages})
    known.update(_returned_values(traj, cat))
    for slot, kind in intent.slots.items():
        if isinstance(kind, str):
            value = _slot_value(traj, slot, intent)
            if value is not None:
                known.setdefault(kind, (value, False))
    if reference is not None:
        value, slot, _ = reference
        lead = rng.choice(FOLLOW_UPS).format(value=value, what=slot.replace("_", " "))
        traj = _prefix_user(traj, lead)
    return traj


def _slot_value(traj: Trajectory, slot: str, intent: IntentSpec) -> Any:
    """The value a slot took, read back from the first call argument that uses only that slot."""
    for step, (_, call) in zip(intent.steps, traj.calls()):
        for arg, template in step.args.items():
            if template == f"{{{slot}}}":
                return call.function.args.get(arg)
    return None


def _prefix_user(traj: Trajectory, lead: str) -> Trajectory:
    if not lead:
        return traj
    messages = list(traj.messages)
    first = messages[0]
    text = first.content or ""
    if lead.endswith(": ") or lead.endswith(". ") or lead.endswith("! "):
        body = text
    else:
        body = text[:1].lower() + text[1:] if text[:2] != text[:2].upper() else text
    messages[0] = first.model_copy(update={"content": lead + body})
    return traj.model_copy(update={"messages": messages})


# -- the tool list --------------------------------------------------------------------------------------------


def _session_tools(episodes: list[Trajectory], main: Trajectory, cat: Catalogue, rng: Random) -> list[Tool]:
    """The whole tools/list of every connected server, grouped by server; entries of the episodes win."""
    own: dict[str, Tool] = {}
    for traj in (main, *episodes):
        for t in traj.tools:
            own.setdefault(t.qualified_name, t)
    servers = list(dict.fromkeys(t.server or "" for t in own.values()))
    regular = [s for s, spec in cat.servers.items() if not spec.shadow and s not in servers]
    servers += rng.sample(regular, min(len(regular), rng.choice(IDLE_SERVERS)))
    rng.shuffle(servers)
    out: list[Tool] = []
    for server in servers:
        group = (
            [own.get(t.qualified, t.to_tool()) for t in cat.servers[server].tools]
            if server in cat.servers
            else []
        )
        names = {t.qualified_name for t in group}
        for t in own.values():
            if (t.server or "") == server and t.qualified_name not in names:
                group.insert(rng.randint(0, len(group)), t)
                names.add(t.qualified_name)
        out += group
    return out


# -- composition ----------------------------------------------------------------------------------------------

_MESSAGE_REF = re.compile(r"\{message:(\d+)\}")


def compose(variant: Variant, side, rng: Random) -> Variant:
    """``variant`` as one turn of a real-size session (or unchanged, for the short share)."""
    if variant.kind == "gold" or rng.random() < P_SHORT:
        return variant
    cat = side.cat
    main = variant.traj
    turns = rng.choice(TURNS)
    position = rng.randrange(turns)
    forbidden = _forbidden(variant, cat, side)
    servers = sorted({t.server for t in main.tools if t.server and t.server in cat.servers})
    known: dict[str, tuple[Any, bool]] = {}
    before: list[Trajectory] = []
    after: list[Trajectory] = []
    for j in range(turns - 1):
        ep = _context_episode(side, rng, servers, forbidden, known)
        if ep is None:
            continue
        servers = sorted({*servers, *(t.server for t in ep.tools if t.server and t.server in cat.servers)})
        (before if j < position else after).append(ep)
    episodes = [*before, *after]
    # targets: which tool each call reached inside its own episode (names are re-qualified for the merged list)
    targets: dict[str, Tool | None] = {}
    for traj in (main, *episodes):
        targets.update({c.id: traj.tool(c.function.name) for _, c in traj.calls()})
    messages: list[Message] = []
    for k, traj in enumerate(before):
        messages += _prefix_user(traj, rng.choice(CONNECTORS) if k else "").messages
    offset = len(messages)
    main_msgs = list(main.messages)
    if before and main_msgs and main_msgs[0].role == "user":
        main_msgs = _prefix_user(
            main.model_copy(update={"messages": main_msgs}), rng.choice(CONNECTORS)
        ).messages
    messages += main_msgs
    for traj in after:
        messages += _prefix_user(traj, rng.choice(CONNECTORS)).messages
    tools = _session_tools(episodes, main, cat, rng)
    user_args = dict(main.meta.get("user_args") or {})
    for traj in episodes:
        user_args.update(traj.meta.get("user_args") or {})
    meta = {
        **main.meta,
        "user_args": user_args,
        "servers": sorted({t.server for t in tools if t.server}),
        "turns": sum(m.role == "user" for m in messages),
        "main_turn": len(before),
    }
    traj = main.model_copy(update={"messages": messages, "tools": tools, "meta": meta})
    traj = requalify(traj, targets)
    rationale = _MESSAGE_REF.sub(lambda m: f"{{message:{int(m.group(1)) + offset}}}", variant.rationale or "")
    focus = variant.focus + offset if variant.focus is not None else None
    return Variant(
        traj,
        variant.label,
        variant.kind,
        focus,
        variant.focus_call,
        rationale,
        variant.can_truncate,
        {**variant.details, "session_turns": meta["turns"]},
    )


def _imported(traj: Trajectory, cat: Catalogue) -> bool:
    """Whether the log lists a tool of an imported catalogue (not the built-in one): its text is kept as given."""
    builtin = builtin_catalogue().tools
    for t in traj.tools:
        spec = cat.tools.get(t.qualified_name)
        if spec is not None and not spec.lookalike_of and not spec.twin_of:
            own = builtin.get(spec.qualified)
            if own is None or own.description != spec.description:
                return True
    return False


def realise(variant: Variant, side, rng: Random) -> Variant:
    """``compose``, then long results and (for built-in servers) real-length tool documentation.

    Imported servers keep their own descriptions: a user's real tools/list is already real length, and a guardian
    trained for those servers should read them as they are.
    """
    out = compose(variant, side, rng)
    if out is variant:
        return variant
    traj = out.traj if _imported(out.traj, side.cat) else longform.document_tools(out.traj)
    out.traj = longform.lengthen_results(traj, rng)
    return out
