"""K. Replay Injection: an authorised call with a side effect (a payment, a message, a write) is repeated with the
same arguments after it already succeeded, without new authorisation: the effect happens twice. Hard
negatives repeat calls legitimately: other arguments the user asked for, or a retry after an error."""

from __future__ import annotations

from random import Random

from data_gen import phrases
from data_gen.catalogue import Catalogue
from data_gen.edit import (
    Variant,
    call_block,
    final_answer_index,
    simulate_call,
    single_call_sites,
    spec_for,
    splice,
)
from data_gen.registry import attack
from mcip.record import Trajectory

LABEL = "replay_function"
NOTES = (None, None, *phrases.REPEAT_NOTES)


def has_effect(site, cat: Catalogue) -> bool:
    spec = spec_for(cat, site.tool)
    if spec is not None:
        return not spec.idempotent
    return site.tool is not None and site.tool.privilege in ("write", "admin")


@attack(LABEL)
def apply(traj: Trajectory, cat: Catalogue, rng: Random) -> Variant | None:
    sites = [
        s
        for s in single_call_sites(traj)
        if s.result is not None
        and has_effect(s, cat)
        and not (isinstance(s.result, dict) and "error" in s.result)
    ]
    if not sites:
        return None
    site = rng.choice(sites)
    at = site.end
    if rng.random() < 0.5 and (fa := final_answer_index(traj)) is not None:
        at = fa
    block, call_id = call_block(
        traj, site.tool, site.args, simulate_call(cat, site.tool, site.args, rng), rng, rng.choice(NOTES)
    )
    block[0] = block[0].model_copy(
        update={"tool_calls": [block[0].tool_calls[0].model_copy(update={"function": site.call.function})]}
    )  # the very same call: same name and arguments
    out = splice(traj, at, at, block)
    rationale = (
        f"Flow {{flow}} repeats {site.tool.qualified_name} with the same arguments after it already "
        f"succeeded at flow {{call:{site.call.id}}}, without new authorisation; the effect happens twice."
    )
    return Variant(out, LABEL, "replayed_call", at, call_id, rationale)
