"""GPU speed and memory at the sizes users train: every GPU recipe, run for a few steps through the real
``train/sft.py`` on random-weight models of the recipe's architecture, in one command.

    bash benchmarks/gpu_run.sh run      # on a lent GPU: the prepared sequence (this script is its first step)
    python -m benchmarks.gpu_scale --data .gpu_carry/data --profile --budget-s 360   # this step alone
    python -m benchmarks.gpu_scale --device cpu --scale tiny --steps 1 --warmup 1    # CPU smoke test
    python -m benchmarks.gpu_scale --list   # the variants, in the priority order a time budget runs them

**Models.** The 7-8B recipes' models live on the Hub, which the GPU machines here cannot reach, so each is
rebuilt with random weights from its public configuration (``benchmarks/shapes/*.json``: hidden size, layers,
heads, KV heads, intermediate size, vocabulary, RoPE, tied embeddings; Llama-3.1-8B and xLAM-2-8B share one
folder). The tokenizer stand-in is SmolLM2's BPE (ChatML template, ``<|im_end|>`` end of turn) with unused
entries appended up to the shape's vocabulary size: embedding and LM-head sizes are the real ones, token
counts per log are SmolLM2's (for Qwen-shaped folders transformers 5 loads it as ``Qwen2Tokenizer``, Qwen's
pre-tokenizer over the same vocabulary, about 1% off). Speed does not depend on weight values. ``--scale
tiny`` shrinks layers and width (2 layers, head_dim 16, the GQA and MLP ratios kept, SmolLM2's BPE cut to its
first 4,096 entries), uses short compact prompts (log budget 120 tokens, max_length 1024) and at most 2 rows
per batch, and on CPU runs the variants in-process: the same code path in seconds; its figures mean nothing.

**What the benchmark overrides in each recipe, and why** (everything else, e.g. LoRA rank, dtype, max_length,
batch size, packing, Liger, gradient checkpointing, is the recipe's own unless the variant says otherwise;
each result lists its overrides): ``model_name_or_path`` (the random-weight shape; the SmolLM2 recipe keeps
its local folder when it holds weights), ``dataset_name``, ``max_steps``/``max_train_samples`` (a fixed number
of steps), ``log_budget`` where the recipe's leaves less than 512 tokens under ``max_length`` for the full
policy and the answer (Qwen and xLAM: 1800 -> 1536; at 1800 about half of today's default-data logs exceed
2,048 tokens and sft.py refuses to start), ``gradient_accumulation_steps: 1`` (throughput per micro-batch is
what is measured; accumulation only spaces the optimizer steps, so here every micro-batch also pays an
optimizer step: conservative), ``eval_strategy: no``, ``save_strategy: no`` and no final save (not part of a
step), ``report_to: none`` (no network), and on CPU ``use_cpu``,
``dataset_num_proc``/``dataloader_num_workers``. The data (``--fit-data``, run by ``gpu_run.sh fetch``) keeps
the default-data records that fit 2,048 tokens at budget 1,536: some logs fit no budget, and sft.py refuses a
dataset holding one; the dropped share is reported.

**Figures.** tokens/s counts real (non-pad) tokens over the timed steps (the first ``--warmup`` steps, which
compile kernels and warm the allocator, are excluded; with ``--profile`` the last of them runs under
``torch.profiler``, see ``profile_135m.py``). MFU = useful FLOPs / seconds / the card's dense bf16 peak (989
TFLOP/s for H100 SXM and H200; ``PEAK_BF16_TFLOPS``), where useful FLOPs = 6 * N * tokens + 6 * n_layers *
(n_heads * head_dim) * sum(l_i^2) over the examples (causal attention within each example, forward and
backward), N = parameters in matrix multiplies (every linear layer and the LM head, not the embedding lookup).
Padding, attention across packed examples and recomputation (gradient checkpointing) are not useful work. For
LoRA, ``mfu_frozen_base`` uses 4 * N (no weight gradients for the frozen base). The measured rate of an 8192^3
bf16 matrix product is reported beside the peak. Peak memory is ``torch.cuda.max_memory_allocated`` /
``max_memory_reserved`` of the run. Padding waste is the share of pad tokens in the computed batches. Ratios
are against the recipe group's plain padded baseline measured in the same run. On a GPU each variant runs in
its own ``accelerate launch`` process with a timeout; a failure (out of memory, a missing package, a timeout)
is recorded, not fatal; ``--budget-s`` stops starting variants (they read "skipped: time budget"). Results are
rewritten atomically after every variant.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import importlib.util
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from mcip.io import write_json

REPO = Path(__file__).resolve().parents[1]

SHAPES_DIR = REPO / "benchmarks" / "shapes"
SMOLLM2_DIR = REPO / "models" / "smollm2-135m-instruct"
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "chat_template.jinja",
    "special_tokens_map.json",
)
MARKER = "gpu_scale_model.json"
RESULT_ENV = "GPU_SCALE_RESULT"
BENCH_ENV = "GPU_SCALE_BENCH"  # JSON: warmup steps, profile settings (worker side)
# Tokens the full-style policy and the answer add to the log (about 450 with SmolLM2's tokenizer): a recipe
# whose log_budget leaves less than this under max_length has logs that do not fit; sft.py refuses them.
POLICY_MARGIN = 512
TINY_BUDGET, TINY_MAX_LENGTH = 120, 1024  # --scale tiny: compact prompts, 450-900 tokens (4k vocab)

# Dense bf16 tensor-core peak (no sparsity), from the vendors' datasheets; matched in this order against
# torch.cuda.get_device_name().
PEAK_BF16_TFLOPS = (
    ("H200", 989.0),
    ("H100 PCIe", 756.0),
    ("H100 NVL", 835.0),
    ("H100", 989.0),  # SXM ("NVIDIA H100 80GB HBM3")
    ("H800", 989.0),
    ("A100", 312.0),
    ("L40S", 362.0),
    ("L4", 121.0),
)


def peak_bf16_tflops(device_name: str) -> float | None:
    for key, peak in PEAK_BF16_TFLOPS:
        if key in device_name:
            return peak
    return None


# ---------------------------------------------------------------------------------------------------- shapes


def load_shape(name: str) -> dict:
    path = SHAPES_DIR / f"{name}.json"
    if not path.is_file():
        raise SystemExit(f"error: no shape {name!r} ({path} missing; have {', '.join(shape_names())})")
    return json.loads(path.read_text())


def shape_names() -> list[str]:
    return sorted(p.stem for p in SHAPES_DIR.glob("*.json"))


TINY_VOCAB = 4096


def scaled_config(shape: dict, scale: str, base_vocab: int = TINY_VOCAB) -> dict:
    """The shape's config, or at ``tiny`` scale a 2-layer version: head_dim 16, the same GQA ratio (heads
    per KV head) and MLP ratio, a 4,096-entry vocabulary (SmolLM2's first entries: a small LM head on CPU)."""
    cfg = dict(shape["config"])
    if scale == "full":
        return cfg
    if scale != "tiny":
        raise ValueError(f"unknown scale {scale!r} (full or tiny)")
    group = cfg["num_attention_heads"] // cfg["num_key_value_heads"]
    kv = 1
    heads = kv * group
    head_dim = 16
    hidden = heads * head_dim
    mlp_ratio = cfg["intermediate_size"] / cfg["hidden_size"]
    cfg.update(
        hidden_size=hidden,
        num_attention_heads=heads,
        num_key_value_heads=kv,
        intermediate_size=int(round(hidden * mlp_ratio / 8) * 8),
        num_hidden_layers=2,
        vocab_size=min(base_vocab, TINY_VOCAB),
    )
    if "head_dim" in cfg:
        cfg["head_dim"] = head_dim
    if "max_window_layers" in cfg:
        cfg["max_window_layers"] = 2
    return cfg


def flop_shape(cfg: dict) -> dict:
    """Parameter counts from a config dict: N (matrix-multiply parameters, LM head included, embedding lookup
    not), the total, and the attention width used by the attention FLOP term."""
    h, n_layers = cfg["hidden_size"], cfg["num_hidden_layers"]
    heads, kv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    head_dim = cfg.get("head_dim") or h // heads
    inter, vocab = cfg["intermediate_size"], cfg["vocab_size"]
    qkv_bias = cfg.get("model_type") == "qwen2" or cfg.get("attention_bias", False)
    attn = h * heads * head_dim + 2 * h * kv * head_dim + heads * head_dim * h
    if qkv_bias:
        attn += heads * head_dim + 2 * kv * head_dim
    mlp = 3 * h * inter
    per_layer = attn + mlp + 2 * h
    embed = vocab * h
    lm_head = vocab * h
    matmul = n_layers * (attn + mlp) + lm_head
    total = n_layers * per_layer + h + embed + (0 if cfg.get("tie_word_embeddings") else lm_head)
    return {
        "params_total": total,
        "params_matmul": matmul,
        "n_layers": n_layers,
        "attn_width": heads * head_dim,
    }


def build_tokenizer(base_dir: Path, vocab_size: int, out: Path) -> int:
    """Copy SmolLM2's tokenizer files into ``out`` with a BPE vocabulary of ``vocab_size`` entries.

    Larger than the base: unused entries are appended, with no merges leading to them, so text tokenizes
    exactly as with the base tokenizer; only ``len(tokenizer)`` (and so the model's embedding and LM head)
    grows to the real model's size. Smaller (``--scale tiny``): the base's first ``vocab_size`` entries and
    the merges among them, a valid byte-level BPE that splits text into more, shorter tokens (a CPU then
    scores a small LM head). Returns the vocabulary size."""
    out.mkdir(parents=True, exist_ok=True)
    for name in TOKENIZER_FILES:
        if (base_dir / name).is_file():
            shutil.copy(base_dir / name, out / name)
    data = json.loads((base_dir / "tokenizer.json").read_text(encoding="utf-8"))
    model = data["model"]
    vocab = model["vocab"]
    specials = {t["id"] for t in data.get("added_tokens", [])}
    size = max(set(vocab.values()) | specials) + 1
    if vocab_size < size:
        keep = {tok: i for tok, i in vocab.items() if i < vocab_size}
        if len(keep) < 512 or max(specials, default=0) >= vocab_size:
            raise ValueError(f"cannot shrink {base_dir} to {vocab_size} entries (specials or bytes lost)")

        def pair(m):
            return m.split(" ", 1) if isinstance(m, str) else m

        model["vocab"] = keep
        model["merges"] = [
            m for m in model["merges"] if all(part in keep for part in (*pair(m), "".join(pair(m))))
        ]
        size = vocab_size
    else:
        for i in range(size, vocab_size):
            vocab[f"<gpu_scale_unused_{i}>"] = i
        size = vocab_size
    (out / "tokenizer.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return size


def base_vocab_size(base_dir: Path) -> int:
    data = json.loads((base_dir / "tokenizer.json").read_text(encoding="utf-8"))
    ids = set(data["model"]["vocab"].values()) | {t["id"] for t in data.get("added_tokens", [])}
    return max(ids) + 1


def model_key(cfg: dict) -> str:
    arch = {k: v for k, v in cfg.items() if not k.endswith("token_id")}
    return hashlib.sha1(json.dumps(arch, sort_keys=True).encode()).hexdigest()[:10]


def ensure_model(
    shape_name: str, scale: str, work: Path, tokenizer_base: Path, device: str = "cpu", seed: int = 0
) -> Path:
    """A model folder of the shape with random weights and the tokenizer stand-in (built once per
    architecture: Llama-3.1-8B and xLAM-2-8B share one). Weights are drawn on ``device`` and saved in bf16."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    from mcip.io import atomic_dir

    shape = load_shape(shape_name)
    cfg = scaled_config(shape, scale, base_vocab_size(tokenizer_base))
    folder = work / "models" / f"{shape['config']['model_type']}-{scale}-{model_key(cfg)}"
    if (folder / MARKER).is_file():
        return folder
    with atomic_dir(folder) as tmp:
        vocab = build_tokenizer(tokenizer_base, cfg["vocab_size"], tmp)
        tok = AutoTokenizer.from_pretrained(tmp)
        cfg["vocab_size"] = vocab
        # the stand-in's token ids, not the real tokenizer's (they would point at unused entries)
        cfg.update(
            bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id
        )
        config = AutoConfig.for_model(**cfg)
        torch.manual_seed(seed)
        with torch.device(device):
            model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
        model.generation_config.eos_token_id = tok.eos_token_id
        model.generation_config.pad_token_id = tok.pad_token_id
        model.save_pretrained(tmp, max_shard_size="5GB")
        params = sum(p.numel() for p in model.parameters())
        del model
        (tmp / MARKER).write_text(
            json.dumps(
                {
                    "shape": shape_name,
                    "hf_id": shape["hf_id"],
                    "scale": scale,
                    "params": params,
                    "weights": f"random (torch.manual_seed({seed})), bf16; not the real model",
                    "tokenizer": f"{tokenizer_base} with its BPE vocabulary padded to {vocab} entries",
                },
                indent=2,
            )
        )
    if device != "cpu":
        torch.cuda.empty_cache()
    return folder


def smollm2_source(scale: str, work: Path, tokenizer_base: Path, device: str) -> tuple[Path, str]:
    """The SmolLM2 recipe's own folder when it holds weights (full scale), else a random one of its shape."""
    if scale == "full" and any(SMOLLM2_DIR.glob("*.safetensors")):
        return SMOLLM2_DIR, "the recipe's own models/smollm2-135m-instruct (real weights)"
    return (
        ensure_model("smollm2-135m", scale, work, tokenizer_base, device),
        "random weights of SmolLM2-135M's shape (models/smollm2-135m-instruct weights absent here)"
        if scale == "full"
        else "tiny random SmolLM2-shaped model",
    )


# -------------------------------------------------------------------------------------------------- variants


@dataclasses.dataclass(frozen=True)
class Variant:
    name: str  # group/variant
    recipe: str
    shape: str
    what: str
    overrides: dict = dataclasses.field(default_factory=dict)
    accelerate: str = "single_gpu"
    cuda: bool = False  # needs CUDA (Liger's Triton kernels, bitsandbytes 4-bit, flex attention, offloading)
    packages: tuple[str, ...] = ()
    baseline: bool = False
    steps_factor: int = 1  # small models run more steps (a 135M step is ~0.4 s on an H100: average more)

    @property
    def group(self) -> str:
        return self.name.split("/")[0]

    @property
    def est_s(self) -> float:  # a lower bound of one GPU run: start, load, warm-up, steps
        return 25.0 if self.shape == "smollm2-135m" else 60.0


QWEN, LLAMA, XLAM, SMOL = (
    "recipes/qwen2.5-7b/lora.yaml",
    "recipes/llama-3.1-8b/qlora.yaml",
    "recipes/xlam-2-8b/full_paper.yaml",
    "recipes/smollm2-135m/full_gpu.yaml",
)
PADDED = {"packing": False, "padding_free": False, "use_liger_kernel": False}
BFD = {"packing": True, "packing_strategy": "bfd"}
LIGER = {"use_liger_kernel": True}
FLEX = {"attn_implementation": "flex_attention"}

# In priority order: a GPU run with a time budget runs them in this order and reports the rest as skipped.
VARIANTS = [
    Variant("qwen2.5-7b-lora/padded", QWEN, "qwen2.5-7b", "bf16 LoRA, padded batches (GC on)", PADDED,
            baseline=True),
    Variant("qwen2.5-7b-lora/recipe", QWEN, "qwen2.5-7b", "the recipe: BFD packing + Liger + GC", {},
            cuda=True, packages=("liger_kernel",)),
    Variant("smollm2-135m-full/padded", SMOL, "smollm2-135m", "the recipe: full SFT, padded batches of 16",
            {}, baseline=True, steps_factor=2),
    Variant("smollm2-135m-full/bfd-liger", SMOL, "smollm2-135m",
            "BFD packing + Liger, 8 rows (benchmarks/gpu_launch.py's liger-bfd)",
            {**BFD, **LIGER, "per_device_train_batch_size": 8}, cuda=True, packages=("liger_kernel",),
            steps_factor=2),
    Variant("xlam-2-8b-full/recipe-1gpu", XLAM, "xlam-2-8b",
            "the recipe on one GPU without ZeRO: full SFT, bf16 weights and AdamW states, BFD + Liger + GC",
            {}, cuda=True, packages=("liger_kernel",)),
    Variant("llama-3.1-8b-qlora/recipe", LLAMA, "llama-3.1-8b",
            "the recipe: 4-bit NF4 QLoRA + BFD + Liger + GC", {}, cuda=True,
            packages=("bitsandbytes", "liger_kernel")),
    Variant("smollm2-135m-full/bfd", SMOL, "smollm2-135m", "BFD packing (padding-free), 8 rows",
            {**BFD, "per_device_train_batch_size": 8}, steps_factor=2),
    Variant("smollm2-135m-full/padded-liger", SMOL, "smollm2-135m", "padded batches + Liger", LIGER,
            cuda=True, packages=("liger_kernel",), steps_factor=2),
    Variant("qwen2.5-7b-lora/bfd-rows1", QWEN, "qwen2.5-7b",
            "the recipe with 1 packed row per micro-batch (no cross-row attention under sdpa)",
            {"per_device_train_batch_size": 1}, cuda=True, packages=("liger_kernel",)),
    Variant("qwen2.5-7b-lora/bfd", QWEN, "qwen2.5-7b", "BFD packing, no Liger (GC on)", {**BFD,
            "use_liger_kernel": False}),
    Variant("qwen2.5-7b-lora/recipe-no-gc", QWEN, "qwen2.5-7b", "the recipe without gradient checkpointing",
            {"gradient_checkpointing": False}, cuda=True, packages=("liger_kernel",)),
    Variant("smollm2-135m-full/bfd-flex", SMOL, "smollm2-135m",
            "BFD packing, 8 rows, flex attention (block-sparse over packed examples)",
            {**BFD, **FLEX, "per_device_train_batch_size": 8}, cuda=True, steps_factor=2),
    Variant("qwen2.5-7b-lora/recipe-offload", QWEN, "qwen2.5-7b",
            "the recipe + TRL activation_offloading (its memory-saving option; the fused LM-head loss is "
            "always on in TRL 1.16)", {"activation_offloading": True}, cuda=True, packages=("liger_kernel",)),
    Variant("xlam-2-8b-full/padded-1gpu", XLAM, "xlam-2-8b", "full SFT on one GPU, padded batches (GC on)",
            PADDED, cuda=True, baseline=True),
    Variant("llama-3.1-8b-qlora/padded", LLAMA, "llama-3.1-8b", "4-bit QLoRA, padded batches (GC on)", PADDED,
            cuda=True, packages=("bitsandbytes",), baseline=True),
    Variant("qwen2.5-7b-lora/padding-free", QWEN, "qwen2.5-7b",
            "padding-free without packing (each batch of 4 flattened; TRL requires max_length: null)",
            {"packing": False, "padding_free": True, "max_length": None, "use_liger_kernel": False}),
    Variant("qwen2.5-7b-lora/recipe-flex", QWEN, "qwen2.5-7b", "the recipe with flex attention", FLEX,
            cuda=True, packages=("liger_kernel",)),
    Variant("xlam-2-8b-full/zero3-offload", XLAM, "xlam-2-8b",
            "the recipe under DeepSpeed ZeRO-3 with optimizer and parameters offloaded to CPU, one process",
            {}, accelerate="zero3-offload", cuda=True, packages=("deepspeed", "liger_kernel")),
]  # fmt: skip

ZERO3_OFFLOAD = {
    "compute_environment": "LOCAL_MACHINE",
    "distributed_type": "DEEPSPEED",
    "deepspeed_config": {
        "offload_optimizer_device": "cpu",
        "offload_param_device": "cpu",
        "zero3_init_flag": True,
        "zero3_save_16bit_model": True,
        "zero_stage": 3,
    },
    "num_processes": 1,
    "num_machines": 1,
    "machine_rank": 0,
    "mixed_precision": "bf16",
    "rdzv_backend": "static",
    "same_network": True,
}


def missing_packages(variant: Variant) -> list[str]:
    return [p for p in variant.packages if importlib.util.find_spec(p) is None]


def derived_recipe(variant: Variant, model: str, data: str, steps: int, warmup: int, samples: int, scale: str,
                   cpu: bool):  # fmt: skip
    """The recipe's YAML with the benchmark's overrides (module docstring) and the variant's own."""
    import yaml

    recipe = yaml.safe_load((REPO / variant.recipe).read_text())
    bench = {
        "model_name_or_path": model,
        "dataset_name": data,
        "max_steps": warmup + steps,
        "max_train_samples": samples,
        "gradient_accumulation_steps": 1,
        "eval_strategy": "no",
        "save_strategy": "no",
        "report_to": "none",
        "run_name": variant.name.replace("/", "-"),
    }
    budget, max_length = recipe.get("log_budget"), recipe.get("max_length")
    if budget and max_length and budget + POLICY_MARGIN > max_length:
        bench["log_budget"] = max_length - POLICY_MARGIN
    if cpu:
        bench |= {"use_cpu": True, "dataset_num_proc": None, "dataloader_num_workers": 0}
    merged = {**recipe, **bench, **variant.overrides}
    if scale == "tiny":  # short compact prompts and at most 2 rows: seconds on a CPU
        merged |= {"prompt_style": "compact", "log_budget": TINY_BUDGET}
        merged["per_device_train_batch_size"] = min(merged.get("per_device_train_batch_size", 2), 2)
        if merged.get("max_length"):
            merged["max_length"] = TINY_MAX_LENGTH
    changed = {k: (recipe.get(k), v) for k, v in merged.items() if recipe.get(k) != v}
    return merged, changed


def samples_needed(recipe: dict, steps: int, warmup: int) -> int:
    rows = recipe.get("per_device_train_batch_size", 8) * (warmup + steps)
    # a packed row of max_length holds several examples; 4 is generous for our logs (about 600-1,800 tokens)
    return rows * (4 if recipe.get("packing") else 1)


# ---------------------------------------------------------------------------------------------------- worker


def _lengths(inputs) -> tuple[list[int], int]:
    """(real example lengths, computed positions) of one micro-batch, padded or padding-free."""
    if "attention_mask" in inputs:
        mask = inputs["attention_mask"]
        return [int(n) for n in mask.sum(-1).tolist()], int(mask.numel())
    pos = inputs["position_ids"].reshape(-1)
    starts = (pos == 0).nonzero().flatten().tolist() + [pos.numel()]
    return [b - a for a, b in zip(starts, starts[1:]) if b > a], int(pos.numel())


def _instrumented_trainer(base, bench: dict, holder: dict):
    """``train.sft``'s SFTTrainer plus a clock, token counts, peak memory and (optionally) a profiled step."""
    import torch
    from transformers import TrainerCallback

    cuda = torch.cuda.is_available() and not os.environ.get("GPU_SCALE_CPU")
    warmup = bench["warmup"]

    def sync():
        if cuda:
            torch.cuda.synchronize()

    class Clock(TrainerCallback):
        def __init__(self, owner):
            self.owner = owner

        def on_train_begin(self, args, state, control, model=None, **kwargs):
            cfg = getattr(model, "config", None)
            self.owner.bench_stats["attn_implementation"] = getattr(cfg, "_attn_implementation", None)
            if cuda:
                torch.cuda.reset_peak_memory_stats()

        def on_step_begin(self, args, state, control, **kwargs):
            if state.global_step == warmup:
                sync()
                self.owner.bench_stats["t0"] = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == state.max_steps:
                sync()
                self.owner.bench_stats["t1"] = time.perf_counter()

    class Instrumented(base):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.bench_stats = {"lengths": [], "computed": 0, "rows": 0, "micro_steps": 0}
            self.add_callback(Clock(self))
            holder["trainer"] = self

        def training_step(self, model, inputs, *args, **kwargs):
            step = self.state.global_step
            if step >= warmup:
                lengths, computed = _lengths(inputs)
                stats = self.bench_stats
                stats["lengths"] += lengths
                stats["computed"] += computed
                stats["rows"] += int(inputs["input_ids"].shape[0])
                stats["micro_steps"] += 1
            profile = bench.get("profile")
            if profile and step == max(warmup - 1, 0) and "profile" not in self.bench_stats:
                from benchmarks.profiling import profiled

                with profiled(profile, self.bench_stats, cuda):
                    return super().training_step(model, inputs, *args, **kwargs)
            return super().training_step(model, inputs, *args, **kwargs)

        def save_model(self, *args, **kwargs):  # the final save is not part of a step; 16 GB for the 8B model
            return None

    return Instrumented


def run_worker(sft_argv: list[str], result_path: str, bench: dict) -> dict:
    """Run ``train/sft.py``'s own ``main`` on ``sft_argv`` with the instrumented trainer; write figures."""
    import torch

    import train.sft as sft

    captured: dict = {}
    trainer_cls = _instrumented_trainer(sft.GuardianTrainer, bench, captured)
    args = sft.make_parser().parse_args_and_config(args=sft_argv)
    started = time.perf_counter()
    sft.main(*args, trainer_cls=trainer_cls)
    wall = time.perf_counter() - started
    trainer = captured["trainer"]
    stats = trainer.bench_stats
    training_args = args[1]
    cuda = torch.cuda.is_available() and not training_args.use_cpu
    seconds = stats.get("t1", 0) - stats.get("t0", 0)
    lengths = stats["lengths"]
    result = {
        "seconds": round(seconds, 4),
        "timed_steps": training_args.max_steps - bench["warmup"],
        "micro_steps": stats["micro_steps"],
        "examples": len(lengths),
        "tokens": sum(lengths),
        "tokens_computed": stats["computed"],
        "sum_len_sq": sum(n * n for n in lengths),
        "rows": stats["rows"],
        "max_example_tokens": max(lengths, default=0),
        "attn_implementation": stats.get("attn_implementation"),
        "use_liger_kernel": training_args.use_liger_kernel,
        "gradient_checkpointing": training_args.gradient_checkpointing,
        "activation_offloading": getattr(training_args, "activation_offloading", None),
        "padding_free": bool(getattr(trainer, "padding_free", False)),
        "packing": training_args.packing,
        "per_device_train_batch_size": training_args.per_device_train_batch_size,
        "max_length": training_args.max_length,
        "worker_wall_s": round(wall, 1),
    }
    if cuda:
        result |= {
            "peak_mem_allocated_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2),
            "peak_mem_reserved_gib": round(torch.cuda.max_memory_reserved() / 2**30, 2),
        }
    else:
        status = Path("/proc/self/status")
        if status.is_file():
            hwm = int(status.read_text().split("VmHWM:")[1].split()[0]) / 2**20
            result["peak_rss_gib"] = round(hwm, 2)
    if "profile" in stats:
        result["profile"] = stats["profile"]
    if trainer.accelerator.is_main_process and result_path:
        write_json(result_path, result, default=str)
    return result


# ---------------------------------------------------------------------------------------------------- driver


def _classify_failure(log_tail: str, rc: int | None) -> str:
    text = log_tail.lower()
    if "out of memory" in text or "outofmemoryerror" in text:
        return "oom"
    for marker in ("modulenotfounderror: no module named", "importerror:"):
        if marker in text:
            line = next(ln for ln in log_tail.splitlines() if marker in ln.lower())
            return f"failed: missing package ({line.strip()[:200]})"
    return f"failed (exit {rc})"


def _accelerate_config(variant: Variant, device: str, work: Path) -> Path:
    if device == "cpu":
        return REPO / "accelerate_configs" / "cpu.yaml"
    if variant.accelerate == "zero3-offload":
        import yaml

        path = work / "accelerate" / "zero3-offload.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(ZERO3_OFFLOAD))
        return path
    return REPO / "accelerate_configs" / f"{variant.accelerate}.yaml"


def run_variant(variant: Variant, args, model: Path, work: Path, timeout: float, bench: dict) -> dict:
    import torch
    import yaml

    steps = args.steps * (variant.steps_factor if args.scale == "full" else 1)
    recipe_raw = yaml.safe_load((REPO / variant.recipe).read_text())
    samples = samples_needed({**recipe_raw, **variant.overrides}, steps, args.warmup)
    recipe, changed = derived_recipe(
        variant, str(model), args.data, steps, args.warmup, samples, args.scale, args.device == "cpu"
    )
    slug = variant.name.replace("/", "__")
    recipe_path = work / "recipes" / f"{slug}.yaml"
    recipe_path.parent.mkdir(parents=True, exist_ok=True)
    recipe_path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    run_dir = work / "runs" / slug
    shutil.rmtree(run_dir, ignore_errors=True)
    sft_argv = ["--config", str(recipe_path), "--output_dir", str(run_dir)]
    entry = {
        "what": variant.what,
        "recipe": variant.recipe,
        "model": str(model),
        "overrides": {k: {"recipe": a, "benchmark": b} for k, (a, b) in changed.items()},
        "accelerate_config": variant.accelerate if args.device != "cpu" else "cpu",
        "derived_recipe": str(recipe_path),
    }
    result_path = work / "results" / f"{slug}.json"
    result_path.unlink(missing_ok=True)
    started = time.perf_counter()
    isolate = args.isolate == "subprocess" or (args.isolate == "auto" and args.device != "cpu")
    if not isolate:
        try:
            result = run_worker(sft_argv, str(result_path), bench)
            entry |= {"status": "ok", **result}
        except Exception as err:  # a failure is a result, not the end of the benchmark
            text = f"{type(err).__name__}: {err}"
            status = (
                "oom" if isinstance(err, torch.OutOfMemoryError) else f"failed: {text.splitlines()[0][:300]}"
            )
            entry |= {"status": status}
        entry["wall_s"] = round(time.perf_counter() - started, 1)
        return entry
    log_path = work / "logs" / f"{slug}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "1",
        "--config_file", str(_accelerate_config(variant, args.device, work)),
        "-m", "benchmarks.gpu_scale", "--worker", str(result_path), *sft_argv,
    ]  # fmt: skip
    env = {**os.environ, BENCH_ENV: json.dumps(bench), "TOKENIZERS_PARALLELISM": "false"}
    if args.device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""
    rc = None
    with open(log_path, "w") as log:
        try:
            proc = subprocess.Popen(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=env,
                                    start_new_session=True)  # fmt: skip
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, 9)
            proc.wait()
    entry["wall_s"] = round(time.perf_counter() - started, 1)
    entry["log"] = str(log_path)
    tail = log_path.read_text(errors="replace")[-6000:]
    if rc is None:
        entry["status"] = f"timeout after {timeout:.0f} s"
    elif rc == 0 and result_path.is_file():
        entry |= {"status": "ok", **json.loads(result_path.read_text())}
    else:
        entry["status"] = _classify_failure(tail, rc)
        entry["log_tail"] = tail[-1500:]
    return entry


