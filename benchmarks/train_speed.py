"""Training throughput on CPU with SmolLM2-135M (LoRA): padded batches vs padding-free vs packing, and the CPU
knobs of recipes/smollm2-135m/lora_cpu.yaml (bf16 autocast, LoRA on the top layers only).

Each configuration trains a few steps in its own process (so peak memory is its own) on the same examples,
rendered exactly as the CPU recipe renders them. Ratios are against the padded fp32 baseline measured in the
same run: this machine is noisy, absolute numbers drift. Also prints the padding waste of the dataset.

    python benchmarks/train_speed.py --data data/mcip-synth --steps 4 --batch 8
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from stages import write_result

REPO = Path(__file__).resolve().parents[1]

CONFIGS = {  # name: SFTConfig / recipe overrides
    "padded fp32": {"bf16": False, "lora_top_layers": None},
    "padded bf16": {"bf16": True, "lora_top_layers": None},
    "padded bf16 top-10 LoRA": {"bf16": True, "lora_top_layers": 10},
    "padding-free bf16 top-10": {"bf16": True, "lora_top_layers": 10, "padding_free": True},
    "packing (bfd) bf16 top-10": {"bf16": True, "lora_top_layers": 10, "packing": True},
}
BASELINE = "padded fp32"


def machine() -> dict:
    """The CPU each figure was measured on: its model and whether it computes bf16 natively (train/precision.py)."""
    from train.precision import choose, cpu_bf16_speedup, cpu_model, native_cpu_bf16

    native, how = native_cpu_bf16()
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "native_bf16": native,
        "detection": how,
        "bf16_matmul_speedup": round(cpu_bf16_speedup(), 2),
        "auto_chooses": "bf16" if choose("auto", cpu=True).bf16 else "float32",
    }


def _examples(data: str, n: int, tokenizer, style: str, budget: int):
    from datasets import load_from_disk

    from train.data import prepare

    split = load_from_disk(data)["train"].shuffle(seed=0).select(range(n))
    from mcip.prompt import PromptFormat

    return prepare(split, tokenizer, PromptFormat(style, budget), 1024, None)


def run_one(args) -> dict:
    """Train ``args.steps`` steps with one configuration; report tokens/s and peak RSS."""
    import torch
    from peft import LoraConfig
    from transformers import AutoConfig, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    torch.set_num_threads(os.cpu_count() or 2)
    cfg = CONFIGS[args.run_config]
    tok = AutoTokenizer.from_pretrained(args.model)
    data = _examples(args.data, args.batch * (args.steps + 1), tok, "compact", 300)
    layers = AutoConfig.from_pretrained(args.model).num_hidden_layers
    top = cfg.get("lora_top_layers")
    modules = [
        "q_proj",
        "k_proj",
        "v_proj",
        "o_proj",
        "gate_proj",
        "up_proj",
        "down_proj",
    ]  # the CPU recipe's
    peft = LoraConfig(
        r=16,
        lora_alpha=32,
        lora_dropout=0.0,
        target_modules=modules,
        task_type="CAUSAL_LM",
        layers_to_transform=list(range(layers - top, layers)) if top else None,
    )
    sft = SFTConfig(
        output_dir=tempfile.mkdtemp(),
        use_cpu=True,
        bf16=cfg["bf16"],
        gradient_checkpointing=False,
        per_device_train_batch_size=args.batch,
        max_steps=args.steps + 1,
        learning_rate=1e-3,
        # padding-free without packing leaves truncation to the data (the CPU recipe's fits 1024)
        max_length=None if cfg.get("padding_free") else 1024,
        packing=cfg.get("packing", False),
        padding_free=cfg.get("padding_free", False),
        report_to="none",
        logging_steps=1,
        save_strategy="no",
        dataset_num_proc=1,
        seed=0,
    )
    trainer = SFTTrainer(
        model=args.model, args=sft, train_dataset=data, processing_class=tok, peft_config=peft
    )
    stamps: list[float] = []
    tokens: list[int] = []

    from transformers import TrainerCallback

    class Clock(TrainerCallback):
        def on_step_begin(self, *a, **k):
            stamps.append(time.perf_counter())

    trainer.add_callback(Clock())
    original = trainer.training_step

    def counting_step(model, inputs, *rest, **kw):
        tokens.append(
            int(inputs["attention_mask"].sum())
            if "attention_mask" in inputs
            else int(inputs["input_ids"].numel())
        )
        return original(model, inputs, *rest, **kw)

    trainer.training_step = counting_step
    trainer.train()
    seconds = time.perf_counter() - stamps[1]  # the first step warms up (allocations, kernel selection)
    trained = sum(tokens[1:])
    peak = int(Path("/proc/self/status").read_text().split("VmHWM:")[1].split()[0]) / 1024
    return {
        "config": args.run_config,
        "tokens": trained,
        "seconds": round(seconds, 2),
        "tokens_per_s": round(trained / seconds, 1),
        "examples_per_s": round(args.batch * args.steps / seconds, 3),
        "peak_rss_mb": round(peak),
    }


def padding_waste(data: str, model: str, batch: int, max_length: int, n: int = 2000) -> dict:
    """Share of pad tokens in padded batches of the dataset (shuffled as the trainer does), at the recipe's setting."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model)
    rows = _examples(data, n, tok, "compact", 300)
    lengths = [
        min(
            max_length,
            len(
                tok.apply_chat_template(r["prompt"] + r["completion"], tokenize=True, return_dict=True)[
                    "input_ids"
                ]
            ),
        )
        for r in rows
    ]
    random.Random(0).shuffle(lengths)
    padded = sum(
        max(lengths[i : i + batch]) * len(lengths[i : i + batch]) for i in range(0, len(lengths), batch)
    )
    return {
        "examples": len(lengths),
        "mean_tokens": round(sum(lengths) / len(lengths)),
        "max_tokens": max(lengths),
        "pad_share": round(1 - sum(lengths) / padded, 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default="data/mcip-synth")
    parser.add_argument("--model", default=str(REPO / "models/smollm2-135m-instruct"))
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--only", nargs="*", default=None, help="run these configurations only")
    parser.add_argument("--run-config", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--json", default=None)
    parser.add_argument(
        "--force-bf16", action="store_true", help="run bf16 configurations on a CPU without it"
    )
    args = parser.parse_args()
    if args.run_config:
        print("RESULT " + json.dumps(run_one(args)))
        return 0
    results, host = {}, machine()
    print(
        f"CPU: {host['cpu']} ({host['detection']}; bf16: auto picks {host['auto_chooses']})", file=sys.stderr
    )
    for name in args.only or CONFIGS:
        if CONFIGS[name]["bf16"] and not host["native_bf16"] and not args.force_bf16:
            # emulated bf16 runs ~50x slower: minutes per step; measured once by the matmul check instead
            results[name] = {"config": name, "skipped": f"no native bf16 ({host['detection']})"}
            print(f"  {name}: skipped, no native bf16 (--force-bf16 runs it)", file=sys.stderr)
            continue
        cmd = [
            sys.executable,
            __file__,
            "--run-config",
            name,
            "--data",
            args.data,
            "--model",
            args.model,
            "--steps",
            str(args.steps),
            "--batch",
            str(args.batch),
        ]
        proc = subprocess.run(
            cmd, capture_output=True, text=True, env={**os.environ, "TOKENIZERS_PARALLELISM": "false"}
        )
        line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
        if line is None:
            print(f"{name}: failed\n{proc.stderr[-2000:]}", file=sys.stderr)
            return 1
        results[name] = json.loads(line[7:])
        print(f"  {name}: {results[name]['tokens_per_s']} tokens/s", file=sys.stderr)
    base = results.get(BASELINE)
    print(
        f"\nLoRA training on CPU: {host['cpu']}, {host['cores']} cores, native bf16: {host['native_bf16']} "
        f"(bf16 matmul {host['bf16_matmul_speedup']}x float32), SmolLM2-135M, batch {args.batch}, "
        f"{args.steps} timed steps\n"
    )
    print(
        "| configuration | CPU (native bf16) | tokens/s | examples/s | peak RSS (MB) | speed vs padded fp32 |"
    )
    print("|---|---|---|---|---|---|")
    cpu = f"{host['cpu']} ({'yes' if host['native_bf16'] else 'no'})"
    for name, r in results.items():
        if "skipped" in r:
            print(f"| {name} | {cpu} | skipped: {r['skipped']} | - | - | - |")
            continue
        ratio = f"{r['tokens_per_s'] / base['tokens_per_s']:.2f}x" if base else "-"
        print(
            f"| {name} | {cpu} | {r['tokens_per_s']} | {r['examples_per_s']} | {r['peak_rss_mb']} | {ratio} |"
        )
    waste = padding_waste(args.data, args.model, args.batch, 1024)
    print(
        f"\npadding waste at batch {args.batch}, max_length 1024: {waste['pad_share']:.1%} of padded tokens are "
        f"padding (mean {waste['mean_tokens']} tokens, max {waste['max_tokens']}, {waste['examples']} examples)"
    )
    if args.json:
        write_result(args.json, {"machine": host, "results": results, "padding": waste})
    return 0


if __name__ == "__main__":
    sys.exit(main())
