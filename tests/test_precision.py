"""The compute precision is chosen from the machine: both branches, forced through the detection override."""

from __future__ import annotations

import pytest

from train import precision
from train.precision import ENV_OVERRIDE, PrecisionError, choose


@pytest.fixture(autouse=True)
def _fresh(monkeypatch):
    monkeypatch.delenv(ENV_OVERRIDE, raising=False)
    precision.cpu_bf16_speedup.cache_clear()


def test_cpu_without_native_bf16_trains_in_float32(monkeypatch):
    monkeypatch.setenv(ENV_OVERRIDE, "none")
    chosen = choose("auto", cpu=True)
    assert chosen.bf16 is False and chosen.native_bf16 is False and chosen.device == "cpu"
    assert "float32" in chosen.reason and ENV_OVERRIDE in chosen.reason
    assert choose(None, cpu=True).bf16 is False  # TRL's unset bf16 means auto here, not "true"


def test_cpu_with_native_bf16_uses_it_only_where_faster(monkeypatch):
    monkeypatch.setenv(ENV_OVERRIDE, "native")
    monkeypatch.setattr(precision, "cpu_bf16_speedup", lambda: 1.7)
    faster = choose("auto", cpu=True)
    assert faster.bf16 is True and faster.native_bf16 is True and "1.7x" in faster.reason
    monkeypatch.setattr(precision, "cpu_bf16_speedup", lambda: 0.8)
    slower = choose("auto", cpu=True)
    assert slower.bf16 is False and "0.80x" in slower.reason


def test_a_recipe_or_flag_can_force_either_and_is_warned(monkeypatch):
    monkeypatch.setenv(ENV_OVERRIDE, "none")
    forced = choose("true", cpu=True)
    assert forced.bf16 is True and "WARNING" in forced.reason and forced.requested == "true"
    monkeypatch.setenv(ENV_OVERRIDE, "native")
    assert choose(False, cpu=True).bf16 is False and choose("bf16", cpu=True).bf16 is True


def test_bad_values_are_clear_errors(monkeypatch):
    with pytest.raises(PrecisionError, match="bf16: 'maybe'"):
        choose("maybe", cpu=True)
    monkeypatch.setenv(ENV_OVERRIDE, "sometimes")
    with pytest.raises(PrecisionError, match=ENV_OVERRIDE):
        choose("auto", cpu=True)


def test_the_real_detection_agrees_with_torch():
    import torch

    native, how = precision.native_cpu_bf16()
    expected = torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    assert native == expected and how
    assert precision.cpu_bf16_speedup() > 0 and precision.cpu_model()


@pytest.mark.parametrize("detected, expected", [("none", False), ("native", True)])
def test_the_cpu_recipe_resolves_auto_through_the_parser(monkeypatch, detected, expected):
    from tests.conftest import REPO
    from train.sft import make_parser

    monkeypatch.setenv(ENV_OVERRIDE, detected)
    monkeypatch.setattr(precision, "cpu_bf16_speedup", lambda: 2.0)
    _, training, _ = make_parser().parse_args_and_config(
        ["--config", str(REPO / "recipes/smollm2-135m/lora_cpu.yaml")]
    )
    assert training.precision.requested == "auto" and training.bf16 is expected
    _, forced, _ = make_parser().parse_args_and_config(
        ["--config", str(REPO / "recipes/smollm2-135m/lora_cpu.yaml"), "--bf16", "false"]
    )
    assert forced.bf16 is False and forced.precision.requested == "false"


def test_inference_runs_float32_on_every_cpu():
    import torch

    from mcip.backends import inference_dtype
    from mcip.folder import ModelError

    assert inference_dtype("auto", cuda=False) is torch.float32
    assert inference_dtype("bfloat16") is torch.bfloat16
    with pytest.raises(ModelError):
        inference_dtype("int3")