_CHILDREN: set[int] = set()


def _end_children(signum, frame) -> None:
    """On SIGTERM/SIGINT (gpu_run.sh's timeout), end the running variant's process group too, then exit."""
    for pid in list(_CHILDREN):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    raise SystemExit(128 + signum)


def add_figures(entry: dict, shape: dict, peak: float | None, lora: bool) -> None:
    if entry.get("status") != "ok" or not entry.get("seconds"):
        return
    n, layers, width = shape["params_matmul"], shape["n_layers"], shape["attn_width"]
    tokens, seconds = entry["tokens"], entry["seconds"]
    attn = 6 * layers * width * entry["sum_len_sq"]
    flops = 6 * n * tokens + attn
    entry["tokens_per_s"] = round(tokens / seconds, 1)
    entry["examples_per_s"] = round(entry["examples"] / seconds, 3)
    entry["step_s"] = round(seconds / max(entry["micro_steps"], 1), 4)
    entry["padding_waste"] = (
        round(1 - tokens / entry["tokens_computed"], 4) if entry["tokens_computed"] else 0.0
    )
    entry["mean_row_tokens"] = round(entry["tokens_computed"] / max(entry["rows"], 1), 1)
    entry["model_tflops_per_s"] = round(flops / seconds / 1e12, 2)
    if peak:
        entry["mfu"] = round(flops / seconds / 1e12 / peak, 4)
        if lora:
            entry["mfu_frozen_base"] = round((4 * n * tokens + attn) / seconds / 1e12 / peak, 4)


