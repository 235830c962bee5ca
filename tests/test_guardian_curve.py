"""The learning-curve benchmark on a real tiny run: its points, their baselines, and the evaluations it reuses."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sklearn.metrics import f1_score

from benchmarks import guardian_curve
from mcip.taxonomy import LABEL_STRINGS
from tests.conftest import launch, log_history, ok

SMALL_RECIPE = Path(__file__).resolve().parents[1] / "recipes/data/small.yaml"


@pytest.fixture(scope="module")
def curve_run(tmp_path_factory, tiny_model_dir):
    """A 4-step run of the tiny model (checkpoints at steps 2 and 4) and data with a test_unseen split."""
    from data_gen.build import build
    from data_gen.recipe import load_recipe

    tmp = tmp_path_factory.mktemp("curve")
    sizes = ["--train_size", "32", "--validation_size", "4", "--test_size", "4", "--test_unseen_size", "12"]
    data = tmp / "ds"
    build(load_recipe(SMALL_RECIPE, ["--output_dir", str(data), "--num_proc", "1", *sizes]), progress=False)
    run = tmp / "run"
    ok(launch(tiny_model_dir, data, run, "--max_steps", "4", "--save_steps", "2", "--eval_strategy", "no"))
    return run, data


def _curve(run, data, out, every: int = 2) -> dict:
    """The benchmark as a user runs it, on 8 items; the result file it leaves."""
    argv = ["--run", str(run), "--data", str(data), "--n", "8", "--every", str(every), "--out", str(out)]
    assert guardian_curve.main(argv) == 0
    return json.loads(out.read_text())


@pytest.mark.slow
def test_curve_points_carry_the_run_the_scores_and_the_majority_on_the_same_items(curve_run, tmp_path):
    from datasets import load_from_disk

    run, data = curve_run
    result = _curve(run, data, tmp_path / "curve.json")
    points = {p["step"]: p for p in result["points"]}
    unseen_ids = {r["id"] for r in load_from_disk(str(data))["test_unseen"]}
    assert list(points) == [2, 4] and result["split"] == "test_unseen"
    losses = {e["step"]: e["loss"] for e in log_history(run) if "loss" in e}
    for step, p in points.items():
        assert p["examples"] == step * 4 and p["n"] == 8  # the launch helper's batch of 4
        assert p["train_loss"] == pytest.approx(sum(losses[s] for s in range(1, step + 1)) / step, abs=1e-4)
        folder = run / f"checkpoint-{step}/eval/curve-ds-test_unseen-8"
        scored = json.loads((folder / "metrics.json").read_text())
        assert p["rr_macro_f1"] == scored["risk_resistance"]["macro_f1"]
        # the majority baseline is the most frequent label of the very items scored
        rows = [json.loads(line) for line in (folder / "predictions.jsonl").open()]
        assert len(rows) == 8 and {r["id"] for r in rows} <= unseen_ids
        truth = [r["label"] for r in rows]
        top = max(set(truth), key=truth.count)
        want = f1_score(
            truth, [top] * len(truth), labels=list(LABEL_STRINGS), average="macro", zero_division=0
        )
        assert p["majority_rr_macro_f1"] == pytest.approx(want, abs=1e-6)


@pytest.mark.slow
def test_points_persist_across_sittings_and_other_data_is_scored_apart(curve_run, tmp_path):
    run, data = curve_run
    out = tmp_path / "curve.json"
    before = _curve(run, data, out)["points"]
    # a later sitting: runs/ lost its first checkpoint, the result file keeps its point
    gone = run.parent / "run-later"
    shutil.copytree(run, gone)
    shutil.rmtree(gone / "checkpoint-2")
    assert _curve(gone, data, out)["points"] == before
    # the same checkpoints scored on other data get their own evaluation folder, never the first data's scores
    other = data.parent / "other"
    shutil.copytree(data, other)
    assert [p["step"] for p in _curve(run, other, tmp_path / "curve-other.json", every=4)["points"]] == [4]
    assert (run / "checkpoint-4/eval/curve-other-test_unseen-8/metrics.json").is_file()


@pytest.mark.slow
def test_loss_table_bins_each_runs_logged_loss(curve_run, capsys):
    run, _ = curve_run
    assert guardian_curve.main(["--loss-bins", "2", str(run)]) == 0
    rows = capsys.readouterr().out.strip().splitlines()
    losses = {e["step"]: e["loss"] for e in log_history(run) if "loss" in e}
    assert rows[2].startswith("| 1-2 | 8 | ") and rows[3].startswith("| 3-4 | 16 | ")
    assert float(rows[3].split("|")[3]) == pytest.approx((losses[3] + losses[4]) / 2, abs=1e-3)
