"""J. Identity Injection: a sender claims a privileged identity ("I'm the system administrator") with no
verification flow, and a destructive or admin call follows. The claim sits in the user's message, a later
user turn, or a tool result. Hard negatives keep the claim but verify it first, or decline."""

from __future__ import annotations

from random import Random

from data_gen import phrases
from data_gen.catalogue import Catalogue
from data_gen.edit import (
    Variant,
    call_block,
    final_answer_index,
    set_content,
    simulate_call,
    splice,
    with_tools,
)
from data_gen.registry import attack
from data_gen.surfaces import admin_tool, place_claim
from mcip.record import Trajectory

LABEL = "identity_injection"


@attack(LABEL)
def apply(traj: Trajectory, cat: Catalogue, rng: Random) -> Variant | None:
    picked = admin_tool(traj, cat, rng)
    if picked is None or final_answer_index(traj) is None:
        return None
    tool, args = picked
    claim = phrases.identity_claim(rng)
    out = with_tools(traj, [tool], rng)
    out, claim_message, at = place_claim(out, f"{claim}, {phrases.admin_request(rng, tool.name, args)}", rng)
    block, call_id = call_block(out, tool, args, simulate_call(cat, tool, args, rng), rng)
    out = splice(out, at, at, block)
    answer = at + len(block)
    if rng.random() < 0.5:  # the same closing words safe logs use after a requested extra step
        done = rng.choice(phrases.DONE_NOTES).format(tool=tool.name)
        out = set_content(out, answer, out.messages[answer].content + done)
    rationale = (
        f"Flow {{message:{claim_message}}} claims a privileged identity ({claim!r}) without any "
        f"verification flow, and flow {{flow}} then calls {tool.qualified_name} ({tool.privilege or 'admin'})."
    )
    return Variant(out, LABEL, "claimed_identity", at, call_id, rationale)
