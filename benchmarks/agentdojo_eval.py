"""AgentDojo benchmark: how a guardian scores on tasks, tools and injections someone else wrote.

Builds ``data/agentdojo.jsonl`` from AgentDojo's suites if it is missing (``python -m data_gen.importers.agentdojo``;
evaluation only, never training data), then scores each model with the real ``python -m train.evaluate``: the
zero-shot base SmolLM2 and every guardian passed with ``--model``, in the guardian protocol (``--mode``, ``fast`` by
default), the paper's multiple-choice protocol (always ``generate``: its answer is parsed) or ``both``, each run in
its own folder ``<work>/<model name>-<protocol>``. Prints the paper's metrics (RR: 11-way accuracy / macro-F1; SA:
binary accuracy / macro-F1) beside the majority and always-unsafe baselines on the same items, per-class recall,
and per model and protocol a row per AgentDojo suite (and ``all``), scored by ``train.metrics`` from the run's
``predictions.jsonl``; writes them to ``--out`` (``models[MODEL][PROTOCOL]``, its ``per_suite``).

    python -m benchmarks.agentdojo_eval --limit 100                         # zero-shot base only (CPU, minutes)
    python -m benchmarks.agentdojo_eval --model guardians/NAME --no-zero-shot  # a shipped guardian, every item
    python -m benchmarks.agentdojo_eval --model guardians/NAME --no-zero-shot --protocol both  # and the paper's
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

from benchmarks.stages import run_stage
from mcip.io import write_json
from mcip.record import RecordError
from mcip.taxonomy import LABELS
from train.evaluate import EvalError, load_examples
from train.metrics import Prediction, baselines, compute_metrics

REPO = Path(__file__).resolve().parents[1]

BASE = "models/smollm2-135m-instruct"
DATA = "data/agentdojo.jsonl"
PROTOCOLS = {"guardian": ("guardian",), "paper": ("paper",), "both": ("guardian", "paper")}


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


def scores(preds: Sequence[Prediction]) -> dict:
    """``train.evaluate``'s scoring of a set of predictions: headline metrics and the two constant baselines."""
    m = compute_metrics(preds, detail=False)
    base = baselines(preds, with_scores="auprc" in m["unsafe"])
    return {
        "n": m["n"],
        **headline(m),
        "parse_failure_rate": m["parse_failure_rate"],
        "baselines": {name: {"predicts": b["predicts"], **headline(b)} for name, b in base.items()},
    }


def per_suite(preds: Sequence[Prediction], suite_of: Mapping[str, str]) -> dict[str, dict]:
    """``scores`` for each suite (in ``suite_of``'s order), then ``all``: every prediction together."""
    groups: dict[str, list[Prediction]] = {suite: [] for suite in suite_of.values()}
    for p in preds:
        if p.id not in suite_of:
            raise ValueError(f"prediction {p.id!r}: no record with that id in the data")
        groups[suite_of[p.id]].append(p)
    return {suite: scores(group) for suite, group in [*groups.items(), ("all", preds)] if group}


def load_predictions(path: Path) -> list[Prediction]:
    return [Prediction(**json.loads(line)) for line in path.read_text().splitlines() if line.strip()]


def _fmt(x) -> str:
    return "-" if x is None else f"{x:.3f}"


