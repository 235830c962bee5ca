"""The README's ``python -m data_gen`` import commands, run as a user types them: import, then build on the import.

They crashed once (the CLI called the importer functions as modules) with no test noticing, so these run the
real command lines as subprocesses on the small fixtures in ``tests/fixtures/importers``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from data_gen.catalogue import load_catalogue
from mcip.record import load_jsonl

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "importers"
SMALL = ["--train_size", "12", "--validation_size", "0", "--test_size", "0", "--num_proc", "1"]


def _cli(*args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "data_gen", *args], capture_output=True, text=True, cwd=REPO, timeout=300
    )
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    return proc


def _ok(proc: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("fmt, fixture", [("mcp", "livemcp_tools.json"), ("bfcl", "bfcl.jsonl")])
def test_import_tools_then_build_with_a_plain_catalogues_path(fmt, fixture, tmp_path):
    servers_dir = tmp_path / "servers"
    proc = _ok(_cli("import-tools", fmt, str(FIXTURES / fixture), "--out", str(servers_dir)))
    files = sorted(servers_dir.glob("*.yaml"))
    assert files and f"wrote {len(files)} server file(s)" in proc.stdout
    imported = sorted(load_catalogue([servers_dir]).servers)
    # test_unseen draws only on the held-out (imported) servers, so the build must use the imported tools;
    # benign logs only: a few imported tools lack what some attack transforms need
    holdout = "[" + ", ".join(imported) + "]"
    out = tmp_path / "ds"
    _ok(
        _cli(
            *("--config", str(REPO / "recipes/data/small.yaml"), "--output_dir", str(out), *SMALL),
            *("--test_unseen_size", "8", "--holdout_servers", holdout, "--catalogues", str(servers_dir)),
            *("--label_weights", "{true: 1}", "--hard_negative_share", "0"),
        )
    )
    unseen = load_jsonl(out / "jsonl" / "test_unseen.jsonl")
    assert len(unseen) == 8
    for traj in unseen:
        called = {traj.tool(c.function.name).server for _, c in traj.calls()}
        assert called and called <= set(imported), traj.id


@pytest.mark.parametrize(
    "fmt, fixture",
    [
        ("glaive", "glaive.jsonl"),
        ("openai", "openai.jsonl"),
        ("xlam", "xlam.jsonl"),
        ("toolace", "toolace.json"),
    ],
)
def test_import_conversations_writes_valid_records(fmt, fixture, tmp_path):
    out = tmp_path / f"{fmt}.jsonl"
    proc = _ok(_cli("import-conversations", fmt, str(FIXTURES / fixture), "--out", str(out)))
    records = load_jsonl(out)
    assert records and f"wrote {len(records)} trajectory record(s)" in proc.stdout
    assert all(r.meta["source"] == fmt for r in records)


def test_imported_conversations_feed_a_build_as_gold(tmp_path):
    gold = tmp_path / "gold.jsonl"
    _ok(_cli("import-conversations", "glaive", str(FIXTURES / "glaive.jsonl"), "--out", str(gold)))
    out = tmp_path / "ds"
    _ok(
        _cli(
            *("--config", str(REPO / "recipes/data/small.yaml"), "--output_dir", str(out), *SMALL),
            *("--test_unseen_size", "0", "--holdout_servers", "[]"),
            *("--gold", str(gold), "--gold_share", "0.9"),
        )
    )
    kinds = {r["meta"]["kind"] for r in _rows(out / "jsonl" / "train.jsonl")}
    assert "gold" in kinds


def test_import_errors_name_the_file_without_a_traceback(tmp_path):
    bad = tmp_path / "tools.json"
    bad.write_text("{not json")
    proc = _cli("import-tools", "mcp", str(bad), "--out", str(tmp_path / "servers"))
    assert proc.returncode == 2 and f"{bad}: invalid JSON" in proc.stderr
    assert not (tmp_path / "servers").exists()


def test_an_external_benchmark_is_refused_as_gold(tmp_path):
    """AgentDojo's records are evaluation only: passing them as gold bases is an error, and nothing is written."""
    from mcip.examples import bmi_example
    from mcip.record import save_jsonl

    bench = tmp_path / "bench.jsonl"
    save_jsonl([bmi_example().model_copy(update={"meta": {"evaluation_only": True}})], bench)
    out = tmp_path / "ds"
    proc = _cli(
        *("--config", str(REPO / "recipes/data/small.yaml"), "--output_dir", str(out), *SMALL),
        *("--gold", str(bench), "--gold_share", "0.5"),
    )
    assert proc.returncode == 2 and "meta.evaluation_only" in proc.stderr and "Traceback" not in proc.stderr
    assert not out.exists()
