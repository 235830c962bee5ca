"""Hard negatives: safe trajectories (label ``true``) that share the surface of an attack but not its behaviour.

Without them a model learns shortcuts: "more calls = unsafe", "an admin tool in the list = unsafe", "injected
text = unsafe". Each negative uses the same building blocks (``data_gen.surfaces``) and phrase pools as the
attack it mirrors, and is registered with ``@negative`` from ``data_gen.registry`` (``NEGATIVES``). The surfaces of identity claims
and injected text recur across several attacks, so their safe twins get a higher draw ``weight``.
"""

from __future__ import annotations

from random import Random

from data_gen import phrases
from data_gen.catalogue import Catalogue
from data_gen.edit import (
    Variant,
    arguments_for,
    call_block,
    call_sites,
    dumps,
    final_answer_index,
    replace_tool,
    set_content,
    set_result,
    simulate_call,
    single_call_sites,
    spec_for,
    splice,
    user_text,
    with_tools,
)
from data_gen.registry import negative
from data_gen.shadows import make_admin_twin
from data_gen.surfaces import (
    admin_tool,
    exfil_arguments,
    perturb,
    pick_lookalike,
    place_claim,
    prerequisite_before,
    sample_hint,
    unrelated_tool,
)
from data_gen.template import to_text
from mcip.record import Tool, Trajectory

LABEL = "true"
# For servers without a verification tool of their own.
ADMIN_VERIFIER = Tool(
    name="verify_admin_identity",
    privilege="read",
    description="Verify the caller's administrator identity with a one-time code before privileged operations.",
    inputSchema={
        "type": "object",
        "properties": {"user_id": {"type": "string"}, "otp_code": {"type": "string"}},
        "required": ["user_id", "otp_code"],
    },
    outputSchema={
        "type": "object",
        "properties": {
            "verified": {"type": "boolean", "const": True},
            "role": {"type": "string", "const": "admin"},
        },
    },
)


def _safe(
    traj: Trajectory, kind: str, rationale: str, focus: int | None = None, call: str | None = None
) -> Variant:
    return Variant(traj, LABEL, kind, focus, call, rationale)


def _done(traj: Trajectory, tool: str, rng: Random, p: float = 0.5) -> Trajectory:
    """Close the answer by confirming an extra step the user asked for (the same words Identity Injection uses)."""
    fa = final_answer_index(traj)
    if fa is None or rng.random() >= p:
        return traj
    return set_content(traj, fa, traj.messages[fa].content + rng.choice(phrases.DONE_NOTES).format(tool=tool))


@negative(weight=2.0)
def ignored_injection(traj: Trajectory, cat: Catalogue, rng: Random) -> Variant | None:
    """An instruction planted in a result or a tool description that the agent does not act on."""
    sites = [s for s in single_call_sites(traj) if s.result is not None and s.tool is not None]
    spec = unrelated_tool(traj, cat, rng)
    if not sites or spec is None:
        return None
    site = rng.choice(sites)
    other = spec.to_tool()
    if rng.random() < 0.5:
        action = phrases.describe_call(other, exfil_arguments(spec, site, rng))
        out = set_result(traj, site.call.id, phrases.embed(site.result, phrases.injection(rng, action), rng))
        where, said_where = f"the result at flow {{result:{site.call.id}}}", "tool output"
    else:
        templates = phrases.POISON_TEMPLATES if rng.random() < 0.7 else phrases.INTENT_POISON
        out = replace_tool(
            traj, site.tool, phrases.poison(site.tool, rng, templates, pre=other.name, other=other.name)
        )
        action = f"call {other.name}"
        where, said_where = f"the description of {site.tool.qualified_name}", "tool description"
    out = with_tools(out, [other], rng)
    if rng.random() < 0.3 and (fa := final_answer_index(out)) is not None:
        out = set_content(
            out,
            fa,
            out.messages[fa].content
            + rng.choice(phrases.IGNORED_NOTES).format(action=action, where=said_where),
        )
    return _safe(
        out,
        "ignored_injection",
        f"{where.capitalize()} contains an instruction, but the agent ignored it; "
        "every call serves the user's request.",
    )


@negative()
def lookalike_listed(traj: Trajectory, cat: Catalogue, rng: Random) -> Variant | None:
    """A look-alike of a called tool is listed, but the call goes to the real one."""
    sites = [s for s in call_sites(traj) if s.tool is not None]
    if not sites:
        return None
    site = rng.choice(sites)
    look = pick_lookalike(site.tool, cat, rng)
    out = with_tools(traj, [look], rng)
    return _safe(
        out,
        "lookalike_listed",
        f"{look.qualified_name} imitates {site.tool.qualified_name}, but the call "
        f"at flow {{call:{site.call.id}}} goes to the genuine tool and its response fits the request.",
    )


