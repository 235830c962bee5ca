"""Shared fixtures and helpers: a tiny random Llama-style model with a real BPE tokenizer and ChatML template, the
offline SmolLM2 folder made by ``make models``, the small dataset the training tests share, and ``launch`` (the
real ``accelerate launch train/sft.py``) with its checks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SMOLLM2_DIR = REPO / "models" / "smollm2-135m-instruct"
CPU_RECIPE = REPO / "recipes/smollm2-135m/lora_cpu.yaml"

# The same ChatML template SmolLM2 uses, so tests exercise the real end-of-turn handling.
CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + "
    "'\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

# Never reach the network from tests.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _corpus() -> list[str]:
    from mcip.examples import EXAMPLES
    from mcip.prompt import build_paper_prompt, build_prompt, format_answer, format_paper_answer
    from mcip.taxonomy import LABELS

    texts = []
    for make in EXAMPLES.values():
        traj = make()
        for style in ("full", "compact"):
            texts += [m["content"] for m in build_prompt(traj, style)]
        texts += [m["content"] for m in build_paper_prompt(traj)]
    for lb in LABELS:
        texts += [format_answer(lb.string, "flow 3 deviates"), format_paper_answer(lb.string, "flow 3")]
    return texts * 3


def build_tiny_model(out: Path, vocab_size: int = 512, seed: int = 0) -> Path:
    """A 2-layer random Llama and a byte-level BPE trained on rendered prompts; saved like any HF model."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<pad>"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_corpus(), trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        pad_token="<pad>",
        unk_token="<|endoftext|>",
    )
    fast.chat_template = CHATML
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(fast),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        initializer_range=0.2,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
        tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(config)
    model.generation_config.eos_token_id = fast.eos_token_id
    model.generation_config.pad_token_id = fast.pad_token_id
    model.save_pretrained(out)
    fast.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="session")
def smollm2_dir() -> Path:
    if not (SMOLLM2_DIR / "config.json").is_file():
        pytest.skip("the offline SmolLM2 folder is missing: run `make models` (make test does it first)")
    return SMOLLM2_DIR


# -- training runs: the shared dataset and the real accelerate launch -----------------------------------------


def small_dataset(out: Path, train_size: int, validation_size: int = 16) -> Path:
    """A train/validation dataset from the small data recipe (no held-out split needed here)."""
    from data_gen.build import build
    from data_gen.recipe import load_recipe

    sizes = {
        "train_size": train_size,
        "validation_size": validation_size,
        "test_size": 0,
        "test_unseen_size": 0,
    }
    args = [str(x) for key, value in sizes.items() for x in (f"--{key}", value)]
    recipe = load_recipe(
        REPO / "recipes/data/small.yaml",
        ["--output_dir", str(out), "--holdout_servers", "[]", "--num_proc", "1", *args],
    )
    build(recipe, progress=False)
    return out


@pytest.fixture(scope="session")
def dataset(tmp_path_factory) -> Path:
    """The one small train/validation dataset (96 + 16 records) the training tests share, built once a session."""
    return small_dataset(tmp_path_factory.mktemp("sftdata") / "ds", 96)


def train_env(tmp: Path, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "WANDB_DIR": str(tmp),
        "WANDB_CACHE_DIR": str(tmp / "wandb-cache"),
        "WANDB_CONFIG_DIR": str(tmp / "wandb-config"),
        "NETRC": str(tmp / "no-netrc"),
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("WANDB_API_KEY", None)
    env.pop("WANDB_MODE", None)
    env.update(extra)
    return env


def launch(
    model: Path,
    data: Path,
    out: Path,
    *args: str,
    env: dict | None = None,
    config_file: Path = REPO / "accelerate_configs/cpu.yaml",
    threads: int = min(2, os.cpu_count() or 1),
    recipe: Path = CPU_RECIPE,
) -> subprocess.CompletedProcess:
    """The real thing: accelerate launch train/sft.py with a recipe (the CPU one by default), pointed at the given
    model and data; ``args`` come last, so they override the defaults here."""
    cmd = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--config_file",
        str(config_file),
        "--num_cpu_threads_per_process",
        str(threads),
        str(REPO / "train/sft.py"),
        "--config",
        str(recipe),
        "--model_name_or_path",
        str(model),
        "--dataset_name",
        str(data),
        "--output_dir",
        str(out),
        "--bf16",
        "false",
        "--lora_top_layers",
        "0",
        "--log_budget",
        "200",
        "--max_eval_samples",
        "8",
        "--per_device_train_batch_size",
        "4",
        "--logging_steps",
        "1",
        "--learning_rate",
        "5e-3",
        "--dataset_num_proc",
        "1",
        "--save_steps",
        "2",
        "--eval_steps",
        "2",
        "--max_length",
        "4096",
        *args,
    ]
    return subprocess.run(
        cmd, capture_output=True, text=True, cwd=REPO, env=env or train_env(out.parent), timeout=2700
    )


def ok(proc: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    return proc


def log_history(out: Path) -> list[dict]:
    return json.loads((out / "trainer_state.json").read_text())["log_history"]


@pytest.fixture(scope="session")
def default_records():
    """The first 260 records of the default recipe (real-size sessions, seed 1234): every class, proposed-call
    logs and multi-turn ones, for the per-call label and stream tests."""
    from data_gen.build import Generator
    from data_gen.recipe import load_recipe
    from mcip.record import Trajectory

    gen = Generator.from_recipe(load_recipe(REPO / "recipes/data/default.yaml", ["--num_proc", "1"]))
    return [Trajectory.model_validate_json(gen.record("train", i)["trajectory"]) for i in range(260)]
