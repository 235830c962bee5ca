"""The GPU benchmarks run on a CPU at tiny scale: shapes, the tokenizer stand-in, the derived recipes, and one
end-to-end run of gpu_scale.py (with a profiled step) and eval_throughput.py. No GPU, no network."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import gpu_scale

REPO = Path(__file__).resolve().parents[1]
FULL_SHAPES = ("qwen2.5-7b", "llama-3.1-8b", "xlam-2-8b", "smollm2-135m")


@pytest.mark.parametrize("name", FULL_SHAPES)
def test_shape_parameter_counts_match_the_public_models(name):
    shape = gpu_scale.load_shape(name)
    counts = gpu_scale.flop_shape(shape["config"])
    assert counts["params_total"] / 1e9 == pytest.approx(shape["public_params_billion"], rel=0.01)
    assert counts["params_matmul"] < counts["params_total"] or shape["config"]["tie_word_embeddings"]


def test_shapes_load_as_transformers_configs():
    from transformers import AutoConfig

    for name in FULL_SHAPES:
        cfg = AutoConfig.for_model(**gpu_scale.load_shape(name)["config"])
        assert cfg.num_hidden_layers >= 28 or name == "smollm2-135m"
    llama = AutoConfig.for_model(**gpu_scale.load_shape("llama-3.1-8b")["config"])
    assert llama.rope_parameters["rope_type"] == "llama3"


def test_tiny_scale_keeps_the_ratios():
    for name in FULL_SHAPES:
        full = gpu_scale.load_shape(name)["config"]
        tiny = gpu_scale.scaled_config(gpu_scale.load_shape(name), "tiny")
        assert tiny["num_hidden_layers"] == 2
        assert (
            tiny["num_attention_heads"] // tiny["num_key_value_heads"]
            == full["num_attention_heads"] // full["num_key_value_heads"]
        )
        ratio = full["intermediate_size"] / full["hidden_size"]
        assert tiny["intermediate_size"] / tiny["hidden_size"] == pytest.approx(ratio, rel=0.1)
        assert tiny["tie_word_embeddings"] == full["tie_word_embeddings"]


@pytest.mark.slow
def test_tokenizer_stand_in_has_the_vocabulary_size_and_tokenizes_like_its_base(smollm2_dir, tmp_path):
    from transformers import AutoTokenizer

    from mcip.scoring import end_of_turn_token

    size = gpu_scale.build_tokenizer(smollm2_dir, 50000, tmp_path)
    base = AutoTokenizer.from_pretrained(smollm2_dir)
    stand_in = AutoTokenizer.from_pretrained(tmp_path)
    assert size == len(stand_in) == 50000
    text = 'flow 3 calls health.share_health_record {"id": 42} after the user asked for BMI only'
    assert stand_in(text).input_ids == base(text).input_ids
    assert end_of_turn_token(stand_in) == "<|im_end|>"

    tiny = tmp_path / "tiny"  # --scale tiny: the first 4,096 entries, a valid BPE with more, shorter tokens
    assert gpu_scale.build_tokenizer(smollm2_dir, gpu_scale.TINY_VOCAB, tiny) == gpu_scale.TINY_VOCAB
    small = AutoTokenizer.from_pretrained(tiny)
    ids = small(text).input_ids
    assert len(small) == gpu_scale.TINY_VOCAB and max(ids) < gpu_scale.TINY_VOCAB
    assert len(ids) >= len(base(text).input_ids) and small.decode(ids) == text
    assert end_of_turn_token(small) == "<|im_end|>"


def test_derived_recipe_states_its_overrides():
    variant = next(v for v in gpu_scale.VARIANTS if v.name == "qwen2.5-7b-lora/padded")
    recipe, changed = gpu_scale.derived_recipe(variant, "M", "D", 4, 2, 64, "full", cpu=False)
    assert recipe["model_name_or_path"] == "M" and recipe["max_steps"] == 6
    assert recipe["packing"] is False and recipe["use_liger_kernel"] is False
    assert recipe["lora_r"] == 64 and recipe["max_length"] == 2048  # the recipe's own
    assert recipe["log_budget"] == 2048 - gpu_scale.POLICY_MARGIN
    assert changed["gradient_accumulation_steps"] == (4, 1)
    assert {v.group for v in gpu_scale.VARIANTS} == {
        "qwen2.5-7b-lora",
        "llama-3.1-8b-qlora",
        "xlam-2-8b-full",
        "smollm2-135m-full",
    }
    assert all(sum(v.baseline for v in gpu_scale.VARIANTS if v.group == g) == 1 for g in {"qwen2.5-7b-lora"})


def test_peak_table():
    assert gpu_scale.peak_bf16_tflops("NVIDIA H100 80GB HBM3") == 989.0
    assert gpu_scale.peak_bf16_tflops("NVIDIA H200") == 989.0
    assert gpu_scale.peak_bf16_tflops("NVIDIA H100 PCIe") == 756.0
    assert gpu_scale.peak_bf16_tflops("cpu") is None


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    out = tmp_path_factory.mktemp("gpu-scale-data") / "data"
    return gpu_scale.build_data(out, 24)


@pytest.mark.slow
def test_gpu_scale_runs_end_to_end_on_cpu(smollm2_dir, tiny_data, tmp_path):
    out = tmp_path / "gpu_scale.json"
    only = ["qwen2.5-7b-lora/padded", "smollm2-135m-full/bfd"]
    argv = [
        "--device", "cpu", "--scale", "tiny", "--steps", "1", "--warmup", "1", "--profile",
        "--data", str(tiny_data), "--work", str(tmp_path / "work"), "--tokenizer-base", str(smollm2_dir),
        "--out", str(out), "--only", *only,
    ]  # fmt: skip
    assert gpu_scale.main(argv) == 0  # in-process on CPU (--isolate auto), as a CPU run does
    report = json.loads(out.read_text())
    variants = report["variants"]
    assert set(variants) == {v.name for v in gpu_scale.VARIANTS}
    for v in gpu_scale.VARIANTS:
        status = variants[v.name]["status"]
        if v.cuda:
            assert status == "skipped: needs CUDA"
        elif v.name in only:
            assert status == "ok", variants[v.name]
        else:
            assert status.startswith("skipped")
    padded, packed = variants["qwen2.5-7b-lora/padded"], variants["smollm2-135m-full/bfd"]
    assert padded["tokens"] > 0 and padded["tokens_per_s"] > 0 and 0 <= padded["padding_waste"] < 1
    assert padded["vs_baseline"]["speed"] == 1.0
    assert packed["padding_free"] and packed["padding_waste"] == 0.0
    assert "log_budget" in padded["overrides"] and "model_name_or_path" in padded["overrides"]
    profile = packed["profile"]
    assert profile["aten_ops"] > 0 and profile["sdpa_calls"] and profile["loss_ms"] > 0
    assert packed["attn_implementation"] == "sdpa"
    assert "6*N*tokens" in report["flops_formula"]


@pytest.mark.slow
def test_eval_throughput_runs_on_cpu(smollm2_dir, tiny_data, tmp_path):
    out = tmp_path / "eval.json"
    import torch

    from benchmarks import eval_throughput

    argv = [
        "--device", "cuda" if torch.cuda.is_available() else "cpu", "--scale", "tiny",
        "--data", str(tiny_data), "--split", "test_unseen", "--items", "4", "--min-items", "2",
        "--style", "compact", "--budget", "120", "--max-new-tokens", "4", "--batch-sizes", "1", "2",
        "--batch-sizes-8b", "2",
        "--work", str(tmp_path / "work"), "--tokenizer-base", str(smollm2_dir), "--out", str(out),
    ]  # fmt: skip
    assert eval_throughput.main(argv) == 0
    report = json.loads(out.read_text())
    assert set(report["models"]) == {"smollm2-135m", "llama-3.1-8b"}
    small = report["models"]["smollm2-135m"]["results"]
    assert small["fast"]["2"]["examples_per_s"] > 0 and small["generate"]["1"]["status"] == "ok"
    assert report["evaluator_default_batch_size"] in (1, 2)


def test_fit_dataset_keeps_only_records_whose_prompt_and_answer_fit(tiny_data, tiny_model_dir, tmp_path):
    """The GPU run's first step: it once called ``prepare`` with a signature from before ``PromptFormat``."""
    from datasets import load_from_disk

    stats = gpu_scale.fit_dataset(tiny_data, tmp_path / "fit", tiny_model_dir, max_length=2048, budget=1536)
    kept = load_from_disk(str(tmp_path / "fit"))
    for name, split in kept.items():
        assert len(split) == stats["splits"][name]["kept"] <= stats["splits"][name]["records"]
        assert "trajectory" in split.column_names
