"""Fit a guardian's operating point on a held-out split and save it beside its weights (``mcip.calibration``).

    python -m train.calibrate --model guardians/smollm2-135m-mcip-cpu --data data/mcip-synth --split validation

Scores ``--limit`` seeded items of the split with the raw model (fast mode: one forward pass each), then chooses
the unsafe bias for SA macro-F1 (the cut: which logs are flagged) and, at that cut, the ten letter biases for RR
macro-F1 (which risk a flagged log is named), by coordinate ascent from no bias at all (``fit``): neither stage
scores worse than the raw model on the items it saw. The biases and what they did go to ``MODEL/mcip_calibration.json`` (atomically); every later
reader of the folder (evaluation, the guard) applies them. Test splits are refused: fit on one split, report on
another. ``--predictions`` refits from an earlier ``train.evaluate`` fast run's ``predictions.jsonl`` (its
``probs``) instead of scoring again; where that run read them through a calibration (its ``metrics.json`` says),
the new biases are fitted on top of it and saved added to it.

A stream-format guardian is read per call (every position of a log in one pass, the log's verdict its first unsafe
call's), so it is fitted on that reading: the biases go on every position, the scores on the records. The fit reads
one raw pass, where each chat holds the model's raw earlier verdicts; read through the biases, an earlier verdict
that flips changes the chats after it, so evaluate after fitting (on another split) for the number to report.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from trl import TrlParser

from mcip.calibration import RISKS, Calibration, CalibrationError
from mcip.calls import first_unsafe
from mcip.folder import ModelError
from mcip.record import RecordError
from mcip.scoring import ScoringError, TemplateError
from mcip.taxonomy import SAFE, binary
from train.metrics import rr_macro_f1, sa_macro_f1

HELD_OUT = ("test", "test_unseen")
UNSAFE_GRID = np.round(np.arange(-8.0, 8.0001, 0.1), 2)
LETTER_GRID = np.round(np.arange(-6.0, 6.0001, 0.25), 2)


@dataclass
class CalibrateConfig:
    model: str = field(
        metadata={"help": "the guardian folder to calibrate (its mcip_calibration.json is written)"}
    )
    data: str = field(default="data/mcip-synth", metadata={"help": "a save_to_disk DatasetDict folder"})
    split: str = field(default="validation", metadata={"help": "a held-out split other than the test splits"})
    limit: int | None = field(default=1000, metadata={"help": "a seeded sample of this many records"})
    seed: int = 42
    batch_size: int = 8
    predictions: str | None = field(
        default=None,
        metadata={"help": "refit from a fast run's predictions.jsonl (with probs) instead of scoring again"},
    )
    dry_run: bool = field(default=False, metadata={"help": "print the fit, write nothing"})


class _Table:
    """The raw verdicts as arrays: logit P(unsafe) and log letter shares, so a bias is one add and an argmax."""

    def __init__(self, rows: Sequence[dict[str, float]]):
        p = np.clip(np.array([1.0 - r.get(SAFE, 0.0) for r in rows]), 1e-12, 1 - 1e-12)
        self.z = np.log(p / (1 - p))
        shares = np.array([[max(r.get(k, 0.0), 1e-30) for k in RISKS] for r in rows])
        self.logs = np.log(shares / shares.sum(axis=1, keepdims=True))

    def labels(self, unsafe_bias: float, letter_bias: np.ndarray) -> list[str]:
        letters = np.asarray(RISKS)[np.argmax(self.logs + letter_bias, axis=1)]
        return [lb if z + unsafe_bias >= 0 else SAFE for z, lb in zip(self.z, letters)]


def _ascend(score, start: float, grid) -> tuple[float, float]:
    """The grid value maximising ``score`` (smallest magnitude first, a move only when strictly better)."""
    best, value = score(start), start
    for v in sorted(grid, key=abs):
        f = score(float(v))
        if f > best + 1e-9:
            best, value = f, float(v)
    return value, best


def fit(
    rows: Sequence[dict[str, float]],
    truth: Sequence[str],
    rounds: int = 6,
    groups: Sequence[Sequence[int]] | None = None,
) -> tuple[Calibration, dict]:
    """The biases for ``rows`` (raw per-class probabilities) against ``truth``, in two stages: the unsafe bias for
    SA macro-F1 (whether a log is flagged), then the letter biases for RR macro-F1 at that cut (which risk it
    names), by coordinate ascent. A joint fit for RR macro-F1 alone flags nearly everything (ten risk classes
    outweigh one safe class in its average: on our validation split it took the CPU guardian to 90-95% of safe
    logs flagged); here the letters cannot move the cut. Each stage starts from no bias and moves only when
    strictly better, so neither scores worse than the raw model on these items.

    ``groups`` (a stream guardian's per-call reading): ``rows`` are positions, ``groups[i]`` the rows of record
    ``i`` in order, and record ``i``'s verdict is its first unsafe position's (``first_unsafe``), scored against
    ``truth[i]``; the biases apply to every position, as the guard reads each call."""
    if len(groups if groups is not None else rows) != len(truth) or not rows:
        raise ValueError("fit needs one truth label per row (per group), and at least one row")
    table = _Table(rows)

    def labels(unsafe: float, letter_bias: np.ndarray) -> list[str]:
        at = table.labels(unsafe, letter_bias)
        return at if groups is None else [first_unsafe(at[i] for i in g) for g in groups]

    letters = np.zeros(len(RISKS))
    raw = labels(0.0, letters)
    truth_b = [binary(t) for t in truth]

    def sa(labels: list[str]) -> float:
        return sa_macro_f1(truth_b, [binary(lb) for lb in labels])

    rr_before, sa_before = rr_macro_f1(truth, raw), sa(raw)
    unsafe, sa_after = _ascend(lambda v: sa(labels(v, letters)), 0.0, UNSAFE_GRID)
    best = rr_macro_f1(truth, labels(unsafe, letters))
    for _ in range(rounds):
        moved = False
        for k in range(len(RISKS)):

            def at(v, k=k):
                trial = letters.copy()
                trial[k] = v
                return rr_macro_f1(truth, labels(unsafe, trial))

            v, f = _ascend(at, float(letters[k]), LETTER_GRID)
            if f > best + 1e-9:
                best, letters[k], moved = f, v, True
        if not moved:
            break
    bias = {r: float(b) for r, b in zip(RISKS, letters) if b}
    scores = {
        "sa_macro_f1_before": round(sa_before, 4),
        "sa_macro_f1_after": round(sa_after, 4),
        "rr_macro_f1_before": round(rr_before, 4),
        "rr_macro_f1_after": round(best, 4),
    }
    return Calibration(unsafe, bias), scores


def _through(path: str) -> Calibration | None:
    """The calibration a fast run's probabilities already went through, from the metrics.json beside them."""
    metrics = Path(path).with_name("metrics.json")
    try:
        saved = json.loads(metrics.read_text(encoding="utf-8")).get("calibration")
    except (OSError, json.JSONDecodeError, AttributeError) as err:
        raise CalibrationError(
            f"{metrics}: unreadable ({err}); --predictions needs the metrics.json train.evaluate wrote beside "
            "them (it says which calibration their probs went through)"
        ) from None
    return None if saved is None else Calibration.from_dict(saved, f"{metrics}: calibration")


def compose(first: Calibration | None, then: Calibration) -> Calibration:
    """``then`` fitted on verdicts already read through ``first``: the biases add (each is a shift of a logit)."""
    if first is None:
        return then
    letters = {r: first.letter_bias.get(r, 0.0) + then.letter_bias.get(r, 0.0) for r in RISKS}
    return Calibration(first.unsafe_bias + then.unsafe_bias, {r: b for r, b in letters.items() if b})


class _Verdicts:
    """What a fit reads: per-class probabilities per row, the truth per record and, for a per-call reading, each
    record's rows in order (``fit``'s ``groups``)."""

    def __init__(self):
        self.rows: list[dict[str, float]] = []
        self.truth: list[str] = []
        self.groups: list[list[int]] | None = None

    def add(self, label: str, probs: dict[str, float]) -> None:
        self.rows.append(probs)
        self.truth.append(label)

    def add_calls(self, label: str, calls: Sequence[dict[str, float]]) -> None:
        self.groups = [] if self.groups is None else self.groups
        self.groups.append(list(range(len(self.rows), len(self.rows) + len(calls))))
        self.rows += calls
        self.truth.append(label)


def _from_predictions(path: str) -> _Verdicts:
    """A fast run's probs, or a per-call run's (``calls``: a stream guardian's), whichever the file's first record
    has; every record must then have the same."""
    out, per_call = _Verdicts(), None
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            rec = json.loads(line)
            per_call = isinstance(rec.get("calls"), list) if per_call is None else per_call
            where = f"{path}: record {n} ({rec.get('id')})"
            if not per_call:
                if not isinstance(rec.get("probs"), dict):
                    raise CalibrationError(f"{where}: field probs missing (a fast run's file)")
                out.add(rec["label"], rec["probs"])
                continue
            calls = rec.get("calls")
            if not isinstance(calls, list) or not calls:
                raise CalibrationError(
                    f"{where}: field calls missing (a per-call run's file has it on every record)"
                )
            bad = next((k for k, c in enumerate(calls) if not isinstance((c or {}).get("probs"), dict)), None)
            if bad is not None:
                raise CalibrationError(f"{where}: field calls[{bad}].probs missing")
            out.add_calls(rec["label"], [c["probs"] for c in calls])
    return out


def _score(cfg: CalibrateConfig) -> _Verdicts:
    """The raw model's verdicts on the split: one fast score per log, or every call of each log in one pass for a
    stream-format guardian (as evaluation and the guard read it)."""
    from mcip.guardian import load_guardian
    from train.evaluate import load_examples

    examples = load_examples(cfg.data, cfg.split, cfg.limit, cfg.seed)
    guardian = load_guardian(cfg.model, batch_size=cfg.batch_size, calibrate=False)
    out = _Verdicts()
    if guardian.fmt.stream:
        for ex in examples:
            scores = guardian.judge_positions(ex.trajectory)
            if any(s.probs is None for s in scores):
                break
            out.add_calls(ex.label, [s.probs for s in scores])
    else:
        for ex, s in zip(examples, guardian.score([guardian.prompt(ex.trajectory) for ex in examples])):
            if s.probs is None:
                break
            out.add(ex.label, s.probs)
    if len(out.truth) < len(examples):
        raise ModelError(f"{cfg.model}: no per-class probabilities (calibration needs a local model)")
    return out


def calibrate(cfg: CalibrateConfig) -> Calibration:
    if cfg.split in HELD_OUT and not cfg.predictions:
        raise CalibrationError(
            f"--split {cfg.split}: a test split; fit on validation and report on the tests"
        )
    verdicts = _from_predictions(cfg.predictions) if cfg.predictions else _score(cfg)
    truth = verdicts.truth
    cal, scores = fit(verdicts.rows, truth, groups=verdicts.groups)
    if cfg.predictions:  # probs read through a calibration already: the new biases go on top of it
        cal = compose(_through(cfg.predictions), cal)
    majority = max(set(truth), key=truth.count)
    source = {"predictions": cfg.predictions} if cfg.predictions else {"data": cfg.data, "split": cfg.split}
    fitted_on = {
        **source,
        "n": len(truth),
        **({"read": "per call", "positions": len(verdicts.rows)} if verdicts.groups is not None else {}),
        "seed": cfg.seed,
        **scores,
        "rr_macro_f1_majority": round(rr_macro_f1(truth, [majority] * len(truth)), 4),
    }
    return Calibration(cal.unsafe_bias, cal.letter_bias, fitted_on)


def main(argv: list[str] | None = None) -> int:
    try:
        (cfg,) = TrlParser((CalibrateConfig,)).parse_args_and_config(argv)
        cal = calibrate(cfg)
        where = "(dry run: not written)" if cfg.dry_run else f"wrote {cal.save(Path(cfg.model))}"
    except (
        CalibrationError,
        ModelError,
        RecordError,
        ScoringError,
        TemplateError,
        OSError,
        ValueError,
    ) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    f = cal.fitted_on
    print(
        f"on {f['n']} items: SA macro-F1 {f['sa_macro_f1_before']} raw -> {f['sa_macro_f1_after']} calibrated, "
        f"RR macro-F1 {f['rr_macro_f1_before']} -> {f['rr_macro_f1_after']} (majority {f['rr_macro_f1_majority']}); unsafe bias {cal.unsafe_bias:+.2f}, letter biases "
        f"{json.dumps(cal.letter_bias)} {where}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
