"""Print the results of a run: the evaluator's metrics per split beside its baselines, and where the files are.

python -m train.summarize --run runs/smollm2-135m-lora-cpu [--export runs/smollm2-135m-lora-cpu-export]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _cells(m: dict) -> str:
    rr, sa = m.get("risk_resistance", {}), m["safety_awareness"]
    auprc = m.get("unsafe", {}).get("auprc")
    return (
        f"{rr.get('accuracy', float('nan')):.3f} | {rr.get('macro_f1', float('nan')):.3f} | "
        f"{sa['accuracy']:.3f} | {sa['macro_f1']:.3f} | {'-' if auprc is None else f'{auprc:.3f}'}"
    )


HEADER = [
    "| split | model | RR acc | RR macro-F1 | SA acc | SA macro-F1 | AUPRC |",
    "|---|---|---|---|---|---|---|",
]


def table(eval_dir: Path, name: str = "guardian", baselines: bool = True) -> list[str]:
    lines = []
    for metrics_file in sorted(eval_dir.glob("*/metrics*.json")):
        m = json.loads(metrics_file.read_text())
        split = m.get("split", metrics_file.parent.name)
        lines.append(f"| {split} (n={m['n']}) | {name} ({m.get('mode', '')}) | {_cells(m)} |")
        if baselines and metrics_file.name == "metrics.json":
            for base_name, base in m.get("baselines", {}).items():
                lines.append(f"| {split} | {base_name.replace('_', ' ')} baseline | {_cells(base)} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.summarize", description=__doc__)
    parser.add_argument("--run", required=True)
    parser.add_argument("--eval", default=None, help="evaluation folder (default: RUN/eval)")
    parser.add_argument("--export", default=None)
    parser.add_argument("--data", default=None)
    parser.add_argument(
        "--shipped", default=None, help="evaluation folder of the shipped guardian, shown first"
    )
    parser.add_argument("--shipped-name", default="shipped guardian")
    args = parser.parse_args(argv)
    run = Path(args.run)
    eval_dir = Path(args.eval) if args.eval else run / "eval"
    if not eval_dir.is_dir():
        print(f"error: {eval_dir}: no evaluation results (run make eval)", file=sys.stderr)
        return 2
    print(
        "\n".join(
            [
                "",
                "MCIP guardian: results (RR = 11-way risk resistance, SA = binary safety awareness)",
                "",
                *HEADER,
                *(table(Path(args.shipped), args.shipped_name, baselines=False) if args.shipped else []),
                *table(eval_dir, "this run" if args.shipped else "guardian"),
                "",
            ]
        )
    )
    files = [
        ("dataset (+ card, JSONL)", args.data),
        ("trained adapter", str(run)),
        ("evaluation reports", str(eval_dir)),
        ("export (merged model + card)", args.export),
    ]
    for what, where in files:
        if where:
            print(f"  {what:32} {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
