"""Evaluation outputs: predictions, plots, a Markdown report, and the metrics files, written last.

Every file goes through ``mcip.io.atomic_write`` and the metrics files come last, so a run that fails part way
never leaves a new report beside an old ``metrics.json`` that it does not describe, nor overwrites a finished
``metrics.json``.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from mcip.io import atomic_write  # noqa: E402
from mcip.taxonomy import BINARY_LABELS  # noqa: E402
from train.markdown import METRIC_PATHS, fence, lookup, pct  # noqa: E402
from train.metrics import Prediction  # noqa: E402

# The paper's Table 2 (%), on its own benchmark (2,218 items: Glaive, and ToolACE for unseen functions).
PAPER_TABLE2: dict[str, dict[str, float | None]] = {
    "MCIP Guardian": {"rr_acc": 54.16, "rr_f1": 42.03, "unseen_acc": 41.64, "unseen_f1": 28.85, "sa_acc": 75.73, "sa_f1": 69.91},
    "DeepSeek-R1": {"rr_acc": 42.28, "rr_f1": 35.18, "unseen_acc": 49.42, "unseen_f1": 33.45, "sa_acc": 67.37, "sa_f1": 60.50},
    "xLAM-2-8b (base)": {"rr_acc": 13.35, "rr_f1": 8.84, "unseen_acc": None, "unseen_f1": None, "sa_acc": 57.43, "sa_f1": 49.18},
}  # fmt: skip
_PAPER_ROWS = (
    ("rr_acc", "Risk Resistance accuracy", "risk_resistance.accuracy"),
    ("rr_f1", "Risk Resistance macro-F1", "risk_resistance.macro_f1"),
    ("unseen_acc", "Unseen-function RR accuracy", None),
    ("unseen_f1", "Unseen-function RR macro-F1", None),
    ("sa_acc", "Safety Awareness accuracy", "safety_awareness.accuracy"),
    ("sa_f1", "Safety Awareness macro-F1", "safety_awareness.macro_f1"),
)


@dataclass
class ModeResult:
    """One evaluation mode's outputs: what the model said and what it scored."""

    mode: str
    predictions: list[Prediction]
    metrics: dict


def _is_wrong(p: Prediction) -> bool:
    if p.label in BINARY_LABELS:
        return p.unsafe is None or p.unsafe != (p.label == "unsafe")
    return p.predicted != p.label


def _plot_confusion(cm: dict, title: str, path: Path) -> None:
    labels, matrix = cm["labels"], cm["matrix"]
    size = 3 + 0.55 * len(labels)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    im = ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("truth")
    ax.set_title(title)
    top = max((v for row in matrix for v in row), default=0)
    for i, row in enumerate(matrix):
        for j, v in enumerate(row):
            if v:
                color = "white" if v > top / 2 else "black"
                ax.text(j, i, str(v), ha="center", va="center", fontsize=7, color=color)
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    _save(fig, path)


