"""train/hub.py against tests/hub_server.py through huggingface_hub's own client, in subprocesses.

The client reads HF_ENDPOINT and HF_HUB_OFFLINE at import (and conftest sets HF_HUB_OFFLINE=1), so every hub
interaction runs in a fresh interpreter pointed at the fake server.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.hub_server import FakeHub
from train import export
from train.hub import HubError, push_model

REPO = Path(__file__).resolve().parents[1]
TOKEN = "hf_fakeHubTestToken7f3a9c2e51d04b8e"
HIDDEN = ("HF_TOKEN", "HF_TOKEN_PATH", "HF_OIDC_RESOURCE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE")


@pytest.fixture(scope="module")
def model_export(tiny_model_dir, tmp_path_factory) -> Path:
    """A verified export of a full-model run (the tiny model folder as a trainer would leave it)."""
    run = tmp_path_factory.mktemp("runs") / "tiny-full"
    shutil.copytree(tiny_model_dir, run)
    out = tmp_path_factory.mktemp("exports") / "tiny-guardian"
    assert export.main(["--run", str(run), "--output", str(out), "--max-new-tokens", "4"]) == 0
    return out


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory) -> Path:
    from datasets import Dataset, DatasetDict

    rows = [
        {
            "id": f"t{i}",
            "messages": [{"role": "user", "content": f"log {i}"}],
            "label": "true" if i % 3 else "data_injection",
        }
        for i in range(30)
    ]
    path = tmp_path_factory.mktemp("data") / "mcip-tiny"
    DatasetDict({"train": Dataset.from_list(rows[:24]), "test": Dataset.from_list(rows[24:])}).save_to_disk(
        path
    )
    (path / "README.md").write_text(
        "---\nlicense: apache-2.0\ntags:\n- mcp\n---\n\n# MCIP tiny\n\nSynthetic logs.\n"
    )
    return path


@pytest.fixture
def hub():
    with FakeHub(token=TOKEN) as server:
        yield server


def client_env(tmp_path: Path, endpoint: str, token: str | None = TOKEN) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in HIDDEN}
    env.update(
        HF_ENDPOINT=endpoint,
        HF_HUB_OFFLINE="0",
        HF_HUB_DISABLE_XET="1",  # xet uploads go to the real Hub's CAS, not to HF_ENDPOINT
        HF_HOME=str(tmp_path / "hf_home"),  # no saved login, an empty cache
        HF_HUB_CACHE=str(tmp_path / "hf_home" / "hub"),
        HF_DATASETS_CACHE=str(tmp_path / "datasets_cache"),
    )
    if token is not None:
        env["HF_TOKEN"] = token
    return env


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return run(["-m", "train.hub", *args], env)


def assert_no_secret(*roots: Path, texts: tuple[str, ...] = ()) -> None:
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file():
                assert TOKEN.encode() not in path.read_bytes(), f"the token leaked into {path}"
    for text in texts:
        assert TOKEN not in text


def assert_authenticated(hub: FakeHub) -> None:
    writes = [r for r in hub.requests if r.method in ("POST", "PUT") and not r.path.startswith("/lfs/")]
    assert writes
    for r in writes:
        assert r.headers.get("authorization") == f"Bearer {TOKEN}", f"{r.method} {r.path}"
    assert not hub.unhandled


def test_dry_run_lists_files_without_network_or_token(model_export, dataset_dir, hub, tmp_path):
    env = client_env(tmp_path, hub.url, token=None)
    result = cli(
        ["model", str(model_export), "--repo", "tester/tiny-guardian", "--dry-run", "--private"], env
    )
    assert result.returncode == 0, result.stderr
    assert "tester/tiny-guardian (model, private)" in result.stdout
    files = sorted(p for p in model_export.rglob("*") if p.is_file())
    for path in files:
        assert f"{path.stat().st_size:,} B  {path.relative_to(model_export).as_posix()}" in result.stdout
    total = sum(p.stat().st_size for p in files)
    assert f"total: {len(files)} files" in result.stdout and f"({total:,} bytes)" in result.stdout

    result = cli(["dataset", str(dataset_dir), "--repo", "tester/mcip-tiny", "--dry-run"], env)
    assert result.returncode == 0, result.stderr
    assert "tester/mcip-tiny (dataset, public)" in result.stdout
    for name in ("README.md", "data/train-00000-of-00001.parquet", "data/test-00000-of-00001.parquet"):
        assert name in result.stdout
    assert hub.requests == []


DOWNLOAD = """
import json, sys, hashlib
import torch
from huggingface_hub import hf_hub_download
from transformers import AutoModelForCausalLM
from safetensors.torch import load_file

repo, local, expected = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
for name, sha in expected.items():
    with open(hf_hub_download(repo, name), "rb") as fh:
        assert hashlib.sha256(fh.read()).hexdigest() == sha, name
