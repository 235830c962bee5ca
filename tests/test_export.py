"""train/export.py: merge a LoRA run, verify the export against the adapter model, write the model card."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
import yaml

from mcip.examples import EXAMPLES
from mcip.prompt import build_prompt
from mcip.taxonomy import markdown_table
from train import export
from train.markdown import METRICS, lookup

SECRET = "hf_runmetaSecretValue0123456789abcd"


def make_lora_run(base: Path, run: Path, std: float = 0.5, meta: dict | None = None) -> Path:
    """A PEFT LoRA run dir as TRL leaves it; lora_B is random so the adapter visibly changes the logits."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(base),
        LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", task_type="CAUSAL_LM"),
    )
    torch.manual_seed(1)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, std)
    model.save_pretrained(run)
    AutoTokenizer.from_pretrained(base).save_pretrained(run)
    (run / "mcip_prompt.json").write_text(json.dumps({"style": "compact", "budget_tokens": None}))
    meta = meta or {
        "recipe": "recipes/tiny/lora.yaml",
        "dataset": "data/tiny",
        "base_model": str(base),
        "training": {"learning_rate": 1e-4, "lora_r": 4, "num_train_epochs": 1},
        "hub_token": SECRET,
    }
    (run / "mcip_run.json").write_text(json.dumps(meta))
    return run


def guardian_logits(model, tokenizer) -> list[torch.Tensor]:
    out = []
    for make in EXAMPLES.values():
        messages = build_prompt(make(), "compact")
        ids = tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        with torch.no_grad():
            out.append(model(**ids).logits[0].float())
    return out


def metrics(split: str, scale: float) -> dict:
    return {
        "split": split,
        "protocol": "guardian",
        "data": "data/mcip-tiny",
        "n": 120,
        "risk_resistance": {"accuracy": 0.5123 * scale, "macro_f1": 0.4011 * scale},
        "safety_awareness": {"accuracy": 0.8125 * scale, "macro_f1": 0.7702 * scale},
        "unsafe": {"precision": 0.91 * scale, "recall": 0.83 * scale, "auprc": 0.9377 * scale},
        "safe": {"false_positive_rate": 0.125},
        "parse_failure_rate": 0.0083,
        "per_class": {"true": {"precision": 0.5, "recall": 0.4, "f1": 0.44, "support": 20}},
        "baselines": {"always_unsafe": {"safety_awareness": {"accuracy": 0.75, "macro_f1": 0.4286}}},
    }


@pytest.fixture(scope="module")
def lora_run(tiny_model_dir, tmp_path_factory) -> Path:
    return make_lora_run(tiny_model_dir, tmp_path_factory.mktemp("runs") / "tiny-lora")


@pytest.fixture(scope="module")
def metrics_files(tmp_path_factory) -> list[Path]:
    root = tmp_path_factory.mktemp("eval")
    files = []
    for split, scale in (("test", 1.0), ("test_unseen", 0.8)):
        (root / split).mkdir()
        files.append(root / split / "metrics.json")
        files[-1].write_text(json.dumps(metrics(split, scale)))
    return files


