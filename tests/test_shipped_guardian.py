"""The guardian shipped in guardians/ answers clear-cut logs right: a change to the prompt format, the parser or the
loading code that silently breaks it fails here, on CPU, with nothing but the offline base (``make models``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mcip.record import load_jsonl
from mcip.taxonomy import LABELS
from tests.conftest import REPO

SHIPPED = sorted(p.parent for p in (REPO / "guardians").glob("*/adapter_config.json"))
CLEAR_CUT = REPO / "tests/fixtures/clear_cut.jsonl"  # one short generated log per label


def test_the_clear_cut_set_has_one_record_per_label():
    records = load_jsonl(CLEAR_CUT)
    assert sorted(r.label for r in records) == sorted(lb.string for lb in LABELS)


def _expected(guardian: Path) -> list[dict]:
    path = guardian / "clear_cut_predictions.jsonl"
    assert path.is_file(), (
        f"{guardian}: shipped without clear_cut_predictions.jsonl (make guardian-ship writes it)"
    )
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.slow
@pytest.mark.skipif(not SHIPPED, reason="no guardian shipped: make guardian, then make guardian-ship")
@pytest.mark.parametrize("guardian", SHIPPED, ids=lambda p: p.name)
def test_the_shipped_guardian_answers_clear_cut_logs_as_when_it_shipped(
    guardian: Path, smollm2_dir, tmp_path
):
    """Its answers on one log per label, from the repository with nothing but the offline base, are the ones it gave
    when it was shipped (same choice, P(unsafe) within bf16 noise); once its card reaches the target, 9 of 11 are
    right. A change to the format, parser, budget rule or loading code that silently alters it fails here."""
    from train.evaluate import main

    config = json.loads((guardian / "adapter_config.json").read_text())
    assert (
        config["base_model_name_or_path"] == "models/smollm2-135m-instruct"
    )  # the offline base, nothing else
    out = tmp_path / "eval"
    assert (
        main(["--model", str(guardian), "--data", str(CLEAR_CUT), "--mode", "fast", "--output", str(out)])
        == 0
    )
    predictions = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    expected = {p["id"]: p for p in _expected(guardian)}
    assert sorted(expected) == sorted(p["id"] for p in predictions)
    for p in predictions:
        want = expected[p["id"]]
        assert p["predicted"] == want["predicted"], (p["id"], p["predicted"], want["predicted"])
        assert p["p_unsafe"] == pytest.approx(want["p_unsafe"], abs=0.02)
    right = sum(p["label"] == p["predicted"] for p in predictions)
    scored = guardian / "metrics_test_unseen.json"  # a run's saved resume point (make guardian-save) has none
    reached = scored.is_file() and json.loads(scored.read_text())["risk_resistance"]["macro_f1"] >= 0.75
    if reached:  # the target: then clear-cut logs must be right
        assert right >= 9, [(p["label"], p["predicted"]) for p in predictions]
