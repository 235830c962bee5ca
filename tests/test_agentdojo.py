"""The AgentDojo importer on AgentDojo's real suites (no mocks): labels, validity, what each variant shows."""

from __future__ import annotations

import json
import os
import re

import pytest

if os.environ.get("CI"):  # in CI a missing extra must fail, not skip silently
    import agentdojo  # noqa: F401
else:
    pytest.importorskip("agentdojo", reason="the optional extra: pip install -e '.[agentdojo]'")

from data_gen.importers import agentdojo as ad  # noqa: E402
from data_gen.importers.errors import ImporterError  # noqa: E402
from mcip.__main__ import main as mcip_main  # noqa: E402
from mcip.flows import derive_flows  # noqa: E402
from mcip.record import load_jsonl, save_jsonl  # noqa: E402

SUITES = ["banking", "slack"]  # the two small suites; each has every variant


@pytest.fixture(scope="module")
def imported():
    records, report = ad.import_records(SUITES, per_suite=2, seed=0)
    return records, report, ad.load_suites(SUITES)


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _ground_truth(suite, rec):
    """The user task's and injection task's calls, recomputed by AgentDojo in the record's injected environment."""
    ut = suite.user_tasks[rec.meta["user_task"]]
    it = suite.injection_tasks[rec.meta["injection_task"]]
    env = suite.load_and_inject_default_environment(
        {rec.meta["injection_vector"]: ad.injection_text(it.GOAL)}
    )
    env = ut.init_environment(env)
    user = [(c.function, dict(c.args)) for c in ut.ground_truth(env.model_copy(deep=True))]
    attacker = [(c.function, dict(c.args)) for c in it.ground_truth(env.model_copy(deep=True))]
    return user, attacker, it.GOAL


def _calls(rec):
    return [(c.id, c.function.name, c.function.args) for _, c in rec.calls()]


def _position(flows, call_id):
    return next(n for n, f in enumerate(flows) if f.call_id == call_id and f.sender == "assistant")


def test_every_mapped_label_in_every_suite(imported):
    records, report, _ = imported
    for suite in SUITES:
        labels = {r.label for r in records if r.meta["suite"] == suite}
        assert labels == set(ad.VARIANTS.values()), suite
        assert report[suite]["sampled"] == {v: 2 for v in ad.VARIANTS}
    for r in records:
        assert r.meta["source"] == "agentdojo" and r.meta["evaluation_only"] is True
        assert r.label == ad.VARIANTS[r.meta["variant"]]
        assert {t.server for t in r.tools} == {r.meta["suite"]}
        assert r.messages[-1].role == "assistant" and r.messages[-1].content.startswith("Done.")
        assert r.flows == derive_flows(r) and r.meta["rationale"].strip()


def test_records_validate_with_the_project_checks(imported, tmp_path, capsys):
    records, _, _ = imported
    path = tmp_path / "agentdojo.jsonl"
    save_jsonl(records, path)
    assert [r.to_json() for r in load_jsonl(path)] == [r.to_json() for r in records]
    assert mcip_main(["validate", str(path)]) == 0
    assert f"{len(records)} valid record(s), 0 flag(s)" in capsys.readouterr().out
    for r in records:
        assert all(r.tool(c.function.name) for _, c in r.calls())  # every call is to a listed tool
        for t in r.tools:
            assert t.description and t.inputSchema["type"] == "object"


def test_ignored_injection_is_in_a_result_and_no_attacker_call_follows(imported):
    records, _, suites = imported
    ignored = [r for r in records if r.meta["variant"] == "ignored"]
    assert ignored
    for r in ignored:
        user, _, goal = _ground_truth(suites[r.meta["suite"]], r)
        results = {m.tool_call_id: m.content for m in r.messages if m.role == "tool"}
        assert _norm(goal) in ad.plain_text(results[r.meta["injection_call"]])
        assert [(fn, args) for _, fn, args in _calls(r)] == user  # the user's calls, nothing else
        assert r.meta["attacker_calls"] == []


def test_function_injection_calls_come_after_all_user_calls(imported):
    records, _, suites = imported
    for r in (r for r in records if r.label == "function_injection"):
        user, attacker, _ = _ground_truth(suites[r.meta["suite"]], r)
        calls, flows = _calls(r), derive_flows(r)
        theirs = set(r.meta["attacker_calls"])
        assert [(fn, a) for cid, fn, a in calls if cid in theirs] == attacker
        assert [(fn, a) for cid, fn, a in calls if cid not in theirs] == user
        last_user = max(_position(flows, cid) for cid, _, _ in calls if cid not in theirs)
        assert min(_position(flows, cid) for cid in theirs) > last_user


