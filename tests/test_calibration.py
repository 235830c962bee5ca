"""A guardian's operating point (``mcip.calibration``, ``train.calibrate``): the biases move verdicts as written,
a fit recovers a known bias and never scores worse than the raw model on its own items, bad files name the
field, and every reader of a folder (``load_guardian``, ``train.evaluate``, export and ship) carries it."""

from __future__ import annotations

import json
import math
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mcip.calibration import CALIBRATION_FILE, RISKS, Calibration, CalibrationError
from mcip.taxonomy import SAFE
from train.calibrate import CalibrateConfig, calibrate, fit
from train.metrics import rr_macro_f1

REPO = Path(__file__).resolve().parents[1]
CLEAR_CUT = REPO / "tests/fixtures/clear_cut.jsonl"


def _probs(p_unsafe: float, shares: dict[str, float]) -> dict[str, float]:
    total = sum(shares.values())
    return {SAFE: 1 - p_unsafe, **{r: p_unsafe * shares.get(r, 0.0) / total for r in RISKS}}


def test_no_bias_reads_the_raw_verdict_and_biases_move_it():
    raw = _probs(0.3, {r: 1.0 for r in RISKS} | {RISKS[2]: 3.0, RISKS[5]: 2.0})
    p, label, probs = Calibration().apply(raw)
    assert label == SAFE and p == pytest.approx(0.3)
    assert probs == pytest.approx(raw)

    cal = Calibration(unsafe_bias=math.log(3), letter_bias={RISKS[5]: 1.0})
    p, label, probs = cal.apply(raw)
    assert p == pytest.approx(0.3 * 3 / (0.3 * 3 + 0.7))  # odds times e^bias
    assert label == RISKS[5]  # log 2 + 1 beats log 3
    assert sum(probs.values()) == pytest.approx(1.0)
    assert max((r for r in RISKS), key=probs.get) == RISKS[5]


def test_the_unsafe_bias_keeps_the_ranking():
    cal = Calibration(unsafe_bias=-2.5)
    raws = [i / 20 for i in range(1, 20)]
    shifted = [cal.apply(_probs(p, {RISKS[0]: 1.0}))[0] for p in raws]
    assert shifted == sorted(shifted) and len(set(shifted)) == len(shifted)


def _biased_model(n: int, seed: int) -> tuple[list[dict], list[str]]:
    """A model that ranks well but decides badly: unsafe logs get P(unsafe) 0.15-0.4 (safe ones 0.01-0.2), and
    its letters lean to the first risk by e^2."""
    rng = random.Random(seed)
    rows, truth = [], []
    for i in range(n):
        label = SAFE if i % 3 == 0 else RISKS[i % len(RISKS)]
        p = rng.uniform(0.01, 0.2) if label == SAFE else rng.uniform(0.15, 0.4)
        shares = {r: rng.uniform(0.5, 1.0) for r in RISKS}
        shares[RISKS[0]] *= math.e**2
        if label != SAFE:
            shares[label] *= math.e**1.5
        rows.append(_probs(p, shares))
        truth.append(label)
    return rows, truth


def test_a_fit_undoes_a_known_bias_and_holds_on_fresh_items():
    rows, truth = _biased_model(600, seed=1)
    cal, scores = fit(rows, truth)
    assert scores["rr_macro_f1_before"] < 0.2 < 0.8 < scores["rr_macro_f1_after"]
    assert cal.unsafe_bias > 0.5  # raised P(unsafe): the raw cut at 0.5 flags nothing
    assert cal.letter_bias[RISKS[0]] < -0.4  # the favoured letter pushed down
    fresh, fresh_truth = _biased_model(300, seed=2)
    labels = [cal.apply(r)[1] for r in fresh]
    assert sum(a == b for a, b in zip(labels, fresh_truth)) / len(fresh) > 0.8


def _sessions(rows: list[dict], truth: list[str], seed: int):
    """The biased model read per call: each record a session of 2-5 positions, its own row at a random one and
    safe logs' rows at the others. Returns the positions, each record's positions, and each position's truth."""
    rng = random.Random(seed)
    safe = [r for r, t in zip(rows, truth) if t == SAFE]
    positions, groups, at = [], [], []
    for row, label in zip(rows, truth):
        calls = [(rng.choice(safe), SAFE) for _ in range(rng.randint(1, 4))]
        calls.insert(rng.randrange(len(calls) + 1), (row, label))
        groups.append(list(range(len(positions), len(positions) + len(calls))))
        positions += [c[0] for c in calls]
        at += [c[1] for c in calls]
    return positions, groups, at


