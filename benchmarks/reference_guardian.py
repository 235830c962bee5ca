"""Train, evaluate and ship the reference guardian: a small PEFT adapter on SmolLM2-135M-Instruct that lives in the
repository (``guardians/<name>/``) and loads with nothing but ``make models``.

One prepared run for a borrowed GPU (and a dry run on CPU with any small model): the real ``accelerate launch -m
train.sft`` with the recipe, the real ``python -m train.evaluate`` on ``test`` and ``test_unseen``, the real
``python -m train.export`` (merge, verify, the project's model card), then the shipped folder: the adapter in bf16
safetensors (checked against the size cap), its config pointing at the offline base, ``mcip_prompt.json``, the
metrics of both splits, the card and the exact command. ``--sweep`` adds separate runs for the choices that matter
(rank, target modules, learning rate, number of examples) scored on ``test_unseen``: the learning curve.

    python -m benchmarks.reference_guardian --recipe recipes/smollm2-135m/lora_gpu.yaml \\
        --accelerate-config accelerate_configs/single_gpu.yaml --data data/mcip-synth --steps 750 --n 2000 \\
        --batch-size 64 --out runs/reference --ship guardians/smollm2-135m-mcip-lora
    python -m benchmarks.reference_guardian ... --sweep examples=3000,6000,12000,24000 --sweep lora_r=8,16
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import sys
import time
from pathlib import Path

from benchmarks.stages import evaluate_stage, run_stage
from mcip.io import atomic_dir, write_json
from train.ship import BASE_IN_REPO, ShipError, write_adapter

REPO = Path(__file__).resolve().parents[1]
SPLITS = ("test", "test_unseen")


def train(args, run: Path, log: Path, extra: list[str]) -> float:
    if (run / "mcip_run.json").is_file():  # resumable: a finished run is reused
        return json.loads((run / "mcip_run.json").read_text())["metrics"]["train"].get("train_runtime", 0.0)
    start = time.perf_counter()
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", args.accelerate_config]
    cmd += ["-m", "train.sft", "--config", args.recipe, "--dataset_name", args.data, "--output_dir", str(run)]
    cmd += ["--max_steps", str(args.steps), "--save_strategy", "no", "--eval_strategy", "no"]
    if args.model:
        cmd += ["--model_name_or_path", args.model]
    run_stage(cmd + shlex.split(args.train_args) + extra, log)
    return round(time.perf_counter() - start, 1)


def evaluate(args, run: Path, split: str, out: Path, log: Path) -> dict:
    return evaluate_stage(str(run), args.data, split, out, log, limit=args.n, batch_size=args.batch_size)


def ship(args, run: Path, evals: dict[str, Path], log: Path) -> Path:
    """The shipped folder, written whole or not at all: bf16 adapter, config naming the offline base, format,
    metrics, the card made by ``train.export`` (merge verified) and the command that made it."""
    export = Path(args.out) / "export"
    if not (export / "verification.json").is_file():
        cmd = [sys.executable, "-m", "train.export", "--run", str(run), "--output", str(export)]
        for split in SPLITS:
            cmd += ["--metrics", str(evals[split] / "metrics.json")]
        run_stage(cmd, log)
    target = REPO / args.ship
    with atomic_dir(target) as tmp:
        try:
            write_adapter(run, tmp, args.ship_base)
        except ShipError as err:
            sys.exit(str(err))
        shutil.copy2(run / "mcip_prompt.json", tmp / "mcip_prompt.json")
        for split in SPLITS:
            shutil.copy2(evals[split] / "metrics.json", tmp / f"metrics_{split}.json")
        shutil.copy2(export / "README.md", tmp / "README.md")
        shutil.copy2(export / "verification.json", tmp / "verification.json")
        (tmp / "COMMAND").write_text(
            shlex.join([sys.executable.split("/")[-1], "-m", "benchmarks.reference_guardian", *sys.argv[1:]])
            + "\n"
        )
        run_meta = json.loads((run / "mcip_run.json").read_text())
        run_meta.pop("dataset", None)  # a local path
        (tmp / "mcip_run.json").write_text(json.dumps(run_meta, indent=2, sort_keys=True, default=str) + "\n")
    return target


SWEEP_FLAGS = {  # sweep key -> the training flag it sets (examples sets the steps at the recipe's batch size)
    "lora_r": "--lora_r",
    "lora_alpha": "--lora_alpha",
    "learning_rate": "--learning_rate",
    "targets": "--lora_target_modules",
}


def sweep(args, log: Path) -> list[dict]:
    """Separate runs, one choice changed at a time, each scored on test_unseen (never checkpoints of one run)."""
    rows = []
    for spec in args.sweep:
        key, _, values = spec.partition("=")
        for value in values.split(","):
            run = Path(args.out) / "sweep" / f"{key}-{value.replace(' ', '')}"
            run.mkdir(parents=True, exist_ok=True)
            steps = args.steps
            extra: list[str] = []
            if key == "examples":
                steps = max(1, int(value) // args.per_device_batch)
            elif key == "targets":
                extra = [SWEEP_FLAGS[key], *value.split("+")]
            elif key in SWEEP_FLAGS:
                extra = [SWEEP_FLAGS[key], value]
            else:
                sys.exit(f"--sweep {spec}: unknown key {key!r} (examples, {', '.join(SWEEP_FLAGS)})")
            seconds = train(argparse.Namespace(**{**vars(args), "steps": steps}), run / "run", log, extra)
            metrics = evaluate(args, run / "run", "test_unseen", run / "eval", log)
            rr = metrics["risk_resistance"]
            rows.append(
                {"key": key, "value": value, "steps": steps, "train_seconds": seconds,
                 "unseen_rr_macro_f1": rr["macro_f1"], "unseen_rr_accuracy": rr["accuracy"],
                 "unseen_sa_macro_f1": metrics["safety_awareness"]["macro_f1"]}
            )  # fmt: skip
            print(f"  sweep {key}={value}: unseen RR macro-F1 {rr['macro_f1']}", file=sys.stderr)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--recipe", default="recipes/smollm2-135m/lora_gpu.yaml")
    parser.add_argument("--accelerate-config", default="accelerate_configs/single_gpu.yaml")
    parser.add_argument("--data", default="data/mcip-synth")
    parser.add_argument(
        "--model", default=None, help="override the recipe's model (a dry run with a tiny one)"
    )
    parser.add_argument("--steps", type=int, default=750)
    parser.add_argument(
        "--per-device-batch", type=int, default=16, help="for --sweep examples=N: steps = N / this"
    )
    parser.add_argument("--n", type=int, default=None, help="items per split to evaluate (default: all)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--train-args", default="", help="extra training flags, as one string")
    parser.add_argument("--out", default="runs/reference")
    parser.add_argument("--ship", default=None, help="write the shipped folder here (e.g. guardians/NAME)")
    parser.add_argument("--ship-base", default=BASE_IN_REPO, help="the base the shipped adapter names")
    parser.add_argument("--sweep", action="append", default=[], help="KEY=V1,V2 (examples, lora_r, ...)")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log = out / "log.txt"
    if not Path(args.data).exists():
        run_stage(
            [
                sys.executable,
                "-m",
                "data_gen",
                "--config",
                "recipes/data/default.yaml",
                "--output_dir",
                args.data,
            ],
            log,
        )
    seconds = train(args, out / "run", log, [])
    evals = {split: out / "eval" / split for split in SPLITS}
    metrics = {split: evaluate(args, out / "run", split, evals[split], log) for split in SPLITS}
    result = {
        "recipe": args.recipe,
        "steps": args.steps,
        "train_seconds": seconds,
        "splits": {
            s: {
                "n": m["n"],
                "rr_macro_f1": m["risk_resistance"]["macro_f1"],
                "rr_accuracy": m["risk_resistance"]["accuracy"],
                "sa_macro_f1": m["safety_awareness"]["macro_f1"],
                "majority_rr_macro_f1": m["baselines"]["majority"]["risk_resistance"]["macro_f1"],
                "truncated_share": m.get("truncated_share"),
            }
            for s, m in metrics.items()
        },
    }
    if args.ship:
        result["shipped"] = os.path.relpath(ship(args, out / "run", evals, log), REPO)
    if args.sweep:
        result["sweep"] = sweep(args, log)
    write_json(out / "result.json", result)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