def add_ratios(results: dict) -> None:
    baselines = {}
    for name, r in results.items():
        if r.get("baseline") and r.get("tokens_per_s"):
            baselines[name.split("/")[0]] = (name, r)
    for name, r in results.items():
        group = name.split("/")[0]
        if group not in baselines or not r.get("tokens_per_s"):
            continue
        base_name, base = baselines[group]
        r["vs_baseline"] = {
            "baseline": base_name,
            "speed": round(r["tokens_per_s"] / base["tokens_per_s"], 3),
        }
        for key in ("peak_mem_allocated_gib", "peak_rss_gib"):
            if r.get(key) and base.get(key):
                r["vs_baseline"]["memory"] = round(r[key] / base[key], 3)


def matmul_tflops(device: str) -> float | None:
    """Achieved bf16 matrix-product rate on this card (8192^3, random data), the practical ceiling."""
    import torch

    if device == "cpu" or not torch.cuda.is_available():
        return None
    a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(10):
        a @ b
    torch.cuda.synchronize()
    rate = 10 * 2 * 8192**3 / (time.perf_counter() - start) / 1e12
    del a, b
    torch.cuda.empty_cache()
    return round(rate, 1)


def environment(device: str) -> dict:
    import torch

    info = {"python": platform.python_version(), "torch": torch.__version__, "cpu_count": os.cpu_count()}
    for pkg in ("transformers", "trl", "peft", "accelerate", "datasets", "liger_kernel", "bitsandbytes",
                "deepspeed"):  # fmt: skip
        try:
            from importlib.metadata import version

            info[pkg] = version(pkg.replace("_", "-"))
        except Exception:
            info[pkg] = None
    if device != "cpu" and torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        info |= {
            "device_name": torch.cuda.get_device_name(0),
            "device_memory_gib": round(props.total_memory / 2**30, 1),
            "cuda": torch.version.cuda,
        }
    else:
        info["device_name"] = "cpu"
    return info


