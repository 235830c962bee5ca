"""The guarding proxy: a message-level relay between one MCP client and one upstream MCP server.

The SDK's transports hand over JSON-RPC messages as streams in both directions (``mcp.server.stdio`` towards the
client, ``mcp.client.stdio`` or ``mcp.client.streamable_http`` towards the server). The relay passes every
message as it came: requests, responses, notifications and errors, both ways, ``initialize`` included. So the
capabilities and protocol version are the ones the two ends negotiate with each other, and every feature either
end speaks (sampling, elicitation, roots, logging, progress, subscriptions, ``list_changed``, cancellation, ping,
tasks, the 2026 per-request envelope) passes by construction. The relay intercepts only:

- ``tools/call`` requests: the gate (``guard.gate``) decides. Allowed: forwarded with its id; the answer comes back
  untouched. Blocked: never forwarded; the client gets, under the same id, a tool result with ``isError: true``
  naming the risk class and the reason (``guard.wire`` shapes it for the negotiated version). Ask: an elicitation
  to the user (a server-to-client request on a handshake-era connection, an ``InputRequiredResult`` on 2026).
  A call the client cancels while it waits on the gate is dropped and never reaches the server.
- ``tools/list`` answers and ``notifications/tools/list_changed``: the tool list is pinned and compared
  (``guard.pins``); a change is reported on stderr and in the audit log, and after ``list_changed`` the proxy
  lists the tools itself so the change is seen even if the client never re-lists.

The session (``guard.session``: the user's request, the tool list, previous calls and results) is fed from the
relayed messages; every call is written to the audit log (``guard.audit``).

Start and stop: the upstream starts with the proxy and must answer the client's first request within
``start_timeout_s``; if it exits or times out first, the proxy exits with one error naming the command, its exit
code and its last stderr lines (``guard.upstream``). The proxy stops when the client goes away (and stops its
upstream: no orphans). An upstream that dies mid-session turns every later call into a clear ``isError`` result,
reported before any guardian pass.
"""

from __future__ import annotations

import contextlib
import json
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
from mcp import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.server.stdio import stdio_server
from mcp.shared.message import SessionMessage
from mcp_types import JSONRPCError, JSONRPCNotification, JSONRPCRequest, JSONRPCResponse

from guard import wire
from guard.audit import AuditLog, Redactor, env_secrets
from guard.gate import Decision, Gate, GuardianLoader, risk_name
from guard.pins import ToolPins
from guard.policy import Policy
from guard.session import REQUEST_META_KEY, Session, SessionFile, result_text
from guard.upstream import TransportErrors, UpstreamProcess, UpstreamStartError, stdio_transport

ASK_KEY = "mcip-guard-approve"
ASK_SCHEMA = {
    "type": "object",
    "properties": {"approve": {"type": "boolean", "title": "Run this tool call?"}},
    "required": ["approve"],
}
RELIST_TIMEOUT_S = 30.0


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
    ask_timeout_s: float = 300.0
    start_timeout_s: float = 60.0
    on_start_error: Callable[[BaseException], None] | None = None  # e.g. report and exit (see run_stdio)


@dataclass
class Call:
    """A ``tools/call`` the gate let through, until its answer comes back (then it is logged)."""

    call_id: str
    traj: Any
    decision: Decision
    tool: str
    args: dict
    version: str | None = None  # the protocol version the call came in (its answer is shaped for it)


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
        _meta={
            "mcip/guard": {"action": "block", "rule": d.rule, "risk": d.review.top_risk if d.review else None}
        },
    )


def error_result(msg: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(text=f"mcip-guard: {msg}")], is_error=True)


