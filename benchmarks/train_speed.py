"""Training step on CPU with SmolLM2-135M (LoRA): today's step (TRL's loss and per-step metrics over the
full-vocabulary logits, random batches) against the guardian trainer's cheap step (LM head and loss on the answer
tokens only, no per-step metrics, length-grouped batches), at the same batch, lengths and LoRA layers.

Each configuration trains in its own process (so peak memory is its own) on the same examples, rendered and
tokenized as ``train.sft`` does. Warm-up steps are not timed (the allocator and kernels settle over the first
steps). Ratios are against the first configuration, measured in the same run: this machine is noisy.

    python benchmarks/train_speed.py --data data/mcip-synth --steps 4 --batch 8 --budget 900 --top 30
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mcip.io import write_json

REPO = Path(__file__).resolve().parents[1]

CONFIGS = {  # name: GuardianSFTConfig overrides
    "today (TRL loss + metrics, random batches)": {},
    "answer-only head": {"answer_only_logits": True},
    "answer-only head + length-grouped": {
        "answer_only_logits": True,
        "train_sampling_strategy": "group_by_length",
    },
}
BASELINE = next(iter(CONFIGS))


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


def _examples(data: str, n: int, tokenizer, budget: int, max_length: int):
    from datasets import load_from_disk

    from mcip.prompt import PromptFormat
    from train.data import prepare_tokenized

    split = load_from_disk(data)["train"].shuffle(seed=0).select(range(n))
    fmt = PromptFormat("compact", budget, rationale=False, end_of_turn="<|im_end|>")
    return prepare_tokenized(split, tokenizer, fmt, max_length, 2)


def run_one(args) -> dict:
    """Train warm-up + timed steps with one configuration; report real (unpadded) tokens/s and peak RSS."""
    import torch
    from peft import LoraConfig
    from transformers import AutoConfig, AutoTokenizer, TrainerCallback

    from train.sft import GuardianSFTConfig
    from train.trainer import GuardianTrainer

    torch.set_num_threads(os.cpu_count() or 2)
    cfg = CONFIGS[args.run_config]
    tok = AutoTokenizer.from_pretrained(args.model)
    steps = args.warmup + args.steps
    data = _examples(args.data, args.pool, tok, args.budget, args.max_length)
    layers = AutoConfig.from_pretrained(args.model).num_hidden_layers
    modules = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    peft = LoraConfig(
        r=16, lora_alpha=32, lora_dropout=0.0, target_modules=modules, task_type="CAUSAL_LM",
        layers_to_transform=list(range(layers - args.top, layers)),
    )  # fmt: skip
    sft = GuardianSFTConfig(
        output_dir=tempfile.mkdtemp(),
        use_cpu=True,
        bf16="auto",
        per_device_train_batch_size=args.batch,
        max_steps=steps,
        learning_rate=5e-4,
        max_length=args.max_length,
        report_to="none",
        logging_steps=1,
        save_strategy="no",
        seed=0,
        dataset_kwargs={"skip_prepare_dataset": True},
        **cfg,
    )
    trainer = GuardianTrainer(
        model=args.model, args=sft, train_dataset=data, processing_class=tok, peft_config=peft
    )
    stamps: list[float] = []
    tokens: list[int] = []

    class Clock(TrainerCallback):
        def on_step_begin(self, *a, **k):
            stamps.append(time.perf_counter())

        def on_train_end(self, *a, **k):
            stamps.append(time.perf_counter())

    trainer.add_callback(Clock())
    original = trainer.training_step

    def counting_step(model, inputs, *rest, **kw):
        tokens.append(int(inputs["attention_mask"].sum()))
        return original(model, inputs, *rest, **kw)

    trainer.training_step = counting_step
    trainer.train()
    seconds = stamps[-1] - stamps[args.warmup]
    trained = sum(tokens[args.warmup :])
    peak = int(Path("/proc/self/status").read_text().split("VmHWM:")[1].split()[0]) / 1024
    return {
        "config": args.run_config,
        "tokens": trained,
        "seconds": round(seconds, 2),
        "tokens_per_s": round(trained / seconds, 1),
        "seconds_per_step": round(seconds / args.steps, 2),
        "peak_rss_mb": round(peak),
    }


def preparation(args) -> dict:
    """Seconds from data to trainer-ready tokens for ``--prep-rows`` rows: rendered cold, then read from the cache."""
    import datasets
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(args.model)
    times = {}
    with tempfile.TemporaryDirectory() as cache:
        os.environ["MCIP_CACHE"] = cache
        for name in ("cold", "cached"):
            if name == "cold":  # nor may `datasets` reuse a map it cached beside the data in an earlier run
                datasets.disable_caching()
            start = time.perf_counter()
            _examples(args.data, args.prep_rows, tok, args.budget, args.max_length)
            times[name] = round(time.perf_counter() - start, 2)
            datasets.enable_caching()
    return {"rows": args.prep_rows, **times}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default="data/mcip-synth")
    parser.add_argument("--model", default=str(REPO / "models/smollm2-135m-instruct"))
    parser.add_argument("--steps", type=int, default=4, help="timed steps per configuration")
    parser.add_argument("--warmup", type=int, default=4, help="untimed steps first (the allocator settles)")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--budget", type=int, default=900, help="the log's token budget (compact style)")
    parser.add_argument("--max-length", type=int, default=1024)
    parser.add_argument("--top", type=int, default=30, help="LoRA on the top N blocks")
    parser.add_argument("--pool", type=int, default=400, help="examples the batches are drawn from")
    parser.add_argument("--prep-rows", type=int, default=1000)
    parser.add_argument("--only", nargs="*", default=None, help="run these configurations only")
    parser.add_argument("--run-config", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    if args.run_config:
        print("RESULT " + json.dumps(run_one(args)))
        return 0
    results, host = {}, machine()
    print(
        f"CPU: {host['cpu']} ({host['detection']}; bf16: auto picks {host['auto_chooses']})", file=sys.stderr
    )
    for name in args.only or CONFIGS:
        cmd = [sys.executable, "-m", "benchmarks.train_speed", "--run-config", name]
        for flag in ("data", "model", "steps", "warmup", "batch", "budget", "max_length", "top", "pool"):
            cmd += [f"--{flag.replace('_', '-')}", str(getattr(args, flag))]
        env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO)
        line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
        if line is None:
            print(f"{name}: failed\n{proc.stderr[-3000:]}", file=sys.stderr)
            return 1
        results[name] = json.loads(line[7:])
        print(f"  {name}: {results[name]['tokens_per_s']} tokens/s", file=sys.stderr)
    prep = preparation(args)
    base = results.get(BASELINE)
    print(
        f"\nLoRA (r16, top {args.top} of 30 blocks) on {host['cpu']}, {host['cores']} cores, "
        f"{host['auto_chooses']} (native bf16: {host['native_bf16']}), SmolLM2-135M, batch {args.batch}, "
        f"logs cut to {args.budget} tokens, {args.steps} timed steps after {args.warmup} warm-up\n"
    )
    print("| step | tokens/s | s/step | peak RSS (MB) | vs today |")
    print("|---|---|---|---|---|")
    for name, r in results.items():
        ratio = f"{r['tokens_per_s'] / base['tokens_per_s']:.2f}x" if base else "-"
        print(f"| {name} | {r['tokens_per_s']} | {r['seconds_per_step']} | {r['peak_rss_mb']} | {ratio} |")
    print(
        f"\nstart-up, {prep['rows']} rows to tokens: {prep['cold']} s rendered, {prep['cached']} s from the cache "
        f"({prep['cold'] / max(prep['cached'], 1e-3):.0f}x)"
    )
    if args.json:
        write_json(args.json, {"machine": host, "args": vars(args), "results": results, "preparation": prep})
    return 0


if __name__ == "__main__":
    sys.exit(main())
