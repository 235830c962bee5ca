"""Why packing and Liger made SmolLM2-135M slower than padded batches on an H100 (0.54x, gpu_launch.json): one
profiled training step of padded vs packed vs packed+Liger (and packed with flex attention, a candidate fix).

Each configuration runs through the real ``train/sft.py`` (via ``benchmarks/gpu_scale.py``'s worker, the same
recipe ``recipes/smollm2-135m/full_gpu.yaml``); the last warm-up step (untimed) runs under ``torch.profiler``.
The summary per configuration: the attention implementation the model selected, every distinct
``scaled_dot_product_attention`` call (query shape, mask shape, ``is_causal``: a packed batch under sdpa is
one flattened row with a dense block-diagonal mask, so attention runs over rows * max_length positions), the
SDPA kernels used, the number of kernel launches and operators, the time in attention and in the loss (TRL's
fused LM-head log-probs, forward and backward), and the top operators by self time.

    python -m benchmarks.profile_135m                       # on a GPU: benchmarks/results/profile_135m.json
    python -m benchmarks.profile_135m --device cpu --scale tiny --steps 1   # smoke test
    python -m benchmarks.profile_135m --from-json benchmarks/results/gpu_scale.json  # the GPU run's profiles

``benchmarks/gpu_run.sh`` does not run this script separately: ``gpu_scale.py --profile`` profiles the last
warm-up step of every variant (untimed, so the tokens/s stay clean) and this script prints those summaries.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from benchmarks import gpu_scale
from benchmarks.stages import REPO

CONFIGS = [
    "smollm2-135m-full/padded",
    "smollm2-135m-full/bfd",
    "smollm2-135m-full/bfd-liger",
    "smollm2-135m-full/padded-liger",
    "smollm2-135m-full/bfd-flex",
]


def print_summary(report: dict) -> None:
    for name, entry in report["variants"].items():
        if entry.get("status") != "ok" or "sdpa_calls" not in entry.get("profile", {}):
            print(f"\n## {name}: {entry.get('status')}")
            continue
        p = entry["profile"]
        rows = entry.get("rows", 0) // max(entry.get("micro_steps", 1), 1)
        print(f"\n## {name}: {entry['what']}")
        print(
            f"attention implementation: {entry.get('attn_implementation')}; "
            f"padding-free: {entry.get('padding_free')}; rows x tokens per forward: {rows} x "
            f"{entry.get('mean_row_tokens')}; tokens/s {entry.get('tokens_per_s')}"
        )
        for call in p["sdpa_calls"]:
            print(
                f"  sdpa q={call['query']} mask={call['mask']} is_causal={call['is_causal']} x{call['calls']}"
            )
        print(f"  SDPA kernels: {', '.join(p['sdpa_backend_ops']) or '-'}")
        print(
            f"  profiled step: {p['step_wall_ms']} ms wall, {p['busy_ms']} ms {p['timer']}; kernel launches "
            f"{p['kernel_launches']}, aten ops {p['aten_ops']}; attention {p['attention_ms']} ms "
            f"({p['attention_share']:.0%}); loss {p['loss_ms']} ms ({p['loss_share']:.0%})"
        )
        for op in p["top_ops"][:8]:
            print(f"    {op['self_ms']:>9.2f} ms  {op['share']:>6.1%}  x{op['calls']:<5} {op['op']}")
        for k in p.get("top_kernels", [])[:6]:
            print(f"    {k['ms']:>9.2f} ms  {k['share']:>6.1%}  x{k['calls']:<5} {k['kernel']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", choices=["cuda", "cpu"], default=None)
    parser.add_argument("--scale", choices=["full", "tiny"], default="full")
    parser.add_argument(
        "--steps", type=int, default=1, help="timed steps (x2 for 135M); the last warm-up step is profiled"
    )
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--data", default=None)
    parser.add_argument("--train-size", type=int, default=300)
    parser.add_argument("--only", nargs="*", default=CONFIGS)
    parser.add_argument("--timeout-s", type=float, default=150.0)
    parser.add_argument("--budget-s", type=float, default=None)
    parser.add_argument("--work", default="runs/gpu-scale")
    parser.add_argument("--tokenizer-base", default=str(gpu_scale.SMOLLM2_DIR))
    parser.add_argument("--isolate", choices=["auto", "subprocess", "inprocess"], default="auto")
    parser.add_argument("--out", default="benchmarks/results/profile_135m.json")
    parser.add_argument(
        "--from-json", default=None, help="print the summary of a gpu_scale.json made with --profile"
    )
    args = parser.parse_args(argv)
    if args.from_json:
        print_summary(json.loads(Path(args.from_json).read_text()))
        return 0
    forwarded = [
        "--scale", args.scale, "--steps", str(args.steps), "--warmup", str(args.warmup),
        "--train-size", str(args.train_size), "--timeout-s", str(args.timeout_s), "--work", args.work,
        "--tokenizer-base", args.tokenizer_base, "--isolate", args.isolate, "--out", args.out, "--profile",
        "--only", *args.only,
    ]  # fmt: skip
    if args.device:
        forwarded += ["--device", args.device]
    if args.data:
        forwarded += ["--data", args.data]
    if args.budget_s:
        forwarded += ["--budget-s", str(args.budget_s)]
    gpu_scale.main(forwarded)
    report = json.loads((REPO / args.out).read_text())
    report["variants"] = {k: v for k, v in report["variants"].items() if k in args.only}
    print_summary(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
