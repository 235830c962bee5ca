import re
from pathlib import Path

import pytest

from mcip.taxonomy import (
    ATTACK_BY_KEY,
    ATTACKS,
    LABELS,
    MAESTRO_LAYERS,
    FlowElement,
    Phase,
    Scope,
    binary,
    get_label,
    is_valid_label,
)

DESIGN = Path(__file__).resolve().parents[2] / "shared" / "DESIGN.md"
TABLES = (
    Path(__file__).resolve().parent / "fixtures" / "taxonomy_tables.md"
)  # a copy of DESIGN.md's two tables

PAPER_STRINGS = [
    "true",
    "function_overlapping",
    "excessive_privileges",
    "function_dependency_injection",
    "function_injection",
    "causal_dependency_injection",
    "ignore_prupose_prompt_injection",
    "wrong_parameter_prompt_injection",
    "data_injection",
    "identity_injection",
    "replay_function",
]


def test_fifteen_attacks_in_three_phases():
    assert len(ATTACKS) == 15
    by_phase = {p: [a for a in ATTACKS if a.phase is p] for p in Phase}
    assert [len(by_phase[p]) for p in (Phase.CONFIG, Phase.INTERACTION, Phase.TERMINATION)] == [3, 9, 3]
    assert len({a.key for a in ATTACKS}) == 15 and len({a.name for a in ATTACKS}) == 15


def test_intra_flow_attacks_name_their_element_and_others_do_not():
    for a in ATTACKS:
        assert (a.element is not None) == (a.scope is Scope.INTRA_FLOW), a.key
        assert a.maestro and all(layer in MAESTRO_LAYERS for layer in a.maestro), a.key


def test_eleven_labels_keep_the_paper_strings_and_letters():
    assert [lb.string for lb in LABELS] == PAPER_STRINGS
    assert [lb.letter for lb in LABELS] == list("ABCDEFGHIJK")
    assert [lb.index for lb in LABELS] == list(range(11))
    assert len({lb.name for lb in LABELS}) == 11


def test_every_risk_label_maps_to_an_interaction_attack():
    assert LABELS[0].attack is None and not LABELS[0].unsafe
    for lb in LABELS[1:]:
        assert ATTACK_BY_KEY[lb.attack].phase is Phase.INTERACTION, lb.string
    # every interaction attack is covered by at least one label
    covered = {lb.attack for lb in LABELS[1:]}
    assert covered == {a.key for a in ATTACKS if a.phase is Phase.INTERACTION}


def test_lookup_and_binary_collapse():
    assert get_label("E").string == "function_injection"
    assert get_label("replay_function").choice == "K. Replay Injection"
    assert binary("true") == "safe" and binary("data_injection") == "unsafe" and binary("unsafe") == "unsafe"
    assert is_valid_label("safe") and not is_valid_label("prompt_injection")
    with pytest.raises(KeyError, match="unknown label 'Z'"):
        get_label("Z")


def _tables(text: str) -> tuple[list[tuple], list[tuple]]:
    """The label rows (idx, string, letter, name) and attack rows of the design notes' two taxonomy tables."""
    labels = [
        (int(i), s, letter, name)
        for i, s, letter, name in re.findall(r"^\| (\d+) \| `([^`]+)` \| ([A-Z])\. ([^|]+?) \|", text, re.M)
    ]
    attacks = re.findall(
        r"^\| (Config|Interaction|Termination) \| ([^|]+?) \| (server|client) \| ([^|]+?) \| "
        r"(\w+) \| ([^|]+?) \|",
        text,
        re.M,
    )
    return labels, attacks


def test_matches_the_design_tables():
    labels, attack_rows = _tables(TABLES.read_text())
    assert labels == [(lb.index, lb.string, lb.letter, lb.name) for lb in LABELS]
    assert len(attack_rows) == 15
    names = {a.name: a for a in ATTACKS}
    for phase, name, source, scope, kind, maestro in attack_rows:
        a = names[name.split(" (")[0]]
        assert a.phase.value == phase.lower() and a.source.value == source and a.type.value == kind, name
        assert tuple(m.strip() for m in maestro.split(",")) == a.maestro, name
        short = {"intra": Scope.INTRA_FLOW, "single-flow": Scope.SINGLE_FLOW, "inter-flow": Scope.INTER_FLOW}
        assert short[scope.split(" (")[0]] is a.scope, name
        if a.element is not None:
            assert FlowElement(scope.split("(")[1].rstrip(")")) is a.element, name


@pytest.mark.skipif(
    not DESIGN.is_file(), reason="the design notes (../shared/DESIGN.md) sit beside CI checkouts only"
)
def test_the_repository_copy_of_the_tables_matches_the_design_notes():
    assert _tables(TABLES.read_text()) == _tables(DESIGN.read_text())
