"""One profiled training step, summarised: the ``torch.profiler`` context ``gpu_scale.py``'s worker wraps around a
warm-up step (``--profile``), and the summary ``profile_135m.py`` prints. A module of its own so that neither
script imports the other's driver."""

from __future__ import annotations

import contextlib
import re
import time
from collections import Counter

LOSS_RANGE = "mcip:fused_lm_head_loss"
# top-level attention ops and their autograd nodes (children and "evaluate_function:" wrappers not re-counted)
ATTENTION_OPS = re.compile(
    r"^(aten::scaled_dot_product_attention|ScaledDotProduct\w*Backward0|flex_attention\w*|FlexAttention\w*)$"
)
# TRL's fused head, or the guardian trainer's answer-only head (train/trainer.py)
LOSS_OPS = (LOSS_RANGE, "ChunkedLogProbFunctionBackward", "mcip:answer_head_loss")
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
