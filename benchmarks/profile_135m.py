"""Why packing and Liger made SmolLM2-135M slower than padded batches on an H100 (0.54x, gpu_launch.json): one
profiled training step of padded vs packed vs packed+Liger (and packed with flex attention, a candidate fix).

Each configuration runs through the real ``train/sft.py`` (via ``benchmarks/gpu_scale.py``'s worker, the same
recipe ``recipes/smollm2-135m/full_gpu.yaml``); the last warm-up step (untimed) runs under ``torch.profiler``.
The summary per configuration: the attention implementation the model selected, every distinct
``scaled_dot_product_attention`` call (query shape, mask shape, ``is_causal``: a packed batch under sdpa is
one flattened row with a dense block-diagonal mask, so attention runs over rows * max_length positions), the
SDPA kernels used, the number of kernel launches and operators, the time in attention and in the loss (TRL's
fused LM-head log-probs, forward and backward), and the top operators by self time.

    python benchmarks/profile_135m.py                       # on a GPU: benchmarks/results/profile_135m.json
    python benchmarks/profile_135m.py --device cpu --scale tiny --steps 1   # smoke test
    python benchmarks/profile_135m.py --from-json benchmarks/results/gpu_scale.json  # the GPU run's profiles

``benchmarks/gpu_run.sh`` does not run this script separately: ``gpu_scale.py --profile`` profiles the last
warm-up step of every variant (untimed, so the tokens/s stay clean) and this script prints those summaries.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

CONFIGS = [
    "smollm2-135m-full/padded",
    "smollm2-135m-full/bfd",
    "smollm2-135m-full/bfd-liger",
    "smollm2-135m-full/padded-liger",
    "smollm2-135m-full/bfd-flex",
]
LOSS_RANGE = "mcip:fused_lm_head_loss"
# top-level attention ops and their autograd nodes (children and "evaluate_function:" wrappers not re-counted)
ATTENTION_OPS = re.compile(
    r"^(aten::scaled_dot_product_attention|ScaledDotProduct\w*Backward0|flex_attention\w*|FlexAttention\w*)$"
)
LOSS_OPS = (LOSS_RANGE, "ChunkedLogProbFunctionBackward")
SDPA_BACKENDS = re.compile(r"^aten::(_scaled_dot_product_\w+|_flash_attention\w*|_efficient_attention\w*)$")


@contextlib.contextmanager
def _record_sdpa(calls: Counter):
    """Count every ``scaled_dot_product_attention`` call by (query shape, mask shape, is_causal)."""
    import torch
    import torch.nn.functional as F

    original = F.scaled_dot_product_attention

    def wrapper(query, key, value, attn_mask=None, *args, **kwargs):
        mask = (
            None if attn_mask is None else f"{tuple(attn_mask.shape)} {attn_mask.dtype}".replace("torch.", "")
        )
        causal = kwargs.get("is_causal", args[1] if len(args) > 1 else False)
        calls[(str(tuple(query.shape)), mask, bool(causal))] += 1
        return original(query, key, value, attn_mask, *args, **kwargs)

    F.scaled_dot_product_attention = wrapper
    torch.nn.functional.scaled_dot_product_attention = wrapper
    try:
        yield
    finally:
        F.scaled_dot_product_attention = original


@contextlib.contextmanager
def _label_loss():
    """Put TRL's fused LM-head log-prob function (forward) under a named profiler range."""
    import torch

    try:
        from trl.trainer import utils as trl_utils
    except ImportError:  # pragma: no cover
        yield
        return
    fn = getattr(trl_utils, "_ChunkedLogProbFunction", None)
    if fn is None:
        yield
        return
    original = fn.apply

    def apply(*args, **kwargs):
        with torch.profiler.record_function(LOSS_RANGE):
            return original(*args, **kwargs)

    fn.apply = apply
    try:
        yield
    finally:
        fn.apply = original


@contextlib.contextmanager
def profiled(settings: dict, stats: dict, cuda: bool):
    """Profile the enclosed training step; leave a summary in ``stats["profile"]``."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    calls: Counter = Counter()
    if cuda:
        torch.cuda.synchronize()
    started = time.perf_counter()
    with _record_sdpa(calls), _label_loss(), profile(activities=activities) as prof:
        yield
        if cuda:
            torch.cuda.synchronize()
    wall = time.perf_counter() - started
    try:
        stats["profile"] = summarize(prof, calls, cuda, wall, settings.get("top", 15))
    except Exception as err:  # a summary that fails must not fail the training run it watched
        stats["profile"] = {"error": f"{type(err).__name__}: {err}"[:300]}


def summarize(prof, calls: Counter, cuda: bool, wall: float, top: int) -> dict:
    from torch.autograd import DeviceType

    averages = prof.key_averages()
    self_key = "self_device_time_total" if cuda else "self_cpu_time_total"
    total_key = "device_time_total" if cuda else "cpu_time_total"
    events = prof.events()
    kernels = [e for e in events if e.device_type == DeviceType.CUDA] if cuda else []
    aten_ops = sum(a.count for a in averages if a.key.startswith("aten::"))
    if cuda:  # kernel time on the device; CPU-side ops also carry their kernels' time, so count kernels only
        busy_us = sum(e.time_range.elapsed_us() for e in kernels)
        kernel_names = {e.name for e in kernels}
        ops = [a for a in averages if a.key not in kernel_names]
    else:
        busy_us = sum(a.self_cpu_time_total for a in averages)
        ops = list(averages)
    attention_us = sum(getattr(a, total_key) for a in ops if ATTENTION_OPS.match(a.key))
    loss_us = sum(getattr(a, total_key) for a in ops if a.key in LOSS_OPS)
    ranked = sorted(ops, key=lambda a: getattr(a, self_key), reverse=True)
    top_kernels = []
    if cuda:
        by_name: dict[str, list[float]] = {}
        for e in kernels:
            by_name.setdefault(e.name, []).append(e.time_range.elapsed_us())
        top_kernels = [
            {
                "kernel": k[:120],
                "calls": len(v),
                "ms": round(sum(v) / 1e3, 3),
                "share": round(sum(v) / busy_us, 4),
            }
            for k, v in sorted(by_name.items(), key=lambda kv: -sum(kv[1]))[:top]
        ]
    return {
        "timer": "CUDA kernel time" if cuda else "CPU time",
        "step_wall_ms": round(wall * 1e3, 2),
        "busy_ms": round(busy_us / 1e3, 2),
        "kernel_launches": len(kernels) if cuda else None,
        "launch_api_calls": sum(a.count for a in averages if "LaunchKernel" in a.key) if cuda else None,
        "aten_ops": aten_ops,
        "attention_ms": round(attention_us / 1e3, 2),
        "attention_share": round(attention_us / busy_us, 4) if busy_us else None,
        "loss_ms": round(loss_us / 1e3, 2),
        "loss_share": round(loss_us / busy_us, 4) if busy_us else None,
        "sdpa_calls": [
            {"query": q, "mask": m, "is_causal": c, "calls": n} for (q, m, c), n in sorted(calls.items())
        ],
        "sdpa_backend_ops": sorted({a.key for a in averages if SDPA_BACKENDS.match(a.key)}),
        "top_ops": [
            {
                "op": a.key[:120],
                "calls": a.count,
                "self_ms": round(getattr(a, self_key) / 1e3, 3),
                "share": round(getattr(a, self_key) / busy_us, 4) if busy_us else None,
            }
            for a in ranked[:top]
        ],
        "top_kernels": top_kernels,
    }


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
    from benchmarks import gpu_scale

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
