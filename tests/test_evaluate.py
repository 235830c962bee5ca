"""The evaluator end to end: tiny random model, both protocols and modes, the OpenAI-compatible backend against
a real local HTTP server, bad inputs, and one run of the real SmolLM2."""

from __future__ import annotations

import json
import math
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from mcip.examples import bmi_example
from mcip.prompt import build_prompt
from mcip.scoring import fast_scores
from mcip.taxonomy import LABEL_STRINGS
from tests.fake_llm import FakeChat, completion
from train.evaluate import main
from train.metrics import Prediction

REPO = Path(__file__).resolve().parents[1]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _record(i: int, label: str, binary_label: str | None = None) -> dict:
    """A trajectory record (the BMI example, injected or not, its query varied) with the given label."""
    rec = bmi_example(unsafe=label != "true").model_dump(mode="json", exclude_none=True)
    rec["messages"][0]["content"] = f"Case {i}: I weigh {60 + i} kg and I'm 1.75 m tall. What's my BMI?"
    return rec | {"id": f"rec-{i}", "label": binary_label or label}


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory) -> Path:
    from datasets import Dataset, DatasetDict

    rows = []
    for i, label in enumerate(LABEL_STRINGS * 2):
        rec = _record(i, label)
        rows.append({"id": rec["id"], "label": label, "trajectory": json.dumps(rec), "source": "test"})
    out = tmp_path_factory.mktemp("data") / "mcip"
    DatasetDict({"test": Dataset.from_list(rows)}).save_to_disk(str(out))
    return out


def _check_outputs(out: Path, n: int, suffixes=("",)) -> dict:
    for suffix in suffixes:
        lines = (out / f"predictions{suffix}.jsonl").read_text().splitlines()
        assert len(lines) == n
        for line in lines:
            row = json.loads(line)
            assert {"id", "label", "raw", "predicted", "p_unsafe", "error"} <= set(row)
        for name in (f"confusion_matrix{suffix}.png", f"per_class_f1{suffix}.png"):
            assert (out / name).read_bytes()[:8] == PNG_SIGNATURE
            import matplotlib.image

            assert matplotlib.image.imread(out / name).ndim == 3
    assert "paper: MCIP Guardian" in (out / "report.md").read_text()
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n"] == n
    return metrics


def _in_unit_range(metrics: dict) -> None:
    for key in ("risk_resistance", "safety_awareness"):
        for v in metrics.get(key, {}).values():
            assert 0.0 <= v <= 1.0
    for v in (*metrics["unsafe"].values(), metrics["parse_failure_rate"]):
        assert 0.0 <= v <= 1.0


@pytest.mark.slow  # a subprocess that generates for 22 logs: about a minute on 2 busy cores
def test_cli_guardian_both_modes(tiny_model_dir, dataset_dir, tmp_path):
    out = tmp_path / "eval"
    cmd = [sys.executable, str(REPO / "train" / "evaluate.py"), "--model", str(tiny_model_dir)]
    cmd += ["--data", str(dataset_dir), "--output", str(out), "--mode", "both", "--max-new-tokens", "12"]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    metrics = _check_outputs(out, 22, suffixes=("", "_fast"))
    fast = json.loads((out / "metrics_fast.json").read_text())
    for m, mode in ((metrics, "generate"), (fast, "fast")):
        assert m["mode"] == mode and m["protocol"] == "guardian" and m["prompt_style"] == "full"
        assert {
            "risk_resistance",
            "safety_awareness",
            "unsafe",
            "safe",
            "per_class",
            "confusion_matrix",
        } <= set(m)
        assert set(m["baselines"]) == {"majority", "always_unsafe"}
        assert set(m["speed"]) == {"fast", "generate"} and m["speed"]["fast"]["examples_per_second"] > 0
        assert 0.0 <= m["unsafe"]["auprc"] <= 1.0  # P(unsafe) exists in both modes
        _in_unit_range(m)
    assert fast["parse_failure_rate"] == 0.0  # fast mode reads tokens, there is nothing to parse
    rows = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    fast_rows = [json.loads(line) for line in (out / "predictions_fast.jsonl").read_text().splitlines()]
    # the verdict position is the same computation in both modes
    assert all(abs(a["p_unsafe"] - b["p_unsafe"]) < 1e-4 for a, b in zip(rows, fast_rows))


