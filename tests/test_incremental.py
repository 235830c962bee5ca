"""Judging a growing session on its new tokens only (issue 22): the key/value cache gives the same verdicts as a
full re-read, stays within its bounds, and the stream splits a long session into chats that fit."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from mcip.calls import positions, upto_position
from mcip.guardian import load_guardian
from mcip.incremental import PrefixCache, kv_bytes_per_token
from mcip.prompt import PromptFormat, format_answer, is_truncated
from mcip.prompting import token_counter
from mcip.scoring import encode, render_chat
from mcip.stream import COMPACT, StreamError, chats, prefix, stream_messages
from mcip.taxonomy import SAFE

RISK = "function_injection"


@pytest.fixture(scope="module")
def guardian(tiny_model_dir, tmp_path_factory):
    """The tiny model saved with a stream format (its context: 4096 positions)."""
    folder = tmp_path_factory.mktemp("streamguard") / "tiny"
    shutil.copytree(tiny_model_dir, folder)
    PromptFormat(style="compact", rationale=False, stream=True).save(folder)
    return load_guardian(str(folder), progress=False, batch_size=2)


@pytest.fixture(scope="module")
def sessions(default_records):
    """Sessions with several positions, unsafe ones included."""
    many = [t for t in default_records if len(positions(t)) >= 3]
    return [t for t in many if t.label != SAFE][:3] + [t for t in many if t.label == SAFE][:1]


def _full(g, prompt):
    return g.backend.fast([prompt], with_probs=True)[0]


def test_incremental_verdicts_equal_a_full_reread(guardian, sessions):
    g = guardian
    cache = PrefixCache(g.backend.model, g.backend.tokens, 1 << 20)
    for n, traj in enumerate(sessions):
        msgs = stream_messages(traj)
        for k in range((len(msgs) - 1) // 2):
            prompt = prefix(msgs, k)
            ids = encode(g.tokenizer, render_chat(g.tokenizer, prompt))
            got = cache.check(f"s{n}", ids)
            p, label, probs = _full(g, prompt)
            assert got.p_unsafe == pytest.approx(p, abs=1e-4) and got.label == label
            assert max(abs(got.probs[c] - probs[c]) for c in probs) < 1e-4
            if k:  # everything before this turn came from the cache; only the turn and the answer ran
                assert got.reused > 0.5 * len(ids) and got.computed < len(ids) - got.reused + 16
            else:
                assert got.reused == 0
    assert cache.stats.checks > len(sessions) and cache.stats.reused_tokens > cache.stats.computed_tokens / 4


def test_the_cache_stays_within_its_bounds_and_reencodes_after_eviction(guardian, sessions):
    g = guardian
    per = kv_bytes_per_token(g.backend.model.config)
    prompts = [prefix(stream_messages(t), 1) for t in sessions[:3]]
    ids = [encode(g.tokenizer, render_chat(g.tokenizer, p)) for p in prompts]
    room = 1.5 * max(len(i) for i in ids) * per / 2**20  # one session fits, two do not
    cache = PrefixCache(g.backend.model, g.backend.tokens, 1 << 20, max_total_mib=room)
    for n, one in enumerate(ids):
        cache.check(f"s{n}", one)
        assert cache.cached_mib <= room and len(cache.sessions()) == 1
    assert cache.stats.evictions == 2 and cache.sessions() == ["s2"]
    again = cache.check("s0", ids[0])  # evicted: re-encoded in full, same verdict
    assert again.reused == 0 and again.p_unsafe == pytest.approx(_full(g, prompts[0])[0], abs=1e-4)
    small = PrefixCache(g.backend.model, g.backend.tokens, max_session_tokens=len(ids[0]) // 2)
    small.check("x", ids[0])
    assert small.stats.not_kept == 1 and small.sessions() == []


@pytest.mark.slow
def test_a_long_session_splits_into_chats_that_fit(default_records, smollm2_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(smollm2_dir)
    count = token_counter(tok)
    long = max(default_records[:120], key=lambda t: len(t.model_dump_json()))
    labels = [p["label"] for p in long.meta["call_labels"]]
    whole = chats(long, labels, COMPACT, None, count)
    assert whole == [stream_messages(long)]
    room = 1200
    parts = chats(long, labels, COMPACT, room, count)
    assert len(parts) > 1
    for chat in parts:
        assert len(encode(tok, render_chat(tok, chat))) <= room
        assert chat[0]["role"] == "system" and chat[-1]["role"] == "assistant"
    # every verdict is in exactly one chat, in order; each later chat opens with the history re-cut, saying so
    answers = [m["content"] for chat in parts for m in chat if m["role"] == "assistant"]
    assert answers == [format_answer(lb) for lb in labels]
    assert all(is_truncated(chat[1]["content"]) for chat in parts[1:])
    opening = parts[-1][1]["content"].splitlines()
    assert "1. user -> assistant" in opening  # the user's first request survives the re-cut, as a flow
    # the guard's question at every position: the chat ends with the position's turn, and giving the verdict
    # only appends it (the split never moves once the verdict is known), so the cache stays valid
    for k in range(len(labels)):
        asked = chats(long, [*labels[:k], None], COMPACT, room, count)
        told = chats(long, labels[: k + 1], COMPACT, room, count)
        assert asked[-1][-1]["role"] == "user" and asked[:-1] == told[:-1]
        assert told[-1][: len(asked[-1])] == asked[-1] and len(told[-1]) == len(asked[-1]) + 1
    with pytest.raises(StreamError, match="only the last position"):
        chats(long, [None, *labels[1:]], COMPACT, room, count)


def test_judging_every_position_in_one_pass(guardian, sessions):
    g = guardian
    for traj in sessions[:2]:
        scores = g.judge_positions(traj)
        assert len(scores) == len(positions(traj))
        verdicts = []
        for s in scores:  # the same as asking each question from scratch, own verdicts fed back
            p, label, _ = _full(g, g.session_prompt(traj, verdicts))
            assert s.p_unsafe == pytest.approx(p, abs=1e-4) and s.label == label
            verdicts.append(label)
    assert g.cache.sessions() == []  # a finished log's cache is let go
    oneshot = dataclasses.replace(g, prompter=dataclasses.replace(g.prompter, fmt=PromptFormat("compact")))
    traj = sessions[0]
    assert oneshot.session_prompt(traj, [SAFE]) == oneshot.prompt(upto_position(traj, 1))


def test_the_window_bounds_every_chat_the_guard_reads(guardian, default_records):
    from mcip.folder import ModelError

    traj = max(default_records[:120], key=lambda t: len(t.model_dump_json()))
    labels = [p["label"] for p in traj.meta["call_labels"]]
    assert guardian.window == 4096 and guardian.stream_room == 4096 - guardian.answer_room - 8
    g = dataclasses.replace(guardian, window=700)
    recut = 0
    for k in range(len(labels)):  # every question stays within the window; past it the history is re-cut
        prompt = g.session_prompt(traj, labels[:k])
        assert g.prompt_tokens(prompt) <= g.stream_room < 700
        recut += is_truncated(prompt[1]["content"])
    assert recut > 0
    with pytest.raises(ModelError, match="window 20"):
        load_guardian(guardian.name, progress=False, window=20)


@pytest.mark.slow
def test_stream_training_labels_every_verdict(default_records, smollm2_dir, tiny_model_dir):
    from transformers import AutoTokenizer

    from train.data import DataError, stream_rows

    for source in (smollm2_dir, tiny_model_dir):
        tok = AutoTokenizer.from_pretrained(source)
        traj = next(t for t in default_records if len(positions(t)) >= 3 and t.label != SAFE)
        row = {"id": traj.id, "label": traj.label, "trajectory": traj.model_dump_json()}
        fmt = PromptFormat(style="compact", rationale=False, stream=True)
        out = stream_rows({k: [v] for k, v in row.items()}, [0], fmt, tok, None, "d")
        assert len(out["input_ids"]) == 1
        ids, labels = out["input_ids"][0], out["labels"][0]
        spans, cur = [], []
        for i, lab in enumerate(labels):
            if lab != -100:
                cur.append(ids[i])
            elif cur:
                spans.append(tok.decode(cur)), cur.clear()
        spans += [tok.decode(cur)] if cur else []
        want = [format_answer(p["label"]) for p in traj.meta["call_labels"]]
        assert [s.split("<|im_end|>")[0] for s in spans] == want
        assert all("<|im_end|>" in s for s in spans)
    bare = traj.model_copy(update={"meta": {}})
    row = {"id": bare.id, "label": bare.label, "trajectory": bare.model_dump_json()}
    with pytest.raises(DataError, match=r"d row 7 .*meta.call_labels: missing"):
        stream_rows({k: [v] for k, v in row.items()}, [7], fmt, tok, None, "d")


def test_stream_format_round_trips_and_old_files_stay_one_shot(tmp_path):
    PromptFormat(style="compact", stream=True).save(tmp_path)
    assert PromptFormat.load(tmp_path).stream is True
    assert "stream" not in PromptFormat(style="compact").to_dict()  # one-shot formats save as they always did


@pytest.mark.slow
def test_stream_training_runs_under_accelerate(tiny_model_dir, dataset, tmp_path):
    import json

    from tests.conftest import launch, ok, train_env

    out = tmp_path / "run"
    env = train_env(tmp_path, MCIP_CACHE=str(tmp_path / "cache"))
    args = ["--stream", "true", "--max_steps", "2", "--max_length", "1024", "--eval_strategy", "no"]
    args += ["--prompt_style", "compact", "--rationale", "false", "--max_train_samples", "12"]
    proc = ok(launch(tiny_model_dir, dataset, out, *args, env=env))
    assert json.loads((out / "mcip_prompt.json").read_text())["stream"] is True
    assert "rendering and tokenizing stream sessions" in proc.stderr
    assert (Path(out) / "adapter_model.safetensors").is_file()


def test_per_call_metrics_count_what_a_guard_would_do():
    from train.metrics import per_call_metrics

    def near(x):
        return pytest.approx(x, abs=1e-3)  # rates are rounded to 4 decimals

    fi, ii = "function_injection", "identity_injection"
    view = per_call_metrics(
        [
            (["true", fi, "true"], ["true", fi, "true"]),  # caught at the call, right class
            (["true", "true", ii], ["true", fi, "true"]),  # a false alarm before the deviation, then missed
            (["true", ii, "true"], ["true", "true", ii]),  # caught one call late
            (["true", "true"], ["true", ii]),  # a benign session, one false alarm
        ]
    )
    assert view["positions"] == 11 and view["unsafe_positions"] == 3
    assert view["caught_at_call"] == near(1 / 3) and view["class_right_at_call"] == near(1 / 3)
    assert view["false_alarms_per_benign_call"] == near(3 / 8)
    assert view["false_alarms_before_deviation"] == near(1 / 4)  # 4 safe positions precede a deviation
    assert view["delay"] == {"early": near(1 / 3), "0": near(1 / 3), "1": near(1 / 3),
                             "2": 0.0, "3+": 0.0, "missed": 0.0}  # fmt: skip
    assert view["attack_sessions"] == 3


def test_per_call_evaluation_derives_the_record_metrics(guardian, default_records, tmp_path):
    import json

    from datasets import Dataset, DatasetDict

    from train.evaluate import main

    picked = [t for t in default_records if len(positions(t)) >= 2][:12]
    rows = [{"id": t.id, "label": t.label, "trajectory": t.model_dump_json()} for t in picked]
    data = tmp_path / "data"
    DatasetDict({"test": Dataset.from_list(rows)}).save_to_disk(str(data))
    out = tmp_path / "eval"
    assert (
        main(["--model", guardian.name, "--data", str(data), "--output", str(out), "--mode", "per_call"]) == 0
    )
    m = json.loads((out / "metrics.json").read_text())
    view = m["per_call"]
    assert view["sessions"] == 12 and view["positions"] == sum(len(positions(t)) for t in picked)
    assert view["records_without_call_labels"] == 0
    preds = [json.loads(x) for x in (out / "predictions.jsonl").read_text().splitlines()]
    for t, p in zip(picked, preds):  # the record's verdict is its first unsafe position's
        scores = guardian.judge_positions(t)
        first = next((s.label for s in scores if s.label != SAFE), SAFE)
        assert p["predicted"] == first and p["p_unsafe"] == pytest.approx(
            max(s.p_unsafe for s in scores), abs=1e-4
        )
    assert "Per call (the guard's view)" in (out / "report.md").read_text()


def test_a_stream_guardians_fast_mode_reads_every_call_and_calibrates_on_that_reading(
    guardian, default_records, tmp_path
):
    """A stream guardian learnt to judge each call where it happens: `--mode fast` reads it per call (not with a
    one-shot prompt it never saw), keeps each call's verdict, and train.calibrate fits on that reading, from the
    run's predictions or scoring the split itself, to the same biases."""
    import json

    from datasets import Dataset, DatasetDict

    from train.calibrate import CalibrateConfig, calibrate
    from train.evaluate import main

    picked = [t for t in default_records if len(positions(t)) >= 2][:10]
    rows = [{"id": t.id, "label": t.label, "trajectory": t.model_dump_json()} for t in picked]
    data = tmp_path / "data"
    DatasetDict({"validation": Dataset.from_list(rows)}).save_to_disk(str(data))
    out = tmp_path / "eval"
    args = ["--model", guardian.name, "--data", str(data), "--split", "validation", "--output", str(out)]
    assert main([*args, "--mode", "fast"]) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["mode"] == "fast" and m["read"] == "per call" and m["per_call"]["sessions"] == 10
    assert "judges each call where it happens" in (out / "report.md").read_text()
    preds = {p["id"]: p for p in map(json.loads, (out / "predictions.jsonl").read_text().splitlines())}
    for t in picked:
        scores, p = guardian.judge_positions(t), preds[t.id]
        assert [c["label"] for c in p["calls"]] == [s.label for s in scores]
        assert p["predicted"] == next((s.label for s in scores if s.label != SAFE), SAFE)
        assert all(set(c["probs"]) == set(scores[0].probs) for c in p["calls"])

    refit = calibrate(CalibrateConfig(model=guardian.name, predictions=str(out / "predictions.jsonl")))
    assert refit.fitted_on["read"] == "per call"
    assert refit.fitted_on["positions"] == sum(len(positions(t)) for t in picked)
    assert refit.fitted_on["rr_macro_f1_before"] == pytest.approx(m["risk_resistance"]["macro_f1"], abs=1e-4)
    scored = calibrate(CalibrateConfig(model=guardian.name, data=str(data), split="validation"))
    assert (scored.unsafe_bias, scored.letter_bias) == (refit.unsafe_bias, refit.letter_bias)
    assert scored.fitted_on["positions"] == refit.fitted_on["positions"]


