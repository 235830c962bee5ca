"""train/sft.py: real training runs through ``accelerate launch`` on a tiny random model, plus SmolLM2."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from data_gen.build import build
from data_gen.recipe import load_recipe
from mcip.prompt import format_answer

REPO = Path(__file__).resolve().parents[1]
CPU_RECIPE = REPO / "recipes/smollm2-135m/lora_cpu.yaml"


def small_dataset(out: Path, train_size: int, validation_size: int = 16) -> Path:
    """A train/validation dataset from the small data recipe (no held-out split needed here)."""
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


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return small_dataset(tmp_path_factory.mktemp("sftdata") / "ds", 96)


def _env(tmp: Path, **extra: str) -> dict[str, str]:
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
    threads: int = 2,
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
        "--prompt_budget",
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
        cmd, capture_output=True, text=True, cwd=REPO, env=env or _env(out.parent), timeout=2700
    )


def _ok(proc: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    return proc


def _log(out: Path) -> list[dict]:
    return json.loads((out / "trainer_state.json").read_text())["log_history"]


GPU_RECIPES = sorted(
    p for p in (REPO / "recipes").glob("*/*.yaml") if p.parent.name != "data" and p != CPU_RECIPE
)


@pytest.mark.parametrize("recipe", GPU_RECIPES, ids=lambda p: p.relative_to(REPO / "recipes").as_posix())
def test_every_gpu_recipe_trains_a_step_with_its_own_settings(recipe, tiny_model_dir, dataset, tmp_path):
    """Each GPU recipe's own combination (packing, padding-free, gradient checkpointing, LoRA or full) builds a
    trainer and trains; only what needs a GPU is switched off. TRL rejects some combinations only at this point
    (padding_free without packing under a max_length), which parsing the recipe does not catch."""
    out = tmp_path / "run"
    cpu_only = ["--use_cpu", "true", "--bf16", "false", "--dtype", "float32", "--load_in_4bit", "false"]
    cpu_only += ["--use_liger_kernel", "false", "--report_to", "none", "--dataloader_num_workers", "0"]
    _ok(
        launch(
            tiny_model_dir,
            dataset,
            out,
            *cpu_only,
            "--max_steps",
            "2",
            "--eval_strategy",
            "no",
            recipe=recipe,
        )
    )
    run = json.loads((out / "mcip_run.json").read_text())
    assert run["recipe"] == str(recipe) and math.isfinite(run["metrics"]["train"]["train_loss"])
    assert any(out.glob("*.safetensors"))


@pytest.fixture(scope="module")
def tiny_run(tiny_model_dir, dataset, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tinyrun") / "run"
    _ok(launch(tiny_model_dir, dataset, out, "--max_steps", "4"))
    return out


def test_lora_weights_change_base_stays_frozen_loss_finite(tiny_run, tiny_model_dir):
    adapter = load_file(tiny_run / "adapter_model.safetensors")
    lora_b = {k: v for k, v in adapter.items() if "lora_B" in k}
    assert lora_b and all(v.abs().sum() > 0 for v in lora_b.values())  # lora_B starts at zero: it trained
    assert not any("lora" not in k for k in adapter), "only adapter weights are saved: the base stayed frozen"
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    before = {k: v.clone() for k, v in base.state_dict().items()}
    model = PeftModel.from_pretrained(base, tiny_run)
    after = {
        k.replace("base_model.model.", "").replace(".base_layer", ""): v
        for k, v in model.state_dict().items()
        if "lora_" not in k
    }
    assert all(torch.equal(before[k], after[k]) for k in before)
    losses = [e["loss"] for e in _log(tiny_run) if "loss" in e]
    assert len(losses) == 4 and all(math.isfinite(x) for x in losses)


def test_run_writes_prompt_config_metadata_and_stops_at_end_of_turn(tiny_run):
    prompt = json.loads((tiny_run / "mcip_prompt.json").read_text())
    assert prompt == {
        "style": "compact",
        "budget_tokens": 200,
        "rationale": False,  # the CPU recipe's choice (see the recipe and the README's ablation)
        "end_of_turn": "<|im_end|>",
    }
    run = json.loads((tiny_run / "mcip_run.json").read_text())
    assert run["label_masks"]["train"]["examples"] == 96 and run["lora"]["r"] == 16
    # budget 200 is below what the flow headers need: most prompts are cut, and the run records how many
    assert 0.5 < run["truncated_prompts"]["train"] <= 1.0
    assert run["recipe"].endswith("lora_cpu.yaml")
    assert (tiny_run / "README.md").is_file() and (tiny_run / "checkpoint-4").is_dir()
    # a checkpoint carries the prompt format it was trained with, so evaluating it renders the same prompts
    assert json.loads((tiny_run / "checkpoint-4/mcip_prompt.json").read_text()) == prompt


def test_completion_mask_covers_exactly_the_answer(tiny_model_dir, dataset):
    """Labels under loss decode to the answer plus the end-of-turn, nothing of the prompt."""
    from datasets import load_from_disk
    from transformers import AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from train.data import prepare

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    split = load_from_disk(str(dataset))["validation"].select(range(4))
    data = prepare(split, tok, "compact", 200, True, None)
    args = SFTConfig(
        output_dir="/tmp/lead-unused", use_cpu=True, bf16=False, report_to="none", max_length=4096
    )
    trainer = SFTTrainer(model=str(tiny_model_dir), args=args, train_dataset=data, processing_class=tok)
    for row, raw in zip(trainer.train_dataset, split):
        trained = [t for t in row["labels"] if t != -100]
        answer = format_answer(raw["label"], raw["rationale"])
        assert tok.decode(trained) == answer + "<|im_end|>\n"


def test_gradient_accumulation_1x4_matches_4x1(tiny_model_dir, dataset, tmp_path):
    runs = {}
    for name, batch, accum in (("a", "4", "1"), ("b", "1", "4")):
        out = tmp_path / name
        _ok(
            launch(
                tiny_model_dir,
                dataset,
                out,
                "--max_steps",
                "1",
                "--per_device_train_batch_size",
                batch,
                "--gradient_accumulation_steps",
                accum,
                "--eval_strategy",
                "no",
                "--save_strategy",
                "no",
            )
        )
        runs[name] = next(e for e in _log(out) if "loss" in e)
    assert runs["a"]["loss"] == pytest.approx(runs["b"]["loss"], rel=2e-3)
    assert runs["a"]["grad_norm"] == pytest.approx(runs["b"]["grad_norm"], rel=2e-3)


def test_resume_continues_from_the_saved_step(tiny_run, tiny_model_dir, dataset):
    proc = _ok(launch(tiny_model_dir, dataset, tiny_run, "--max_steps", "6"))
    assert "resuming from" in proc.stderr + proc.stdout
    steps = [e["step"] for e in _log(tiny_run) if "loss" in e]
    assert steps == [1, 2, 3, 4, 5, 6]  # steps 1-4 from the first run, 5-6 after resuming at checkpoint-4


def test_wandb_without_login_logs_offline_with_a_notice(tiny_model_dir, dataset, tmp_path):
    out = tmp_path / "wb"
    proc = _ok(
        launch(
            tiny_model_dir,
            dataset,
            out,
            "--max_steps",
            "1",
            "--report_to",
            "wandb",
            "--eval_strategy",
            "no",
            "--save_strategy",
            "no",
            env=_env(tmp_path),
        )
    )
    assert "wandb: no login found" in proc.stderr
    runs = list((tmp_path / "wandb").glob("offline-run-*"))
    assert runs and list(runs[0].glob("run-*.wandb"))


def test_bad_recipe_key_and_truncation_fail_with_clear_messages(tiny_model_dir, dataset, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(CPU_RECIPE.read_text() + "lora_rr: 4\n")
    proc = subprocess.run(
        [sys.executable, str(REPO / "train/sft.py"), "--config", str(bad)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=_env(tmp_path),
    )
    assert proc.returncode == 2 and "lora_rr" in proc.stderr and "Traceback" not in proc.stderr
    proc = launch(tiny_model_dir, dataset, tmp_path / "cut", "--max_steps", "1", "--max_length", "64")
    # accelerate reports the script's exit status 2 as its own failure (1); the message is the script's
    assert proc.returncode != 0 and "lost the end-of-turn token to truncation" in proc.stderr


@pytest.mark.slow
def test_smollm2_lora_lowers_validation_loss_and_answers_parse(smollm2_dir, tmp_path):
    """A short real run: SmolLM2-135M LoRA on a few hundred generated records."""
    from datasets import load_from_disk
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from mcip.prompt import build_prompt
    from mcip.record import Trajectory
    from mcip.verdict import parse_verdict
    from train.data import token_counter

    data = small_dataset(tmp_path / "ds", 320)
    out = tmp_path / "run"
    _ok(
        launch(
            smollm2_dir,
            data,
            out,
            "--max_steps",
            "20",
            "--per_device_train_batch_size",
            "8",
            "--learning_rate",
            "1e-3",
            "--bf16",
            "true",
            "--lora_top_layers",
            "10",
            "--prompt_budget",
            "250",
            "--eval_on_start",
            "true",
            "--eval_steps",
            "20",
            "--save_steps",
            "20",
            "--max_eval_samples",
            "16",
            "--rationale",
            "false",
        )
    )
    evals = [e["eval_loss"] for e in _log(out) if "eval_loss" in e]
    assert len(evals) >= 2 and evals[-1] < evals[0] * 0.7, evals
    tok = AutoTokenizer.from_pretrained(out)
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(smollm2_dir), out).eval()
    rows = load_from_disk(str(data))["validation"].select(range(3))
    for row in rows:
        traj = Trajectory.model_validate_json(row["trajectory"])
        prompt = build_prompt(traj, "compact", 250, token_counter(tok))
        ids = tok.apply_chat_template(
            prompt, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        gen = model.generate(**ids, max_new_tokens=24, do_sample=False)
        text = tok.decode(gen[0, ids["input_ids"].shape[1] :], skip_special_tokens=True)
        assert parse_verdict(text).ok, text


def test_lora_top_layers_trains_only_the_top_blocks(tiny_model_dir, dataset, tmp_path):
    out = tmp_path / "top"
    _ok(
        launch(
            tiny_model_dir,
            dataset,
            out,
            "--max_steps",
            "1",
            "--lora_top_layers",
            "1",
            "--eval_strategy",
            "no",
            "--save_strategy",
            "no",
        )
    )
    adapter = load_file(out / "adapter_model.safetensors")
    assert adapter and all(".layers.1." in k for k in adapter), sorted(adapter)[
        :4
    ]  # the tiny model has 2 layers
    proc = launch(
        tiny_model_dir,
        dataset,
        tmp_path / "bad",
        "--max_steps",
        "1",
        "--lora_top_layers",
        "1",
        "--lora_target_modules",
        "all-linear",
    )
    assert proc.returncode != 0 and "lora_top_layers needs lora_target_modules as a list" in proc.stderr