def _read(cal: Calibration, positions: list[dict], groups: list[list[int]]) -> list[str]:
    labels = [cal.apply(r)[1] for r in positions]
    return [next((labels[i] for i in g if labels[i] != SAFE), SAFE) for g in groups]


def test_a_per_call_fit_scores_sessions_by_their_first_unsafe_call():
    """A stream guardian's reading: the biases apply to every call, and each session is judged by its first unsafe
    call, so a flag on any safe call before it spoils the session."""
    rows, truth = _biased_model(600, seed=1)
    positions, groups, at = _sessions(rows, truth, seed=3)
    cal, scores = fit(positions, truth, groups=groups)
    assert scores["rr_macro_f1_before"] < 0.2 < 0.7 < scores["rr_macro_f1_after"]
    assert cal.letter_bias[RISKS[0]] < -0.4
    assert scores["rr_macro_f1_after"] == pytest.approx(
        rr_macro_f1(truth, _read(cal, positions, groups)), abs=1e-4
    )
    fresh, fresh_groups, fresh_at = _sessions(*_biased_model(300, seed=2), seed=4)
    fresh_truth = [next((fresh_at[i] for i in g if fresh_at[i] != SAFE), SAFE) for g in fresh_groups]
    right = sum(a == b for a, b in zip(_read(cal, fresh, fresh_groups), fresh_truth)) / len(fresh_truth)
    assert right > 0.7  # it holds on fresh sessions
    with pytest.raises(ValueError, match="per group"):
        fit(positions, truth[:-1], groups=groups)


def test_a_model_that_needs_nothing_gets_nothing():
    rows, truth = [], []
    for i in range(66):
        label = SAFE if i % 2 else RISKS[i % len(RISKS)]
        rows.append(_probs(0.1 if label == SAFE else 0.9, {r: 5.0 if r == label else 1.0 for r in RISKS}))
        truth.append(label)
    cal, scores = fit(rows, truth)
    assert cal.unsafe_bias == 0.0 and cal.letter_bias == {}
    assert scores["rr_macro_f1_before"] == scores["rr_macro_f1_after"]


@pytest.mark.parametrize(
    "content, field",
    [
        ("{", "unreadable"),
        ("[]", "not a JSON object"),
        ('{"unsafe_bias": "high"}', "unsafe_bias"),
        ('{"letter_bias": {"made_up": 1.0}}', "letter_bias.made_up"),
        (f'{{"letter_bias": {{"{RISKS[0]}": NaN}}}}', f"letter_bias.{RISKS[0]}"),
        ('{"threshold": 0.3}', "threshold"),
    ],
)
def test_a_bad_file_names_itself_and_the_field(tmp_path, content, field):
    (tmp_path / CALIBRATION_FILE).write_text(content)
    with pytest.raises(CalibrationError) as err:
        Calibration.load(tmp_path)
    assert str(tmp_path / CALIBRATION_FILE) in str(err.value) and field in str(err.value)


def test_a_folder_with_a_bad_calibration_does_not_load(tiny_model_dir, tmp_path):
    from mcip.folder import ModelError, ModelFolder

    model = shutil.copytree(tiny_model_dir, tmp_path / "m")
    (model / CALIBRATION_FILE).write_text('{"unsafe_bias": null}')
    with pytest.raises(ModelError, match="unsafe_bias"):
        ModelFolder.read(str(model))


def test_the_loaded_guardian_reads_verdicts_through_the_folders_calibration(tiny_model_dir, tmp_path):
    from mcip.examples import EXAMPLES
    from mcip.guardian import load_guardian

    model = shutil.copytree(tiny_model_dir, tmp_path / "m")
    cal = Calibration(unsafe_bias=30.0, letter_bias={RISKS[3]: 40.0})
    cal.save(model)
    traj = EXAMPLES["bmi-injected"]()
    raw = load_guardian(str(model), progress=False, calibrate=False)
    on = load_guardian(str(model), progress=False)
    assert raw.calibration is None and on.calibration == cal
    (r,), (c,) = raw.score([raw.prompt(traj)]), on.score([on.prompt(traj)])
    assert c.probs == pytest.approx(cal.apply(r.probs)[2])
    assert c.p_unsafe > 0.99 and c.label == RISKS[3]
    # the per-call pass (the guard's path) reads through it too
    assert all(s.label == RISKS[3] for s in on.judge_positions(traj))