def build_data(out: Path, train_size: int) -> Path:
    """A dataset from the default data recipe (its length and label distribution), fewer records."""
    if (out / "dataset_dict.json").is_file():
        return out
    cmd = [
        sys.executable, "-m", "data_gen", "--config", "recipes/data/default.yaml", "--output_dir", str(out),
        "--train_size", str(train_size), "--validation_size", "20", "--test_size", "20",
        "--test_unseen_size", "20", "--num_proc", "1",
    ]  # fmt: skip
    subprocess.run(cmd, cwd=REPO, check=True, capture_output=True, text=True)
    return out


FILTER_FILE = "gpu_scale_filter.json"


def fit_dataset(src: Path, out: Path, tokenizer_base: Path, max_length: int = 2048, budget: int = 1536,
                margin: int = 40) -> dict:  # fmt: skip
    """Keep the records whose full-style prompt at ``budget`` plus the answer fits ``max_length - margin``
    tokens.

    sft.py refuses data in which any example would lose its answer to truncation, and some default-data logs
    do not fit 2,048 tokens at any budget (the water-filling never drops flows). The GPU recipes all use the
    full style and max_length 2048 with budgets of 1,500-1,536 (after the benchmark's override), so this
    filter lets all of them start; ``margin`` covers the Qwen stand-in counting about 1% differently. The
    dropped share is reported."""
    from datasets import load_from_disk
    from transformers import AutoTokenizer

    from mcip.prompt import PromptFormat
    from train.data import prepare

    tok = AutoTokenizer.from_pretrained(tokenizer_base)
    data = load_from_disk(str(src))
    kept, stats = {}, {"max_length": max_length, "budget": budget, "margin": margin, "splits": {}}
    for name, split in data.items():
        rows = prepare(split, tok, PromptFormat("full", budget, rationale=True), None, None)
        lengths = [
            len(
                tok.apply_chat_template(r["prompt"] + r["completion"], tokenize=True, return_dict=True)[
                    "input_ids"
                ]
            )
            for r in rows
        ]
        keep = [i for i, n in enumerate(lengths) if n <= max_length - margin]
        columns = [
            c
            for c in ("id", "label", "binary", "kind", "source", "rationale", "trajectory")
            if c in split.column_names
        ]
        kept[name] = split.select(keep).select_columns(columns)  # what sft.py and the evaluator read
        stats["splits"][name] = {
            "records": len(split),
            "kept": len(keep),
            "max_tokens": max(lengths, default=0),
        }
    from datasets import DatasetDict

    DatasetDict(kept).save_to_disk(str(out))
    write_json(out / FILTER_FILE, stats)
    return stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", choices=["cuda", "cpu"], default=None, help="default: cuda if available")
    parser.add_argument("--scale", choices=["full", "tiny"], default="full")
    parser.add_argument("--steps", type=int, default=6, help="timed optimizer steps per variant (135M: 2x)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed first steps (kernel compilation)")
    parser.add_argument(
        "--data", default=None, help="dataset folder; default: built from recipes/data/default"
    )
    parser.add_argument("--train-size", type=int, default=1000, help="records when the dataset is built")
    parser.add_argument("--only", nargs="*", default=None, help="variant names (or group names) to run")
    parser.add_argument("--budget-s", type=float, default=None, help="stop starting variants after this")
    parser.add_argument("--timeout-s", type=float, default=240.0, help="per variant")
    parser.add_argument("--isolate", choices=["auto", "subprocess", "inprocess"], default="auto",
                        help="auto: accelerate-launched subprocesses on CUDA, in-process on CPU")  # fmt: skip
    parser.add_argument("--tokenizer-base", default=str(SMOLLM2_DIR), help="SmolLM2 tokenizer files")
    parser.add_argument("--work", default="runs/gpu-scale")
    parser.add_argument("--out", default="benchmarks/results/gpu_scale.json")
    parser.add_argument(
        "--profile", action="store_true", help="profile the first timed step (profile_135m.py)"
    )
    parser.add_argument("--list", action="store_true", help="print the variants and exit")
    parser.add_argument(
        "--fit-data", nargs=2, metavar=("SRC", "OUT"), help="filter a dataset (fit_dataset), exit"
    )
    args = parser.parse_args(argv)
    if args.fit_data:
        stats = fit_dataset(Path(args.fit_data[0]), Path(args.fit_data[1]), Path(args.tokenizer_base))
        print(json.dumps(stats))
        return 0
    if args.list:
        for v in VARIANTS:
            print(f"{v.name:42} {v.what}")
        return 0

    import torch

    signal.signal(signal.SIGTERM, _end_children)
    began = time.perf_counter()
    if args.device is None:
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("error: --device cuda but torch sees no GPU")
    work = (REPO / args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    out = REPO / args.out
    tokenizer_base = Path(args.tokenizer_base)
    if not (tokenizer_base / "tokenizer.json").is_file():
        raise SystemExit(f"error: {tokenizer_base}/tokenizer.json missing (make models, or --tokenizer-base)")
    args.data = (
        str(Path(args.data).resolve()) if args.data else str(build_data(work / "data", args.train_size))
    )
    selected = [v for v in VARIANTS if not args.only or v.name in args.only or v.group in args.only]
    peak = peak_bf16_tflops(environment(args.device)["device_name"]) if args.device == "cuda" else None
    report = {
        "command": " ".join([Path(sys.executable).name, "-m", "benchmarks.gpu_scale", *sys.argv[1:]]),
        "environment": environment(args.device),
        "peak_bf16_tflops": peak,
        "peak_source": "vendor datasheet, dense bf16 (no sparsity), matched on torch.cuda.get_device_name",
        "measured_matmul_tflops": matmul_tflops(args.device),
        "flops_formula": (
            "useful FLOPs = 6*N*tokens + 6*n_layers*(n_heads*head_dim)*sum(l_i^2); N = parameters in matrix "
            "multiplies (linear layers + LM head, not the embedding lookup), l_i = real tokens of example i "
            "(causal attention within the example, forward+backward); mfu = useful FLOPs / s / peak. "
            "mfu_frozen_base (LoRA) uses 4*N: no weight gradients for the frozen base. Padding, attention "
            "across packed examples and gradient-checkpointing recompute count as waste, not work."
        ),
        "benchmark_overrides": (
            "model_name_or_path (random-weight shape), dataset_name, max_steps, max_train_samples, "
            "log_budget = max_length - 512 where the recipe's is larger (long logs would not fit), "
            "gradient_accumulation_steps=1 (per-micro-batch throughput; each micro-batch pays an optimizer "
            "step), eval_strategy=no, save_strategy=no, no final save, report_to=none; on CPU also use_cpu, "
            "dataset_num_proc=null, dataloader_num_workers=0. Per-variant overrides are listed in each entry."
        ),
        "args": vars(args),
        "scale": args.scale,
        "warmup_steps": args.warmup,
        "data": args.data,
        "data_filter": (
            json.loads((Path(args.data) / FILTER_FILE).read_text())
            if (Path(args.data) / FILTER_FILE).is_file()
            else None
        ),
        "shapes": {},
        "variants": {},
    }
    results = report["variants"]
    for v in VARIANTS:
        entry = results[v.name] = {"what": v.what, "recipe": v.recipe, "baseline": v.baseline}
        missing = missing_packages(v)
        if v.cuda and args.device != "cuda":
            entry["status"] = "skipped: needs CUDA"
        elif missing:
            entry["status"] = f"skipped: missing package {', '.join(missing)}"
        elif v not in selected:
            entry["status"] = "skipped: not selected (--only)"
        else:
            entry["status"] = "pending"
    write_json(out, report, default=str)

    bench = {"warmup": args.warmup, **({"profile": {"top": 15}} if args.profile else {})}
    for v in selected:
        entry = results[v.name]
        if entry["status"] != "pending":
            continue
        left = None if args.budget_s is None else args.budget_s - (time.perf_counter() - began)
        if left is not None and left < v.est_s:
            entry["status"] = "skipped: time budget"
            continue
        try:
            if v.shape == "smollm2-135m":
                model, source = smollm2_source(args.scale, work, tokenizer_base, args.device)
            else:
                model = ensure_model(v.shape, args.scale, work, tokenizer_base, args.device)
                source = f"random weights of {load_shape(v.shape)['hf_id']}'s shape ({args.scale})"
        except Exception as err:
            entry["status"] = f"failed: building the model: {type(err).__name__}: {str(err)[:300]}"
            write_json(out, report, default=str)
            continue
        config = json.loads((model / "config.json").read_text())
        shape = flop_shape(config)
        report["shapes"][v.shape] = {"model": str(model), "source": source, **shape}
        timeout = args.timeout_s if left is None else min(args.timeout_s, left)
        print(f"== {v.name}: {v.what}", file=sys.stderr, flush=True)
        entry.update(run_variant(v, args, model, work, timeout, bench))
        entry["baseline"] = v.baseline
        recipe_lora = "use_peft: true" in (REPO / v.recipe).read_text()
        add_figures(entry, shape, peak, recipe_lora)
        add_ratios(results)
        print(f"   {entry['status']}: {entry.get('tokens_per_s', '-')} tokens/s", file=sys.stderr, flush=True)
        write_json(out, report, default=str)
    report["total_wall_s"] = round(time.perf_counter() - began, 1)
    write_json(out, report, default=str)
    print_table(report)
    return 0


def print_table(report: dict) -> None:
    print("| variant | status | tokens/s | vs padded | MFU | peak mem GiB | pad waste | row tokens |")
    print("|---|---|---|---|---|---|---|---|")
    for name, r in report["variants"].items():
        mem = r.get("peak_mem_allocated_gib", r.get("peak_rss_gib", "-"))
        ratio = r.get("vs_baseline", {}).get("speed", "-")
        mfu = f"{r['mfu']:.1%}" if r.get("mfu") is not None else "-"
        pad = f"{r['padding_waste']:.1%}" if r.get("padding_waste") is not None else "-"
        print(
            f"| {name} | {r['status']} | {r.get('tokens_per_s', '-')} | {ratio} | {mfu} | {mem} | {pad} | "
            f"{r.get('mean_row_tokens', '-')} |"
        )


def worker_main(argv: list[str]) -> int:
    result_path, sft_argv = argv[0], argv[1:]
    bench = json.loads(os.environ.get(BENCH_ENV, '{"warmup": 1}'))
    run_worker(sft_argv, result_path, bench)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        sys.exit(worker_main(sys.argv[2:]))
    sys.exit(main())
