"""AgentDojo benchmark: how a guardian scores on tasks, tools and injections someone else wrote.

Builds ``data/agentdojo.jsonl`` from AgentDojo's suites if it is missing (``python -m data_gen.importers.agentdojo``;
evaluation only, never training data), then scores each model with the real ``python -m train.evaluate`` (guardian
protocol; ``fast`` mode by default): the zero-shot base SmolLM2 and every guardian passed with ``--model``. Prints
the paper's metrics (RR: 11-way accuracy / macro-F1; SA: binary accuracy / macro-F1) beside the majority and
always-unsafe baselines on the same items, and per-class recall, and writes them to ``--out``.

    python -m benchmarks.agentdojo_eval --limit 100                         # zero-shot base only (CPU, minutes)
    python -m benchmarks.agentdojo_eval --model guardians/NAME --no-zero-shot  # a shipped guardian, every item
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

from benchmarks.stages import run_stage
from mcip.io import write_json
from mcip.record import RecordError, load_jsonl
from mcip.taxonomy import LABELS

REPO = Path(__file__).resolve().parents[1]

BASE = "models/smollm2-135m-instruct"
DATA = "data/agentdojo.jsonl"


def headline(m: dict) -> dict:
    rr, sa = m.get("risk_resistance", {}), m["safety_awareness"]
    return {
        "rr_accuracy": rr.get("accuracy"),
        "rr_macro_f1": rr.get("macro_f1"),
        "sa_accuracy": sa["accuracy"],
        "sa_macro_f1": sa["macro_f1"],
        "safe_false_positive_rate": m.get("safe", {}).get("false_positive_rate"),
        "unsafe_recall": m.get("unsafe", {}).get("recall"),
        "auprc": m.get("unsafe", {}).get("auprc"),
    }


def table(rows: list[tuple[str, dict]]) -> str:
    def fmt(x) -> str:
        return "-" if x is None else f"{x:.3f}"

    lines = [
        "| model | RR acc | RR macro-F1 | SA acc | SA macro-F1 | safe flagged | unsafe recall |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, h in rows:
        lines.append(
            f"| {name} | {fmt(h['rr_accuracy'])} | {fmt(h['rr_macro_f1'])} | {fmt(h['sa_accuracy'])} | "
            f"{fmt(h['sa_macro_f1'])} | {fmt(h['safe_false_positive_rate'])} | {fmt(h['unsafe_recall'])} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=DATA, help="the AgentDojo JSONL (built if missing)")
    ap.add_argument("--model", action="append", default=[], help="a guardian folder (repeatable)")
    ap.add_argument("--base", default=BASE, help="the zero-shot base model")
    ap.add_argument("--no-zero-shot", action="store_true", help="skip the zero-shot base")
    ap.add_argument(
        "--base-budget", type=int, default=1536, help="the base model's log budget in tokens (0: none)"
    )
    ap.add_argument("--limit", type=int, default=None, help="a seeded sample of this many records")
    ap.add_argument("--seed", type=int, default=42, help="train/evaluate.py's sampling seed")
    ap.add_argument("--mode", choices=("fast", "generate", "both"), default="fast")
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--per-suite", type=int, default=None, help="importer: max records per label per suite")
    ap.add_argument("--import-seed", type=int, default=None, help="importer: its seed")
    ap.add_argument("--work", default="runs/agentdojo-eval", help="evaluation outputs and log")
    ap.add_argument("--out", default="benchmarks/results/agentdojo.json")
    args = ap.parse_args(argv)
    work = Path(args.work)
    log = work / "log.txt"
    models = ([] if args.no_zero_shot else [args.base]) + args.model
    if not models:
        sys.exit("error: no model to score (pass --model, or drop --no-zero-shot)")
    for m in models:
        if not (REPO / m).exists() and not Path(m).exists():
            sys.exit(f"error: --model {m}: no such folder (run `make models` for the base)")

    data = Path(args.data)
    if not data.is_file():
        cmd = [sys.executable, "-m", "data_gen.importers.agentdojo", "--out", str(data)]
        cmd += ["--per-suite", str(args.per_suite)] if args.per_suite else []
        cmd += ["--seed", str(args.import_seed)] if args.import_seed is not None else []
        print(f"building {data} from AgentDojo ...", flush=True)
        run_stage(cmd, log)
    try:
        records = load_jsonl(data)
    except RecordError as err:
        sys.exit(f"error: {err}")
    counts = Counter((r.meta.get("suite", "?"), r.label) for r in records)
    print(f"{data}: {len(records)} records; scoring {args.limit or len(records)} of them", flush=True)

    results: dict[str, dict] = {}
    first = None
    for m in models:
        out = work / Path(m).name
        cmd = [
            sys.executable,
            "-m",
            "train.evaluate",
            "--model",
            m,
            "--data",
            str(data),
            "--protocol",
            "guardian",
        ]
        cmd += ["--mode", args.mode, "--output", str(out), "--seed", str(args.seed)]
        cmd += ["--batch_size", str(args.batch_size)] + (["--limit", str(args.limit)] if args.limit else [])
        if (
            m == args.base and args.base_budget
        ):  # the base reads logs cut as a GPU guardian would (and faster)
            cmd += ["--log_budget", str(args.base_budget)]
        start = time.perf_counter()
        print(f"scoring {m} ...", flush=True)
        run_stage(cmd, log)
        metrics = json.loads((out / "metrics.json").read_text())
        first = first or metrics
        results[m] = {
            **headline(metrics),
            "seconds": round(time.perf_counter() - start, 1),
            "per_class_recall": {
                lb: v["recall"] for lb, v in metrics.get("per_class", {}).items() if v["support"]
            },
            "per_class_support": {
                lb: v["support"] for lb, v in metrics.get("per_class", {}).items() if v["support"]
            },
            "prompt_style": metrics.get("prompt_style"),
            "log_budget": metrics.get("log_budget"),
            "metrics": str(out / "metrics.json"),
        }
    baselines = {name: headline(b) | {"predicts": b["predicts"]} for name, b in first["baselines"].items()}
    rows = [(f"majority ({baselines['majority']['predicts']})", baselines["majority"])]
    rows.append((f"always unsafe ({baselines['always_unsafe']['predicts']})", baselines["always_unsafe"]))
    budget = f", {args.base_budget}-token log budget" if args.base_budget else ""
    rows += [(f"zero-shot {m} (fast{budget})" if m == args.base else m, results[m]) for m in models]
    print(
        f"\nAgentDojo {records[0].meta.get('agentdojo_version')} suites, n={first['n']} ({args.mode} scoring)"
    )
    print(table(rows))
    letters = {lb.string: lb.letter for lb in LABELS}
    for m in models:
        recall = ", ".join(f"{letters[k]} {v:.2f}" for k, v in results[m]["per_class_recall"].items())
        print(f"{m}: recall per class: {recall}")
    payload = {
        "command": "python -m benchmarks.agentdojo_eval "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "data": str(data),
        "data_description": (
            f"AgentDojo {records[0].meta.get('agentdojo_version')} suites "
            f"{records[0].meta.get('benchmark_version')} (workspace, travel, banking, slack), imported without "
            "an LLM by data_gen/importers/agentdojo.py; evaluation only"
        ),
        "records": len(records),
        "records_per_suite_label": {f"{s}/{lb}": n for (s, lb), n in sorted(counts.items())},
        "n_scored": first["n"],
        "limit": args.limit,
        "seed": args.seed,
        "base_log_budget": args.base_budget or None,
        "mode": args.mode,
        "baselines": baselines,
        "models": results,
        "cpu_count": os.cpu_count(),
    }
    write_json(REPO / args.out if not Path(args.out).is_absolute() else args.out, payload)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
