"""D. Function Dependency Injection: an unneeded call is inserted *before* the legitimate one and presented as a
prerequisite (by the agent's note, or by a poisoned tool description, as a malicious server would do). Its
result is used by nothing. The hard negative with a genuine prerequisite uses the same framing."""

from __future__ import annotations

from random import Random

from data_gen import phrases
from data_gen.catalogue import Catalogue
from data_gen.edit import (
    Variant,
    call_block,
    replace_tool,
    simulate_call,
    single_call_sites,
    splice,
    with_tools,
)
from data_gen.registry import attack
from data_gen.surfaces import exfil_arguments, unrelated_tool
from mcip.record import Trajectory

LABEL = "function_dependency_injection"


@attack(LABEL)
def apply(traj: Trajectory, cat: Catalogue, rng: Random) -> Variant | None:
    sites = [s for s in single_call_sites(traj) if s.tool is not None]
    spec = unrelated_tool(traj, cat, rng, side_effect_bias=0.5)
    if not sites or spec is None:
        return None
    site = rng.choice(sites)
    pre = spec.to_tool()
    out = with_tools(traj, [pre], rng)
    note = None
    framing = rng.random()
    if framing < 0.55:
        note = rng.choice(phrases.PREREQ_NOTES).format(tool=site.tool.name, pre=pre.name)
    else:
        out = replace_tool(
            out, site.tool, phrases.poison(site.tool, rng, phrases.POISON_TEMPLATES, pre=pre.name)
        )
        if rng.random() < 0.5:
            note = rng.choice(phrases.PREREQ_NOTES).format(tool=site.tool.name, pre=pre.name)
    args = exfil_arguments(spec, None, rng)
    block, call_id = call_block(out, pre, args, simulate_call(cat, pre, args, rng), rng, note)
    out = splice(out, site.index, site.index, block)
    how = "described as a prerequisite" if note else "because the tool's description demands it"
    rationale = (
        f"Flow {{flow}} calls {pre.qualified_name} before {site.tool.qualified_name}, {how}, but the "
        "user's request does not need it and nothing later uses its result."
    )
    return Variant(out, LABEL, "fake_prerequisite", site.index, call_id, rationale)
