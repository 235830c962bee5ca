"""The guarding proxy: an MCP server on stdio in front of one upstream MCP server (stdio command or HTTP URL).

Built on the official SDK (``mcp`` low-level ``Server`` downstream, ``mcp.Client`` upstream); no protocol code of
its own. Everything the upstream serves (tools, resources, resource templates, prompts, completions) is forwarded
unchanged, except that each ``tools/call`` is first reviewed (``guard.gate``):

- allowed: forwarded; the upstream's result comes back untouched;
- blocked: the call never runs; the client gets a normal tool result with ``isError: true`` naming the risk class
  and the reason, so the agent can recover (never a dropped session or a protocol error);
- ask: an MCP elicitation to the user when the client supports it and can be asked now, else ``ask_fallback``.

Before the guardian's pass is spent, a call's arguments are checked against the tool's ``inputSchema``
(``guard.gate``), and a stdio upstream whose process has exited is reported as gone.

Each ``tools/list`` answer is pinned and compared (``guard.pins``). Every call is written to the audit log
(``guard.audit``). An upstream that dies mid-session turns every later call into a clear ``isError`` result; the
calls before it are already in the log.

Start and stop: the upstream must answer ``initialize`` (and its first ``tools/list``) within ``start_timeout_s``;
if it exits or times out, the proxy exits with one error naming the command, its exit code and its last stderr
lines (``guard.upstream``). The client's stdin is read from the start, so a client that goes away while the
upstream is still starting stops the proxy (and its upstream) at once: no orphans.

Not forwarded (yet): server-to-client requests from the upstream (its own sampling or elicitation), list-changed
and resource-updated notifications; the upstream's ``InputRequiredResult`` rounds are driven by the proxy's client.
"""

from __future__ import annotations

import contextlib
import math
import os
import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
from mcp import Client, MCPError, StdioServerParameters
from mcp.server.lowlevel import NotificationOptions, Server
from mcp.server.stdio import stdio_server
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from guard.audit import AuditLog, Redactor, env_secrets
from guard.gate import Decision, Gate, GuardianLoader, risk_name
from guard.pins import Drift, ToolPins
from guard.policy import Policy
from guard.session import REQUEST_META_KEY, Session, SessionFile, result_text
from guard.upstream import UpstreamProcess, UpstreamStartError, stdio_transport

ASK_KEY = "mcip-guard-approve"
ASK_SCHEMA = {
    "type": "object",
    "properties": {"approve": {"type": "boolean", "title": "Run this tool call?"}},
    "required": ["approve"],
}


def say(msg: str) -> None:
    """One line on stderr: the host shows or logs a stdio server's stderr; stdout is the protocol."""
    print(f"mcip-guard: {msg}", file=sys.stderr, flush=True)


@dataclass
class ProxyConfig:
    policy: Policy
    upstream_command: list[str] | None = None
    upstream_url: str | None = None
    audit_log: str | None = None
    pins: str | None = None
    session_file: str | None = None
    server_name: str | None = None
    call_timeout_s: float = 600.0
    ask_timeout_s: float = 300.0
    start_timeout_s: float = 60.0
    on_start_error: Callable[[BaseException], None] | None = None  # e.g. report and exit (see run_stdio)


def blocked_result(tool: str, d: Decision) -> types.CallToolResult:
    risk = risk_name(d.review.top_risk) if d.review else None
    head = f"mcip-guard blocked this call to {tool!r}; it did not run."
    lines = [head, f"Reason: {d.reason}."]
    if risk and d.rule == "guardian":
        lines.insert(1, f"Risk class: {risk}.")
    lines.append("Do not retry it unchanged; tell the user what was blocked and why, or ask them to confirm.")
    return types.CallToolResult(
        content=[types.TextContent(text="\n".join(lines))],
        is_error=True,
        structured_content=None,
        _meta={
            "mcip/guard": {"action": "block", "rule": d.rule, "risk": d.review.top_risk if d.review else None}
        },
    )


