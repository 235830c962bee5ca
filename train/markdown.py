"""What the evaluation report and the model card share: the metric list, dotted look-ups, percentages and fences
that untrusted text cannot break out of."""

from __future__ import annotations

import re
from typing import Any

# (key path in metrics.json, model-index metric type, display name), in the order tables show them
METRICS = (
    ("risk_resistance.accuracy", "accuracy", "Risk Resistance accuracy (11-way)"),
    ("risk_resistance.macro_f1", "f1", "Risk Resistance macro-F1 (11-way)"),
    ("safety_awareness.accuracy", "accuracy", "Safety Awareness accuracy (binary)"),
    ("safety_awareness.macro_f1", "f1", "Safety Awareness macro-F1 (binary)"),
    ("unsafe.precision", "precision", "Unsafe precision"),
    ("unsafe.recall", "recall", "Unsafe recall"),
    ("unsafe.auprc", "auprc", "Unsafe AUPRC (first-token P(unsafe))"),
    ("safe.false_positive_rate", "false_positive_rate", "False positive rate on safe logs"),
    ("parse_failure_rate", "parse_failure_rate", "Parse failure rate"),
)
METRIC_PATHS = tuple(path for path, _, _ in METRICS)


def lookup(data: Any, dotted: str) -> Any:
    """A value by dotted path (``risk_resistance.accuracy``), None when absent."""
    for key in dotted.split("."):
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def pct(value: Any, missing: str = "-") -> str:
    """A share as a percentage with two decimals; ``missing`` for anything that is not a number."""
    return f"{100 * value:.2f}" if is_number(value) else missing


def printable(text: str) -> str:
    return "".join(c if c.isprintable() or c in "\n\t" else f"\\x{ord(c):02x}" for c in text)


def fence(text: str, lang: str = "") -> str:
    """A code block that no backtick run in untrusted text can close early; control characters escaped."""
    text = printable(text)
    ticks = "`" * max(3, max((len(m) for m in re.findall(r"`+", text)), default=0) + 1)
    return f"{ticks}{lang}\n{text}\n{ticks}"