def test_batched_fast_scoring_matches_one_at_a_time(tiny_model_dir):
    from mcip.backends import TransformersBackend
    from mcip.folder import ModelFolder

    backend = TransformersBackend(ModelFolder.read(str(tiny_model_dir)), batch_size=4)
    prompts = [build_prompt(bmi_example(unsafe=i % 2 == 1), "compact" if i % 3 else "full") for i in range(5)]
    ids = backend._ids(prompts)
    batched = fast_scores(backend.model, ids, backend.tokens, backend.tokenizer.pad_token_id, 4, list)
    single = [
        fast_scores(backend.model, [x], backend.tokens, backend.tokenizer.pad_token_id, 1, list)[0]
        for x in ids
    ]
    for (p1, l1), (p2, l2) in zip(batched, single):
        assert abs(p1 - p2) < 1e-4 and l1 == l2


def test_paper_protocol_from_yaml_config(tiny_model_dir, dataset_dir, tmp_path):
    config = tmp_path / "eval.yaml"
    out = tmp_path / "paper"
    config.write_text(
        f"model: {tiny_model_dir}\ndata: {dataset_dir}\noutput: {out}\nprotocol: paper\nlimit: 5\nmax_new_tokens: 8\n"
    )
    assert main(["--config", str(config)]) == 0
    m = _check_outputs(out, 5)
    assert m["protocol"] == "paper" and m["prompt_style"] == "paper" and m["mode"] == "generate"
    assert "auprc" not in m["unsafe"]  # the paper's answer starts with a rationale: no first-token score
    _in_unit_range(m)


def test_jsonl_with_binary_labels(tiny_model_dir, tmp_path):
    data = tmp_path / "ext.jsonl"
    data.write_text("".join(json.dumps(_record(i, lb, b)) + "\n" for i, (lb, b) in enumerate(
        [("true", "safe"), ("function_injection", "unsafe"), ("true", "safe"), ("replay_function", "unsafe")]
    )))  # fmt: skip
    out = tmp_path / "bin"
    assert (
        main(["--model", str(tiny_model_dir), "--data", str(data), "--output", str(out), "--mode", "fast"])
        == 0
    )
    m = _check_outputs(out, 4)
    assert "risk_resistance" not in m and m["split"] is None
    assert {"safety_awareness", "unsafe", "safe", "parse_failure_rate", "n"} <= set(m)
    assert m["confusion_matrix"]["labels"] == ["safe", "unsafe", "unparsable"]
    assert m["baselines"]["always_unsafe"]["predicts"] == "unsafe"
    _in_unit_range(m)


def test_lora_adapter_with_prompt_config(tiny_model_dir, dataset_dir, tmp_path):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    adapter = tmp_path / "adapter"
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    get_peft_model(base, LoraConfig(r=4, target_modules=["q_proj", "v_proj"])).save_pretrained(adapter)
    (adapter / "mcip_prompt.json").write_text(json.dumps({"style": "compact", "budget_tokens": 300}))
    out = tmp_path / "lora"
    args = ["--model", str(adapter), "--data", str(dataset_dir), "--output", str(out), "--mode", "fast"]
    assert main([*args, "--limit", "4"]) == 0
    m = _check_outputs(out, 4)
    assert m["prompt_style"] == "compact" and m["log_budget"] == 300


# -- an OpenAI-compatible endpoint ---------------------------------------------------------------------------

SECRET = "sk-test-7f3a9c-DO-NOT-LEAK"
ANSWERS = ["unsafe\nChoice: E. Function Injection", "safe\nChoice: A. Appropriate", "Choice: K"]


def _server(fail_from: int | None = None) -> FakeChat:
    """Canned answers with first-token log-probs; the first request gets a 503, ``fail_from`` on a 400."""

    def respond(k: int, body: dict) -> tuple[int, dict]:
        if k == 1:
            return 503, {"error": "warming up"}
        if fail_from is not None and k >= fail_from:
            return 400, {"error": "bad request"}
        text = "I cannot judge this." if k == 2 else ANSWERS[k % len(ANSWERS)]
        top = [{"token": "unsafe", "logprob": -0.2}, {"token": "safe", "logprob": -1.8}]
        return 200, completion(text, [{"token": text.split()[0], "logprob": -0.2, "top_logprobs": top}])

    return FakeChat(respond)


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    """urllib honours proxy variables; the test server lives on 127.0.0.1."""
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)


def _api_args(url: str, data: Path, out: Path) -> list[str]:
    return [
        "--backend", "openai", "--api-base", url, "--api-model", "guardian-test", "--api-key-env", "MCIP_TEST_KEY",
        "--data", str(data), "--output", str(out), "--concurrency", "2", "--api-backoff", "0.01",
    ]  # fmt: skip


