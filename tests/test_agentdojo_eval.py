"""The AgentDojo benchmark's per-suite rows: the project's scoring per suite, and the real CLI in both protocols."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.agentdojo_eval import headline, per_suite, suite_table
from train.metrics import Prediction, baselines, compute_metrics

REPO = Path(__file__).resolve().parents[1]

FI, IG, WP = "function_injection", "ignore_prupose_prompt_injection", "wrong_parameter_prompt_injection"
SUITE_OF = {**dict.fromkeys(("w1", "w2", "w3"), "workspace"), "b1": "banking", "b2": "banking", "s1": "slack"}


def _preds() -> list[Prediction]:
    return [
        Prediction.from_fast("w1", "true", 0.1, "true"),  # right
        Prediction.from_fast("w2", FI, 0.9, FI),  # right
        Prediction.from_fast("w3", FI, 0.8, IG),  # wrong class, right verdict
        Prediction.from_answer("b1", "true", "I cannot tell"),  # unparsable: wrong for RR and SA
        Prediction.from_answer("b2", WP, "Choice: A. true"),  # wrong both ways
    ]


def test_per_suite_numbers_and_the_all_row():
    preds = _preds()
    assert preds[3].error and preds[4].predicted == "true" and preds[4].error is None
    rows = per_suite(preds, SUITE_OF)
    assert list(rows) == ["workspace", "banking", "all"]  # the data's order; slack had nothing scored

    w = rows["workspace"]
    assert w["n"] == 3 and w["parse_failure_rate"] == 0.0
    assert w["rr_accuracy"] == pytest.approx(2 / 3, abs=1e-6)
    # macro over all 11 classes: true F1 1, function_injection F1 2/3 (P 1, R 1/2), the rest 0
    assert w["rr_macro_f1"] == pytest.approx((1 + 2 / 3) / 11, abs=1e-6)
    assert w["sa_accuracy"] == 1.0 and w["sa_macro_f1"] == 1.0 and w["auprc"] == 1.0
    maj = w["baselines"]["majority"]
    assert maj["predicts"] == FI and maj["rr_accuracy"] == pytest.approx(2 / 3, abs=1e-6)
    assert maj["rr_macro_f1"] == pytest.approx(0.8 / 11, abs=1e-6)  # F1 of function_injection: P 2/3, R 1
    assert maj["sa_macro_f1"] == pytest.approx(0.4, abs=1e-6)  # unsafe F1 0.8, safe 0

    b = rows["banking"]
    assert b["n"] == 2 and b["parse_failure_rate"] == 0.5 and b["auprc"] is None
    assert (b["rr_accuracy"], b["rr_macro_f1"], b["sa_accuracy"], b["sa_macro_f1"]) == (0, 0, 0, 0)
    maj, uns = b["baselines"]["majority"], b["baselines"]["always_unsafe"]
    assert maj["predicts"] == "true" and uns["predicts"] == WP  # a tie goes to the taxonomy's order
    assert maj["rr_macro_f1"] == pytest.approx((2 / 3) / 11, abs=1e-6)
    assert maj["sa_accuracy"] == 0.5 and maj["sa_macro_f1"] == pytest.approx(1 / 3, abs=1e-6)

    every = rows["all"]  # the same numbers train.evaluate reports for the whole run
    m = compute_metrics(preds)
    assert every["n"] == 5 == w["n"] + b["n"]
    assert {k: every[k] for k in headline(m)} == headline(m)
    assert every["parse_failure_rate"] == m["parse_failure_rate"] == 0.2
    base = baselines(preds, with_scores=False)
    assert {k: every["baselines"][k]["predicts"] for k in base} == {k: v["predicts"] for k, v in base.items()}
    assert every["baselines"]["majority"]["rr_macro_f1"] == base["majority"]["risk_resistance"]["macro_f1"]


def test_per_suite_refuses_an_unknown_id_and_the_table_shows_every_row():
    with pytest.raises(ValueError, match="'zz': no record with that id"):
        per_suite([*_preds(), Prediction.from_fast("zz", "true", 0.1, "true")], SUITE_OF)
    rows = per_suite(_preds(), SUITE_OF)
    lines = suite_table(rows, unparsable=True).splitlines()
    assert lines[0].endswith("| majority SA macro-F1 | unparsable |") and len(lines) == 2 + 3
    assert lines[3] == "| banking | 2 | 0.000 | 0.000 | 0.000 | 0.000 | 0.061 | 0.333 | 0.500 |"
    assert "unparsable" not in suite_table(rows, unparsable=False)


@pytest.mark.slow  # imports two AgentDojo suites, scores 6 logs twice with the tiny model: ~9 min on 2 busy cores
def test_cli_both_protocols_per_suite(tiny_model_dir, tmp_path):
    if not os.environ.get("CI"):  # in CI a missing extra must fail, not skip
        pytest.importorskip("agentdojo", reason="the optional extra: pip install -e '.[agentdojo]'")
    from data_gen.importers import agentdojo as ad
    from mcip.record import save_jsonl

    records, _ = ad.import_records(["banking", "slack"], per_suite=1, seed=0)
    data, out, work = tmp_path / "agentdojo.jsonl", tmp_path / "agentdojo.json", tmp_path / "work"
    save_jsonl(records, data)
    cmd = [sys.executable, "-m", "benchmarks.agentdojo_eval", "--model", str(tiny_model_dir)]
    cmd += [
        "--no-zero-shot",
        "--protocol",
        "both",
        "--data",
        str(data),
        "--limit",
        "6",
        "--max-new-tokens",
        "24",
    ]
    cmd += ["--work", str(work), "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    result = json.loads(out.read_text())
    assert result["n_scored"] == 6 and result["protocol"] == "both"
    runs = result["models"][str(tiny_model_dir)]
    assert set(runs) == {"guardian", "paper"}
    assert (runs["guardian"]["mode"], runs["paper"]["mode"]) == ("fast", "generate")
    for protocol, r in runs.items():
        assert (work / f"{tiny_model_dir.name}-{protocol}" / "predictions.jsonl").is_file()
        rows = r["per_suite"]
        assert list(rows)[-1] == "all" and set(rows) <= {"banking", "slack", "all"}
        assert sum(row["n"] for suite, row in rows.items() if suite != "all") == rows["all"]["n"] == 6
        assert {k: rows["all"][k] for k in ("rr_accuracy", "rr_macro_f1", "sa_accuracy", "sa_macro_f1")} == {
            k: r[k] for k in ("rr_accuracy", "rr_macro_f1", "sa_accuracy", "sa_macro_f1")
        }  # the all row is the run's own metrics.json
        assert rows["all"]["parse_failure_rate"] == r["parse_failure_rate"]
    assert "guardian protocol (fast), per suite" in proc.stdout
    assert "paper protocol (generate), per suite" in proc.stdout
    assert proc.stdout.count("| all |") == 2 and proc.stdout.count("| unparsable |") == 1
