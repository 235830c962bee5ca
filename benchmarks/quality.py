"""Quality benchmark: does a guardian trained on our data recognise unsafe MCP behaviour, on tools it never saw?

Trains SmolLM2-135M with a recipe (the CPU LoRA one by default, ``--recipe`` for the GPU one) for a fixed budget
and seed (the real ``accelerate launch -m train.sft``), evaluates checkpoints along the way with the real
``python -m train.evaluate`` on ``test`` and ``test_unseen``, and puts beside them, on the very same items: the majority
and always-unsafe baselines, the shortcut probe (bag-of-words, benchmarks/shortcut_probe.py) and the zero-shot base
model in both protocols.
Prints the paper-protocol metrics (RR: 11-way accuracy / macro-F1; SA: binary accuracy / macro-F1), the gap
between test and test_unseen, per-class recall and the false-positive rate on hard negatives.

    python -m benchmarks.quality --data data/mcip-synth --steps 160 --eval-every 80 --n 200 --out runs/quality
    python -m benchmarks.quality ... --rationale true      # ablations: one flag each, same budget and seed
    # one GPU: full fine-tuning with the whole log in the prompt, every test item
    python -m benchmarks.quality --recipe recipes/smollm2-135m/full_gpu.yaml \
        --accelerate-config accelerate_configs/single_gpu.yaml --steps 750 --eval-every 375 --n 2000 \
        --n-generate 200 --batch-size 64 --out runs/quality-gpu
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from benchmarks.stages import evaluate_stage, run_stage
from mcip.io import write_json
from mcip.taxonomy import LABELS

REPO = Path(__file__).resolve().parents[1]

SPLITS = ("test", "test_unseen")


def probe_on(data: str, ids_by_split: dict[str, list[str]], recipe: str) -> dict:
    """The shortcut probe, trained on train and scored on exactly the evaluated items, reading the logs as the
    recipe's guardian reads them."""
    from datasets import load_from_disk

    from benchmarks.shortcut_probe import fit, recipe_prompter, texts
    from train.metrics import Prediction, compute_metrics

    ds = load_from_disk(data)
    prompter = recipe_prompter(recipe)
    vec, clf = fit(texts(ds["train"], prompter), ds["train"]["label"])
    out = {}
    for split, ids in ids_by_split.items():
        rows = ds[split].filter(lambda r, wanted=frozenset(ids): r["id"] in wanted)
        pred = clf.predict(vec.transform(texts(rows, prompter)))
        preds = [Prediction(i, t, p, p != "true") for i, t, p in zip(rows["id"], rows["label"], pred)]
        out[split] = compute_metrics(preds)
    return out


def hard_negative_fpr(data: str, split: str, pred_file: Path) -> float | None:
    """Share of hard negatives (safe logs with an attack's surface) that the guardian flags unsafe."""
    from datasets import load_from_disk

    kinds = dict(zip(*load_from_disk(data)[split].select_columns(["id", "source"]).to_dict().values()))
    flagged = total = 0
    for line in pred_file.read_text().splitlines():
        p = json.loads(line)
        if kinds.get(p["id"]) == "hard_negative":
            total += 1
            flagged += p["unsafe"] is not False
    return round(flagged / total, 3) if total else None