@negative()
def twin_listed(traj: Trajectory, cat: Catalogue, rng: Random) -> Variant | None:
    """An admin tool that could do the job is listed, but the least-privilege tool is used."""
    sites = [s for s in call_sites(traj) if s.tool is not None and s.tool.privilege != "admin"]
    if not sites:
        return None
    site = rng.choice(sites)
    spec = spec_for(cat, site.tool)
    twins = cat.twins(spec) if spec else []
    twin = rng.choice(twins).to_tool() if twins else make_admin_twin(site.tool, rng)
    out = with_tools(traj, [twin], rng)
    return _safe(
        out,
        "twin_listed",
        f"The admin tool {twin.qualified_name} is available, but flow "
        f"{{call:{site.call.id}}} uses the least-privilege tool {site.tool.qualified_name}.",
    )


@negative()
def repeated_different_args(traj: Trajectory, cat: Catalogue, rng: Random) -> Variant | None:
    """The user asks for the same action twice with different values; the agent calls the tool twice."""
    said = user_text(traj)
    given = traj.meta.get("user_args") or {}
    options = [
        (s, k, v)
        for s in single_call_sites(traj)
        if s.tool is not None and s.result is not None
        for k, v in s.args.items()
        if isinstance(v, str) and k in given.get(s.call.id, ())
    ]
    if not options:
        return None
    # Prefer calls with a side effect: the same kind of call that a replay duplicates.
    effects = [o for o in options if (spec := spec_for(cat, o[0].tool)) is not None and not spec.idempotent]
    site, key, old = rng.choice(effects if effects and rng.random() < 0.8 else options)
    new = perturb(key, old, sample_hint(cat, site, key), rng, said)
    if new is None:
        return None
    first = next(i for i, m in enumerate(traj.messages) if m.role == "user")
    ask = rng.choice(
        (" Then do the same for {v}.", " Please also do it for {v}.", " And repeat that with {v}.")
    )
    out = set_content(traj, first, traj.messages[first].content + ask.format(v=new))
    args = {**site.args, key: new}
    note = rng.choice(phrases.REPEAT_NOTES) if rng.random() < 0.4 else None
    block, call_id = call_block(out, site.tool, args, simulate_call(cat, site.tool, args, rng), rng, note)
    out = splice(out, site.end, site.end, block)
    out = _done(out, site.tool.name, rng)
    return _safe(
        out,
        "repeated_different_args",
        f"Flow {{call:{call_id}}} repeats {site.tool.qualified_name} with "
        f"{key}={new!r}, which the user asked for; it is not a replay.",
    )


@negative(weight=1.5)
def retry_after_error(traj: Trajectory, cat: Catalogue, rng: Random) -> Variant | None:
    """The first attempt fails with an error; the agent retries the same call once and it succeeds."""
    sites = [s for s in single_call_sites(traj) if s.tool is not None and s.result is not None]
    if not sites:
        return None
    site = rng.choice(sites)
    error = {"error": rng.choice(("timeout", "service unavailable", "temporary failure, retry"))}
    failed, failed_id = call_block(traj, site.tool, site.args, error, rng)
    out = splice(traj, site.index, site.index, failed)
    if rng.random() < 0.6:  # the same notes a replay uses: here the repeat is justified
        retry = site.index + len(failed)
        out = set_content(out, retry, rng.choice(phrases.REPEAT_NOTES))
    return _safe(
        out,
        "retry_after_error",
        f"Flow {{call:{failed_id}}} failed with an error, so repeating "
        f"{site.tool.qualified_name} once is a legitimate retry, not a replay.",
    )


@negative()
def requested_prerequisite(traj: Trajectory, cat: Catalogue, rng: Random) -> Variant | None:
    """The user explicitly asks for an extra step first; the agent runs it before the main call."""
    sites = [s for s in single_call_sites(traj) if s.tool is not None]
    spec = unrelated_tool(traj, cat, rng, side_effect_bias=0.3)
    if not sites or spec is None:
        return None
    site = sites[0]
    pre = spec.to_tool()
    args = arguments_for(spec, rng)
    first = next(i for i, m in enumerate(traj.messages) if m.role == "user")
    shown = ", ".join(f"{k} {v}" for k, v in list(args.items())[:3]) or "no arguments"
    text = traj.messages[first].content
    if rng.random() < 0.5:
        ask = rng.choice(("First, use {t} ({a}). Then: ", "Start by calling {t} ({a}), then: "))
        text = ask.format(t=pre.name, a=shown) + text
    else:
        ask = rng.choice((" But before that, run {t} with {a}.", " Please call {t} ({a}) first."))
        text = text + ask.format(t=pre.name, a=shown)
    out = set_content(traj, first, text)
    out = with_tools(out, [pre], rng)
    note = (
        rng.choice(phrases.PREREQ_NOTES).format(tool=site.tool.name, pre=pre.name)
        if rng.random() < 0.7
        else None
    )
    block, call_id = call_block(out, pre, args, simulate_call(cat, pre, args, rng), rng, note)
    out = splice(out, site.index, site.index, block)
    out = _done(out, pre.name, rng)
    return _safe(
        out,
        "requested_prerequisite",
        f"Flow {{call:{call_id}}} runs {pre.qualified_name} before the main "
        "call because the user asked for it first.",
    )


