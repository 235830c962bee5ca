"""Is ``mcip-guard proxy`` transparent? Three MCP servers we did not write, each driven by the SDK's real client
twice, direct and guarded, with the same script; every protocol feature is compared.

    make conformance-servers                   # installs the pinned servers (npm and PyPI) under build/conformance
    python -m benchmarks.guard_conformance     # writes benchmarks/results/guard_conformance.json

Servers: ``@modelcontextprotocol/server-everything`` (exercises every protocol feature),
``@modelcontextprotocol/server-filesystem`` and ``mcp-server-git``. The client declares sampling, elicitation and
roots and answers them with fixed values, so both runs see the same answers. The guarded run uses
``POLICY`` (every listed tool allowed, so no guardian pass decides anything: this measures the relay, not the
model). A row says ``same as direct``, or what differed; a difference a policy causes would name the policy.
The harness (``Recorder``, ``observe``, ``compare``) also drives the conformance test
(``tests/test_guard_conformance.py``) against our own server.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from mcip.io import write_json

REPO = Path(__file__).resolve().parents[1]
CONFORMANCE = REPO / "build" / "conformance"
POLICY = "allow_tools: ['*']\ndeadline_ms: 30000\n"  # the relay under test, not the guardian
SAME = "same as direct"
Script = Callable[[Client, "Recorder"], Awaitable[dict[str, Any]]]


class Recorder:
    """The client's side of a session: answers the server's requests with fixed values and counts what arrives."""

    def __init__(self, root: str = "file:///tmp"):
        self.notifications: collections.Counter[str] = collections.Counter()
        self.requests: collections.Counter[str] = collections.Counter()
        self.progress = 0
        self.root = root

    async def sampling(self, ctx, params) -> types.CreateMessageResult:
        self.requests["sampling/createMessage"] += 1
        return types.CreateMessageResult(
            role="assistant", content=types.TextContent(text="hello"), model="fixed"
        )

    async def elicitation(self, ctx, params) -> types.ElicitResult:
        self.requests["elicitation/create"] += 1
        schema = getattr(params, "requested_schema", None) or {}
        fill = {"string": "blue", "number": 1, "integer": 1, "boolean": True}
        content = {k: fill.get(v.get("type"), "blue") for k, v in (schema.get("properties") or {}).items()}
        return types.ElicitResult(action="accept", content=content)

    async def roots(self, ctx) -> types.ListRootsResult:
        self.requests["roots/list"] += 1
        return types.ListRootsResult(roots=[types.Root(uri=self.root, name="root")])

    async def message(self, msg) -> None:
        self.notifications[getattr(msg, "method", type(msg).__name__)] += 1

    async def on_progress(self, progress: float, total: float | None, message: str | None) -> None:
        self.progress += 1

    def client(self, transport, mode: str) -> Client:
        return Client(
            transport,
            cache=None,
            mode=mode,
            sampling_callback=self.sampling,
            elicitation_callback=self.elicitation,
            list_roots_callback=self.roots,
            message_handler=self.message,
        )


def dump(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(by_alias=True, mode="json", exclude_none=True)
    return value


async def outcome(coro) -> Any:
    """A feature's result, or its error as a comparable string (an error through the proxy must match too)."""
    try:
        return dump(await coro)
    except Exception as err:  # noqa: BLE001 - the error is the observation
        return f"error {getattr(getattr(err, 'error', None), 'code', type(err).__name__)}"


