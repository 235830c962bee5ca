"""Every training recipe and accelerate config parses with the real parsers (no unknown or deprecated keys)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from accelerate.commands.config.config_args import load_config_from_file
from accelerate.utils import DistributedType

from data_gen.recipe import load_recipe

REPO = Path(__file__).resolve().parents[1]
TRAIN_RECIPES = sorted(
    p for p in (REPO / "recipes").glob("*/*.yaml") if p.parent.name not in ("data", "guard")
)
DATA_RECIPES = sorted((REPO / "recipes/data").glob("*.yaml"))
ACCELERATE = sorted((REPO / "accelerate_configs").glob("*.yaml"))


def test_the_promised_files_exist():
    names = {p.relative_to(REPO / "recipes").as_posix() for p in TRAIN_RECIPES}
    assert {
        "smollm2-135m/lora_cpu.yaml",
        "smollm2-135m/full_gpu.yaml",
        "xlam-2-8b/full_paper.yaml",
        "qwen2.5-7b/lora.yaml",
        "llama-3.1-8b/qlora.yaml",
    } <= names
    assert {p.stem for p in ACCELERATE} >= {
        "cpu",
        "single_gpu",
        "ddp",
        "zero2",
        "zero3",
        "fsdp2",
        "multi_node",
    }


@pytest.mark.parametrize("path", TRAIN_RECIPES, ids=lambda p: p.relative_to(REPO / "recipes").as_posix())
def test_training_recipe_parses(path):
    from train.sft import make_parser

    # use_cpu: bf16 recipes are checked here on a machine without a GPU
    script, training, model = make_parser().parse_args_and_config(
        ["--config", str(path), "--use_cpu", "true"]
    )
    assert model.model_name_or_path and training.output_dir.startswith("runs/")
    assert training.learning_rate > 0
    # the room holds the log's budget plus the policy, the template and the answer (sft.py fails at start if not)
    assert training.max_length >= (script.log_budget + 150 if script.log_budget else 1024)
    if "qlora" in path.name:
        assert model.load_in_4bit and model.use_peft
    if path.parent.name != "smollm2-135m":  # GPU recipes use the speed features that apply
        assert training.packing or training.padding_free
        assert training.use_liger_kernel and training.gradient_checkpointing


def test_the_paper_recipe_matches_the_papers_setting():
    from train.sft import make_parser

    _, training, model = make_parser().parse_args_and_config(
        ["--config", str(REPO / "recipes/xlam-2-8b/full_paper.yaml"), "--use_cpu", "true"]
    )
    assert model.model_name_or_path == "Salesforce/Llama-xLAM-2-8b-fc-r" and not model.use_peft
    assert (
        training.learning_rate,
        training.per_device_train_batch_size,
        training.max_length,
        training.num_train_epochs,
    ) == (5e-6, 2, 2048, 3)


@pytest.mark.parametrize("path", DATA_RECIPES, ids=lambda p: p.name)
def test_data_recipe_parses(path):
    recipe = load_recipe(path)
    assert recipe.train_size > 0 and recipe.holdout_servers


@pytest.mark.parametrize("path", ACCELERATE, ids=lambda p: p.name)
def test_accelerate_config_parses(path):
    config = load_config_from_file(str(path))
    raw = yaml.safe_load(path.read_text())
    if path.stem == "zero3" or path.stem == "multi_node":
        assert config.distributed_type == DistributedType.DEEPSPEED
        assert (
            raw["deepspeed_config"]["zero3_save_16bit_model"] is True
        )  # complete weights and adapters on save
    if path.stem == "fsdp2":
        assert raw["fsdp_config"]["fsdp_version"] == 2
    if path.stem == "cpu":
        assert config.use_cpu
