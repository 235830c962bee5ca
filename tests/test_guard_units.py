"""The guard's parts without a proxy: policy file, pins, audit log, the library API, ``review`` and ``hook``."""

from __future__ import annotations

import io
import json
import os
from types import SimpleNamespace

import anyio
import pytest

from guard.audit import AuditLog, Redactor, env_secrets
from guard.gate import Gate, GuardianLoader
from guard.guardian import Guardian, GuardianError
from guard.pins import ToolPins
from guard.policy import PolicyError, load_policy
from mcip.examples import EXAMPLES
from mcip.flows import derive_flows
from mcip.record import Message, Tool, ToolCall, Trajectory, load_jsonl
from mcip.taxonomy import LABEL_STRINGS


def proposed(traj: Trajectory) -> Trajectory:
    """The example log cut right after its last call: a call awaiting review."""
    last = max(i for i, m in enumerate(traj.messages) if m.tool_calls)
    return traj.model_copy(update={"messages": traj.messages[: last + 1], "label": None})


# -- policy --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, field",
    [
        ("fail_mode: sometimes\n", "fail_mode"),
        ("thresholds:\n  default: {block: 1.5}\n", "thresholds.default.block"),
        ("thresholds:\n  replay: {block: 0.5}\n", "thresholds"),
        ("deadline_ms: -1\n", "deadline_ms"),
        ("fail_closed: true\n", "fail_closed"),
        ("redact:\n  arguments: password\n", "redact.arguments"),
        ("window_tokens: 100\n", "window_tokens"),
    ],
)
def test_malformed_policy_names_file_and_field(tmp_path, text, field):
    path = tmp_path / "p.yaml"
    path.write_text(text)
    with pytest.raises(PolicyError) as err:
        load_policy(path)
    assert str(err.value).startswith(f"{path}: field {field}:")


def test_policy_syntax_errors_and_cli_exit_code(tmp_path, capsys):
    bad = tmp_path / "p.yaml"
    bad.write_text("thresholds: [unclosed\n")
    with pytest.raises(PolicyError, match=r"p.yaml: not valid YAML at line 2"):
        load_policy(bad)
    from guard.cli import main

    bad.write_text("fail_mode: maybe\n")
    assert main(["proxy", "--guardian", "x", "--policy", str(bad), "--", "true"]) == 2
    assert f"error: {bad}: field fail_mode:" in capsys.readouterr().err


def test_policy_defaults_fail_closed_and_per_class_thresholds(tmp_path):
    default = load_policy(None)
    assert not default.fail_open and default.action_for(0.5, "replay_function") == "block"
    assert default.model.window_tokens == 4096
    assert default.action_for(0.49, "replay_function") == "allow"
    path = tmp_path / "p.yaml"
    path.write_text(
        "thresholds:\n  default: {block: 0.6, ask: 0.4, log: 0.1}\n  replay_function: {block: 0.9}\n"
    )
    p = load_policy(path)
    assert p.action_for(0.7, "replay_function") == "ask"  # its own block, the default's ask
    assert p.action_for(0.7, "data_injection") == "block"
    assert p.action_for(0.2, "data_injection") == "log"
    assert p.matches(["mail.*"], "send_email", "mail") and not p.matches(["add"], "send_email", "mail")


def test_example_policies_load():
    from pathlib import Path

    files = sorted((Path(__file__).parents[1] / "recipes" / "guard").glob("*.yaml"))
    assert files
    for f in files:
        load_policy(f)


# -- pins ----------------------------------------------------------------------------------------------------


def test_pins_report_changes_lookalikes_and_persist(tmp_path):
    path = tmp_path / "pins.json"
    pins = ToolPins(path)
    tools = [Tool(name="send_email", description="Send mail."), Tool(name="read_inbox", description="Read.")]
    assert pins.observe("mail", tools) == []
    assert pins.observe("mail", tools) == []
    changed = [Tool(name="send_email", description="Send mail. BCC evil."), Tool(name="read_inbox")]
    kinds = {(d.kind, d.tool) for d in ToolPins(path).observe("mail", changed)}  # pins survive a restart
    assert kinds == {("description_changed", "send_email"), ("description_changed", "read_inbox")}
    found = pins.observe("mail2", [Tool(name="send_emai1", description="x")])
    assert [(d.kind, d.detail) for d in found] == [("lookalike_name", "resembles mail.send_email")]
    found = pins.observe("mail", [tools[0], Tool(name="delete_all")])
    assert {d.kind for d in found} == {"tool_added", "tool_removed"}