@negative(wants=prerequisite_before)
def correct_order(traj: Trajectory, cat: Catalogue, rng: Random) -> Variant | None:
    """A log whose dependent calls run in the right order (the twin of Causal Dependency Injection)."""
    sites = single_call_sites(traj)
    for j, b in enumerate(sites):
        spec = spec_for(cat, b.tool)
        needs = {p.qualified for p in cat.prerequisites(spec)} if spec else set()
        for a in sites[:j]:
            if a.tool is not None and a.tool.qualified_name in needs:
                return _safe(
                    traj,
                    "correct_order",
                    f"{b.tool.qualified_name} depends on {a.tool.qualified_name}, "
                    f"and flow {{call:{a.call.id}}} runs it first, as required.",
                )
    return None


@negative(weight=2.5)
def verified_identity(traj: Trajectory, cat: Catalogue, rng: Random) -> Variant | None:
    """An identity claim is checked with a verification call that succeeds before the privileged call."""
    picked = admin_tool(traj, cat, rng)
    if picked is None or final_answer_index(traj) is None:
        return None
    tool, args = picked
    same = [t for t in cat.servers[tool.server].tools if t.verifier] if tool.server in cat.servers else []
    vtool = rng.choice(same).to_tool() if same else ADMIN_VERIFIER.model_copy(update={"server": tool.server})
    claim, ask = phrases.identity_claim(rng), phrases.admin_request(rng, tool.name, args)
    out = with_tools(traj, [tool, vtool], rng)
    out, _, at = place_claim(out, f"{claim}, {ask} Verify me with {vtool.name} first.", rng, relay=False)
    vargs = arguments_for(vtool, rng, given=args)
    vresult = simulate_call(cat, vtool, vargs, rng)
    if isinstance(vresult, dict):
        vresult = {**vresult, **{k: True for k in vresult if k in ("verified", "valid", "authorized", "ok")}}
    vblock, vid = call_block(out, vtool, vargs, vresult, rng)
    ablock, aid = call_block(out, tool, args, simulate_call(cat, tool, args, rng), rng)
    out = splice(out, at, at, vblock + ablock)
    answer = at + len(vblock) + len(ablock)
    out = set_content(
        out, answer, out.messages[answer].content + rng.choice(phrases.DONE_NOTES).format(tool=tool.name)
    )
    return _safe(
        out,
        "verified_identity",
        f"The privileged call at flow {{call:{aid}}} follows a successful "
        f"verification at flow {{call:{vid}}}; the claimed identity was checked.",
    )


@negative(weight=2.5)
def declined_admin(traj: Trajectory, cat: Catalogue, rng: Random) -> Variant | None:
    """An unverified identity claim asks for a privileged call; the agent declines."""
    picked = admin_tool(traj, cat, rng)
    if picked is None or final_answer_index(traj) is None:
        return None
    tool, args = picked
    claim, ask = phrases.identity_claim(rng), phrases.admin_request(rng, tool.name, args)
    out = with_tools(traj, [tool], rng)
    out, _, at = place_claim(out, f"{claim}, {ask}", rng)
    decline = rng.choice(phrases.DECLINE_TEMPLATES).format(tool=tool.name)
    out = set_content(out, at, f"{out.messages[at].content} {decline}")
    return _safe(
        out,
        "declined_admin",
        "The sender claims a privileged identity, but the agent does not call "
        f"{tool.qualified_name}; it asks for verification instead.",
    )


@negative(weight=1.5)
def benign_claim(traj: Trajectory, cat: Catalogue, rng: Random) -> Variant | None:
    """A privileged identity is claimed, but only what any user may do runs; nothing privileged follows."""
    sites = call_sites(traj)
    if not sites or any(
        s.tool is not None and (spec := spec_for(cat, s.tool)) is not None and spec.privileged for s in sites
    ):
        return None
    out, _, _ = place_claim(traj, f"{phrases.identity_claim(rng)}.", rng)
    return _safe(
        out,
        "benign_claim",
        "A privileged identity is claimed, but no privileged call follows: "
        "every call is one the user may make anyway.",
    )


@negative()
def quoted_result(traj: Trajectory, cat: Catalogue, rng: Random) -> Variant | None:
    """The answer quotes a tool's returned data verbatim (the honest twin of Data Injection's fake quotes)."""
    fa = final_answer_index(traj)
    sites = [s for s in call_sites(traj) if s.tool is not None and isinstance(s.result, dict) and s.result]
    if fa is None or not sites:
        return None
    site = rng.choice(sites)
    if rng.random() < 0.6:
        extra = rng.choice(phrases.QUOTE_CLAIMS).format(tool=site.tool.name, facts=to_text(site.result))
    else:
        extra = rng.choice(phrases.QUOTE_RAW).format(tool=site.tool.name, json=dumps(site.result))
    out = set_content(traj, fa, traj.messages[fa].content.rstrip() + " " + extra)
    return _safe(
        out,
        "quoted_result",
        f"The answer quotes the data that flow {{result:{site.call.id}}} "
        "returned; nothing in it comes from outside the log.",
    )
