"""train/sft.py: real training runs through ``accelerate launch`` on a tiny random model, plus SmolLM2."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from mcip.prompt import PromptFormat, format_answer
from tests.conftest import CPU_RECIPE, launch, log_history, ok, small_dataset, train_env

REPO = Path(__file__).resolve().parents[1]


GPU_RECIPES = sorted(
    p
    for p in (REPO / "recipes").glob("*/*.yaml")
    if p.parent.name not in ("data", "guard") and p != CPU_RECIPE
)


@pytest.mark.slow
@pytest.mark.parametrize("recipe", GPU_RECIPES, ids=lambda p: p.relative_to(REPO / "recipes").as_posix())
def test_every_gpu_recipe_trains_a_step_with_its_own_settings(recipe, tiny_model_dir, dataset, tmp_path):
    """Each GPU recipe's own combination (packing, padding-free, gradient checkpointing, LoRA or full) builds a
    trainer and trains; only what needs a GPU is switched off. TRL rejects some combinations only at this point
    (padding_free without packing under a max_length), which parsing the recipe does not catch."""
    out = tmp_path / "run"
    cpu_only = ["--use_cpu", "true", "--bf16", "false", "--dtype", "float32", "--load_in_4bit", "false"]
    cpu_only += ["--use_liger_kernel", "false", "--report_to", "none", "--dataloader_num_workers", "0"]
    ok(
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
    ok(launch(tiny_model_dir, dataset, out, "--max_steps", "4"))
    return out


@pytest.mark.slow
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
    losses = [e["loss"] for e in log_history(tiny_run) if "loss" in e]
    assert len(losses) == 4 and all(math.isfinite(x) for x in losses)


@pytest.mark.slow
def test_run_writes_prompt_config_metadata_and_stops_at_end_of_turn(tiny_run):
    prompt = json.loads((tiny_run / "mcip_prompt.json").read_text())
    assert prompt == {
        "style": "compact",
        "log_budget": 200,
        "rationale": False,  # the CPU recipe's choice (see the recipe and the README's ablation)
        "end_of_turn": "<|im_end|>",
    }
    run = json.loads((tiny_run / "mcip_run.json").read_text())
    assert run["label_masks"]["train"]["examples"] == 96 and run["lora"]["r"] == 16
    # budget 200 is below what the flow headers need: most prompts are cut, and the run records how many
    assert 0.5 < run["truncated_prompts"]["train"] <= 1.0
    assert run["recipe"].endswith("lora_cpu.yaml")
    assert run["precision"]["bf16"] is False and run["precision"]["requested"] == "false"
    assert (tiny_run / "README.md").is_file() and (tiny_run / "checkpoint-4").is_dir()
    # a checkpoint carries the prompt format it was trained with, so evaluating it renders the same prompts
    assert json.loads((tiny_run / "checkpoint-4/mcip_prompt.json").read_text()) == prompt


def test_completion_mask_covers_exactly_the_answer(tiny_model_dir, dataset, tmp_path):
    """Labels under loss decode to the answer plus the end-of-turn, nothing of the prompt."""
    from datasets import load_from_disk
    from transformers import AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from train.data import prepare

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    split = load_from_disk(str(dataset))["validation"].select(range(4))
    data = prepare(split, tok, PromptFormat("compact", 200), 4096, None)
    args = SFTConfig(
        output_dir=str(tmp_path / "unused"), use_cpu=True, bf16=False, report_to="none", max_length=4096
    )
    trainer = SFTTrainer(model=str(tiny_model_dir), args=args, train_dataset=data, processing_class=tok)
    for row, raw in zip(trainer.train_dataset, split):
        trained = [t for t in row["labels"] if t != -100]
        answer = format_answer(raw["label"], raw["rationale"])
        assert tok.decode(trained) == answer + "<|im_end|>\n"


@pytest.mark.slow
def test_gradient_accumulation_1x4_matches_4x1(tiny_model_dir, dataset, tmp_path):
    runs = {}
    for name, batch, accum in (("a", "4", "1"), ("b", "1", "4")):
        out = tmp_path / name
        ok(
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
        runs[name] = next(e for e in log_history(out) if "loss" in e)
    assert runs["a"]["loss"] == pytest.approx(runs["b"]["loss"], rel=2e-3)
    assert runs["a"]["grad_norm"] == pytest.approx(runs["b"]["grad_norm"], rel=2e-3)


@pytest.mark.slow
def test_resume_continues_from_the_saved_step(tiny_run, tiny_model_dir, dataset):
    proc = ok(launch(tiny_model_dir, dataset, tiny_run, "--max_steps", "6"))
    assert "resuming from" in proc.stderr + proc.stdout
    steps = [e["step"] for e in log_history(tiny_run) if "loss" in e]
    assert steps == [1, 2, 3, 4, 5, 6]  # steps 1-4 from the first run, 5-6 after resuming at checkpoint-4


@pytest.mark.slow
def test_wandb_without_login_logs_offline_with_a_notice(tiny_model_dir, dataset, tmp_path):
    out = tmp_path / "wb"
    proc = ok(
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
            env=train_env(tmp_path),
        )
    )
    assert "wandb: no login found" in proc.stderr
    runs = list((tmp_path / "wandb").glob("offline-run-*"))
    assert runs and list(runs[0].glob("run-*.wandb"))


@pytest.mark.slow
def test_bad_recipe_key_and_truncation_fail_with_clear_messages(tiny_model_dir, dataset, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(CPU_RECIPE.read_text() + "lora_rr: 4\n")
    proc = subprocess.run(
        [sys.executable, str(REPO / "train/sft.py"), "--config", str(bad)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=train_env(tmp_path),
    )
    assert proc.returncode == 2 and "lora_rr" in proc.stderr and "Traceback" not in proc.stderr
    proc = launch(tiny_model_dir, dataset, tmp_path / "cut", "--max_steps", "1", "--max_length", "64")
    # accelerate reports the script's exit status 2 as its own failure (1); the message is the script's: a
    # max_length that leaves no room for a log fails before training, naming the row and the setting to raise
    assert (
        proc.returncode != 0 and "row 0: max_length 64" in proc.stderr and "raise `max_length`" in proc.stderr
    )


@pytest.mark.slow
def test_smollm2_lora_lowers_validation_loss_and_answers_parse(smollm2_dir, tmp_path):
    """A short real run: SmolLM2-135M LoRA on a few hundred generated records."""
    from datasets import load_from_disk
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from mcip.prompt import build_prompt
    from mcip.prompting import token_counter
    from mcip.record import Trajectory
    from mcip.verdict import parse_verdict

    data = small_dataset(tmp_path / "ds", 320)
    out = tmp_path / "run"
    ok(
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
            "auto",
            "--lora_top_layers",
            "10",
            "--log_budget",
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
    evals = [e["eval_loss"] for e in log_history(out) if "eval_loss" in e]
    assert len(evals) >= 2 and evals[-1] < evals[0] * 0.7, evals
    # bf16: auto, resolved by train.precision: bf16 only on a CPU where it is native, and only where the run's own
    # matmul timing found it faster. The timing is not asked again here: on a CPU near the break-even (AVX512-BF16
    # without AMX) a second measurement on a busy machine can land on the other side.
    from train.precision import native_cpu_bf16

    chosen = json.loads((out / "mcip_run.json").read_text())["precision"]
    native, _ = native_cpu_bf16()
    assert chosen["requested"] == "auto" and chosen["native_bf16"] == native, chosen
    if not native:
        assert chosen["bf16"] is False, chosen
    else:
        speedup = float(re.search(r"ran at ([0-9.]+)x", chosen["reason"]).group(1))
        assert chosen["bf16"] == (speedup > 1.0), chosen
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


@pytest.mark.slow
def test_lora_top_layers_trains_only_the_top_blocks(tiny_model_dir, dataset, tmp_path):
    out = tmp_path / "top"
    ok(
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
