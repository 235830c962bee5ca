"""Per-call labels (issue 22): every call and answer of a generated record is labelled, for every class."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mcip.calls import CallLabelError, per_call_labels, positions, record_label
from mcip.examples import EXAMPLES
from mcip.flows import ends_with_proposed_call
from mcip.taxonomy import LABEL_STRINGS, SAFE

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def records(default_records):
    return default_records


def test_every_class_gets_one_unsafe_position_that_carries_it(records):
    seen = set()
    for traj in records:
        labels = traj.meta["call_labels"]
        assert [{k: v for k, v in p.items() if k != "label"} for p in labels] == positions(traj)
        unsafe = [p for p in labels if p["label"] != SAFE]
        assert record_label(labels) == traj.label
        if traj.label == SAFE:
            assert not unsafe
            continue
        assert len(unsafe) == 1 and unsafe[0]["label"] == traj.label
        # Data Injection deviates in an answer; every other class in a call.
        assert ("answer" in unsafe[0]) == (traj.label == "data_injection")
        seen.add(traj.label)
    assert seen == set(LABEL_STRINGS) - {SAFE}


def test_positions_before_the_deviation_are_safe_and_later_ones_are_judged_on_their_own(records):
    later = 0
    for traj in records:
        labels = traj.meta["call_labels"]
        if traj.label == SAFE:
            continue
        at = next(i for i, p in enumerate(labels) if p["label"] != SAFE)
        assert all(p["label"] == SAFE for p in labels[:at])
        later += sum(1 for p in labels[at + 1 :] if "call" in p)
        if ends_with_proposed_call(traj):  # the guard's view: the call under review is the deviating one
            assert labels[-1]["call"] == traj.messages[-1].tool_calls[-1].id and at == len(labels) - 1
    assert later > 0  # the rule for calls after the deviation is exercised, not vacuous


def test_a_record_that_names_a_position_it_lacks_is_an_error():
    traj = EXAMPLES["bmi-injected"]()
    with pytest.raises(CallLabelError, match="not among the record's positions"):
        per_call_labels(traj, "function_injection", "call_missing")
    with pytest.raises(CallLabelError, match="neither its deviating call nor its deviating answer"):
        per_call_labels(traj, "function_injection", None, None)
    assert json.dumps(per_call_labels(traj, SAFE, None))  # plain JSON, stored in meta