def row(name: str, m: dict) -> str:
    rr, sa = m.get("risk_resistance", {}), m["safety_awareness"]
    return (
        f"| {name} | {rr.get('accuracy', 0):.3f} | {rr.get('macro_f1', 0):.3f} | {sa['accuracy']:.3f} | "
        f"{sa['macro_f1']:.3f} | {m['parse_failure_rate']:.2f} |"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default="data/mcip-synth", help="training data (a built dataset folder)")
    parser.add_argument(
        "--eval-data",
        default=None,
        help="evaluation data (default: --data); ablations that "
        "change the training data are judged on the standard test splits",
    )
    parser.add_argument("--model", default="models/smollm2-135m-instruct")
    parser.add_argument("--recipe", default="recipes/smollm2-135m/lora_cpu.yaml")
    parser.add_argument("--accelerate-config", default="accelerate_configs/cpu.yaml")
    parser.add_argument("--batch-size", type=int, default=8, help="evaluation batch size")
    parser.add_argument("--steps", type=int, default=160)
    parser.add_argument("--eval-every", type=int, default=80)
    parser.add_argument(
        "--n", type=int, default=200, help="items per split (a seeded sample, the same for all)"
    )
    parser.add_argument("--n-generate", type=int, default=60, help="items for the generate-mode evaluations")
    parser.add_argument("--zero-shot", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument(
        "--rationale",
        choices=("true", "false"),
        default=None,
        help="ablation: the Rationale line in the target or not (default: the recipe's, false)",
    )
    parser.add_argument(
        "--train-args", default="", help="extra sft.py overrides, e.g. '--max_train_samples 600'"
    )
    parser.add_argument("--out", default="runs/quality")
    args = parser.parse_args()

    eval_data = args.eval_data or args.data
    out = REPO / args.out
    out.mkdir(parents=True, exist_ok=True)
    log = out / "log.txt"
    result: dict = {"args": vars(args), "evals": {}}
    started = time.perf_counter()

    def ev(model: str, split: str, tag: str, n: int, mode: str, protocol="guardian", max_new=None) -> dict:
        return evaluate_stage(
            model, eval_data, split, out / f"{tag}-{split}", log, mode=mode, protocol=protocol, limit=n,
            batch_size=args.batch_size, seed=0, max_new=max_new,
        )  # fmt: skip

    # 1. zero-shot base model, both protocols (the paper's and ours), on the same items
    if args.zero_shot:
        for split in SPLITS:
            result["evals"][f"base guardian fast/{split}"] = ev(
                args.model, split, "base-fast", args.n, "fast"
            )
            result["evals"][f"base guardian generate/{split}"] = ev(
                args.model, split, "base-gen", args.n_generate, "generate"
            )
            result["evals"][f"base paper generate/{split}"] = ev(
                args.model, split, "base-paper", args.n_generate, "generate", "paper", max_new=160
            )

    # 2. training: the real accelerate launch with --recipe, checkpoints every --eval-every steps
    run = out / "run"
    if not (run / "mcip_run.json").is_file():  # written last: training finished
        train_start = time.perf_counter()
        run_stage(
            [
                sys.executable,
                "-m",
                "accelerate.commands.launch",
                "--config_file",
                args.accelerate_config,
                "--num_cpu_threads_per_process",
                str(os.cpu_count() or 2),
                "-m",
                "train.sft",
                "--config",
                args.recipe,
                "--dataset_name",
                args.data,
                "--output_dir",
                str(run),
                "--max_steps",
                str(args.steps),
                "--save_steps",
                str(args.eval_every),
                "--save_total_limit",
                "100",
                "--eval_steps",
                str(args.eval_every),
                *(["--rationale", args.rationale] if args.rationale else []),
                *args.train_args.split(),
            ],
            log,
        )
        result["train_seconds"] = round(time.perf_counter() - train_start)

    # 3. checkpoints along the way and the final model, fast mode (first-token verdict + constrained choice)
    steps = list(range(args.eval_every, args.steps, args.eval_every))
    models = {f"step {s}": str(run / f"checkpoint-{s}") for s in steps} | {f"step {args.steps}": str(run)}
    for name, path in models.items():
        for split in SPLITS:
            result["evals"][f"trained {name} fast/{split}"] = ev(
                path, split, f"{name.replace(' ', '-')}-fast", args.n, "fast"
            )
    final = f"trained step {args.steps}"
    for split in SPLITS if args.n_generate else ():  # --n-generate 0: fast mode only (ablations)
        result["evals"][f"{final} generate/{split}"] = ev(
            str(run), split, "final-gen", args.n_generate, "generate"
        )

    # 4. baselines and the shortcut probe on the very same items as the fast evaluations
    ids = {
        split: [
            json.loads(ln)["id"]
            for ln in (out / f"step-{args.steps}-fast-{split}/predictions.jsonl").read_text().splitlines()
        ]
        for split in SPLITS
    }
    probe = probe_on(eval_data, ids, args.recipe)
    for split in SPLITS:
        fast = result["evals"][f"{final} fast/{split}"]
        result["evals"][f"majority/{split}"] = fast["baselines"]["majority"]
        result["evals"][f"always unsafe/{split}"] = fast["baselines"]["always_unsafe"]
        result["evals"][f"shortcut probe/{split}"] = probe[split]
        result[f"hard_negative_fpr/{split}"] = hard_negative_fpr(
            eval_data, split, out / f"step-{args.steps}-fast-{split}/predictions.jsonl"
        )
    result["seconds"] = round(time.perf_counter() - started)

    # 5. tables
    for split in SPLITS:
        print(f"\n### {split} (n={args.n}; generate rows n={args.n_generate})\n")
        print("| model | RR acc | RR macro-F1 | SA acc | SA macro-F1 | parse failures |")
        print("|---|---|---|---|---|---|")
        for name, m in result["evals"].items():
            if name.endswith(f"/{split}"):
                print(row(name.rsplit("/", 1)[0], m))
        print(f"\nhard negatives flagged unsafe (trained, fast): {result[f'hard_negative_fpr/{split}']}")
    print("\n### per-class recall, trained (fast)\n")
    print("| label | " + " | ".join(SPLITS) + " |\n|---|" + "---|" * len(SPLITS))
    for lb in LABELS:
        cells = [result["evals"][f"{final} fast/{s}"]["per_class"][lb.string]["recall"] for s in SPLITS]
        print(f"| {lb.choice} | " + " | ".join(f"{c:.2f}" for c in cells) + " |")
    gap = {
        k: round(
            result["evals"][f"{final} fast/test"]["risk_resistance"][k]
            - result["evals"][f"{final} fast/test_unseen"]["risk_resistance"][k],
            3,
        )
        for k in ("accuracy", "macro_f1")
    }
    print(f"\ntest - test_unseen gap (RR): accuracy {gap['accuracy']}, macro-F1 {gap['macro_f1']}")
    print(f"train {result.get('train_seconds', '-')} s, whole benchmark {result['seconds']} s")
    result["gap"] = gap
    write_json(out / "quality.json", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