def _result_text(result: dict) -> str:
    try:
        parsed = types.CallToolResult.model_validate(result)
    except ValueError:
        return json.dumps(result, ensure_ascii=False)[:2000]
    return result_text(parsed.content, parsed.structured_content)


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
        sf = SessionFile(cfg.session_file) if cfg.session_file else None
        self.session = Session(cfg.server_name or "upstream", sf)
        self.headers = wire.HttpHeaders()
        self.version: str | None = None  # negotiated by `initialize`; 2026 requests carry their own
        self.client_caps: dict = {}  # declared in `initialize`; 2026 requests carry their own
        self._envelope: dict = {}  # the latest 2026 request envelope: the proxy's own requests reuse it
        self.upstream_dead: str | None = None
        self.drifted: set[tuple[str, str]] = set()
        self.pending_drift: list = []
        self._reported: set[str] = set()
        self._pending: dict[Any, tuple[str, dict]] = {}  # client requests the upstream has yet to answer
        self._calls: dict[Any, Call] = {}  # forwarded tools/call requests, by id
        self._continued: dict[str, Call] = {}  # the upstream's own 2026 requestState -> the call it continues
        self._gating: dict[Any, anyio.CancelScope] = {}  # tools/call requests waiting on the gate
        # answers to the proxy's own requests, by (sent to the client?, id): only the peer asked may answer
        self._waiters: dict[tuple[bool, str], wire.Waiter] = {}
        self._asks: dict[str, Call] = {}  # 2026 approvals in flight: single-use state -> the call
        self._pages: list[dict] = []
        self._answered = anyio.Event()  # the upstream answered its first request
        self._first_sent: str | None = None
        self._start_err: UpstreamStartError | None = None
        self._greeted = False
        self._to_client: Any = None
        self._to_upstream: Any = None
        self._tg: Any = None
        self._http_errors = TransportErrors()

    # -- sending --------------------------------------------------------------------------------------------
    async def _send_client(self, message: wire.Message) -> None:
        with contextlib.suppress(
            anyio.ClosedResourceError, anyio.BrokenResourceError
        ):  # the client went away
            await self._to_client.send(SessionMessage(message))

    async def _send_upstream(self, message: wire.Message) -> bool:
        """Forward to the upstream; False when it is gone (the caller answers the client)."""
        if self.upstream_dead:
            return False
        try:
            await self._to_upstream.send(SessionMessage(message, self.headers.metadata(message)))
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            await self._gone()
            return False
        return True

    async def _request(self, to_client: bool, method: str, params: dict | None, timeout: float) -> dict:
        """A request of the proxy's own (to the upstream or the client); its result, or raises."""
        rid = wire.own_id(method.split("/")[0])
        waiter = self._waiters[(to_client, rid)] = wire.Waiter()
        try:
            if to_client:
                await self._send_client(wire.request(rid, method, params))
            elif not await self._send_upstream(wire.request(rid, method, params)):
                raise ConnectionError(self.upstream_dead)
            with anyio.fail_after(timeout):
                await waiter.event.wait()
        finally:
            if (
                self._waiters.pop((to_client, rid), None) is not None
            ):  # given up (timeout, cancelled): tell the peer
                with anyio.CancelScope(shield=True):
                    await (self._send_client if to_client else self._send_upstream)(wire.cancelled(rid))
        if isinstance(waiter.message, JSONRPCError):
            raise ConnectionError(
                f"{method}: error {waiter.message.error.code}: {waiter.message.error.message}"
            )
        return waiter.message.result

    # -- the upstream's messages ----------------------------------------------------------------------------
    async def _from_upstream(self, msg: wire.Message) -> None:
        if isinstance(msg, JSONRPCResponse | JSONRPCError):
            if (waiter := self._waiters.pop((False, msg.id), None)) is not None:
                waiter.set(msg)
                return
            self._answered.set()
            method, params = self._pending.pop(msg.id, ("", {}))
            if isinstance(msg, JSONRPCResponse):
                if method in ("initialize", "server/discover"):
                    self._connected(method, msg.result)
                elif method == "tools/list":
                    self._listed_page(params, msg.result)
            call = self._calls.pop(msg.id, None)
            if call is not None:
                self._ran(call, msg)
            await self._send_client(msg)
            return
        await self._send_client(msg)  # server requests (sampling, elicitation, roots, ping) and notifications
        if isinstance(msg, JSONRPCNotification) and msg.method == "notifications/tools/list_changed":
            self._tg.start_soon(self._relist, {})

    def _connected(self, method: str, result: dict) -> None:
        info = result.get("serverInfo") or wire.meta_of(result).get(types.SERVER_INFO_META_KEY) or {}
        if not self.cfg.server_name and isinstance(info.get("name"), str):
            self.session.server = info["name"]
        if method == "initialize":
            self.version = result.get("protocolVersion")
            self.headers.version = self.version
        if self._greeted:
            return
        self._greeted = True
        say(
            f"guarding {self.session.server!r} (protocol {self.version or 'per request'}); "
            f"policy {self.cfg.policy.source}; fail {self.cfg.policy.model.fail_mode}; "
            f"audit log {self.cfg.audit_log or 'off'}"
        )

    def _listed_page(self, params: dict, result: dict) -> None:
        tools = [t for t in result.get("tools") or [] if isinstance(t, dict)]
        self.headers.learn_tools(tools)
        self._pages = (self._pages if params.get("cursor") else []) + tools
        if not result.get("nextCursor"):
            self._tools_listed(self._pages)

    def _tools_listed(self, raw: list[dict]) -> None:
        tools = []
        for t in raw:
            try:
                tools.append(types.Tool.model_validate(t))
            except ValueError as err:  # left out: a call to it is then an unlisted call (blocked by default)
                say(f"ignoring a malformed tool in tools/list ({t.get('name')!r}): {err}")
        recorded = self.session.set_tools(tools)
        drifts = self.pins.observe(self.session.server, recorded)
        self.drifted |= self.pins.changed_tools(drifts)
        for d in drifts:  # each change is reported once per session, though every later list still shows it
            if str(d) not in self._reported:
                self._reported.add(str(d))
                self.pending_drift.append(d)
                say(f"DRIFT {d}")

    async def _relist(self, params: dict) -> None:
        """List the tools ourselves (after ``list_changed``, or for a call to a tool not listed yet), with the
        envelope of the request at hand on 2026 connections. Failures leave the pins as they were."""
        tools: list[dict] = []
        cursor = None
        try:
            envelope = wire.envelope(params) or self._envelope
            for _ in range(100):
                body = {"_meta": envelope} if envelope else {}
                if cursor:
                    body["cursor"] = cursor
                result = await self._request(False, "tools/list", body or None, RELIST_TIMEOUT_S)
                tools += [t for t in result.get("tools") or [] if isinstance(t, dict)]
                cursor = result.get("nextCursor")
                if not cursor:
                    break
        except (ConnectionError, TimeoutError) as err:
            say(f"could not list the upstream's tools: {err}")
            return
        self.headers.learn_tools(tools)
        self._tools_listed(tools)

    async def _gone(self) -> None:
        """The upstream closed the connection: answer everything still waiting on it, once."""
        if self.upstream_dead:
            return
        where = self.cfg.upstream_url or " ".join(self.cfg.upstream_command or [])
        self.upstream_dead = f"the upstream MCP server ({where}) closed the connection"
        if self.watch is not None:
            with anyio.move_on_after(2):
                await self.watch.wait()
            self.upstream_dead = self.watch.describe("is gone: it closed the connection").replace("\n", " ")
        say(self.upstream_dead)
        for rid, call in list(self._calls.items()):
            call.decision.outcome = {"ran": "unknown", "error": self.upstream_dead, **call.decision.outcome}
            self._log(call, text=f"mcip-guard: {self.upstream_dead}")
            await self._send_client(
                wire.response(rid, "tools/call", call.version, error_result(self.upstream_dead))
            )
        self._calls.clear()
        for rid in list(self._pending):
            await self._send_client(
                wire.error(rid, types.INTERNAL_ERROR, f"mcip-guard: {self.upstream_dead}")
            )
        self._pending.clear()
        for waiter in list(self._waiters.values()):
            waiter.set(wire.error(None, types.INTERNAL_ERROR, self.upstream_dead))

    def _check_alive(self) -> bool:
        """A stdio upstream whose process has exited is gone: say so before any guardian pass is spent."""
        if self.upstream_dead is None and self.watch is not None and self.watch.exited:
            self.upstream_dead = self.watch.describe("is gone (its process exited)").replace("\n", " ")
            say(self.upstream_dead)
        return self.upstream_dead is None

    # -- the client's messages ------------------------------------------------------------------------------
    async def _from_client(self, msg: wire.Message) -> None:
        if isinstance(msg, JSONRPCRequest):
            self._envelope = wire.envelope(msg.params) or self._envelope
            if msg.method == "tools/call":
                scope = self._gating[msg.id] = anyio.CancelScope()
                self._tg.start_soon(self._guard_call, msg, scope)
                return
            if msg.method == "initialize":
                caps = (msg.params or {}).get("capabilities")
                self.client_caps = caps if isinstance(caps, dict) else {}
            await self._forward_request(msg)
        elif isinstance(msg, JSONRPCResponse | JSONRPCError):
            if (waiter := self._waiters.pop((True, msg.id), None)) is not None:
                waiter.set(msg)  # the user's answer to the proxy's own question
                return
            await self._send_upstream(msg)  # the client's answer to a sampling, elicitation or roots request
        else:
            if msg.method == "notifications/cancelled":
                rid = (msg.params or {}).get("requestId")
                if rid in self._gating and rid not in self._calls:  # never forwarded: stop, answer nothing
                    self._gating[rid].cancel()
                    return
                # forwarded: the server decides whether it stops; the call is logged now
                if (call := self._calls.pop(rid, None)) is not None:
                    call.decision.outcome = {"ran": "unknown", "cancelled": True, **call.decision.outcome}
                    self._log(call, text="[cancelled by the client]")
            await self._send_upstream(msg)

    async def _forward_request(self, msg: JSONRPCRequest) -> None:
        self._pending[msg.id] = (msg.method, msg.params or {})
        if self._first_sent is None:
            self._first_sent = msg.method
            self._tg.start_soon(self._start_watch)
        if not await self._send_upstream(msg):
            self._pending.pop(msg.id, None)
            await self._send_client(
                wire.error(msg.id, types.INTERNAL_ERROR, f"mcip-guard: {self.upstream_dead}")
            )

    # -- tools/call -----------------------------------------------------------------------------------------
    async def _guard_call(self, msg: JSONRPCRequest, scope: anyio.CancelScope) -> None:
        with scope:
            try:
                await self._decide_call(msg)
            finally:
                self._gating.pop(msg.id, None)
        if scope.cancelled_caught:
            say(f"the client cancelled call {msg.id!r} before it was forwarded; it did not run")

    async def _decide_call(self, msg: JSONRPCRequest) -> None:
        params = dict(msg.params or {})
        name, args = params.get("name"), params.get("arguments") or {}
        if not isinstance(name, str) or not isinstance(args, dict):
            await self._send_client(
                wire.error(msg.id, types.INVALID_PARAMS, "tools/call needs a name and arguments")
            )
            return
        meta = wire.meta_of(params)
        version = meta.get(types.PROTOCOL_VERSION_META_KEY) or self.version
        state = params.get("requestState")
        if state is not None:
            await self._continue(msg, version, state, name, args)
            return
        self.session.note_request(meta)
        listed = name in self.session.tools
        if not listed and self._check_alive():
            await self._relist(params)  # it may have been added since (or never listed yet): re-list once
            listed = name in self.session.tools
        call_id = self.session.propose(name, args)
        traj = self.session.snapshot(call_id)
        if not self._check_alive():
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
        call = Call(call_id, traj, decision, name, args, version)
        if decision.action == "ask":
            caps = (
                meta.get(types.CLIENT_CAPABILITIES_META_KEY) if wire.is_modern(version) else self.client_caps
            )
            if wire.is_modern(version) and isinstance(caps, dict) and caps.get("elicitation") is not None:
                await self._ask_modern(msg, version, call)
                return
            await self._ask(call, version)
        await self._finish(msg, version, call)

    async def _finish(self, msg: JSONRPCRequest, version: str | None, call: Call) -> None:
        d = call.decision
        if d.fail_open:
            say(f"FAIL-OPEN call to {call.tool!r} allowed without a verdict: {d.reason}")
        if d.action != "block" and not self._check_alive():  # it may have died during the guardian's pass
            d.outcome = {"ran": False, "error": self.upstream_dead, **d.outcome}
            result = error_result(self.upstream_dead)
        elif d.action == "block":
            result = blocked_result(call.tool, d) if d.rule != "upstream_gone" else error_result(d.reason)
            d.outcome = {"ran": False, **d.outcome}
        else:
            params = dict(msg.params or {})
            meta = wire.meta_of(params)
            if REQUEST_META_KEY in meta:  # the user's words are for the guard, not for the server
                del meta[REQUEST_META_KEY]
                params = {k: v for k, v in params.items() if k != "_meta"} | ({"_meta": meta} if meta else {})
                msg = msg.model_copy(update={"params": params})
            self._calls[msg.id] = call
            self._pending[msg.id] = ("tools/call", params)
            if await self._send_upstream(msg):
                return  # logged when its answer passes (`_ran`)
            self._calls.pop(msg.id, None)
            self._pending.pop(msg.id, None)
            d.outcome = {"ran": False, "error": self.upstream_dead, **d.outcome}
            result = error_result(self.upstream_dead)
        self._log(call, text=result_text(result.content))
        await self._send_client(wire.response(msg.id, "tools/call", version, result))

    def _ran(self, call: Call, msg: JSONRPCResponse | JSONRPCError) -> None:
        """A forwarded call's answer passes: log it (a 2026 ``input_required`` round waits for its retry)."""
        d = call.decision
        if isinstance(msg, JSONRPCError):
            d.outcome = {"ran": "unknown", "error": f"{msg.error.code}: {msg.error.message}", **d.outcome}
            self._log(call, text=f"upstream error {msg.error.code}: {msg.error.message}")
            return
        if msg.result.get("resultType") == "input_required" and isinstance(
            msg.result.get("requestState"), str
        ):
            self._continued[msg.result["requestState"]] = call
            return
        d.outcome = {"ran": True, "is_error": bool(msg.result.get("isError")), **d.outcome}
        self._log(call, text=_result_text(msg.result))

    async def _continue(self, msg: JSONRPCRequest, version, state: str, name: str, args: dict) -> None:
        """A 2026 retry carrying a ``requestState``: the answer to our question, the continuation of a call the
        upstream asked about (already allowed), or anything else (never runs)."""
        if state in self._asks:
            call = self._asks.pop(state)
            if call.tool == name and call.args == args:
                answer = (msg.params.get("inputResponses") or {}).get(ASK_KEY) or {}
                self._apply_answer(call.decision, answer.get("action", "missing"), answer.get("content"))
                params = {k: v for k, v in msg.params.items() if k not in ("requestState", "inputResponses")}
                await self._finish(msg.model_copy(update={"params": params}), version, call)
                return
        elif (call := self._continued.pop(state, None)) is not None and call.tool == name:
            self._calls[msg.id] = call
            self._pending[msg.id] = ("tools/call", msg.params)
            if await self._send_upstream(msg):
                return
        call_id = self.session.propose(name, args)
        d = Decision("block", "the approval state is unknown, already used, or for another call", "ask")
        await self._finish(
            msg, version, Call(call_id, self.session.snapshot(call_id), d, name, args, version)
        )

    # -- asking the user ------------------------------------------------------------------------------------
    def _ask_message(self, call: Call) -> str:
        return f"mcip-guard wants your approval for a call to {call.tool!r} with arguments {call.args}. {call.decision.reason}."

    def _apply_answer(self, d: Decision, action: str, content: dict | None) -> None:
        approved = action == "accept" and (content or {}).get("approve") is True
        d.outcome["asked"] = action
        d.action = "allow" if approved else "block"
        d.reason += "; the user approved it" if approved else f"; the user did not approve it ({action})"

    async def _ask_modern(self, msg: JSONRPCRequest, version: str, call: Call) -> None:
        """Ask through an ``InputRequiredResult``; the state is a single-use random key into ``_asks``."""
        state = secrets.token_urlsafe(24)
        self._asks[state] = call
        request = types.ElicitRequest(
            params=types.ElicitRequestFormParams(message=self._ask_message(call), requested_schema=ASK_SCHEMA)
        )
        result = types.InputRequiredResult(input_requests={ASK_KEY: request}, request_state=state)
        await self._send_client(wire.response(msg.id, "tools/call", version, result))

    async def _ask(self, call: Call, version: str | None) -> None:
        """Ask with a server-to-client ``elicitation/create`` (handshake era), else the policy's ``ask_fallback``."""
        d, fallback = call.decision, self.cfg.policy.model.ask_fallback
        if self.client_caps.get("elicitation") is None or wire.is_modern(version):
            d.action = fallback
            d.reason += (
                f"; the client cannot be asked (no elicitation), so the policy's ask_fallback: {fallback}"
            )
            d.outcome["asked"] = "not supported"
            return
        params = wire.elicit_params(version, self._ask_message(call), ASK_SCHEMA)
        try:
            res = await self._request(True, "elicitation/create", params, self.cfg.ask_timeout_s)
        except (ConnectionError, TimeoutError) as err:  # any failure to ask falls back to the policy
            d.action = fallback
            d.reason += (
                f"; asking the user failed ({type(err).__name__}), so the policy's ask_fallback: {fallback}"
            )
            d.outcome["asked"] = "failed"
            return
        self._apply_answer(d, res.get("action", "missing"), res.get("content"))

    # -- the audit log --------------------------------------------------------------------------------------
    def _log(self, call: Call, text: str) -> None:
        self.session.record_result(call.call_id, text)
        decision = call.decision
        decision.outcome["result_preview"] = text[:500]
        if self.audit is None:
            return
        review = decision.review
        meta = dict(call.traj.meta)
        meta["guard"] = {"tool": call.tool, **decision.to_dict()}
        meta["drift"] = [d.to_dict() for d in self.pending_drift]
        meta["guardian"] = getattr(self.gate.loader, "name", None)
        # the guardian's verdict is a prediction, never a label: the record stays unlabelled until a person
        # labels it (mcip/record.py allows no "unlabelled" value, so `label` is left empty)
        meta["label_source"] = "unlabelled"
        meta["guardian_verdict"] = review.label if review is not None else None
        self.pending_drift = []
        record = call.traj.model_copy(update={"meta": meta, "label": None})
        try:
            self.audit.write(record)
        except OSError as err:
            say(f"cannot write the audit log {self.audit.path}: {err}")

    # -- running --------------------------------------------------------------------------------------------
    def _transport(self):
        if self.cfg.upstream_url:
            return streamable_http_client(self.cfg.upstream_url)
        cmd = self.cfg.upstream_command or []
        # the upstream gets the proxy's environment: hosts put the server's secrets there (never logged)
        params = StdioServerParameters(command=cmd[0], args=cmd[1:], env=dict(os.environ))
        assert self.watch is not None
        return stdio_transport(params, self.watch)

    def _start_error(self, err: BaseException | None) -> UpstreamStartError:
        """The error for an upstream that failed to start (``err``) or missed the start timeout (``None``)."""
        first = self._first_sent or "initialize"
        if err is None:
            what = f"did not answer `{first}` within the {self.cfg.start_timeout_s:g} s start timeout"
        else:
            while len(getattr(err, "exceptions", ())) == 1:
                err = err.exceptions[0]
            what = f"failed to start ({type(err).__name__}: {err})"
        if self.watch is not None:
            return UpstreamStartError(self.watch.describe(what, stopped=err is None))
        return UpstreamStartError(f"the upstream MCP server at {self.cfg.upstream_url} {what}")

    def _start_failed(self, err: UpstreamStartError) -> None:
        """Stop the relay; leaving the transport stops the upstream (no orphan), then ``serve`` reports ``err``."""
        self._start_err = self._start_err or err
        self._tg.cancel_scope.cancel()

    async def _start_watch(self) -> None:
        """The start timeout: the upstream must answer the client's first request in time."""
        timeout = self.cfg.start_timeout_s if self.cfg.start_timeout_s > 0 else math.inf
        with anyio.move_on_after(timeout):
            await self._answered.wait()
            return
        if not self.upstream_dead:
            self._start_failed(self._start_error(self._http_errors.last))

    async def _pump_upstream(self, read) -> None:
        async for item in read:
            if isinstance(item, Exception):
                if not self._answered.is_set():
                    self._start_failed(self._start_error(item))
                    return
                say(f"unreadable message from the upstream: {item}")
                continue
            await self._from_upstream(item.message)
        if not self._answered.is_set():
            if self.watch is not None:
                with anyio.move_on_after(2):
                    await self.watch.wait()
            else:  # an HTTP transport raises its own error (which names the cause) as it closes: let it win
                await anyio.sleep(0.5)
            cause = self._http_errors.last or ConnectionError("it closed the connection")
            self._start_failed(self._start_error(cause))
            return
        await self._gone()

    async def _pump_client(self, read) -> None:
        # an HTTP session's transport closes the stream when the client ends the session
        with contextlib.suppress(anyio.ClosedResourceError):
            async for item in read:
                if isinstance(item, Exception):
                    say(f"unreadable message from the client: {item}")
                    continue
                await self._from_client(item.message)

    async def serve(self, client_read, client_write) -> None:
        """Relay between the client's streams and a fresh upstream connection until either side goes away."""
        self._to_client = client_write
        try:
            async with anyio.create_task_group() as tg:
                self._tg = tg
                try:
                    async with self._transport() as (up_read, up_write):
                        self._to_upstream = up_write
                        tg.start_soon(self._pump_upstream, up_read)
                        await self._pump_client(client_read)
                        tg.cancel_scope.cancel()  # the client went away: stop, and stop the upstream
                except Exception as err:
                    if self._answered.is_set():
                        raise
                    self._start_failed(self._start_error(err))
            if self._start_err is not None:
                await client_write.aclose()  # the client sees the connection end
                if self.cfg.on_start_error is not None:
                    self.cfg.on_start_error(self._start_err)
                raise self._start_err
        finally:
            with anyio.CancelScope(shield=True):
                await client_write.aclose()

    async def run_stdio(self) -> None:
        """Serve the client on stdio. A start failure closes our stdout (a client then sees the connection end),
        calls ``cfg.on_start_error`` when set (the command line reports it and exits: the SDK's stdin reader is a
        thread no cancellation reaches), else raises it."""
        with self._http_errors.watching():
            async with stdio_server() as (read, write):
                await self.serve(read, write)


def audit_path_default() -> str:
    return str(Path.home() / ".mcip-guard" / "audit.jsonl")
