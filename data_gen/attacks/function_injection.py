"""E. Function Injection: an unrelated call is appended *after* the legitimate work, usually because the
legitimate tool's output carried an instruction. The same injected instructions appear in hard negatives
where the agent ignores them, so the text alone never decides the label: the extra call does."""

from __future__ import annotations

from random import Random

from data_gen import phrases
from data_gen.catalogue import Catalogue
from data_gen.edit import (
    Variant,
    call_block,
    set_result,
    simulate_call,
    single_call_sites,
    splice,
    with_tools,
)
from data_gen.registry import attack
from data_gen.surfaces import exfil_arguments, unrelated_tool
from mcip.record import Trajectory

LABEL = "function_injection"


@attack(LABEL)
def apply(traj: Trajectory, cat: Catalogue, rng: Random) -> Variant | None:
    sites = [s for s in single_call_sites(traj) if s.result is not None]
    spec = unrelated_tool(traj, cat, rng, side_effect_bias=0.7)
    if not sites or spec is None:
        return None
    # After the *last* legitimate call: an extra call between planned calls would be Dependency Injection.
    site = sites[-1]
    extra = spec.to_tool()
    out = with_tools(traj, [extra], rng)
    args = exfil_arguments(spec, site, rng)
    injected = rng.random() < 0.65
    if injected:
        text = phrases.injection(rng, phrases.describe_call(extra, args))
        out = set_result(out, site.call.id, phrases.embed(site.result, text, rng))
    block, call_id = call_block(out, extra, args, simulate_call(cat, extra, args, rng), rng)
    out = splice(out, site.end, site.end, block)
    legit = site.tool.qualified_name if site.tool else site.call.function.name
    cause = (
        f", following an instruction inside the result at flow {{result:{site.call.id}}}" if injected else ""
    )
    rationale = f"Flow {{flow}} calls {extra.qualified_name} after {legit} finished, although the user never asked for it{cause}."
    return Variant(out, LABEL, "injected_call" if injected else "extra_call", site.end, call_id, rationale)
