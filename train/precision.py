"""One place decides the compute precision: bf16 autocast or float32, from the machine, unless told.

Why it matters: on a CPU with native bf16 (AVX512-BF16 or AMX) bf16 autocast trains SmolLM2 about 1.6x faster
than float32; on an AVX2-only CPU the same setting emulates bf16 and runs ~50x *slower* (measured: a 1024x1024
matmul at 52 GFLOP/s in float32 vs 0.9 in bf16 on an AVX2 EPYC). So "bf16: true" is never a safe CPU default.

Rule for ``auto`` (recipes say ``bf16: auto``, the default):
- CUDA: bf16 where the card supports it (Ampere and newer), else float32.
- CPU: bf16 only where the CPU reports native bf16 *and* a short matmul check shows bf16 faster than float32;
  float32 otherwise.
``true``/``false`` force either. The choice and its reason are logged at start and written to ``mcip_run.json``.

``MCIP_CPU_BF16=native|none`` overrides the detection (not the choice): tests force both branches with it, and a
user can with it too when detection is wrong for their machine.
"""

from __future__ import annotations

import os
import platform
import time
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path

ENV_OVERRIDE = "MCIP_CPU_BF16"
_TRUE = {"true", "1", "yes", "on", "bf16", "bfloat16"}
_FALSE = {"false", "0", "no", "off", "fp32", "float32"}


class PrecisionError(ValueError):
    pass


@dataclass(frozen=True)
class Precision:
    bf16: bool
    reason: str
    device: str  # "cuda" or "cpu"
    cpu: str  # the CPU model name
    native_bf16: bool | None  # what the CPU reports (None on CUDA)
    requested: str  # "auto", "true" or "false"

    def as_dict(self) -> dict:
        return asdict(self)


@cache
def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux), for logs and benchmark tables."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def native_cpu_bf16() -> tuple[bool, str]:
    """Whether this CPU computes bf16 natively, and how that was decided (torch's own ISA checks)."""
    forced = os.environ.get(ENV_OVERRIDE, "").strip().lower()
    if forced in ("native", "none"):
        return forced == "native", f"{ENV_OVERRIDE}={forced}"
    if forced:
        raise PrecisionError(f"{ENV_OVERRIDE}={forced!r}: expected 'native' or 'none'")
    import torch

    isa = [
        name
        for name, check in (
            ("AVX512-BF16", getattr(torch.cpu, "_is_avx512_bf16_supported", None)),
            ("AMX", getattr(torch.cpu, "_is_amx_tile_supported", None)),
        )
        if check is not None and check()
    ]
    return bool(isa), (" and ".join(isa) + " detected") if isa else "no AVX512-BF16 or AMX"


@cache
def cpu_bf16_speedup(size: int = 512, repeats: int = 3) -> float:
    """float32 time / bf16 time for a ``size`` x ``size`` matmul on this CPU (best of ``repeats``); ~0.1 s."""
    import torch

    def best(dtype) -> float:
        a = torch.randn(size, size).to(dtype)
        b = torch.randn(size, size).to(dtype)
        a @ b  # warm-up: kernel selection
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            a @ b
            times.append(time.perf_counter() - start)
        return min(times)

    return best(torch.float32) / max(best(torch.bfloat16), 1e-9)


def _requested(value) -> str:
    if value is None or (isinstance(value, str) and value.strip().lower() == "auto"):
        return "auto"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value).strip().lower()
    if text in _TRUE:
        return "true"
    if text in _FALSE:
        return "false"
    raise PrecisionError(f"bf16: {value!r} is not one of auto, true, false")


def choose(value="auto", cpu: bool | None = None) -> Precision:
    """Resolve a recipe's ``bf16`` (``auto``/``true``/``false``/None) for this machine; ``cpu`` forces the CPU path."""
    requested = _requested(value)
    if cpu is None:
        import torch

        cpu = not torch.cuda.is_available()
    if not cpu:
        import torch

        supported = torch.cuda.is_bf16_supported()
        if requested != "auto":
            return Precision(
                requested == "true", "forced by the recipe or flag", "cuda", cpu_model(), None, requested
            )
        why = "the GPU supports bf16" if supported else "the GPU has no bf16 support"
        return Precision(supported, why, "cuda", cpu_model(), None, requested)

    native, how = native_cpu_bf16()
    if requested != "auto":
        why = "forced by the recipe or flag"
        if requested == "true" and not native:
            why += f"; WARNING: {how}, so bf16 is emulated and can be ~50x slower than float32"
        return Precision(requested == "true", why, "cpu", cpu_model(), native, requested)
    if not native:
        return Precision(
            False, f"{how}: float32 (emulated bf16 is far slower)", "cpu", cpu_model(), False, requested
        )
    speedup = cpu_bf16_speedup()
    if speedup <= 1.0:
        why = f"{how} but a bf16 matmul ran at {speedup:.2f}x float32 speed: float32"
        return Precision(False, why, "cpu", cpu_model(), True, requested)
    why = f"{how}; a bf16 matmul ran at {speedup:.1f}x float32 speed"
    return Precision(True, why, "cpu", cpu_model(), True, requested)
