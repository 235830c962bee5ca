"""The reference guardian's learning curve: unseen RR macro-F1 of the long CPU run's checkpoints, by examples seen.

Each finished checkpoint of the run (``make guardian``) whose step is a multiple of ``--every`` is scored with
``python -m train.evaluate`` in fast mode on the same seeded ``--n`` items of ``test_unseen``, beside the majority
baseline on the same items and the share of prompts cut to fit. Points already in the result file are kept, so the
curve grows across sittings (``runs/`` may not survive one; ``benchmarks/results/guardian_curve.json`` does).

    python -m benchmarks.guardian_curve --run runs/guardian --data data/mcip-synth --n 200
    python -m benchmarks.guardian_curve --loss-bins 25 runs/guardian runs/guardian-full   # training loss, A/B

Each point also carries the mean training loss of the ``LOSS_SPAN`` steps before it. On the answer tokens of
this data, predicting the class prior (1/3 safe, ten equal unsafe classes) costs 0.187 a token (2.17 nats over
11.6 answer tokens), so a loss that stays there means the run has learned the format and the prior, not the task.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from benchmarks.stages import evaluate_stage
from mcip.io import write_json
from train.trainer import complete_checkpoints, newest_checkpoint, read_marker

REPO = Path(__file__).resolve().parents[1]
LOSS_SPAN = 25


def losses(state: dict) -> dict[int, float]:
    """Logged training loss by step."""
    return {e["step"]: e["loss"] for e in state.get("log_history", []) if "loss" in e}


def mean_loss(state: dict, start: int, stop: int) -> float | None:
    """Mean logged loss of the steps in (start, stop]."""
    got = [v for k, v in losses(state).items() if start < k <= stop]
    return round(sum(got) / len(got), 4) if got else None


def newest_state(run: str) -> dict:
    newest = newest_checkpoint(run)
    if newest is None:
        raise SystemExit(f"{run}: no finished checkpoint")
    return json.loads((newest / "trainer_state.json").read_text())


def loss_table(runs: list[str], span: int) -> str:
    """Mean training loss per ``span`` steps of each run, side by side (same batch: same examples per row)."""
    states = {run: newest_state(run) for run in runs}
    last = max(s["global_step"] for s in states.values())
    batch = next(iter(states.values()))["train_batch_size"]
    lines = ["| steps | examples | " + " | ".join(runs) + " |", "|---" * (len(runs) + 2) + "|"]
    for stop in range(span, last + 1, span):
        cells = [mean_loss(s, stop - span, stop) for s in states.values()]
        lines.append(f"| {stop - span + 1}-{stop} | {stop * batch} | " + " | ".join(
            "-" if c is None else f"{c:.3f}" for c in cells) + " |")  # fmt: skip
    return "\n".join(lines)


def point(checkpoint: Path, args) -> dict:
    # the folder names the data too: a finished evaluation there is reused, and a checkpoint may be scored on two
    # data sets (a run on short sessions, scored on real-size ones as well)
    where = checkpoint / "eval" / f"curve-{Path(args.data).name}-{args.split}-{args.n}"
    m = evaluate_stage(
        str(checkpoint), args.data, args.split, where, checkpoint.parent / "curve.log", limit=args.n
    )
    state = json.loads((checkpoint / "trainer_state.json").read_text())
    marker = read_marker(checkpoint)
    return {
        "step": state["global_step"],
        "examples": state["global_step"] * state["train_batch_size"],
        "train_hours": round(marker.get("train_seconds", 0) / 3600, 2) or None,
        "n": m["n"],
        "rr_macro_f1": m["risk_resistance"]["macro_f1"],
        "rr_accuracy": m["risk_resistance"]["accuracy"],
        "sa_macro_f1": m["safety_awareness"]["macro_f1"],
        "auprc": m["unsafe"].get("auprc"),
        "hard_negatives_flagged": m.get("hard_negatives", {}).get("flagged_rate"),
        "majority_rr_macro_f1": m["baselines"]["majority"]["risk_resistance"]["macro_f1"],
        "train_loss": mean_loss(state, state["global_step"] - LOSS_SPAN, state["global_step"]),
        "truncated_share": m.get("truncated_share"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--run", default="runs/guardian")
    parser.add_argument("--data", default="data/mcip-synth")
    parser.add_argument("--split", default="test_unseen")
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--every", type=int, default=125, help="score checkpoints at multiples of this step")
    parser.add_argument("--out", default=str(REPO / "benchmarks/results/guardian_curve.json"))
    parser.add_argument(
        "--loss-bins", type=int, metavar="STEPS", help="print the runs' training loss per STEPS"
    )
    parser.add_argument("runs", nargs="*", help="with --loss-bins: the runs to compare (default: --run)")
    args = parser.parse_args(argv)
    if args.loss_bins:
        print(loss_table(args.runs or [args.run], args.loss_bins))
        return 0
    out = Path(args.out)
    points = {p["step"]: p for p in (json.loads(out.read_text())["points"] if out.is_file() else [])}
    for checkpoint in complete_checkpoints(args.run):
        step = int(checkpoint.name.rsplit("-", 1)[1])
        if step % args.every == 0 and step not in points:
            points[step] = point(checkpoint, args)
            write_json(
                out,
                {
                    "split": args.split,
                    "data": args.data,
                    "points": sorted(points.values(), key=lambda p: p["step"]),
                },
            )
    if not points:
        print(f"no checkpoint of {args.run} at a multiple of {args.every} steps yet", file=sys.stderr)
        return 1
    print("| examples | train hours | unseen RR macro-F1 | majority | SA macro-F1 | AUPRC | hard negatives flagged "
          "| prompts cut | n |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    for p in sorted(points.values(), key=lambda p: p["step"]):
        print(f"| {p['examples']} | {p['train_hours'] or '-'} | {p['rr_macro_f1']:.3f} | {p['majority_rr_macro_f1']:.3f}"
              f" | {p['sa_macro_f1']:.3f} | {p['auprc'] if p['auprc'] is None else round(p['auprc'], 3)} | "
              f"{p['hard_negatives_flagged']} | {p['truncated_share']} | {p['n']} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
