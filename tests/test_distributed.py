"""Multi-process training through the real ``accelerate launch``, on CPU: DDP over two gloo processes, and
DeepSpeed ZeRO-3 with a LoRA adapter (when DeepSpeed, a GPU extra, is installed)."""

from __future__ import annotations

import importlib.util

import pytest
import yaml
from safetensors.torch import load_file

from tests.conftest import launch, log_history, ok, train_env

MULTI_CPU = {
    "compute_environment": "LOCAL_MACHINE",
    "distributed_type": "MULTI_CPU",
    "use_cpu": True,
    "num_processes": 2,
    "num_machines": 1,
    "machine_rank": 0,
    "mixed_precision": "no",
}
ZERO3_CPU = {
    **MULTI_CPU,
    "distributed_type": "DEEPSPEED",
    "deepspeed_config": {
        "zero_stage": 3,
        "zero3_init_flag": False,
        "zero3_save_16bit_model": True,
        "offload_optimizer_device": "none",
        "offload_param_device": "none",
    },
}


def _launch(config: dict, model, data, out, tmp_path):
    cfg = tmp_path / "accelerate.yaml"
    cfg.write_text(yaml.safe_dump(config))
    return launch(
        model,
        data,
        out,
        *("--per_device_train_batch_size", "2", "--max_steps", "2"),
        *("--eval_strategy", "no", "--save_strategy", "no"),
        env=train_env(tmp_path),
        config_file=cfg,
        threads=1,
    )


def _adapter_trained(out) -> None:
    adapter = load_file(out / "adapter_model.safetensors")
    lora_b = [v for k, v in adapter.items() if "lora_B" in k]
    assert lora_b and all(v.numel() > 0 for v in adapter.values()), "an adapter saved empty"
    assert any(v.abs().sum() > 0 for v in lora_b), "the saved adapter never trained"


@pytest.mark.slow
def test_ddp_on_two_cpu_processes(tiny_model_dir, dataset, tmp_path):
    out = tmp_path / "ddp"
    ok(_launch(MULTI_CPU, tiny_model_dir, dataset, out, tmp_path))
    _adapter_trained(out)
    losses = [e["loss"] for e in log_history(out) if "loss" in e]
    assert len(losses) == 2


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("deepspeed") is None,
    reason="DeepSpeed is a GPU extra (pip install .[gpu]); CPU CI does not install it",
)
def test_zero3_saves_a_complete_lora_adapter(tiny_model_dir, dataset, tmp_path):
    out = tmp_path / "zero3"
    ok(_launch(ZERO3_CPU, tiny_model_dir, dataset, out, tmp_path))
    _adapter_trained(out)