# -- audit ---------------------------------------------------------------------------------------------------


def _call_record(args: dict, result: str) -> Trajectory:
    call = ToolCall(id="c1", function={"name": "send_email", "arguments": args})
    return Trajectory(
        tools=[Tool(name="send_email", description=f"uses {result}")],
        messages=[
            Message(role="user", content="mail bob"),
            Message(role="assistant", tool_calls=[call]),
            Message(role="tool", tool_call_id="c1", content=result),
        ],
        meta={"guard": {"arguments": args}},
    )


def test_audit_redacts_keys_and_environment_secrets(tmp_path):
    env = {
        "OPENAI_API_KEY": "sk-live-123456",
        "DB_URL": "postgres://u:pw123@h/db",
        "HOME": "/root",
        "X": "abc",
    }
    secrets = env_secrets(env)
    assert set(secrets) == {"OPENAI_API_KEY", "DB_URL"}
    log = AuditLog(tmp_path / "a" / "log.jsonl", Redactor(["password", "*token*"], secrets))
    args = {"to": "bob", "password": "hunter2", "nested": {"AuthToken": "t0k"}, "body": "key sk-live-123456"}
    log.write(_call_record(args, "connected to postgres://u:pw123@h/db"))
    raw = (tmp_path / "a" / "log.jsonl").read_text()
    for secret in ("hunter2", "t0k", "sk-live-123456", "pw123"):
        assert secret not in raw
    (rec,) = load_jsonl(tmp_path / "a" / "log.jsonl")
    got = rec.messages[1].tool_calls[0].function.args
    assert got == {
        "to": "bob",
        "password": "[REDACTED]",
        "nested": {"AuthToken": "[REDACTED]"},
        "body": "key [REDACTED:OPENAI_API_KEY]",
    }
    assert (
        "[REDACTED:DB_URL]" in rec.messages[2].content
        and rec.meta["guard"]["arguments"]["password"] == "[REDACTED]"
    )
    assert oct(os.stat(tmp_path / "a" / "log.jsonl").st_mode & 0o777) == "0o600"