def _evaluate(model: Path, out: Path, *args: str) -> dict:
    cmd = [sys.executable, "-m", "train.evaluate", "--model", str(model), "--data", str(CLEAR_CUT)]
    proc = subprocess.run(
        [*cmd, "--mode", "fast", "--output", str(out), *args], capture_output=True, text=True, cwd=REPO
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((out / "metrics.json").read_text())


def test_fit_from_an_evaluation_then_evaluate_through_it(tiny_model_dir, tmp_path):
    """The path a user takes: a raw fast run, a fit from its predictions, and the next run reads through it."""
    model = shutil.copytree(tiny_model_dir, tmp_path / "m")
    raw = _evaluate(model, tmp_path / "raw")
    assert raw["calibration"] is None
    preds = tmp_path / "raw" / "predictions.jsonl"
    assert all(set(json.loads(line)["probs"]) == {SAFE, *RISKS} for line in preds.read_text().splitlines())

    with pytest.raises(CalibrationError, match="test split"):
        calibrate(CalibrateConfig(model=str(model), split="test_unseen"))
    proc = subprocess.run(
        [sys.executable, "-m", "train.calibrate", "--model", str(model), "--predictions", str(preds)],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    cal = Calibration.load(model)
    assert cal.fitted_on["predictions"] == str(preds) and cal.fitted_on["n"] == raw["n"]

    on = _evaluate(model, tmp_path / "on")
    assert on["calibration"] == cal.to_dict()
    assert on["risk_resistance"]["macro_f1"] == pytest.approx(cal.fitted_on["rr_macro_f1_after"], abs=1e-3)
    assert on["safety_awareness"]["macro_f1"] >= raw["safety_awareness"]["macro_f1"]  # the cut's own score
    assert on["unsafe"].get("auprc") == pytest.approx(raw["unsafe"].get("auprc"))  # the ranking is untouched
    # a refit from the calibrated run's probs goes on top of the calibration they went through: here it is
    # already the best on these items, so the refit keeps it as it is
    again = calibrate(
        CalibrateConfig(model=str(model), predictions=str(tmp_path / "on" / "predictions.jsonl"))
    )
    assert (again.unsafe_bias, again.letter_bias) == (cal.unsafe_bias, cal.letter_bias)
    (tmp_path / "on" / "metrics.json").unlink()
    with pytest.raises(CalibrationError, match="metrics.json"):
        calibrate(CalibrateConfig(model=str(model), predictions=str(tmp_path / "on" / "predictions.jsonl")))
    off = _evaluate(model, tmp_path / "off", "--calibration", "false")
    assert off["calibration"] is None
    assert off["risk_resistance"]["macro_f1"] == raw["risk_resistance"]["macro_f1"]


def test_biases_fitted_on_calibrated_verdicts_add_to_the_calibration():
    from train.calibrate import compose

    first = Calibration(0.7, {RISKS[0]: -1.0, RISKS[4]: 0.5})
    then = Calibration(-0.2, {RISKS[0]: 1.0, RISKS[6]: 0.25})
    both = compose(first, then)
    raw = _probs(0.4, {r: 1.0 + i for i, r in enumerate(RISKS)})
    p, label, probs = both.apply(raw)
    chained = then.apply(first.apply(raw)[2])
    assert p == pytest.approx(chained[0]) and label == chained[1] and probs == pytest.approx(chained[2])
    assert RISKS[0] not in both.letter_bias  # -1 + 1: no bias left


def test_predictions_without_probs_are_refused_by_record(tmp_path):
    path = tmp_path / "predictions.jsonl"
    path.write_text(json.dumps({"id": "a", "label": SAFE, "probs": {SAFE: 1.0}}) + "\n" + '{"id": "b"}\n')
    with pytest.raises(CalibrationError, match=r"record 2 \(b\): field probs"):
        calibrate(CalibrateConfig(model=str(tmp_path), predictions=str(path)))


def test_the_benchmark_scores_raw_and_calibrated_from_one_pass(tiny_model_dir, tmp_path):
    from benchmarks.calibration import measure

    model = shutil.copytree(tiny_model_dir, tmp_path / "m")
    Calibration(unsafe_bias=30.0).save(model)
    r = measure(str(model), str(CLEAR_CUT), "test", 11, seed=0)
    assert r["n"] == 11 and r["calibration"]["unsafe_bias"] == 30.0
    assert r["calibrated"]["unsafe_recall"] == 1.0 and r["calibrated"]["safe_flagged"] == 1.0
    assert r["calibrated"]["auroc"] == r["raw"]["auroc"]  # a bias moves the cut, not the ranking
    assert r["calibrated"]["attack_letter_accuracy"] == r["raw"]["attack_letter_accuracy"]
