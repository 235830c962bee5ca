"""Shared fixtures: a tiny random Llama-style model with a real BPE tokenizer and ChatML template, and the
offline SmolLM2 folder made by ``make models``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SMOLLM2_DIR = REPO / "models" / "smollm2-135m-instruct"

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
