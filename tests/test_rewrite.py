"""Optional LLM rewriting, against a local OpenAI-compatible server: values kept, cache hit, labels unaffected."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from data_gen.build import build
from data_gen.recipe import RecipeError, load_recipe
from data_gen.rewrite import RewriteError, Rewriter
from mcip.examples import bmi_example
from mcip.record import load_jsonl
from mcip.verdict import parse_verdict
from tests.fake_llm import FakeChat, completion

REPO = Path(__file__).resolve().parents[1]


class FakeLLM:
    """Rewrites by prefixing a greeting; in 'drop' mode it also deletes digits (a rewrite that must be rejected)."""

    calls: list[dict] = []
    mode = "keep"

    @staticmethod
    def respond(k: int, body: dict) -> tuple[int, dict]:
        FakeLLM.calls.append(body)
        text = body["messages"][1]["content"]
        return 200, completion("Hey there! " + (re.sub(r"\d", "", text) if FakeLLM.mode == "drop" else text))


@pytest.fixture
def llm():
    FakeLLM.calls, FakeLLM.mode = [], "keep"
    with FakeChat(FakeLLM.respond) as server:
        yield server.url


def test_rewrites_are_kept_only_when_every_value_survives(llm, tmp_path):
    traj = bmi_example()
    rw = Rewriter(llm, "fake", cache_dir=tmp_path / "cache")
    out = rw.rewrite(traj)
    assert out.messages[0].content.startswith("Hey there! I weigh 70 kg")
    assert out.messages[-1].content.startswith("Hey there! Your BMI is 22.86")
    FakeLLM.mode = "drop"
    rw2 = Rewriter(llm, "fake", cache_dir=tmp_path / "cache2")
    kept = rw2.rewrite(traj)
    assert kept.messages[0].content == traj.messages[0].content  # the digits were lost: rejected
    assert rw2.stats["rejected"] == 2 and rw2.stats["kept"] == 0


def test_build_with_rewriting_caches_and_keeps_labels_consistent(llm, tmp_path):
    args = [
        "--train_size",
        "80",
        "--validation_size",
        "0",
        "--test_size",
        "0",
        "--test_unseen_size",
        "0",
        "--holdout_servers",
        "[]",
        "--num_proc",
        "1",
        "--rewrite.enabled",
        "true",
        "--rewrite.api_base",
        llm,
        "--rewrite.model",
        "fake",
        "--rewrite.share",
        "0.5",
        "--rewrite.cache_dir",
        str(tmp_path / "cache"),
    ]
    build(
        load_recipe(REPO / "recipes/data/small.yaml", ["--output_dir", str(tmp_path / "a"), *args]),
        progress=False,
    )
    sent = len(FakeLLM.calls)
    assert sent > 20
    records = load_jsonl(tmp_path / "a/jsonl/train.jsonl")
    rewritten = [r for r in records if r.meta.get("rewritten")]
    assert 15 < len(rewritten) < 65
    for r in rewritten:
        assert r.messages[0].content.startswith("Hey there!") or "Hey there!" not in r.messages[0].content
    stats = json.loads((tmp_path / "a/stats.json").read_text())
    assert stats["train"]["rewritten"] == len(rewritten)
    build(
        load_recipe(REPO / "recipes/data/small.yaml", ["--output_dir", str(tmp_path / "b"), *args]),
        progress=False,
    )
    assert len(FakeLLM.calls) == sent  # the second build is served from the cache
    assert (tmp_path / "a/jsonl/train.jsonl").read_bytes() == (tmp_path / "b/jsonl/train.jsonl").read_bytes()
    from datasets import load_from_disk

    for row in load_from_disk(str(tmp_path / "a"))["train"]:
        assert parse_verdict(row["completion"][0]["content"]).label == row["label"]


def test_bad_rewrite_settings_fail_clearly(tmp_path):
    with pytest.raises(RecipeError, match="rewrite.enabled needs rewrite.model"):
        load_recipe(REPO / "recipes/data/small.yaml", ["--rewrite.enabled", "true"])
    rw = Rewriter("http://127.0.0.1:9/v1", "fake", cache_dir=tmp_path, retries=0, timeout=2)
    with pytest.raises(RewriteError, match="unreachable"):
        rw.rewrite(bmi_example())