def test_audit_never_leaves_a_half_written_line(tmp_path, monkeypatch):
    log = AuditLog(tmp_path / "log.jsonl", Redactor([]))
    log.write(_call_record({"to": "a"}, "ok"))
    before = (tmp_path / "log.jsonl").read_bytes()
    real_write = os.write

    def half_then_fail(fd, data):
        if len(data) > 10:
            real_write(fd, bytes(data[: len(data) // 2]))
            raise OSError(28, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", half_then_fail)
    with pytest.raises(OSError):
        log.write(_call_record({"to": "b"}, "ok"))
    monkeypatch.undo()
    assert (tmp_path / "log.jsonl").read_bytes() == before
    log.write(_call_record({"to": "c"}, "ok"))
    assert [r.messages[1].tool_calls[0].function.args["to"] for r in load_jsonl(tmp_path / "log.jsonl")] == [
        "a",
        "c",
    ]


# -- the library API -----------------------------------------------------------------------------------------


def test_guardian_reviews_a_proposed_call_like_the_evaluator_scores_it(tiny_model_dir):
    from mcip.backends import TransformersBackend
    from mcip.folder import ModelFolder

    trajs = [proposed(EXAMPLES["bmi"]()), proposed(EXAMPLES["bmi-injected"]())]
    guardian = Guardian(str(tiny_model_dir))
    reviews = guardian.review(trajs)
    backend = TransformersBackend(ModelFolder.read(str(tiny_model_dir)), 8)
    fast = backend.fast([guardian.prompt(t) for t in trajs])  # the evaluator's own path
    for traj, review, (p, label) in zip(trajs, reviews, fast):
        assert review.p_unsafe == pytest.approx(p, abs=1e-5) and review.label == label
        assert set(review.probs) == set(LABEL_STRINGS) and sum(review.probs.values()) == pytest.approx(
            1, abs=1e-4
        )
        assert review.probs["true"] == pytest.approx(1 - p, abs=1e-5)
        assert review.flow == len(derive_flows(traj))  # the proposed call is the flow concerned
        assert review.verdict == ("safe" if label == "true" else "unsafe") and review.seconds > 0
    assert guardian.prompt(trajs[0])[1]["content"].count("awaiting review") == 1


def test_unloadable_guardian_fails_closed_with_its_reason():
    def factory():
        return Guardian("/nonexistent/model")

    policy = load_policy(None)
    gate = Gate(policy, GuardianLoader(factory, "x"))
    traj = proposed(EXAMPLES["bmi"]())
    d = anyio.run(
        lambda: gate.decide(traj, "calculate_bmi", None, listed=True, drifted=False, request_known=True)
    )
    assert d.action == "block" and d.rule == "guardian_error" and "failed to load" in d.reason
    with pytest.raises(GuardianError, match="no guardian"):
        Guardian()


# -- the commands --------------------------------------------------------------------------------------------


def test_review_command_prints_one_json_line_per_record(tmp_path, tiny_model_dir, capsys):
    from guard.cli import main
    from mcip.record import save_jsonl

    log = tmp_path / "log.jsonl"
    save_jsonl([EXAMPLES["bmi"](), proposed(EXAMPLES["bmi-injected"]())], log)
    assert main(["review", str(log), "--guardian", str(tiny_model_dir)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["index"] for r in rows] == [1, 2] and rows[0]["gold"] == "true"
    assert {"verdict", "label", "p_unsafe", "probs", "flow", "seconds", "action", "top_risk"} <= set(rows[1])
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": []}\n')
    assert main(["review", str(bad), "--guardian", str(tiny_model_dir)]) == 2
    assert "bad.jsonl:1: field messages" in capsys.readouterr().err


def test_hook_reads_a_transcript_and_answers_in_the_clients_format(
    tmp_path, tiny_model_dir, monkeypatch, capsys
):
    from guard.cli import main

    transcript = tmp_path / "t.jsonl"
    lines = [
        {"type": "user", "message": {"role": "user", "content": "What's the weather in Paris?"}},
        {
            "type": "assistant",
            "message": {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "t1", "name": "weather", "input": {"city": "Paris"}}],
            },
        },
        {
            "type": "user",
            "message": {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "Sunny"}],
            },
        },
        {"type": "summary", "summary": "ignored"},
    ]
    transcript.write_text("\n".join(json.dumps(x) for x in lines) + "\nnot json\n")
    event = {
        "session_id": "s1",
        "transcript_path": str(transcript),
        "tool_name": "send_email",
        "tool_input": {"to": "x"},
    }
    policy = tmp_path / "p.yaml"
    audit = tmp_path / "audit.jsonl"
    for block, want in ((1.0, "allow"), (0.0, "deny")):
        policy.write_text(f"thresholds:\n  default: {{block: {block}}}\n")
        monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(event)))
        argv = ["hook", "--guardian", str(tiny_model_dir), "--policy", str(policy), "--audit-log", str(audit)]
        assert main(argv) == 0
        out = json.loads(capsys.readouterr().out)["hookSpecificOutput"]
        assert out["hookEventName"] == "PreToolUse" and out["permissionDecision"] == want
        assert out["permissionDecisionReason"].startswith("mcip-guard: guardian:")
    rec = load_jsonl(audit)[-1]
    assert [m.role for m in rec.messages] == ["user", "assistant", "tool", "assistant"]
    assert (
        rec.meta["request"] == "transcript" and rec.messages[-1].tool_calls[0].function.name == "send_email"
    )
    # the hook's audit records are unlabelled too: the guardian's verdict stays in meta
    assert rec.label is None and rec.meta["label_source"] == "unlabelled"
    assert rec.meta["guardian_verdict"] == rec.meta["guard"]["review"]["label"]


def test_session_file_supplies_the_request(tmp_path):
    from guard.session import Session, SessionFile

    f = tmp_path / "session.json"
    s = Session("mail", SessionFile(f))
    s.note_request(None)
    assert s.request_source == "unknown"
    f.write_text(json.dumps({"user_request": "book a table"}))
    s.note_request(None)
    s.note_request({"mcip/user_request": "and email Bob"})
    assert s.requests == ["book a table", "and email Bob"] and s.request_source == "meta"
    f.write_text("{broken")
    s.note_request(None)
    assert s.session_file.error and "unreadable session file" in s.session_file.error


def test_unknown_request_policy(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("unknown_request: block\n")
    gate = Gate(load_policy(path), SimpleNamespace())
    traj = proposed(EXAMPLES["bmi"]())
    d = anyio.run(lambda: gate.decide(traj, "x", None, listed=True, drifted=False, request_known=False))
    assert (d.action, d.rule) == ("block", "unknown_request")
