"""Real-size sessions: every label's defining property survives being placed at any turn of a long, multi-server,
multi-turn session with whole tool lists, real-length documentation and long results; context turns add no
risk property of their own."""

from __future__ import annotations

import json
from random import Random

import pytest

from data_gen import longform, sessions
from data_gen.build import _side
from data_gen.catalogue import builtin_catalogue
from data_gen.edit import Variant
from data_gen.registry import ATTACKS, NEGATIVES
from data_gen.scenarios import benign
from mcip.flows import derive_flows
from mcip.record import Trajectory
from tests.test_transforms import PROPERTIES

CAT = builtin_catalogue()
SIDE = _side("seen", CAT, set(CAT.servers), [])


def _segment(traj: Trajectory, turn: int, span: int = 1) -> Trajectory:
    """The messages of user turns ``turn`` .. ``turn + span - 1`` (0-based), with the whole session's tool list."""
    starts = [i for i, m in enumerate(traj.messages) if m.role == "user"] + [len(traj.messages)]
    return traj.model_copy(update={"messages": traj.messages[starts[turn] : starts[turn + span]]})


def _turns(traj: Trajectory) -> int:
    return sum(m.role == "user" for m in traj.messages)


def _realised(variant: Variant, seed: str) -> Variant:
    rng = Random(seed)
    for _ in range(20):  # past the short share
        out = sessions.realise(variant, SIDE, rng)
        if out is not variant:
            return out
    raise AssertionError("realise never composed a session")


def _cases(apply, wants, seed: str, n: int):
    intents = [i for i in CAT.intents if wants is None or wants(i, CAT)]
    rng = Random(seed)
    out = []
    for k in range(n * 4):
        base = benign(rng.choice(intents), CAT, rng).traj
        variant = apply(base, CAT, rng)
        if variant is not None:
            out.append((base, variant, _realised(variant, f"{seed}/{k}")))
        if len(out) == n:
            break
    return out


@pytest.mark.parametrize("label", sorted(PROPERTIES))
def test_attack_property_holds_in_its_turn_of_a_long_session(label):
    attack = ATTACKS[label]
    cases = _cases(attack.apply, attack.wants, f"session/{label}", 12)
    assert len(cases) >= 8
    positions = set()
    for base, variant, session in cases:
        traj = Trajectory.model_validate(session.traj.model_dump())
        turn, span = traj.meta["main_turn"], _turns(variant.traj)
        positions.add((turn, traj.meta["turns"] - turn - span > 0))
        assert PROPERTIES[label](base, _segment(traj, turn, span)), (label, traj.model_dump_json()[:2000])
        # the rationale's flow still names the deviating flow, now somewhere inside the session
        if session.focus is not None:
            got, want = traj.messages[session.focus], variant.traj.messages[variant.focus]
            assert got.role == want.role
            assert [c.id for c in got.tool_calls or ()] == [c.id for c in want.tool_calls or ()]
    assert any(later for _, later in positions), f"{label}: the attacked turn is always the last one"


@pytest.mark.parametrize("kind", sorted(NEGATIVES))
def test_hard_negatives_stay_safe_in_sessions(kind):
    cases = _cases(NEGATIVES[kind].apply, NEGATIVES[kind].wants, f"session-neg/{kind}", 8)
    assert len(cases) >= 5
    for base, variant, session in cases:
        traj = session.traj
        segment = _segment(traj, traj.meta["main_turn"], _turns(variant.traj))
        for label, prop in PROPERTIES.items():
            assert not prop(base, segment), (kind, label, traj.model_dump_json()[:2000])


def test_benign_sessions_have_no_risk_property_anywhere():
    rng = Random(3)
    made = 0
    for k in range(40):
        base = benign(rng.choice(CAT.intents), CAT, rng)
        session = _realised(base, f"benign/{k}").traj
        for label, prop in PROPERTIES.items():
            assert not prop(session, session), (label, session.model_dump_json()[:2000])
        made += session.meta["turns"] > 1
    assert made >= 15


def test_sessions_are_real_size():
    rng = Random(11)
    listed, turns, servers = [], [], []
    for k in range(30):
        session = _realised(benign(rng.choice(CAT.intents), CAT, rng), f"size/{k}").traj
        listed.append(len(session.tools))
        turns.append(session.meta["turns"])
        servers.append(len({t.server for t in session.tools}))
        derive_flows(session)  # a valid log
        calls = {c.id for _, c in session.calls()}
        assert len(calls) == sum(len(m.tool_calls or ()) for m in session.messages)
    assert sorted(listed)[15] >= 12 and max(listed) >= 30
    assert max(turns) >= 3 and max(servers) >= 4


def test_documentation_is_stable_per_tool_and_keeps_arguments_valid():
    import jsonschema

    tool = CAT.tools["filesystem.read_file"].to_tool()
    a, b = longform.document(tool), longform.document(tool.model_copy())
    assert a.description == b.description and a.description.startswith(tool.description.split(".")[0])
    jsonschema.validate({"path": "/home/user/a.txt"}, a.inputSchema)


def test_long_results_never_echo_the_logs_own_values():
    rng = Random(5)
    for _ in range(30):
        traj = benign(rng.choice(CAT.intents), CAT, rng).traj
        longer = longform.lengthen_results(traj, rng, share=1.0)
        said = " ".join(
            (m.content or "") + " ".join(c.function.arguments for c in m.tool_calls or ())
            for m in traj.messages
            if m.role != "tool"
        )
        for old, new in zip(traj.messages, longer.messages):
            if old.role == "tool" and old.content != new.content:
                assert len(new.content) > len(old.content)
                for v in json.loads(new.content) if isinstance(json.loads(new.content), list) else []:
                    assert not (isinstance(v, str) and len(v) >= 3 and v in said and v not in old.content)


def test_same_seed_same_session():
    base = benign(CAT.intents[0], CAT, Random(1))
    a = _realised(base, "x").traj.model_dump_json()
    b = _realised(base, "x").traj.model_dump_json()
    assert a == b
