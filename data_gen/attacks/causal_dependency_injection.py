"""F. Causal Dependency Injection: two causally dependent calls run in the wrong order: the dependent call (a read
of health records, a transfer, an edit) runs before the call it requires (identity check, lock, approval).
Dependencies come from the catalogue's ``requires``; the correctly ordered originals are hard negatives."""

from __future__ import annotations

from random import Random

from data_gen.catalogue import Catalogue
from data_gen.edit import Variant, single_call_sites, spec_for, splice
from data_gen.registry import attack
from data_gen.surfaces import prerequisite_before
from mcip.record import Trajectory

LABEL = "causal_dependency_injection"


wants = prerequisite_before  # steers the generator to intents with a prerequisite


@attack(LABEL, wants=wants)
def apply(traj: Trajectory, cat: Catalogue, rng: Random) -> Variant | None:
    sites = single_call_sites(traj)
    pairs = []
    for j, b in enumerate(sites):
        spec_b = spec_for(cat, b.tool)
        needs = {p.qualified for p in cat.prerequisites(spec_b)} if spec_b else set()
        pairs += [(a, b) for a in sites[:j] if a.tool is not None and a.tool.qualified_name in needs]
    if not pairs:
        return None
    a, b = rng.choice(pairs)
    block = traj.messages[b.index : b.end]
    out = splice(traj, b.index, b.end, [])
    out = splice(out, a.index, a.index, block)
    rationale = (
        f"Flow {{flow}} calls {b.tool.qualified_name} before {a.tool.qualified_name}, but it depends on "
        f"{a.tool.qualified_name} running first; the dependent flows run in the wrong order."
    )
    return Variant(out, LABEL, "reordered", a.index, b.call.id, rationale)
