"""What a guardian's operating point (``mcip_calibration.json``, ``train.calibrate``) does on held-out items.

Each model is scored once per seed, raw (one fast forward pass per item, ``--calibration false``'s numbers); the
folder's calibration is then applied to the same per-class probabilities, so the raw and calibrated rows come from
one pass and differ only by the biases. Beside them: the majority baseline on the same items, AUROC and AUPRC of
P(unsafe) (which a calibration cannot change), hard negatives flagged, and the attacks' letter accuracy (the right
risk named, whatever the verdict; chance is 10%).

    python -m benchmarks.calibration --model runs/guardian/checkpoint-1000 guardians/smollm2-135m-mcip-cpu \\
        --data data/mcip-synth --split test_unseen --n 200 --seeds 42,7 --out benchmarks/results/calibration.json
"""

from __future__ import annotations

import argparse
import sys

from mcip.io import write_json
from mcip.taxonomy import SAFE
from train.metrics import Prediction, baselines, compute_metrics


def _row(preds: list[Prediction], hard: list[bool]) -> dict:
    from sklearn.metrics import roc_auc_score

    m = compute_metrics(preds, detail=False)
    attacks = [p for p in preds if p.label != SAFE]
    named = sum(max((k for k in p.probs if k != SAFE), key=p.probs.get) == p.label for p in attacks)
    flagged = [p.unsafe for p, h in zip(preds, hard) if h]
    return {
        "rr_macro_f1": m["risk_resistance"]["macro_f1"],
        "rr_accuracy": m["risk_resistance"]["accuracy"],
        "sa_macro_f1": m["safety_awareness"]["macro_f1"],
        "auroc": round(roc_auc_score([p.label != SAFE for p in preds], [p.p_unsafe for p in preds]), 4),
        "auprc": m["unsafe"]["auprc"],
        "unsafe_recall": m["unsafe"]["recall"],
        "safe_flagged": m["safe"]["false_positive_rate"],
        "hard_negatives_flagged": round(sum(flagged) / len(flagged), 4) if flagged else None,
        "attack_letter_accuracy": round(named / len(attacks), 4) if attacks else None,
    }


def measure(model: str, data: str, split: str, n: int, seed: int) -> dict:
    from mcip.guardian import load_guardian
    from train.evaluate import is_hard_negative, load_examples

    guardian = load_guardian(model, progress=False, calibrate=False)
    # a stream guardian's calibrated verdicts change the chats after them: one raw pass cannot show them
    if guardian.fmt.stream:
        raise SystemExit(
            f"error: {model} is a stream guardian, read per call: compare `python -m train.evaluate --mode "
            "per_call` with --calibration true and false instead"
        )
    examples = load_examples(data, split, n, seed)
    scores = guardian.score([guardian.prompt(ex.trajectory) for ex in examples])
    raw = [
        Prediction.from_fast(ex.id, ex.label, s.p_unsafe, s.label, s.probs) for ex, s in zip(examples, scores)
    ]
    hard = [is_hard_negative(ex.trajectory) for ex in examples]
    out = {
        "n": len(examples),
        "seed": seed,
        "majority_rr_macro_f1": baselines(raw, True)["majority"]["risk_resistance"]["macro_f1"],
        "raw": _row(raw, hard),
    }
    cal = guardian.folder.calibration
    if cal is not None:
        calibrated = [Prediction.from_fast(p.id, p.label, *cal.apply(p.probs)) for p in raw]
        out["calibrated"] = _row(calibrated, hard)
        out["calibration"] = cal.to_dict()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--model", nargs="+", required=True, help="guardian folders (a calibration is applied if present)"
    )
    ap.add_argument("--data", default="data/mcip-synth")
    ap.add_argument("--split", default="test_unseen")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--seeds", default="42,7", help="comma-separated: one seeded sample of --n items each")
    ap.add_argument("--out", default=None, help="write the results here as JSON")
    args = ap.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    results = {"data": args.data, "split": args.split, "models": {}}
    for model in args.model:
        results["models"][model] = [measure(model, args.data, args.split, args.n, s) for s in seeds]
        for r in results["models"][model]:
            cal = r.get("calibrated", {}).get("rr_macro_f1", "-")
            print(
                f"{model} seed {r['seed']}: RR macro-F1 raw {r['raw']['rr_macro_f1']:.3f}, calibrated {cal}, "
                f"majority {r['majority_rr_macro_f1']:.3f}; AUROC {r['raw']['auroc']:.3f}",
                flush=True,
            )
    if args.out:
        write_json(args.out, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