def test_openai_backend(dataset_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("MCIP_TEST_KEY", SECRET)
    out = tmp_path / "api"
    with _server() as server:
        assert main([*_api_args(server.url, dataset_dir, out), "--limit", "6"]) == 0
    assert len(server.requests) == 7  # one 503, retried, then one request per record
    for headers, body in server.requests:
        assert headers["Authorization"] == f"Bearer {SECRET}"
        assert body["model"] == "guardian-test" and body["temperature"] == 0 and body["max_tokens"] == 64
        assert body["logprobs"] is True and body["top_logprobs"] == 20
        assert [m["role"] for m in body["messages"]] == ["system", "user"]
    m = _check_outputs(out, 6)
    assert m["backend"] == "openai" and abs(m["parse_failure_rate"] - 1 / 6) < 1e-6
    assert 0.0 <= m["unsafe"]["auprc"] <= 1.0
    rows = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert sum(r["error"] is not None for r in rows) == 1
    assert all(abs(r["p_unsafe"] - 1 / (1 + math.exp(-1.6))) < 1e-4 for r in rows)
    for path in out.rglob("*"):
        assert SECRET.encode() not in path.read_bytes(), path


def test_unreachable_endpoint(dataset_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MCIP_TEST_KEY", SECRET)
    with socket.socket() as sock:  # a port that nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    args = _api_args(f"http://127.0.0.1:{port}/v1", dataset_dir, tmp_path / "x")
    assert main([*args, "--limit", "2", "--api-retries", "2"]) == 2
    err = capsys.readouterr().err
    assert "unreachable after 3 attempt(s)" in err and f":{port}/v1/chat/completions" in err
    assert SECRET not in err and "Traceback" not in err
    assert not (tmp_path / "x" / "metrics.json").exists()


def test_failed_run_keeps_finished_metrics(dataset_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MCIP_TEST_KEY", SECRET)
    out = tmp_path / "done"
    out.mkdir()
    (out / "metrics.json").write_text('{"finished": true}\n')
    with _server(fail_from=5) as server:
        args = [*_api_args(server.url, dataset_dir, out), "--limit", "8", "--concurrency", "1"]
        assert main(args) == 2
    assert "HTTP 400" in capsys.readouterr().err
    assert (out / "metrics.json").read_text() == '{"finished": true}\n'
    assert [p.name for p in out.iterdir()] == ["metrics.json"]


# -- bad input -----------------------------------------------------------------------------------------------


def _run(args: list[str], capsys) -> str:
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "Traceback" not in err
    return err


def test_unknown_label_in_jsonl(tiny_model_dir, tmp_path, capsys):
    data = tmp_path / "bad.jsonl"
    data.write_text(json.dumps(_record(0, "true")) + "\n" + json.dumps(_record(1, "prompt_leak")) + "\n")
    err = _run(["--model", str(tiny_model_dir), "--data", str(data), "--output", str(tmp_path / "o")], capsys)
    assert f"{data}:2" in err and "label" in err and "prompt_leak" in err


def test_model_dir_without_tokenizer_or_template(tiny_model_dir, dataset_dir, tmp_path, capsys):
    bare = tmp_path / "bare"
    bare.mkdir()
    for name in ("config.json", "model.safetensors"):
        shutil.copy(tiny_model_dir / name, bare / name)
    args = ["--data", str(dataset_dir), "--output", str(tmp_path / "o")]
    assert "no tokenizer files" in _run(["--model", str(bare), *args], capsys)

    untemplated = tmp_path / "untemplated"
    shutil.copytree(tiny_model_dir, untemplated)
    (untemplated / "chat_template.jinja").unlink(missing_ok=True)
    cfg = json.loads((untemplated / "tokenizer_config.json").read_text())
    cfg.pop("chat_template", None)
    (untemplated / "tokenizer_config.json").write_text(json.dumps(cfg))
    assert "no chat template" in _run(["--model", str(untemplated), *args], capsys)


def test_other_bad_inputs(tiny_model_dir, dataset_dir, tmp_path, capsys):
    base = ["--model", str(tiny_model_dir), "--output", str(tmp_path / "o")]
    assert "no split 'dev' (splits: test)" in _run(
        [*base, "--data", str(dataset_dir), "--split", "dev"], capsys
    )
    assert "no such dataset folder" in _run([*base, "--data", str(tmp_path / "missing.jsonl")], capsys)
    err = _run([*base, "--data", str(dataset_dir), "--protocol", "paper", "--mode", "fast"], capsys)
    assert "--mode fast needs --protocol guardian" in err
    config = tmp_path / "typo.yaml"
    config.write_text(f"data: {dataset_dir}\noutput: {tmp_path / 'o'}\nbatch_sise: 4\n")
    assert "batch_sise" in _run(["--config", str(config), "--model", str(tiny_model_dir)], capsys)
    config.write_text(f"data: {dataset_dir}\noutput: {tmp_path / 'o'}\nprotocol: papper\n")
    assert "protocol: 'papper'" in _run(["--config", str(config), "--model", str(tiny_model_dir)], capsys)
    assert "cannot load" in _run(
        [*base, "--data", str(dataset_dir), "--model", "no-such-org/no-such-model"], capsys
    )
    assert not (tmp_path / "o").exists()


# -- the real SmolLM2 ----------------------------------------------------------------------------------------


@pytest.mark.slow
def test_smollm2_fast_and_generate(smollm2_dir):
    from mcip.backends import TransformersBackend
    from mcip.folder import ModelFolder

    backend = TransformersBackend(ModelFolder.read(str(smollm2_dir)), batch_size=3)
    tok = backend.tokenizer
    labels = ["true", "function_injection"] * 3
    prompts = [build_prompt(bmi_example(unsafe=lb != "true"), "compact") for lb in labels]
    fast = backend.fast(prompts)
    assert len(fast) == 6 and all(0.0 <= p <= 1.0 and lb in LABEL_STRINGS for p, lb in fast)
    assert all(
        len(path) == 1 for path in backend.tokens.letter_paths.values()
    )  # " B" .. " K": one token each
    assert tok.convert_ids_to_tokens(backend.stop_ids) == ["<|im_end|>"]
    gens = backend.generate(prompts[:2], max_new_tokens=24, want_p=True)
    for gen, label, (p_fast, _) in zip(gens, labels, fast):
        assert "<|im_end|>" not in gen.text  # decoding stopped at (and dropped) the end-of-turn token
        pred = Prediction.from_answer("x", label, gen.text, gen.p_unsafe)
        # parsed into a verdict, or reported as a parse failure with a reason
        assert (pred.error is None and isinstance(pred.unsafe, bool)) or (pred.error and pred.unsafe is None)
        assert 0.0 <= gen.p_unsafe <= 1.0 and abs(gen.p_unsafe - p_fast) < 1e-3


def test_checkpoint_without_prompt_format_uses_its_runs(tmp_path):
    """A checkpoint of an older run has no mcip_prompt.json: it was trained with its run's format, not the default."""
    from mcip.folder import ModelError, ModelFolder
    from mcip.prompt import PromptFormat

    def fmt(path):
        return ModelFolder.read(str(path)).fmt

    run = tmp_path / "run"
    (run / "checkpoint-80").mkdir(parents=True)
    assert fmt(run / "checkpoint-80") == PromptFormat()
    (run / "mcip_prompt.json").write_text(json.dumps({"style": "compact", "log_budget": 300}))
    assert fmt(run / "checkpoint-80") == PromptFormat("compact", 300)
    (tmp_path / "other").mkdir()  # a folder that is not a checkpoint does not look upwards
    (tmp_path / "mcip_prompt.json").write_text(json.dumps({"style": "compact", "log_budget": 300}))
    assert fmt(tmp_path / "other") == PromptFormat()
    (run / "mcip_prompt.json").write_text(json.dumps({"style": "tiny", "log_budget": 300}))
    with pytest.raises(ModelError, match=r"mcip_prompt.json: style: 'tiny'"):
        fmt(run / "checkpoint-80")


def test_a_shipped_adapters_relative_base_resolves_from_any_working_directory(tmp_path, monkeypatch):
    from mcip.folder import REPO, resolve_base

    (tmp_path / "guardians/g").mkdir(parents=True)
    (tmp_path / "guardians/base").mkdir()
    monkeypatch.chdir(tmp_path)  # "../base" does not exist from here
    assert resolve_base("../base", tmp_path / "guardians/g") == str(tmp_path / "guardians/g/../base")
    assert (
        resolve_base("models/smollm2-135m-instruct", tmp_path / "guardians/g")
        == str(REPO / "models/smollm2-135m-instruct")
        or not (REPO / "models/smollm2-135m-instruct").is_dir()
    )
    assert (
        resolve_base("HuggingFaceTB/SmolLM2-135M-Instruct", tmp_path) == "HuggingFaceTB/SmolLM2-135M-Instruct"
    )
