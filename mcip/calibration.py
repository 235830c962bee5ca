"""A guardian's operating point: biases on the logits its verdict is read from, fitted on a validation split.

Why: a small guardian ranks logs better than its 0.5 cut decides them. The CPU guardian's curve kept AUPRC at
0.71-0.72 while its verdict swung from one checkpoint to the next between answering nearly everything "safe"
and nearly everything "unsafe", and its letters lean on a few classes. Llama Guard and Granite Guardian leave
the cut to the user; we ship one fitted on held-out data (``train.calibrate``) beside the weights, as
``mcip_calibration.json``: one bias on the unsafe-vs-safe logit and one per risk letter.

Every reader sees calibrated numbers and still cuts at 0.5: ``LoadedGuardian`` applies the file to each local
verdict (evaluation's fast and per-call modes, the guard, its policy thresholds, review), so nothing downstream
changes. P(unsafe) stays monotone in the raw one: AUPRC and every ranking are unchanged. Generated answers (the
paper protocol, endpoints) carry no probabilities to shift and are read as they are.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mcip.taxonomy import LABEL_STRINGS, SAFE

CALIBRATION_FILE = "mcip_calibration.json"
RISKS = tuple(lb for lb in LABEL_STRINGS if lb != SAFE)
_FLOOR = 1e-30  # a letter the model gives no mass keeps a finite log


class CalibrationError(ValueError):
    """An unreadable or invalid ``mcip_calibration.json``; the message names the file and the field."""


def _logit(p: float) -> float:
    p = min(max(p, 1e-12), 1 - 1e-12)
    return math.log(p / (1 - p))


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x)) if x >= 0 else math.exp(x) / (1 + math.exp(x))


def _number(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise CalibrationError(f"{name}: {value!r} is not a finite number")
    return float(value)


@dataclass(frozen=True)
class Calibration:
    """``unsafe_bias`` is added to logit P(unsafe); ``letter_bias[label]`` to the log of that risk's share of the
    unsafe mass. ``fitted_on`` says where they come from (data, split, items, macro-F1 before and after)."""

    unsafe_bias: float = 0.0
    letter_bias: dict[str, float] = field(default_factory=dict)
    fitted_on: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        _number(self.unsafe_bias, "unsafe_bias")
        if not isinstance(self.letter_bias, dict):
            raise CalibrationError(f"letter_bias: {self.letter_bias!r} is not an object")
        for label, bias in self.letter_bias.items():
            if label not in RISKS:
                raise CalibrationError(f"letter_bias.{label}: not a risk label ({', '.join(RISKS)})")
            _number(bias, f"letter_bias.{label}")
        if not isinstance(self.fitted_on, dict):
            raise CalibrationError(f"fitted_on: {self.fitted_on!r} is not an object")

    def apply(self, probs: dict[str, float]) -> tuple[float, str, dict[str, float]]:
        """(P(unsafe), label, per-class P) from a verdict's raw per-class probabilities (``fast_scores``)."""
        p = _sigmoid(_logit(1.0 - probs.get(SAFE, 0.0)) + self.unsafe_bias)
        risks = {r: q for r, q in probs.items() if r != SAFE}
        weights = {
            r: math.exp(math.log(max(q, _FLOOR)) + self.letter_bias.get(r, 0.0)) for r, q in risks.items()
        }
        total = sum(weights.values()) or 1.0
        out = {SAFE: 1.0 - p, **{r: p * w / total for r, w in weights.items()}}
        label = SAFE if p < 0.5 or not weights else max(weights, key=weights.get)
        return p, label, out

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def save(self, folder) -> Path:
        from mcip.io import atomic_write

        path = Path(folder) / CALIBRATION_FILE
        with atomic_write(path) as fh:
            json.dump(self.to_dict(), fh, indent=2, sort_keys=True)
            fh.write("\n")
        return path

    @classmethod
    def load(cls, folder) -> Calibration | None:
        """The calibration saved in ``folder``, or None. A checkpoint's own only: a run's later checkpoints are
        other models, so none inherits one. A bad file is an error naming it and the field, never ignored."""
        path = Path(folder) / CALIBRATION_FILE
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise CalibrationError(f"{path}: unreadable ({str(err).splitlines()[0]})") from None
        return cls.from_dict(data, str(path))

    @classmethod
    def from_dict(cls, data, where: str) -> Calibration:
        """A saved calibration (``to_dict``) back; errors name ``where`` it was read from and the field."""
        if not isinstance(data, dict):
            raise CalibrationError(f"{where}: not a JSON object")
        unknown = sorted(set(data) - {"unsafe_bias", "letter_bias", "fitted_on"})
        if unknown:
            raise CalibrationError(f"{where}: unknown field {unknown[0]!r}")
        try:
            return cls(**data)
        except CalibrationError as err:
            raise CalibrationError(f"{where}: {err}") from None