model = AutoModelForCausalLM.from_pretrained(repo)
for key, value in load_file(local + "/model.safetensors").items():
    assert torch.equal(model.state_dict()[key], value), key
print("roundtrip ok", type(model).__name__)
"""


def test_push_model_round_trip(model_export, hub, tmp_path):
    env = client_env(tmp_path, hub.url)
    result = cli(["model", str(model_export), "--repo", "tester/tiny-guardian"], env)
    assert result.returncode == 0, result.stderr
    assert f"{hub.url}/tester/tiny-guardian" in result.stdout

    local = {
        p.relative_to(model_export).as_posix(): p.read_bytes() for p in model_export.rglob("*") if p.is_file()
    }
    assert hub.files("model", "tester/tiny-guardian") == local
    expected = {name: hashlib.sha256(data).hexdigest() for name, data in local.items()}
    download = run(["-c", DOWNLOAD, "tester/tiny-guardian", str(model_export), json.dumps(expected)], env)
    assert download.returncode == 0, download.stderr
    assert "roundtrip ok LlamaForCausalLM" in download.stdout

    assert_authenticated(hub)
    assert any(
        r.path.startswith("/lfs/") for r in hub.requests
    )  # weights went the LFS way, JSON files inline
    assert_no_secret(
        tmp_path, model_export, texts=(result.stdout, result.stderr, download.stdout, download.stderr)
    )


LOAD_DATASET = """
import json, sys
from datasets import load_dataset
data = load_dataset(sys.argv[1])
print(json.dumps({split: data[split].to_list() for split in data}))
"""


def test_push_dataset_round_trip(dataset_dir, hub, tmp_path):
    from datasets import load_from_disk

    env = client_env(tmp_path, hub.url)
    dry = cli(["dataset", str(dataset_dir), "--repo", "tester/mcip-tiny", "--dry-run"], env)
    result = cli(["dataset", str(dataset_dir), "--repo", "tester/mcip-tiny"], env)
    assert result.returncode == 0, result.stderr

    loaded = run(["-c", LOAD_DATASET, "tester/mcip-tiny"], env)
    assert loaded.returncode == 0, loaded.stderr
    local = load_from_disk(str(dataset_dir))
    assert json.loads(loaded.stdout.strip().splitlines()[-1]) == {
        split: local[split].to_list() for split in local
    }

    files = hub.files("dataset", "tester/mcip-tiny")
    card = files["README.md"].decode()
    assert "# MCIP tiny" in card and "dataset_info" in card and "license: apache-2.0" in card
    for name, data in files.items():
        if name.endswith(".parquet"):  # the dry run measured exactly what went up
            assert f"{len(data):,} B  {name}" in dry.stdout
    assert_authenticated(hub)
    assert_no_secret(
        tmp_path, dataset_dir, texts=(result.stdout, result.stderr, loaded.stdout, loaded.stderr)
    )


def test_missing_token_is_a_clear_error(model_export, hub, tmp_path):
    result = cli(
        ["model", str(model_export), "--repo", "tester/x"], client_env(tmp_path, hub.url, token=None)
    )
    assert result.returncode == 1
    assert (
        result.stderr.strip()
        == "error: no Hugging Face token: set HF_TOKEN or run `hf auth login` (or use --dry-run)"
    )
    assert hub.requests == []


def test_unreachable_hub_is_a_clear_error(model_export, tmp_path):
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = cli(
        ["model", str(model_export), "--repo", "tester/x"], client_env(tmp_path, f"http://127.0.0.1:{port}")
    )
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: cannot reach the Hugging Face Hub at http://127.0.0.1:{port}")
    assert len(result.stderr.strip().splitlines()) == 1 and TOKEN not in result.stderr


def test_rejected_token_is_a_clear_error(model_export, hub, tmp_path):
    result = cli(
        ["model", str(model_export), "--repo", "tester/x"], client_env(tmp_path, hub.url, token="hf_wrong")
    )
    assert result.returncode == 1
    assert result.stderr.strip() == "error: the Hub refused the request (401): the token was rejected"


def test_push_refuses_unverified_export(model_export, tmp_path):
    folder = tmp_path / "export"
    shutil.copytree(model_export, folder)
    (folder / "verification.json").unlink()
    with pytest.raises(HubError, match="no verification.json"):
        push_model(folder, "tester/x", dry_run=True)
    (folder / "verification.json").write_text(json.dumps({"export_ok": False}))
    with pytest.raises(HubError, match="failed verification"):
        push_model(folder, "tester/x", dry_run=True)
    plan = push_model(folder, "tester/x", dry_run=True, skip_verification_check=True)
    assert ("verification.json", (folder / "verification.json").stat().st_size) in plan.files
