"""The reference-guardian run, dry: the GPU script trains, evaluates, exports and ships on CPU with the tiny model,
so the borrowed GPU's minutes go to the real run only."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO, train_env


@pytest.mark.slow
def test_the_reference_run_ships_a_loadable_bf16_adapter(tiny_model_dir, tmp_path):
    from safetensors import safe_open

    from data_gen.build import build
    from data_gen.recipe import load_recipe
    from train.evaluate import main as evaluate

    data = tmp_path / "data"
    sizes = ["--train_size", "48", "--validation_size", "8", "--test_size", "12", "--test_unseen_size", "12"]
    build(
        load_recipe(REPO / "recipes/data/small.yaml", ["--output_dir", str(data), "--num_proc", "1", *sizes]),
        progress=False,
    )
    ship = tmp_path / "guardians/tiny-lora"
    cmd = [
        sys.executable, "-m", "benchmarks.reference_guardian", "--recipe", "recipes/smollm2-135m/lora_gpu.yaml",
        "--accelerate-config", "accelerate_configs/cpu.yaml", "--model", str(tiny_model_dir), "--data", str(data),
        "--steps", "2", "--n", "6", "--batch-size", "4", "--out", str(tmp_path / "out"), "--ship", str(ship),
        "--ship-base", str(tiny_model_dir), "--sweep", "lora_r=4",
        "--train-args", "--per_device_train_batch_size 2 --dataset_num_proc 1 --dataloader_num_workers 0 --max_length 1024",
    ]  # fmt: skip
    proc = subprocess.run(
        cmd, capture_output=True, text=True, cwd=REPO, env=train_env(tmp_path), timeout=2400
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    result = json.loads((tmp_path / "out/result.json").read_text())
    assert set(result["splits"]) == {"test", "test_unseen"} and result["sweep"][0]["value"] == "4"
    for name in ("adapter_model.safetensors", "adapter_config.json", "mcip_prompt.json", "README.md", "COMMAND",
                 "metrics_test.json", "metrics_test_unseen.json", "verification.json"):  # fmt: skip
        assert (ship / name).is_file(), name
    with safe_open(ship / "adapter_model.safetensors", "pt") as f:
        assert {str(f.get_tensor(k).dtype) for k in f.keys()} == {"torch.bfloat16"}  # noqa: SIM118
    assert json.loads((ship / "adapter_config.json").read_text())["base_model_name_or_path"] == str(
        tiny_model_dir
    )
    assert "-m benchmarks.reference_guardian" in (ship / "COMMAND").read_text()
    # the shipped folder is a model the evaluator takes as it is
    assert evaluate(["--model", str(ship), "--data", str(data), "--split", "test", "--mode", "fast",
                     "--limit", "4", "--output", str(tmp_path / "reeval")]) == 0  # fmt: skip
