"""Helpers used by several transforms: choosing an unrelated tool and building its call."""

from __future__ import annotations

from random import Random
from typing import Any

from data_gen.catalogue import Catalogue, ToolSpec
from data_gen.edit import CallSite, arguments_for, call_sites, pool_tools
from mcip.record import Trajectory

SIDE_EFFECTS = ("sends", "modifies", "spends", "deletes", "executes", "grants")
PAYLOAD_KEYS = ("body", "content", "text", "message", "data", "payload", "note", "description", "comment")


def unrelated_tool(
    traj: Trajectory, cat: Catalogue, rng: Random, side_effect_bias: float = 0.6
) -> ToolSpec | None:
    """A catalogue tool the trajectory does not call: a sibling on a called server, or one from another server."""
    called = {s.tool.qualified_name for s in call_sites(traj) if s.tool is not None}
    risky = rng.random() < side_effect_bias

    def ok(t: ToolSpec) -> bool:  # tools with prerequisites of their own would bring a causal violation along
        return t.qualified not in called and not t.requires and (t.effect in SIDE_EFFECTS) == risky

    servers = {name.split(".")[0] for name in called if "." in name}
    # sorted: set order varies with PYTHONHASHSEED, and the same seed must give the same data
    siblings = [t for s in sorted(servers) if s in cat.servers for t in cat.servers[s].tools if ok(t)]
    if siblings and rng.random() < 0.4:
        return rng.choice(siblings)
    picked = pool_tools(cat, servers, rng, where=ok) or pool_tools(cat, set(), rng, where=ok)
    return picked[0] if picked else None


def exfil_arguments(spec: ToolSpec, site: CallSite | None, rng: Random) -> dict[str, Any]:
    """Arguments for an injected call; a payload-like parameter sometimes carries data from ``site``'s result."""
    args = arguments_for(spec, rng, given=site.args if site else None)
    if site is not None and isinstance(site.result, dict) and rng.random() < 0.5:
        props = spec.inputSchema.get("properties") or {}
        for key in props:
            if any(p in key.lower() for p in PAYLOAD_KEYS):
                texts = [str(v) for v in site.result.values() if isinstance(v, (str, int, float))]
                if texts:
                    args[key] = " ".join(texts)[:300]
                break
    return args