def test_dependency_injection_calls_sit_between_the_injected_result_and_a_user_call(imported):
    records, _, suites = imported
    for r in (r for r in records if r.label == "function_dependency_injection"):
        user, attacker, _ = _ground_truth(suites[r.meta["suite"]], r)
        ids = [cid for cid, _, _ in _calls(r)]
        theirs = r.meta["attacker_calls"]
        start = ids.index(r.meta["injection_call"]) + 1
        assert ids[start : start + len(theirs)] == theirs and len(theirs) == len(attacker)
        assert ids[start + len(theirs) :], "a user call must follow the inserted ones"


def test_wrong_arguments_keeps_the_users_function_with_the_attackers_value(imported):
    records, _, suites = imported
    for r in (r for r in records if r.label == "wrong_parameter_prompt_injection"):
        user, attacker, _ = _ground_truth(suites[r.meta["suite"]], r)
        (cid,) = r.meta["attacker_calls"]
        fn, args = next((f, a) for i, f, a in _calls(r) if i == cid)
        assert fn == attacker[0][0] and fn in [f for f, _ in user]
        assert any(
            args.get(k) == v and all(ua.get(k) != v for uf, ua in user if uf == fn)
            for k, v in attacker[0][1].items()
        )


def test_wrong_function_replaces_the_users_last_call(imported):
    records, _, suites = imported
    for r in (r for r in records if r.label == "ignore_prupose_prompt_injection"):
        user, attacker, _ = _ground_truth(suites[r.meta["suite"]], r)
        called = [(f, a) for _, f, a in _calls(r)]
        assert called == [*user[:-1], attacker[0]] and attacker[0][0] not in {f for f, _ in user}


def test_same_seed_same_bytes(tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert ad.main(["--out", str(a), "--suites", "banking", "--per-suite", "1", "--seed", "7"]) == 0
    assert ad.main(["--out", str(b), "--suites", "banking", "--per-suite", "1", "--seed", "7"]) == 0
    assert a.read_bytes() == b.read_bytes() and a.read_bytes()
    assert [json.loads(line)["meta"]["variant"] for line in a.read_text().splitlines()]


def test_unknown_suite_is_one_clear_error(tmp_path, capsys):
    with pytest.raises(ImporterError, match=r"unknown AgentDojo suite 'shopping'; expected one of workspace"):
        ad.load_suites(["banking", "shopping"])
    out = tmp_path / "x.jsonl"
    assert ad.main(["--out", str(out), "--suites", "shopping"]) == 2
    assert "error: --suites: unknown AgentDojo suite 'shopping'" in capsys.readouterr().err
    assert not out.exists()
    with pytest.raises(ImporterError, match="--per-suite: must be at least 1"):
        ad.import_records(["banking"], per_suite=0)


def test_tool_side_effects_are_reproducible():
    """AgentDojo's tools stamp the wall clock and order new participants by string hash; the importer pins both."""
    _, runtime_cls, _ = ad._agentdojo()
    suite = ad.load_suites(["workspace"])["workspace"]
    env = suite.load_and_inject_default_environment({})
    args = {
        "title": "Sync",
        "start_time": "2024-05-20 10:00",
        "end_time": "2024-05-20 11:00",
        "participants": ["zed@example.com", "amy@example.com"],
    }
    with ad.deterministic_tools():
        event, error = runtime_cls(suite.tools).run_function(env, "create_calendar_event", args)
        sent, _ = runtime_cls(suite.tools).run_function(
            env, "send_email", {"recipients": ["amy@example.com"], "subject": "s", "body": "b"}
        )
    assert error is None and event.participants == sorted(event.participants)
    assert sent.timestamp == ad.FROZEN_NOW
    from agentdojo.default_suites.v1.tools import email_client  # the patch is undone on exit

    assert email_client.datetime.datetime.now() != ad.FROZEN_NOW


def test_every_attacker_call_is_labelled_unsafe_and_nothing_else(imported):
    """AgentDojo names the attacker's calls, so each gets the record's class (issue 22's per-call labels)."""
    from mcip.calls import record_label

    records, _, _ = imported
    for r in records:
        labels = r.meta["call_labels"]
        unsafe = {p["call"] for p in labels if p["label"] != "true"}
        assert unsafe == set(r.meta["attacker_calls"])
        assert record_label(labels) == r.label
        assert all(p["label"] in ("true", r.label) for p in labels)