@pytest.fixture(scope="module")
def exported(lora_run, metrics_files, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("exports") / "tiny-guardian"
    args = ["--run", str(lora_run), "--output", str(out), "--base-model-id", "tester/tiny-llama"]
    args += ["--dataset-id", "tester/mcip-tiny", "--model-name", "tester/tiny-guardian"]
    for path in metrics_files:
        args += ["--metrics", str(path)]
    assert export.main(args) == 0
    return out


def test_merged_logits_equal_adapter_logits(exported, lora_run, tiny_model_dir):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(exported)
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    base_logits = guardian_logits(base, tokenizer)
    adapter = PeftModel.from_pretrained(base, lora_run).eval()
    merged = AutoModelForCausalLM.from_pretrained(exported).eval()
    for want, got, plain in zip(
        guardian_logits(adapter, tokenizer), guardian_logits(merged, tokenizer), base_logits
    ):
        assert (want - plain).abs().max() > 0.5  # the adapter matters, so equality below means it was merged
        torch.testing.assert_close(got, want, atol=1e-4, rtol=0)


def test_export_reloads_with_end_of_turn_generation_config(exported):
    from transformers import AutoTokenizer, GenerationConfig

    tokenizer = AutoTokenizer.from_pretrained(exported)
    gen = GenerationConfig.from_pretrained(exported)
    eos = gen.eos_token_id if isinstance(gen.eos_token_id, list) else [gen.eos_token_id]
    assert tokenizer.convert_ids_to_tokens(eos[0]) == "<|im_end|>"
    assert gen.do_sample is False
    assert "<|im_start|>assistant" in tokenizer.chat_template
    from mcip.prompt import PromptFormat

    # the run's format travels with the export (written whole: the defaults it was read with made explicit)
    assert PromptFormat.load(exported) == PromptFormat(style="compact", log_budget=None)


def test_end_of_turn_differs_from_eos(tiny_model_dir):
    """Base models often keep <|endoftext|> as eos; the template's <|im_end|> must still stop generation."""
    from types import SimpleNamespace

    from transformers import AutoTokenizer, GenerationConfig

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    tokenizer.eos_token = "<|endoftext|>"
    eot = export.end_of_turn_id(tokenizer)
    assert tokenizer.convert_ids_to_tokens(eot) == "<|im_end|>"
    model = SimpleNamespace(generation_config=GenerationConfig())
    assert export.generation_config(model, tokenizer, eot).eos_token_id == [eot, tokenizer.eos_token_id]


def test_verification_json_records_the_checks(exported):
    report = json.loads((exported / "verification.json").read_text())
    assert report["export_ok"] and report["logits_ok"]
    assert report["dtype"] == "float32" and report["source"]["kind"] == "lora"
    assert report["max_abs_logit_diff"] <= report["tolerance"] < 1e-3
    assert report["reload_max_abs_logit_diff"] <= report["reload_tolerance"]
    assert report["end_of_turn"]["token"] == "<|im_end|>"
    # an untrained tiny model answers noise: the parse failure is recorded, not fatal
    assert report["parse_ok"] is False and not report["require_parse"]
    for example in report["examples"]:
        assert isinstance(example["greedy_text"], str) and example["parse_error"]
        assert 0 <= example["p_unsafe_first_token"] <= 1


def test_no_adapter_in_export_unless_kept(exported, lora_run, tmp_path):
    names = {p.name for p in exported.rglob("*")}
    assert not names & {"adapter", "adapter_config.json", "adapter_model.safetensors"}
    assert {"config.json", "model.safetensors", "tokenizer.json", "chat_template.jinja", "README.md"} <= names

    # --keep-adapter, through a TrlParser --config YAML file
    config = tmp_path / "export.yaml"
    out = tmp_path / "kept"
    config.write_text(yaml.safe_dump({"run": str(lora_run), "output": str(out), "keep_adapter": True}))
    assert export.main(["--config", str(config)]) == 0
    for name in ("adapter_config.json", "adapter_model.safetensors"):
        assert (out / "adapter" / name).read_bytes() == (lora_run / name).read_bytes()


def _front_matter(readme: Path) -> dict:
    match = re.match(r"^---\n(.*?)\n---\n", readme.read_text(), re.DOTALL)
    assert match, "README.md has no YAML front matter"
    return yaml.safe_load(match.group(1))


def test_card_metadata_matches_metrics(exported, metrics_files):
    from huggingface_hub import ModelCard

    meta = _front_matter(exported / "README.md")
    card = ModelCard.load(exported / "README.md")
    assert card.data.to_dict()["model-index"] == meta["model-index"]
    assert meta["license"] == "apache-2.0" and meta["language"] == "en"
    assert meta["pipeline_tag"] == "text-generation"
    assert meta["base_model"] == "tester/tiny-llama" and meta["datasets"] == ["tester/mcip-tiny"]
    assert {"mcp", "guardian", "safety", "mcip"} <= set(meta["tags"])

    (index,) = meta["model-index"]
    assert index["name"] == "tester/tiny-guardian"
    by_split = {r["dataset"]["split"]: r for r in index["results"]}
    assert set(by_split) == {"test", "test_unseen"}
    for path in metrics_files:
        m = json.loads(path.read_text())
        result = by_split[m["split"]]
        assert result["dataset"]["type"] == "tester/mcip-tiny"
        assert result["dataset"]["name"] == "mcip-tiny"
        got = {metric["name"]: metric["value"] for metric in result["metrics"]}
        assert got == {name: lookup(m, key) for key, _, name in METRICS}
        assert {"type": "accuracy", "name": "Risk Resistance accuracy (11-way)"}.items() <= result["metrics"][
            0
        ].items()


def test_card_body(exported):
    text = (exported / "README.md").read_text()
    assert markdown_table() in text
    assert "54.16 / 42.03" in text and "41.64 / 28.85" in text and "75.73 / 69.91" in text
    for needle in ("build_prompt", "from vllm import", "convert_hf_to_gguf.py", "P(unsafe)", "2505.14590"):
        assert needle in text
    assert "| test_unseen | guardian | this model | mcip-tiny | 120 | 40.98 |" in text  # 0.5123 * 0.8, in %
    assert "| test | guardian | baseline: always_unsafe | mcip-tiny | 120 | - | - | 75.00 | 42.86 |" in text
    assert SECRET not in text and "<redacted>" in text
    assert str(Path.home()) not in text and "/tmp/" not in text


def test_card_usage_snippets_run(exported):
    """The transformers and P(unsafe) snippets run as written against the export (vLLM is GPU-only here)."""
    text = (exported / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.DOTALL)
    namespace: dict = {}
    for code in blocks[:2]:
        exec(code.replace('"tester/tiny-guardian"', repr(str(exported))), namespace)
    assert 0.0 <= namespace["p_unsafe"] <= 1.0 and isinstance(namespace["answer"], str)


@pytest.mark.parametrize(
    ("extra", "corrupt", "message"),
    [
        ([], True, "differ from the source model"),
        (["--dtype", "bfloat16", "--tolerance", "0"], False, "differ from the source model"),
        (["--require-parse"], False, "does not parse"),
    ],
    ids=["corrupted-merge", "bf16-zero-tolerance", "require-parse"],
)
def test_failed_verification_leaves_nothing(lora_run, tmp_path, monkeypatch, capsys, extra, corrupt, message):
    real_merge = export.merge

    def corrupting_merge(model):
        merged = real_merge(model)
        with torch.no_grad():
            merged.model.layers[0].mlp.down_proj.weight.mul_(1.05)
        return merged

    if corrupt:
        monkeypatch.setattr(export, "merge", corrupting_merge)
    out = tmp_path / "exports" / "bad"
    assert export.main(["--run", str(lora_run), "--output", str(out), *extra]) == 1
    assert not out.exists() and list(out.parent.iterdir()) == []  # no temp dir left beside it either
    err = capsys.readouterr().err
    assert message in err and "nothing written" in err


def test_qlora_run_merges_into_bf16_base(tiny_model_dir, tmp_path):
    run = make_lora_run(
        tiny_model_dir, tmp_path / "qlora", meta={"load_in_4bit": True}
    )  # as train/sft.py writes it
    assert export.main(["--run", str(run), "--output", str(tmp_path / "out"), "--max-new-tokens", "4"]) == 0
    report = json.loads((tmp_path / "out" / "verification.json").read_text())
    assert report["source"]["qlora"] and report["dtype"] == "bfloat16" and report["export_ok"]
    assert "Training" in (tmp_path / "out" / "README.md").read_text()


def test_bad_inputs_give_clear_errors(tmp_path, lora_run, capsys):
    assert export.main(["--run", str(tmp_path / "missing"), "--output", str(tmp_path / "o")]) == 1
    assert "no such run folder" in capsys.readouterr().err
    args = ["--run", str(lora_run), "--output", str(tmp_path / "o"), "--metrics", str(tmp_path / "nope.json")]
    assert export.main(args) == 1
    assert "cannot read metrics" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_smollm2_lora_export_matches_adapter(smollm2_dir, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    run = make_lora_run(smollm2_dir, tmp_path / "smollm2-lora", std=0.02)
    out = tmp_path / "smollm2-guardian"
    assert export.main(["--run", str(run), "--output", str(out), "--max-new-tokens", "8"]) == 0
    report = json.loads((out / "verification.json").read_text())
    assert report["export_ok"] and report["max_abs_logit_diff"] <= report["tolerance"] < 1e-3

    tokenizer = AutoTokenizer.from_pretrained(out)
    adapter = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(smollm2_dir), run).eval()
    want = guardian_logits(adapter, tokenizer)
    del adapter
    got = guardian_logits(AutoModelForCausalLM.from_pretrained(out).eval(), tokenizer)
    for w, g in zip(want, got):
        torch.testing.assert_close(g, w, atol=report["tolerance"], rtol=0)