def test_the_guard_judges_a_live_session_on_its_new_tokens(guardian, sessions):
    from guard.guardian import Guardian

    g = Guardian(guardian.name)
    traj = sessions[0]
    calls = [p for p in positions(traj) if "call" in p]
    seen = []
    for p in calls:  # the session as the proxy snapshots it: up to each proposed call
        k = positions(traj).index(p)
        snap = upto_position(traj, k).model_copy(update={"meta": {"session": "s1"}})
        seen.append(g.review_one(snap))
    assert g.loaded.cache.stats.checks == len(calls) and g.loaded.cache.stats.reused_tokens > 0
    # the same verdicts as a guardian without a cache reading each snapshot's stream prompt from scratch
    verdicts = []
    for p, review in zip(calls, seen):
        k = positions(traj).index(p)
        snap = upto_position(traj, k)
        earlier = [
            verdicts[calls.index(q)] if q in calls[: len(verdicts)] else SAFE for q in positions(snap)[:-1]
        ]
        prob, label, _ = _full(guardian, guardian.session_prompt(snap, earlier))
        assert review.label == label and review.p_unsafe == pytest.approx(prob, abs=1e-4)
        verdicts.append(label)


def test_the_guard_reviews_a_finished_log_call_by_call_with_a_stream_guardian(guardian, sessions):
    """`mcip-guard review` of whole logs (no live session): a stream guardian judges every call and the log gets its
    first unsafe call's class and the highest P(unsafe), never a one-shot prompt it was not trained on."""
    from guard.guardian import Guardian
    from mcip.guardian import Score, log_verdict

    g = Guardian(guardian.name)
    for traj, review in zip(sessions, g.review(sessions)):
        scores = guardian.judge_positions(traj)
        first = next((s for s in scores if s.label != SAFE), None)
        assert review.label == (first.label if first else SAFE)
        assert review.p_unsafe == pytest.approx(max(s.p_unsafe for s in scores), abs=1e-4)
    safe, bad = Score(0.1, SAFE, {SAFE: 0.9}), Score(0.6, RISK, {RISK: 0.6})
    assert log_verdict([safe, bad, Score(0.9, SAFE, {SAFE: 0.1})]) == Score(0.9, RISK, {RISK: 0.6})
    assert log_verdict([Score(0.2, SAFE, {SAFE: 0.8}), safe]) == Score(0.2, SAFE, {SAFE: 0.8})
    asked = sessions[0].model_copy(update={"messages": sessions[0].messages[:1]})  # the user's request alone
    assert [r.label for r in g.review([asked, sessions[0]])][0] == SAFE