def table(rows: list[tuple[str, dict]]) -> str:
    lines = [
        "| model | RR acc | RR macro-F1 | SA acc | SA macro-F1 | safe flagged | unsafe recall |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, h in rows:
        lines.append(
            f"| {name} | {_fmt(h['rr_accuracy'])} | {_fmt(h['rr_macro_f1'])} | {_fmt(h['sa_accuracy'])} | "
            f"{_fmt(h['sa_macro_f1'])} | {_fmt(h['safe_false_positive_rate'])} | {_fmt(h['unsafe_recall'])} |"
        )
    return "\n".join(lines)


def suite_table(rows: dict[str, dict], unparsable: bool) -> str:
    """One row per suite: the model's metrics, the majority baseline's macro-F1s, and (generate) unparsable."""
    cols = ["suite", "n", "RR acc", "RR macro-F1", "SA acc", "SA macro-F1", "majority RR macro-F1"]
    cols += ["majority SA macro-F1"] + (["unparsable"] if unparsable else [])
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for suite, r in rows.items():
        maj = r["baselines"]["majority"]
        cells = [suite, str(r["n"])] + [_fmt(r[k]) for k in ("rr_accuracy", "rr_macro_f1", "sa_accuracy")]
        cells += [_fmt(r["sa_macro_f1"]), _fmt(maj["rr_macro_f1"]), _fmt(maj["sa_macro_f1"])]
        cells += [_fmt(r["parse_failure_rate"])] if unparsable else []
        lines.append("| " + " | ".join(cells) + " |")
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
    ap.add_argument(
        "--protocol",
        choices=tuple(PROTOCOLS),
        default="guardian",
        help="the guardian's answer format, the paper's multiple choice, or both (each model scored twice)",
    )
    ap.add_argument(
        "--mode",
        choices=("fast", "generate", "both"),
        default="fast",
        help="the guardian protocol's scoring (the paper protocol always generates)",
    )
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument(
        "--max-new-tokens",
        type=int,
        default=None,
        help="the answer's room and longest generated answer (train.evaluate's default: 64 guardian, 384 paper)",
    )
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
    try:  # read as train.evaluate reads it, so the predictions' ids are these examples' ids
        examples = load_examples(str(data), "test", None, args.seed)
    except (RecordError, EvalError) as err:
        sys.exit(f"error: {err}")
    records = [ex.trajectory for ex in examples]
    counts = Counter((r.meta.get("suite", "?"), r.label) for r in records)
    suite_of = {ex.id: ex.trajectory.meta.get("suite", "?") for ex in examples}
    print(f"{data}: {len(records)} records; scoring {args.limit or len(records)} of them", flush=True)

    results: dict[str, dict[str, dict]] = {}
    first = None
    for m in models:
        results[m] = {}
        for protocol in PROTOCOLS[args.protocol]:
            out = work / f"{Path(m).name}-{protocol}"
            mode = args.mode if protocol == "guardian" else "generate"
            cmd = [sys.executable, "-m", "train.evaluate", "--model", m, "--data", str(data)]
            cmd += ["--protocol", protocol, "--mode", mode, "--output", str(out), "--seed", str(args.seed)]
            cmd += ["--batch_size", str(args.batch_size)]
            cmd += ["--limit", str(args.limit)] if args.limit else []
            cmd += ["--max_new_tokens", str(args.max_new_tokens)] if args.max_new_tokens else []
            if m == args.base and args.base_budget:
                # the base reads logs cut as a GPU guardian would (and faster)
                cmd += ["--log_budget", str(args.base_budget)]
            start = time.perf_counter()
            print(f"scoring {m} ({protocol} protocol, {mode}) ...", flush=True)
            run_stage(cmd, log)
            metrics = json.loads((out / "metrics.json").read_text())
            first = first or metrics
            results[m][protocol] = {
                **headline(metrics),
                "seconds": round(time.perf_counter() - start, 1),
                "mode": metrics["mode"],
                "parse_failure_rate": metrics["parse_failure_rate"],
                "per_class_recall": {
                    lb: v["recall"] for lb, v in metrics.get("per_class", {}).items() if v["support"]
                },
                "per_class_support": {
                    lb: v["support"] for lb, v in metrics.get("per_class", {}).items() if v["support"]
                },
                "prompt_style": metrics.get("prompt_style"),
                "log_budget": metrics.get("log_budget"),
                "metrics": str(out / "metrics.json"),
                # predictions.jsonl is metrics.json's mode (generate when --mode both)
                "per_suite": per_suite(load_predictions(out / "predictions.jsonl"), suite_of),
            }
    runs = [(m, protocol, r) for m in models for protocol, r in results[m].items()]
    baselines_ = {name: headline(b) | {"predicts": b["predicts"]} for name, b in first["baselines"].items()}
    rows = [(f"majority ({baselines_['majority']['predicts']})", baselines_["majority"])]
    rows.append((f"always unsafe ({baselines_['always_unsafe']['predicts']})", baselines_["always_unsafe"]))
    budget = f", {args.base_budget}-token log budget" if args.base_budget else ""
    for m, protocol, r in runs:
        how = f"{protocol}, {r['mode']}"
        rows.append((f"zero-shot {m} ({how}{budget})" if m == args.base else f"{m} ({how})", r))
    print(f"\nAgentDojo {records[0].meta.get('agentdojo_version')} suites, n={first['n']}")
    print(table(rows))
    letters = {lb.string: lb.letter for lb in LABELS}
    for m, protocol, r in runs:
        recall = ", ".join(f"{letters[k]} {v:.2f}" for k, v in r["per_class_recall"].items())
        print(f"{m} ({protocol}): recall per class: {recall}")
    for m, protocol, r in runs:
        print(f"\n{m}: {protocol} protocol ({r['mode']}), per suite\n")
        print(suite_table(r["per_suite"], unparsable=r["mode"] == "generate"))
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
        "protocol": args.protocol,
        "mode": args.mode,
        "baselines": baselines_,
        "models": results,
        "cpu_count": os.cpu_count(),
    }
    write_json(REPO / args.out if not Path(args.out).is_absolute() else args.out, payload)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
