"""The training launchers on one GPU: does every accelerate config train and save, and at what speed?

Runs the real ``accelerate launch train/sft.py`` for a few steps per configuration (same recipe, examples and
batch), then reads each run's tokens/s from its ``trainer_state.json`` and prints it as a ratio against plain
padded batches measured in the same run. A configuration that fails or saves no model is reported, not hidden.

    python -m benchmarks.gpu_launch --recipe recipes/smollm2-135m/full_gpu.yaml --steps 30

ZeRO-3 and FSDP2 are for models that do not fit one GPU; on one GPU they only show that launch, sharding and
the gathered save work (their speed there is overhead, not what they give on eight).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from mcip.io import write_json

REPO = Path(__file__).resolve().parents[1]

CONFIGS = {  # run folder: (what it is, accelerate config, sft.py overrides)
    "padded": ("padded batches, single GPU", "single_gpu", []),
    "liger-bfd": (
        "Liger kernels + BFD packing (padding-free)",
        "single_gpu",
        # 8 packed rows of max_length tokens hold about as many tokens as 16 padded examples
        ["--use_liger_kernel", "true", "--packing", "true", "--packing_strategy", "bfd"]
        + ["--per_device_train_batch_size", "8"],
    ),
    "zero2": ("DeepSpeed ZeRO-2", "zero2", []),
    "zero3-lora": (
        "DeepSpeed ZeRO-3 + LoRA r16",
        "zero3",
        [
            "--use_peft",
            "true",
            "--lora_r",
            "16",
            "--lora_target_modules",
            "all-linear",
            "--learning_rate",
            "1e-3",
        ],
    ),
    "fsdp2": ("FSDP2 (activation checkpointing)", "fsdp2", []),
}
BASELINE = "padded"


def run(name: str, args, out: Path) -> dict:
    _, config, extra = CONFIGS[name]
    folder = out / name
    cmd = [
        sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "1",
        "--config_file", f"accelerate_configs/{config}.yaml",
        "train/sft.py", "--config", args.recipe, "--output_dir", str(folder),
        "--max_steps", str(args.steps), "--max_train_samples", str(args.steps * args.batch),
        "--per_device_train_batch_size", str(args.batch), "--eval_strategy", "no", "--save_strategy", "no",
        "--logging_steps", "10", *extra, *args.train_args.split(),
    ]  # fmt: skip
    started = time.perf_counter()
    with open(f"{folder}.log", "w") as log:
        rc = subprocess.run(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT).returncode
    result = {"rc": rc, "wall_seconds": round(time.perf_counter() - started, 1), "log": f"{folder}.log"}
    state = folder / "trainer_state.json"
    if rc == 0 and state.is_file():
        history = json.loads(state.read_text())["log_history"]
        tokens = max(h.get("num_tokens", 0) for h in history)
        runtime = next(h["train_runtime"] for h in history if "train_runtime" in h)
        saved = any(folder.glob("*.safetensors"))
        result |= {
            "tokens": tokens,
            "train_runtime": runtime,
            "tokens_per_s": round(tokens / runtime),
            "saved": saved,
        }
    return result


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--recipe", default="recipes/smollm2-135m/full_gpu.yaml")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--only", nargs="*", choices=list(CONFIGS), help="a subset of the configurations")
    parser.add_argument("--train-args", default="", help="extra sft.py overrides for every run")
    parser.add_argument("--out", default="runs/gpu-launch")
    args = parser.parse_args()
    out = REPO / args.out
    out.mkdir(parents=True, exist_ok=True)

    results = {name: run(name, args, out) for name in args.only or CONFIGS}
    base = results.get(BASELINE, {}).get("tokens_per_s")
    print("| configuration | tokens/s | vs padded | saved model | wall s |\n|---|---|---|---|---|")
    for name, r in results.items():
        if "tokens_per_s" not in r:
            print(
                f"| {CONFIGS[name][0]} | failed (exit {r['rc']}, see {r['log']}) | - | - | {r['wall_seconds']} |"
            )
            continue
        ratio = f"{r['tokens_per_s'] / base:.2f}x" if base else "-"
        print(
            f"| {CONFIGS[name][0]} | {r['tokens_per_s']:,} | {ratio} | {r['saved']} | {r['wall_seconds']} |"
        )
    write_json(out / "gpu_launch.json", {"args": vars(args), "results": results})
    return 0 if all("tokens_per_s" in r and r["saved"] for r in results.values()) else 1


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sys.exit(main())