class GuardedProxy:
    def __init__(self, cfg: ProxyConfig, loader: GuardianLoader):
        self.cfg = cfg
        self.gate = Gate(cfg.policy, loader)
        self.pins = ToolPins(cfg.pins)
        pol = cfg.policy.model
        redactor = Redactor(
            pol.redact.arguments, env_secrets() if pol.redact.env else {}, content=pol.redact.content
        )
        self.audit = AuditLog(cfg.audit_log, redactor) if cfg.audit_log else None
        self.watch = UpstreamProcess(cfg.upstream_command or []) if cfg.upstream_command else None
        self.session: Session | None = None
        self.upstream: Client | None = None
        self.upstream_dead: str | None = None
        self.drifted: set[tuple[str, str]] = set()
        self.pending_drift: list[Drift] = []
        self._pages: list[types.Tool] = []
        self._asks: dict[str, tuple] = {}
        self._reported: set[str] = set()

    # -- upstream -------------------------------------------------------------------------------------------
    def _client(self) -> Client:
        if self.cfg.upstream_url:
            return Client(self.cfg.upstream_url, cache=None)
        cmd = self.cfg.upstream_command or []
        # the upstream gets the proxy's environment: hosts put the server's secrets there (never logged)
        params = StdioServerParameters(command=cmd[0], args=cmd[1:], env=dict(os.environ))
        assert self.watch is not None
        return Client(stdio_transport(params, self.watch), cache=None)

    def _check_alive(self) -> None:
        """A stdio upstream whose process has exited is gone: say so before any guardian pass is spent."""
        if self.upstream_dead is None and self.watch is not None and self.watch.exited:
            self.upstream_dead = self.watch.describe("is gone (its process exited)").replace("\n", " ")
            say(self.upstream_dead)

    def _upstream_gone(self, err: BaseException) -> str:
        where = self.cfg.upstream_url or " ".join(self.cfg.upstream_command or [])
        self.upstream_dead = f"the upstream MCP server ({where}) closed the connection: {err}"
        say(self.upstream_dead)
        return self.upstream_dead

    def _tools_listed(self, tools: list[types.Tool]) -> None:
        assert self.session is not None
        recorded = self.session.set_tools(tools)
        drifts = self.pins.observe(self.session.server, recorded)
        self.drifted |= self.pins.changed_tools(drifts)
        for d in drifts:  # each change is reported once per session, though every later list still shows it
            if str(d) not in self._reported:
                self._reported.add(str(d))
                self.pending_drift.append(d)
                say(f"DRIFT {d}")

    async def _refresh_tools(self) -> None:
        assert self.upstream is not None
        tools, cursor = [], None
        for _ in range(100):
            res = await self.upstream.list_tools(cursor=cursor)
            tools += res.tools
            cursor = res.next_cursor
            if not cursor:
                break
        self._tools_listed(tools)

    # -- handlers -------------------------------------------------------------------------------------------
    async def on_list_tools(self, ctx, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        assert self.upstream is not None
        cursor = params.cursor if params else None
        res = await self.upstream.list_tools(cursor=cursor)
        self._pages = (self._pages if cursor else []) + list(res.tools)
        if not res.next_cursor:
            self._tools_listed(self._pages)
        return res

    async def on_call_tool(self, ctx, params: types.CallToolRequestParams):
        assert self.session is not None and self.upstream is not None
        name, args = params.name, dict(params.arguments or {})
        if params.request_state is not None:  # 2026-07-28: the client retries with the user's answer
            return await self._resume(name, args, params)
        meta = dict(params.meta or {})
        self.session.note_request(meta)
        # the rest of the caller's _meta goes upstream; ours and the SDK-managed keys do not
        fwd = {k: v for k, v in meta.items() if k not in (REQUEST_META_KEY, "progressToken")}
        fwd = {k: v for k, v in fwd.items() if not k.startswith("io.modelcontextprotocol/")}
        self._check_alive()
        listed = name in self.session.tools
        if not listed and not self.upstream_dead:
            with contextlib.suppress(
                MCPError
            ):  # it may have been added since: re-list once, report the change
                await self._refresh_tools()
            listed = name in self.session.tools
        call_id = self.session.propose(name, args)
        traj = self.session.snapshot(call_id)
        if self.upstream_dead:
            decision = Decision("block", self.upstream_dead, "upstream_gone")
        else:
            tool = self.session.tools.get(name)
            decision = await self.gate.decide(
                traj,
                name,
                self.session.server,
                listed=listed,
                drifted=(self.session.server, name) in self.drifted,
                request_known=self.session.request_source != "unknown",
                schema=tool.inputSchema if tool is not None else None,
                arguments=args,
            )
        if decision.action == "ask":
            caps = ctx.session.client_capabilities
            if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS and caps is not None and caps.elicitation:
                return self._ask_modern(call_id, traj, decision, name, args, fwd)
            await self._ask(ctx, decision, name, args)
        return await self._finish(call_id, traj, decision, name, args, fwd)

    def _ask_modern(
        self, call_id, traj, d: Decision, tool: str, args: dict, fwd: dict
    ) -> types.InputRequiredResult:
        """Ask through an ``InputRequiredResult``; the state is a single-use random key into ``_asks``."""
        state = secrets.token_urlsafe(24)
        self._asks[state] = (call_id, traj, d, tool, args, fwd)
        request = types.ElicitRequest(
            params=types.ElicitRequestFormParams(
                message=self._ask_message(tool, args, d), requested_schema=ASK_SCHEMA
            )
        )
        return types.InputRequiredResult(input_requests={ASK_KEY: request}, request_state=state)

    async def _resume(self, tool: str, args: dict, params: types.CallToolRequestParams):
        pending = self._asks.pop(params.request_state, None)
        if pending is None or pending[3] != tool or pending[4] != args:
            # an unknown, replayed or altered approval never runs anything
            call_id = self.session.propose(tool, args)
            d = Decision("block", "the approval state is unknown, already used, or for another call", "ask")
            return await self._finish(call_id, self.session.snapshot(call_id), d, tool, args)
        call_id, traj, d, _, _, fwd = pending
        answer = (params.input_responses or {}).get(ASK_KEY)
        self._apply_answer(d, getattr(answer, "action", "missing"), getattr(answer, "content", None))
        return await self._finish(call_id, traj, d, tool, args, fwd)

    async def _finish(
        self, call_id: str, traj, decision: Decision, name: str, args: dict, fwd: dict | None = None
    ) -> types.CallToolResult:
        assert self.upstream is not None
        if decision.fail_open:
            say(f"FAIL-OPEN call to {name!r} allowed without a verdict: {decision.reason}")
        if decision.action == "block":
            result = (
                blocked_result(name, decision)
                if decision.rule != "upstream_gone"
                else self._error_result(decision.reason)
            )
            decision.outcome = {"ran": False, **decision.outcome}
        else:
            self._check_alive()  # it may have died during the guardian's pass
            if self.upstream_dead:
                decision.outcome = {"ran": False, "error": self.upstream_dead, **decision.outcome}
                result = self._error_result(self.upstream_dead)
                self._log(call_id, traj, decision, name, result_text(result.content))
                return result
            try:
                result = await self.upstream.call_tool(
                    name, args, read_timeout_seconds=self.cfg.call_timeout_s, meta=fwd or None
                )
                decision.outcome = {"ran": True, "is_error": result.is_error, **decision.outcome}
            except MCPError as err:
                if err.code != types.CONNECTION_CLOSED:
                    self._log(call_id, traj, decision, name, f"upstream error {err.code}: {err}")
                    raise  # a protocol error from the upstream reaches the client as it was
                msg = self._upstream_gone(err)
                result = self._error_result(msg)
                decision.outcome = {"ran": "unknown", "error": msg, **decision.outcome}
        self._log(call_id, traj, decision, name, result_text(result.content, result.structured_content))
        return result

    def _error_result(self, msg: str) -> types.CallToolResult:
        return types.CallToolResult(content=[types.TextContent(text=f"mcip-guard: {msg}")], is_error=True)

    def _log(self, call_id: str, traj, decision: Decision, tool: str, result: str) -> None:
        assert self.session is not None
        self.session.record_result(call_id, result)
        decision.outcome["result_preview"] = result[:500]
        if self.audit is None:
            return
        review = decision.review
        meta = dict(traj.meta)
        meta["guard"] = {"tool": tool, **decision.to_dict()}
        meta["drift"] = [d.to_dict() for d in self.pending_drift]
        meta["guardian"] = getattr(self.gate.loader, "name", None)
        # the guardian's verdict is a prediction, never a label: the record stays unlabelled until a person
        # labels it (mcip/record.py allows no "unlabelled" value, so `label` is left empty)
        meta["label_source"] = "unlabelled"
        meta["guardian_verdict"] = review.label if review is not None else None
        self.pending_drift = []
        record = traj.model_copy(update={"meta": meta, "label": None})
        try:
            self.audit.write(record)
        except OSError as err:
            say(f"cannot write the audit log {self.audit.path}: {err}")

    def _ask_message(self, tool: str, args: dict[str, Any], d: Decision) -> str:
        return f"mcip-guard wants your approval for a call to {tool!r} with arguments {args}. {d.reason}."

    def _apply_answer(self, d: Decision, action: str, content: dict | None) -> None:
        approved = action == "accept" and (content or {}).get("approve") is True
        d.outcome["asked"] = action
        d.action = "allow" if approved else "block"
        d.reason += "; the user approved it" if approved else f"; the user did not approve it ({action})"

    async def _ask(self, ctx, d: Decision, tool: str, args: dict[str, Any]) -> None:
        """Ask over a handshake-era connection (a server-to-client elicitation request), else ``ask_fallback``."""
        fallback = self.cfg.policy.model.ask_fallback
        caps = ctx.session.client_capabilities
        if caps is None or caps.elicitation is None or not ctx.session.can_send_request:
            d.action = fallback
            d.reason += (
                f"; the client cannot be asked (no elicitation), so the policy's ask_fallback: {fallback}"
            )
            d.outcome["asked"] = "not supported"
            return
        try:
            with anyio.fail_after(self.cfg.ask_timeout_s):
                res = await ctx.session.elicit_form(
                    self._ask_message(tool, args, d), ASK_SCHEMA, related_request_id=ctx.request_id
                )
        except Exception as err:  # any failure to ask falls back to the policy
            d.action = fallback
            d.reason += (
                f"; asking the user failed ({type(err).__name__}), so the policy's ask_fallback: {fallback}"
            )
            d.outcome["asked"] = "failed"
            return
        self._apply_answer(d, res.action, res.content)

    def _server(self) -> Server:
        assert self.upstream is not None
        caps = self.upstream.server_capabilities
        up = self.upstream
        handlers: dict[str, Any] = {}
        if caps.tools is not None:
            handlers |= {"on_list_tools": self.on_list_tools, "on_call_tool": self.on_call_tool}
        if caps.resources is not None:

            async def list_resources(ctx, p):
                return await up.list_resources(cursor=p.cursor if p else None)

            async def list_templates(ctx, p):
                return await up.list_resource_templates(cursor=p.cursor if p else None)

            async def read_resource(ctx, p):
                return await up.read_resource(p.uri)

            handlers |= {
                "on_list_resources": list_resources,
                "on_list_resource_templates": list_templates,
                "on_read_resource": read_resource,
            }
        if caps.prompts is not None:

            async def list_prompts(ctx, p):
                return await up.list_prompts(cursor=p.cursor if p else None)

            async def get_prompt(ctx, p):
                return await up.get_prompt(p.name, p.arguments)

            handlers |= {"on_list_prompts": list_prompts, "on_get_prompt": get_prompt}
        if caps.completions is not None:

            async def complete(ctx, p):
                return await up.complete(
                    p.ref, p.argument.model_dump(), p.context.arguments if p.context else None
                )

            handlers["on_completion"] = complete
        info = up.server_info
        return Server(
            f"mcip-guard/{self.session.server if self.session else 'upstream'}",
            version=info.version if info else "",
            instructions=up.instructions,
            **handlers,
        )

    async def _connected(self, upstream: Client) -> None:
        """The upstream answered ``initialize``: name the session and pin its tools before any client sees them."""
        self.upstream = upstream
        info = upstream.server_info
        name = self.cfg.server_name or (info.name if info and info.name else "upstream")
        sf = SessionFile(self.cfg.session_file) if self.cfg.session_file else None
        self.session = Session(name, sf)
        if upstream.server_capabilities.tools is not None:
            await self._refresh_tools()

    def _start_error(self, err: BaseException | None) -> UpstreamStartError:
        """The error for an upstream that failed to start (``err``) or missed the start timeout (``None``)."""
        if err is None:
            what = (
                f"did not answer `initialize` and `tools/list` within the {self.cfg.start_timeout_s:g} s "
                "start timeout"
            )
        else:
            while len(getattr(err, "exceptions", ())) == 1:
                err = err.exceptions[0]
            what = f"failed to start ({type(err).__name__}: {err})"
        if self.watch is not None:
            return UpstreamStartError(self.watch.describe(what, stopped=err is None))
        return UpstreamStartError(f"the upstream MCP server at {self.cfg.upstream_url} {what}")

    async def run_stdio(self) -> None:
        """Serve the client on stdio. The client's messages are read from the start (and queued while the
        upstream starts), so a client that goes away is seen at once, even before the upstream answers.

        The start timeout is the deadline of the scope the whole session runs in, lifted once the upstream has
        answered (cancel scopes must nest with the upstream's task groups). A start failure closes our stdout
        (a client then sees the connection end), calls ``cfg.on_start_error`` when set (the command line reports
        it and exits: the SDK's stdin reader is a thread no cancellation reaches), else raises it."""
        timeout = self.cfg.start_timeout_s
        async with stdio_server() as (read, write):
            queue_in, queue_out = anyio.create_memory_object_stream(1000)
            scope = anyio.CancelScope(deadline=anyio.current_time() + timeout if timeout > 0 else math.inf)
            started = client_gone = False

            async def pump() -> None:
                nonlocal client_gone
                async with queue_in:
                    async for message in read:
                        await queue_in.send(message)
                client_gone = True
                if not started:
                    scope.cancel()

            async def fail(err: UpstreamStartError) -> None:
                await write.aclose()
                if self.cfg.on_start_error is not None:
                    self.cfg.on_start_error(err)
                raise err

            try:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(pump)
                    with scope:
                        try:
                            async with self._client() as upstream:
                                await self._connected(upstream)
                                started = True
                                scope.deadline = math.inf
                                assert self.session is not None
                                server = self._server()
                                say(
                                    f"guarding {self.session.server!r} ({len(self.session.tools)} tools); "
                                    f"policy {self.cfg.policy.source}; fail {self.cfg.policy.model.fail_mode}; "
                                    f"audit log {self.cfg.audit_log or 'off'}"
                                )
                                opts = server.create_initialization_options(NotificationOptions())
                                await server.run(queue_out, write, opts)
                        except Exception as err:
                            if started:
                                raise
                            await fail(self._start_error(err))
                    if not started and scope.cancelled_caught:
                        if not client_gone:
                            await fail(self._start_error(None))
                        say("the client went away before the upstream had started; stopping")
                    tg.cancel_scope.cancel()
            finally:
                # stdio_server waits for its writer until this stream closes: close it on every way out
                await write.aclose()


def audit_path_default() -> str:
    return str(Path.home() / ".mcip-guard" / "audit.jsonl")
