"""The relay served downstream over streamable HTTP (``mcip-guard proxy --http PORT``).

Each client session (an ``initialize`` POST without ``Mcp-Session-Id``) gets the SDK's
``StreamableHTTPServerTransport`` and a relay of its own (``guard.proxy.GuardedProxy``, with its own upstream
connection: a stdio upstream is started once per session), so sessions never share a trajectory. The relay sees
the same JSON-RPC messages it sees on stdio; the guardian model is loaded once and shared.

Handshake-era sessions only: a 2026-07-28 request arrives as a stateless POST the SDK's HTTP transport hands to a
``Server``, not as a message stream, so the proxy answers it with an error, and the SDK's client falls back to
``initialize`` (its ``server/discover`` probe treats any error other than -32022 that way). Stdio serves both eras.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable

import anyio
from mcp.server.streamable_http import MCP_SESSION_ID_HEADER, StreamableHTTPServerTransport
from mcp_types import INVALID_REQUEST, ErrorData, JSONRPCError
from starlette.requests import Request
from starlette.responses import JSONResponse

from guard.proxy import GuardedProxy, say


class HttpRelay:
    """An ASGI app: one ``StreamableHTTPServerTransport`` and one relay per client session."""

    def __init__(self, make_proxy: Callable[[], GuardedProxy]):
        self.make_proxy = make_proxy
        self.sessions: dict[str, StreamableHTTPServerTransport] = {}
        self._tg: anyio.abc.TaskGroup | None = None

    @contextlib.asynccontextmanager
    async def running(self):
        async with anyio.create_task_group() as tg:
            self._tg = tg
            try:
                yield self
            finally:
                tg.cancel_scope.cancel()

    async def _serve(self, sid: str, transport: StreamableHTTPServerTransport, *, task_status) -> None:
        try:
            async with transport.connect() as (read, write):
                task_status.started()
                await self.make_proxy().serve(read, write)
        except Exception as err:  # one session's failure (its upstream did not start) ends that session only
            while len(getattr(err, "exceptions", ())) == 1:
                err = err.exceptions[0]
            say(f"HTTP session {sid[:8]} ended: {type(err).__name__}: {err}")
        finally:
            self.sessions.pop(sid, None)
            with anyio.CancelScope(shield=True):
                await transport.terminate()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            return
        request = Request(scope, receive)
        sid = request.headers.get(MCP_SESSION_ID_HEADER)
        if sid is not None:
            transport = self.sessions.get(sid)
            if transport is None:
                await _refuse("Session not found", 404)(scope, receive, send)
                return
            await transport.handle_request(scope, receive, send)
            return
        if request.method != "POST" or b'"initialize"' not in await request.body():
            # a 2026 stateless request, or anything else without a session: the client falls back to initialize
            why = "mcip-guard serves handshake-era sessions over HTTP: send initialize (or use stdio)"
            await _refuse(why, 400)(scope, receive, send)
            return
        sid = uuid.uuid4().hex
        transport = StreamableHTTPServerTransport(mcp_session_id=sid)
        self.sessions[sid] = transport
        assert self._tg is not None
        await self._tg.start(self._serve, sid, transport)
        await transport.handle_request(scope, _replay(await request.body()), send)


def _refuse(message: str, status: int) -> JSONResponse:
    body = JSONRPCError(jsonrpc="2.0", id=None, error=ErrorData(code=INVALID_REQUEST, message=message))
    return JSONResponse(body.model_dump(by_alias=True, exclude_none=True), status_code=status)


def _replay(body: bytes):
    """An ASGI ``receive`` that hands the already-read body over again."""
    sent = False

    async def receive():
        nonlocal sent
        if sent:
            await anyio.sleep_forever()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def run_http(make_proxy: Callable[[], GuardedProxy], host: str, port: int) -> None:
    import uvicorn

    relay = HttpRelay(make_proxy)
    server = uvicorn.Server(uvicorn.Config(relay, host=host, port=port, log_level="warning", lifespan="off"))

    async def announce() -> None:  # once the port is bound: a client may connect from then on
        while not server.started:
            await anyio.sleep(0.05)
        say(f"serving streamable HTTP on http://{host}:{port}/mcp (any path)")

    async with relay.running() as running:
        running._tg.start_soon(announce)
        await server.serve()