def _plot_f1(per_class: dict, title: str, path: Path) -> None:
    labels = list(per_class)
    f1 = [per_class[lb]["f1"] for lb in labels]
    fig, ax = plt.subplots(figsize=(7, 1 + 0.35 * len(labels)))
    ax.barh(range(len(labels)), f1, color="tab:blue")
    ax.set_yticks(range(len(labels)), [f"{lb} (n={per_class[lb]['support']})" for lb in labels], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("F1")
    ax.set_title(title)
    fig.tight_layout()
    _save(fig, path)


def _save(fig, path: Path) -> None:
    with atomic_write(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=110)
    plt.close(fig)


def _metric_table(metrics: dict) -> list[str]:
    base = metrics["baselines"]
    lines = [
        f"| metric (%) | ours | majority (`{base['majority']['predicts']}`) | "
        f"always unsafe (`{base['always_unsafe']['predicts']}`) |",
        "|---|---|---|---|",
    ]
    for key in METRIC_PATHS:
        if lookup(metrics, key) is None and key != "safe.false_positive_rate":
            continue
        cells = [pct(lookup(m, key), "—") for m in (metrics, base["majority"], base["always_unsafe"])]
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    return lines


def _paper_table(metrics: dict) -> list[str]:
    names = list(PAPER_TABLE2)
    lines = [
        "| metric (%) | ours | " + " | ".join(f"paper: {n}" for n in names) + " |",
        "|---|---|" + "---|" * len(names),
    ]
    for key, title, ours in _PAPER_ROWS:
        paper = [PAPER_TABLE2[n][key] for n in names]
        cells = [pct(lookup(metrics, ours), "—") if ours else "—"] + [
            "—" if v is None else f"{v:.2f}" for v in paper
        ]
        lines.append(f"| {title} | " + " | ".join(cells) + " |")
    return lines


def _per_class_table(per_class: dict) -> list[str]:
    lines = ["| label | precision | recall | F1 | support |", "|---|---|---|---|---|"]
    for lb, row in per_class.items():
        lines.append(
            f"| `{lb}` | {pct(row['precision'], '—')} | {pct(row['recall'], '—')} | {pct(row['f1'], '—')} | {row['support']} |"
        )
    return lines


def _wrong_sample(preds: Sequence[Prediction], seed: int) -> list[str]:
    wrong = [p for p in preds if _is_wrong(p)]
    picked = sorted(random.Random(seed).sample(range(len(wrong)), min(10, len(wrong))))
    lines = [f"{len(wrong)} of {len(preds)} answers are wrong; a sample of {len(picked)}:", ""]
    for i in picked:
        p = wrong[i]
        verdict = "unparsable" if p.unsafe is None else ("unsafe" if p.unsafe else "safe")
        said = f"{verdict} / {p.predicted or 'no choice'}"
        score = "" if p.p_unsafe is None else f", P(unsafe) {p.p_unsafe:.3f}"
        error = f", parse error: {p.error}" if p.error else ""
        lines.append(f"- `{p.id}`: truth `{p.label}`, predicted `{said}`{score}{error}")
        if p.raw is not None:
            lines += ["", fence(p.raw[:600]), ""]
    return lines


def _per_call_table(view: dict) -> list[str]:
    """The guard's view: caught at the call, false alarms per benign call, how late a detection came."""
    delay = view["delay"]

    def share(v) -> str:
        return f"{pct(v)}%" if v is not None else "—"

    return [
        "### Per call (the guard's view)",
        "",
        f"{view['positions']} positions in {view['sessions']} logs ({view['unsafe_positions']} unsafe); the record "
        "metrics above are derived from these verdicts (a record's class is its first unsafe call's).",
        "",
        "| caught at the call | right class at the call | false alarms per benign call | before the deviation |",
        "|---|---|---|---|",
        f"| {share(view['caught_at_call'])} | {share(view['class_right_at_call'])} | "
        f"{share(view['false_alarms_per_benign_call'])} | {share(view['false_alarms_before_deviation'])} |",
        "",
        "| first unsafe verdict | early (false alarm first) | at the call | 1 late | 2 late | 3+ late | missed |",
        "|---|---|---|---|---|---|---|",
        "| share of attack logs | "
        + " | ".join(share(delay[k]) for k in ("early", "0", "1", "2", "3+", "missed"))
        + " |",
        "",
    ]


def _section(result: ModeResult, suffix: str, seed: int) -> list[str]:
    m = result.metrics
    lines = [f"## Mode `{result.mode}`", ""]
    if m.get("read") == "per call" and result.mode != "per_call":
        lines += [
            "A stream-format guardian judges each call where it happens: this mode read every call of each log "
            "in one pass, the record's verdict its first unsafe call's.",
            "",
        ]
    lines += [*_metric_table(m), ""]
    if "per_call" in m:
        lines += _per_call_table(m["per_call"])
    lines += [
        "### Beside the paper's Table 2",
        "",
        "The paper's numbers are on the paper's own benchmark (2,218 items; unseen functions from ToolACE), "
        "not on this data, and the paper dropped unparsable answers where we count them wrong: read the "
        "columns as a reference point, not a head-to-head result. The unseen-function rows need data marked "
        "as unseen tools; evaluate such a split separately to fill them.",
        "",
        *_paper_table(m),
        "",
        "### Per class",
        "",
        *_per_class_table(m["per_class"]),
        "",
        f"![confusion matrix](confusion_matrix{suffix}.png)",
        f"![per-class F1](per_class_f1{suffix}.png)",
        "",
        "### Wrong answers",
        "",
        *_wrong_sample(result.predictions, seed),
        "",
    ]
    return lines


def _suffix(mode: str, primary: str) -> str:
    return "" if mode == primary else f"_{mode}"


def render_report(results: Sequence[ModeResult], primary: str, seed: int) -> str:
    meta = results[0].metrics
    keys = ("model", "data", "split", "protocol", "backend", "prompt_style", "context", "log_budget", "n")
    lines = ["# MCIP Guardian evaluation", "", "| | |", "|---|---|"]
    lines += [f"| {k} | `{meta.get(k)}` |" for k in keys]
    tokens = meta.get("prompt_tokens") or {}
    lines += [
        "",
        f"Prompts: {pct(meta.get('truncated_share', 0), '—')}% of items were cut to fit the budget (the prompt says what "
        f"was cut); tokens per item median {tokens.get('median', '-')}, p90 {tokens.get('p90', '-')}, "
        f"max {tokens.get('max', '-')}."
        + (
            f" {pct(meta['hidden_evidence_share'], '—')}% of unsafe items lost the flow their label turns on to the "
            "cut (old flows of a long session): no guardian reading these prompts can find those."
            if meta.get("hidden_evidence_share") is not None
            else ""
        ),
        "",
        "Unparsable answers count as wrong (11-way: never the truth; binary: the wrong class). "
        "Macro-F1 averages over all 11 labels, absent ones included.",
        "",
        "Speed: "
        + ", ".join(f"{mode} {s['examples_per_second']:.2f} examples/s" for mode, s in meta["speed"].items()),
        "",
    ]
    for result in results:
        lines += _section(result, _suffix(result.mode, primary), seed)
    return "\n".join(lines)


def write_outputs(out_dir: str | Path, results: Sequence[ModeResult], primary: str, seed: int) -> None:
    """Predictions, plots and report first; the metrics files last, the primary ``metrics.json`` very last."""
    out = Path(out_dir)
    for result in results:
        suffix = _suffix(result.mode, primary)
        with atomic_write(out / f"predictions{suffix}.jsonl") as fh:
            for p in result.predictions:
                fh.write(json.dumps(p.to_dict(), ensure_ascii=False) + "\n")
        title = f"{result.metrics['model']} ({result.mode})"
        _plot_confusion(result.metrics["confusion_matrix"], title, out / f"confusion_matrix{suffix}.png")
        _plot_f1(result.metrics["per_class"], title, out / f"per_class_f1{suffix}.png")
    with atomic_write(out / "report.md") as fh:
        fh.write(render_report(results, primary, seed))
    for result in sorted(results, key=lambda r: r.mode == primary):
        with atomic_write(out / f"metrics{_suffix(result.mode, primary)}.json") as fh:
            json.dump(result.metrics, fh, indent=2, ensure_ascii=False)
            fh.write("\n")