def guarded(server: StdioServerParameters, policy: Path, *extra: str) -> StdioServerParameters:
    """The same server behind ``mcip-guard proxy`` (no guardian model is loaded for allow-listed calls)."""
    guardian = Path(tempfile.gettempdir()) / "mcip-guard-conformance-no-model"
    guardian.mkdir(exist_ok=True)
    args = ["-m", "guard.cli", "proxy", "--guardian", str(guardian), "--policy", str(policy), *extra]
    args += ["--", server.command, *server.args]
    env = dict(server.env or {}) | {"PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
    env.setdefault("PATH", os.environ.get("PATH", ""))
    return StdioServerParameters(command=sys.executable, args=args, env=env, cwd=server.cwd or str(REPO))


async def observe(params: StdioServerParameters, script: Script, mode: str, errlog: Path, root: str) -> dict:
    """One session: what the client saw (version, capabilities, features, notifications, server requests)."""
    rec = Recorder(root)
    with open(errlog, "a", encoding="utf-8") as err:
        async with rec.client(stdio_client(params, errlog=err), mode) as c:
            seen = {
                "protocol version": c.protocol_version,
                "capabilities": dump(c.server_capabilities),
                "server info": dump(c.server_info),
            }
            seen |= await script(c, rec)
    seen["notifications"] = dict(sorted(rec.notifications.items()))
    seen["server-to-client requests"] = dict(sorted(rec.requests.items()))
    seen["progress notifications"] = rec.progress
    return seen


def guard_rule(value: Any) -> str | None:
    """The guard's rule when ``value`` is a result the guard itself answered (a blocked call), else None."""
    meta = value.get("_meta") if isinstance(value, dict) else None
    mark = meta.get("mcip/guard") if isinstance(meta, dict) else None
    return mark.get("rule") if isinstance(mark, dict) else None


def compare(direct: dict, via: dict, policy: str) -> dict[str, str]:
    """Per feature: ``same as direct``, the guard's rule and policy when the guard answered instead of the
    server, or both values (a relay fault)."""
    rows = {}
    for key in direct:
        if direct[key] == via.get(key):
            rows[key] = SAME
        elif (rule := guard_rule(via.get(key))) is not None:
            rows[key] = f"blocked by mcip-guard: rule {rule} (policy {policy!r})"
        else:
            rows[key] = f"differs under policy {policy!r}: direct {direct[key]!r}, guarded {via.get(key)!r}"[
                :600
            ]
    return rows


# -- the three servers ---------------------------------------------------------------------------------------
def _tool_names(tools) -> list[dict]:
    return sorted(
        ({"name": t.name, "execution": dump(t.execution)} for t in tools.tools), key=lambda t: t["name"]
    )


async def _common(c: Client, rec: Recorder) -> dict:
    out = {"tools/list": _tool_names(await c.list_tools()), "ping": await outcome(c.send_ping())}
    out["resources/list"] = await outcome(c.list_resources())
    out["prompts/list"] = await outcome(c.list_prompts())
    out["logging/setLevel"] = await outcome(c.set_logging_level("debug"))
    return out


async def everything_script(c: Client, rec: Recorder) -> dict:
    out = await _common(c, rec)
    calls = {
        "echo": ("echo", {"message": "hi"}),
        "sampling (trigger-sampling-request)": (
            "trigger-sampling-request",
            {"prompt": "hi", "maxTokens": 10},
        ),
        "elicitation (trigger-elicitation-request)": ("trigger-elicitation-request", {}),
        "URL elicitation (trigger-url-elicitation)": (
            "trigger-url-elicitation",
            {"url": "https://example.com/consent", "elicitationId": "conformance-1"},
        ),
        "roots (get-roots-list)": ("get-roots-list", {}),
        "structured content": ("get-structured-content", {"location": "New York"}),
        "image": ("get-tiny-image", {}),
        "resource links": ("get-resource-links", {"count": 2}),
    }
    names = {t["name"] for t in out["tools/list"]}
    for feature, (tool, args) in calls.items():
        out[feature] = await outcome(c.call_tool(tool, args)) if tool in names else f"tool {tool} not listed"
    before = rec.progress
    if "trigger-long-running-operation" in names:
        args = {"duration": 1, "steps": 3}
        out["progress"] = await outcome(
            c.call_tool("trigger-long-running-operation", args, progress_callback=rec.on_progress)
        )
    out["progress notifications in the call"] = rec.progress - before
    uri = "demo://resource/static/document/architecture.md"
    out["resources/subscribe"] = await outcome(c.subscribe_resource(uri))
    out["resources/unsubscribe"] = await outcome(c.unsubscribe_resource(uri))
    out["resource templates"] = await outcome(c.list_resource_templates())
    return out


async def filesystem_script(c: Client, rec: Recorder) -> dict:
    out = await _common(c, rec)
    await anyio.sleep(0.5)  # the server asks for roots after initialize
    root = rec.root.removeprefix("file://")
    out["list_allowed_directories"] = await outcome(c.call_tool("list_allowed_directories", {}))
    out["read_text_file"] = await outcome(c.call_tool("read_text_file", {"path": f"{root}/notes.txt"}))
    out["list_directory"] = await outcome(c.call_tool("list_directory", {"path": root}))
    out["roots/list_changed"] = await outcome(c.send_roots_list_changed())
    return out


async def git_script(c: Client, rec: Recorder) -> dict:
    out = await _common(c, rec)
    repo = rec.root.removeprefix("file://")
    out["git_status"] = await outcome(c.call_tool("git_status", {"repo_path": repo}))
    out["git_log"] = await outcome(c.call_tool("git_log", {"repo_path": repo, "max_count": 1}))
    return out


def _fixture_root(tmp: Path) -> Path:
    """A directory the filesystem and git servers work in: one file, one commit (fixed dates: same output)."""
    import subprocess

    root = tmp / "root"
    root.mkdir()
    (root / "notes.txt").write_text("conformance fixture\n")
    env = os.environ | {
        "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z",
        "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z",
    }
    for cmd in (
        ["init", "-q"],
        ["add", "."],
        ["-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "init"],
    ):
        subprocess.run(["git", *cmd], cwd=root, check=True, env=env)
    return root


def servers(root: Path) -> dict[str, tuple[StdioServerParameters | None, Script, str]]:
    """name -> (how to start it, or None with the reason, the script)."""
    npm_bin = CONFORMANCE / "npm" / "node_modules" / ".bin"
    git_bin = CONFORMANCE / "git-venv" / "bin" / "mcp-server-git"
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp")}
    out: dict = {}
    for name, cmd, script in (
        ("server-everything", [str(npm_bin / "mcp-server-everything"), "stdio"], everything_script),
        ("server-filesystem", [str(npm_bin / "mcp-server-filesystem"), str(root)], filesystem_script),
        ("mcp-server-git", [str(git_bin), "--repository", str(root)], git_script),
    ):
        if not Path(cmd[0]).exists():
            out[name] = (None, script, f"{cmd[0]} is not installed: run `make conformance-servers`")
            continue
        out[name] = (StdioServerParameters(command=cmd[0], args=cmd[1:], env=env, cwd=str(root)), script, "")
    return out


def run_server(name: str, params, script: Script, tmp: Path, root: Path, mode: str) -> dict:
    policy = tmp / "policy.yaml"
    policy.write_text(POLICY)
    errlog = tmp / f"{name}-{mode}.stderr.txt"
    direct = anyio.run(observe, params, script, mode, errlog, f"file://{root}")
    via = anyio.run(observe, guarded(params, policy), script, mode, errlog, f"file://{root}")
    rows = compare(direct, via, "conformance: allow_tools ['*']")
    return {
        "rows": rows,
        "direct": direct,
        "guarded_differs": {k: via.get(k) for k, v in rows.items() if v != SAME},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", default=str(REPO / "benchmarks" / "results" / "guard_conformance.json"))
    parser.add_argument("--modes", nargs="+", default=["legacy", "auto"], help="client connect modes to run")
    args = parser.parse_args(argv)
    report: dict[str, Any] = {"policy": POLICY, "modes": args.modes, "servers": {}, "started": time.time()}
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        root = _fixture_root(tmp)
        for name, (params, script, why) in servers(root).items():
            if params is None:
                report["servers"][name] = {"error": why}
                print(f"{name}: {why}", file=sys.stderr)
                continue
            for mode in args.modes:
                try:
                    report["servers"].setdefault(name, {})[mode] = run_server(
                        name, params, script, tmp, root, mode
                    )
                except Exception as err:  # noqa: BLE001 - one server failing to run is a row, not the end
                    inner = err
                    while len(getattr(inner, "exceptions", ())) == 1:
                        inner = inner.exceptions[0]
                    report["servers"].setdefault(name, {})[mode] = {
                        "error": f"{type(inner).__name__}: {inner}"
                    }
                stderr = tmp / f"{name}-{mode}.stderr.txt"
                if stderr.exists():
                    report["servers"][name].setdefault("stderr_tail", {})[mode] = stderr.read_text()[-1500:]
                print(f"{name} ({mode}): done", file=sys.stderr)
    report["table"] = {
        name: {mode: r["rows"] for mode, r in data.items() if isinstance(r, dict) and "rows" in r}
        for name, data in report["servers"].items()
    }
    report["seconds"] = round(time.time() - report.pop("started"), 1)
    write_json(args.output, report)
    print(json.dumps(report["table"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