def test_mcip_guard_review_lists_every_call_and_reads_the_log_as_evaluation_does(
    guardian, sessions, tmp_path
):
    """`mcip-guard review LOG` with a stream guardian (per call by default): each row lists every call's verdict
    in order, and the log's verdict is the one `train.evaluate` reads (first unsafe call's class, highest P);
    `--no-per-call` gives the same log verdicts without the list."""
    import json

    from guard.cli import main
    from mcip.guardian import log_verdict
    from mcip.record import save_jsonl

    log = tmp_path / "log.jsonl"
    save_jsonl(sessions, log)
    for flag, listed in ((), True), (("--no-per-call",), False):
        out = tmp_path / f"review{len(flag)}.jsonl"
        assert main(["review", str(log), "--guardian", guardian.name, "--output", str(out), *flag]) == 0
        rows = [json.loads(x) for x in out.read_text().splitlines()]
        for traj, row in zip(sessions, rows, strict=True):
            scores = guardian.judge_positions(traj)
            want = log_verdict(scores)
            assert row["label"] == want.label and row["p_unsafe"] == pytest.approx(want.p_unsafe, abs=1e-4)
            if listed:
                assert [c["label"] for c in row["calls"]] == [s.label for s in scores]
            else:
                assert "calls" not in row


def test_one_shot_benchmarks_refuse_a_stream_guardian(guardian):
    """The calibration benchmark and the hidden-state probe read one prompt per log: given a stream guardian they
    say so and point to the per-call evaluation, rather than score it with a prompt it never saw."""
    from benchmarks.calibration import measure
    from benchmarks.hidden_probe import probe

    with pytest.raises(SystemExit, match="stream guardian, read per call"):
        measure(guardian.name, "data/none", "test", 4, 0)
    with pytest.raises(SystemExit, match="stream guardian"):
        probe(guardian.name, "data/none", "test", 4, 4, 0)


@pytest.mark.slow
def test_the_latency_benchmark_times_both_modes_on_the_same_checks(guardian, tmp_path):
    import json

    from benchmarks.guard_latency import main

    out = tmp_path / "latency.json"
    assert (
        main(["--model", guardian.name, "--lengths", "400", "1200", "--repeats", "2", "--output", str(out)])
        == 0
    )
    got = json.loads(out.read_text())
    assert {(r["session_tokens"], r["mode"]) for r in got["rows"]} == {
        (n, m) for n in (400, 1200) for m in ("reread", "incremental")
    }
    rows = {(r["session_tokens"], r["mode"]): r for r in got["rows"]}
    for n in (400, 1200):  # the same checks in both modes; the cache runs only the new turn
        reread, inc = rows[(n, "reread")], rows[(n, "incremental")]
        assert (
            reread["measured_at_tokens"] == inc["measured_at_tokens"]
            and min(reread["measured_at_tokens"]) >= n
        )
        assert inc["computed_tokens_p50"] < reread["computed_tokens_p50"] == reread["prompt_tokens_p50"]
    assert set(got["reread_over_incremental"]) == {"400", "1200"} and got["format"] == "stream"
