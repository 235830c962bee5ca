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


@pytest.mark.skipif(
    not SHIPPED, reason="no guardian shipped yet: benchmarks/reference_guardian.py makes one on a GPU"
)
@pytest.mark.parametrize("guardian", SHIPPED, ids=lambda p: p.name)
def test_the_shipped_guardian_answers_clear_cut_logs(guardian: Path, smollm2_dir, tmp_path):
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
    right = sum(p["label"] == p["predicted"] for p in predictions)
    assert right >= 9, [(p["label"], p["predicted"]) for p in predictions]
