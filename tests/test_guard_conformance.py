"""The relay is transparent: our conformance server (tests/mcp_servers/everything_server.py) uses every protocol
feature a proxy must pass; the SDK's real client drives it direct and through ``mcip-guard proxy`` with the same
script, and the two sessions must look the same: protocol version, capabilities, results, notification counts,
server-to-client requests. A ``tools/list_changed`` mid-session re-pins the tools and reports the drift.

The policy allows every listed tool, so no guardian model is loaded: this tests the relay, not a model."""

from __future__ import annotations

import sys

import anyio
import mcp_types as types
import pytest
from mcp import Client, StdioServerParameters

from benchmarks.guard_conformance import SAME, Recorder, compare, dump, guarded, observe, outcome
from mcip.record import load_jsonl
from tests.test_guard_proxy import REPO

SERVER = StdioServerParameters(
    command=sys.executable, args=[str(REPO / "tests" / "mcp_servers" / "everything_server.py")], cwd=str(REPO)
)
ROOT = "file:///tmp/conformance-root"
# the handshake-era features (ping, logging, subscribe) are deprecated at 2026-07-28: still what we must pass
pytestmark = pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning")


async def legacy_script(c: Client, rec: Recorder) -> dict:
    out = {"tools/list": [dump(t) for t in (await c.list_tools()).tools]}
    out["ping"] = await outcome(c.send_ping())
    out["logging/setLevel"] = await outcome(c.set_logging_level("debug"))
    out["log + progress"] = await outcome(
        c.call_tool("log_and_progress", {}, progress_callback=rec.on_progress)
    )
    out["sampling"] = await outcome(c.call_tool("sample", {}))
    out["elicitation"] = await outcome(c.call_tool("elicit", {}))
    out["roots"] = await outcome(c.call_tool("roots", {}))
    out["resources/subscribe"] = await outcome(c.subscribe_resource("mem://counter"))
    out["touch x2"] = [await outcome(c.call_tool("touch", {})) for _ in range(2)]
    out["resources/read"] = await outcome(c.read_resource("mem://counter"))
    out["grow (list_changed)"] = await outcome(c.call_tool("grow", {}))
    out["tools/list after list_changed"] = [t.name for t in (await c.list_tools()).tools]
    out["late tool"] = await outcome(c.call_tool("late_tool", {}))
    out["task tool"] = await outcome(c.call_tool("task_tool", {}))
    out["cancelled call"] = await outcome(c.call_tool("slow", {"seconds": 30}, read_timeout_seconds=1.0))
    out["after the cancel"] = await outcome(c.send_ping())
    out["tasks/list (not served)"] = await outcome(
        c.session.send_request(types.ListTasksRequest(), types.ListTasksResult)
    )
    await anyio.sleep(0.3)  # the last notifications land
    return out


async def modern_script(c: Client, rec: Recorder) -> dict:
    return {
        "tools/list": [dump(t) for t in (await c.list_tools()).tools],
        "task tool": await outcome(c.call_tool("task_tool", {})),
        "ping": await outcome(c.send_ping()),
    }


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("conformance")
    policy = tmp / "policy.yaml"
    policy.write_text("allow_tools: ['*']\ndeadline_ms: 30000\n")
    audit, err = tmp / "audit.jsonl", tmp / "stderr.txt"
    via = guarded(SERVER, policy, "--audit-log", str(audit))
    out = {"err": err, "audit": audit}
    for mode, script in (("legacy", legacy_script), ("auto", modern_script)):
        out[mode] = (
            anyio.run(observe, SERVER, script, mode, tmp / f"direct-{mode}.txt", ROOT),
            anyio.run(observe, via, script, mode, err, ROOT),
        )
    return out


@pytest.mark.parametrize("mode", ["legacy", "auto"])
def test_the_guarded_session_sees_what_the_direct_one_sees(sessions, mode):
    direct, via = sessions[mode]
    rows = compare(direct, via, "allow_tools ['*']")
    assert {k: v for k, v in rows.items() if v != SAME} == {}
    if mode == "legacy":
        assert direct["protocol version"] == "2025-11-25"
        assert direct["notifications"] == {
            "notifications/message": 2,
            "notifications/progress": 3,
            "notifications/resources/updated": 2,
            "notifications/tools/list_changed": 1,
        }
        assert direct["progress notifications"] == 3
        assert direct["server-to-client requests"] == {
            "elicitation/create": 1,
            "roots/list": 1,
            "sampling/createMessage": 1,
        }
        caps = direct["capabilities"]
        assert caps["resources"]["subscribe"] and caps["tools"]["listChanged"] and "logging" in caps
        tools = {t["name"]: t for t in direct["tools/list"]}
        assert tools["task_tool"]["execution"] == {"taskSupport": "optional"}
        assert "late_tool" in direct["tools/list after list_changed"]
        assert "ROOT" not in str(direct["roots"]) and ROOT in str(direct["roots"])
        assert direct["cancelled call"].startswith("error") and direct["after the cancel"] == {}
    else:
        assert direct["protocol version"] == "2026-07-28"


def test_list_changed_re_pins_and_reports_drift(sessions):
    err = sessions["err"].read_text()
    assert "DRIFT everything.late_tool: tool_added" in err
    assert err.count("DRIFT everything.late_tool") == 1
    records = load_jsonl(sessions["audit"])
    drift = [d for r in records for d in r.meta["drift"]]
    assert [(d["kind"], d["tool"]) for d in drift] == [("tool_added", "late_tool")]
    tools = [r.meta["guard"]["tool"] for r in records]
    assert "sample" in tools and "late_tool" in tools
    slow = next(r for r in records if r.meta["guard"]["tool"] == "slow")
    assert slow.meta["guard"]["outcome"]["ran"] == "unknown"  # cancelled by the client after it was forwarded
