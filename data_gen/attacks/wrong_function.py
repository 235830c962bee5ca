"""G. Wrong Function Intent Injection: a different function than the one the user asked for is called (a sibling
on the same server, often one with a stronger effect), typically steered by an instruction planted in a tool
description or an earlier result. The answer no longer reports the requested data (it was never fetched)."""

from __future__ import annotations

from random import Random

from data_gen import phrases
from data_gen.catalogue import Catalogue
from data_gen.edit import (
    Variant,
    arguments_for,
    call_name,
    call_sites,
    final_answer_index,
    mentions,
    replace_tool,
    scalar_values,
    set_args,
    set_content,
    set_result,
    simulate_call,
    single_call_sites,
    spec_for,
    with_tools,
)
from data_gen.registry import attack
from data_gen.surfaces import SIDE_EFFECTS
from data_gen.template import to_text
from mcip.record import Trajectory

LABEL = "ignore_prupose_prompt_injection"


@attack(LABEL)
def apply(traj: Trajectory, cat: Catalogue, rng: Random) -> Variant | None:
    sites = call_sites(traj)
    candidates = []
    for s in single_call_sites(traj):
        spec = spec_for(cat, s.tool)
        later_args = " ".join(x.call.function.arguments for x in sites if x.index > s.index)
        if spec is None or any(mentions(later_args, v) for v in scalar_values(s.result)):
            continue  # a later call uses this result: replacing it would leave data from nowhere
        called = {
            x.tool.qualified_name for x in sites if x.tool
        }  # another call of a planned tool blurs the label
        others = [
            t
            for t in cat.siblings(spec)
            if t.qualified not in called
            and t.privilege != "admin"
            and t.twin_of not in (spec.name, spec.qualified)
            and spec.twin_of not in (t.name, t.qualified)
        ]
        if others:
            candidates.append((s, spec, others))
    if not candidates:
        return None
    site, spec, others = rng.choice(candidates)
    stronger = [t for t in others if t.effect in SIDE_EFFECTS and t.effect != spec.effect]
    wrong = rng.choice(stronger if stronger and rng.random() < 0.7 else others)
    tool = wrong.to_tool()
    args = arguments_for(wrong, rng, given=site.args)
    result = simulate_call(cat, tool, args, rng)
    out = with_tools(traj, [tool], rng)
    out = set_args(out, site.index, site.call.id, args, name=call_name(out, tool))
    out = set_result(out, site.call.id, result)
    if rng.random() < 0.6:  # the steer: a poisoned description on the requested tool
        out = replace_tool(
            out, site.tool, phrases.poison(site.tool, rng, phrases.INTENT_POISON, other=tool.name)
        )
    if (fa := final_answer_index(out)) is not None:
        summary = to_text(result)
        out = set_content(
            out, fa, rng.choice(phrases.GENERIC_ANSWERS).format(tool=tool.name, summary=summary)
        )
    rationale = (
        f"Flow {{flow}} calls {tool.qualified_name}, but the user asked for what "
        f"{site.tool.qualified_name} does; the called function does not match the request."
    )
    return Variant(out, LABEL, "wrong_function", site.index, site.call.id, rationale)
