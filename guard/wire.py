"""JSON-RPC helpers for the relay (``guard.proxy``): the few messages the proxy writes itself, in the shape the
negotiated protocol version expects, and the HTTP headers a modern streamable-HTTP upstream requires.

The relay forwards every other message as it came; only these are built here:

- the answer to a ``tools/call`` the gate blocked (a ``CallToolResult`` with ``isError: true``), serialized by the
  SDK's per-version surface (``mcp_types.methods.serialize_server_result``) so a 2025 client never sees 2026-only
  fields and a 2026 client gets its ``resultType``;
- the proxy's own requests (``tools/list`` for pinning, an ``elicitation/create`` to ask the user);
- JSON-RPC errors for requests the upstream can no longer answer.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Mapping
from typing import Any

import anyio
import mcp_types as types
from mcp.shared.inbound import (
    MCP_METHOD_HEADER,
    MCP_NAME_HEADER,
    MCP_PROTOCOL_VERSION_HEADER,
    NAME_BEARING_METHODS,
    encode_header_value,
    find_invalid_x_mcp_header,
    mcp_param_headers,
    x_mcp_header_map,
)
from mcp.shared.message import ClientMessageMetadata
from mcp_types import JSONRPCError, JSONRPCNotification, JSONRPCRequest, JSONRPCResponse, methods
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

Message = JSONRPCRequest | JSONRPCNotification | JSONRPCResponse | JSONRPCError
ENVELOPE_PREFIX = "io.modelcontextprotocol/"  # the reserved _meta keys of the 2026 per-request envelope
_ids = itertools.count(1)


def own_id(kind: str) -> str:
    """A request id for a message the proxy itself sends: the prefix keeps it apart from the peers' ids, the
    random part makes it unguessable (no peer can answer a question it was not asked)."""
    return f"mcip-guard-{kind}-{next(_ids)}-{secrets.token_hex(8)}"


def meta_of(params: Mapping[str, Any] | None) -> dict[str, Any]:
    meta = (params or {}).get("_meta")
    return dict(meta) if isinstance(meta, Mapping) else {}


def envelope(params: Mapping[str, Any] | None) -> dict[str, Any]:
    """The per-request envelope keys of a 2026 request (version, client info and capabilities, log level)."""
    return {k: v for k, v in meta_of(params).items() if k.startswith(ENVELOPE_PREFIX)}


def is_modern(version: str | None) -> bool:
    return version in MODERN_PROTOCOL_VERSIONS


def result_data(result: types.Result | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(result, types.Result):
        return result.model_dump(by_alias=True, mode="json", exclude_none=True)
    return dict(result)


def serialize_result(method: str, version: str | None, result: types.Result | Mapping[str, Any]) -> dict:
    """``result`` as the wire shape of ``method``'s result at ``version`` (fields that version lacks dropped).
    An unknown version gets the SDK's full dump, less the 2026-only ``resultType`` unless it is needed."""
    data = result_data(result)
    if version is not None:
        try:
            return methods.serialize_server_result(method, version, data)
        except (ValueError, KeyError):
            pass
    if data.get("resultType") == "complete" and not is_modern(version):
        data.pop("resultType")
    return data


def response(request_id: types.RequestId, method: str, version: str | None, result) -> JSONRPCResponse:
    return JSONRPCResponse(jsonrpc="2.0", id=request_id, result=serialize_result(method, version, result))


def error(request_id: types.RequestId | None, code: int, message: str) -> JSONRPCError:
    return JSONRPCError(jsonrpc="2.0", id=request_id, error=types.ErrorData(code=code, message=message))


def request(request_id: str, method: str, params: dict[str, Any] | None) -> JSONRPCRequest:
    return JSONRPCRequest(jsonrpc="2.0", id=request_id, method=method, params=params)


def cancelled(request_id: str) -> JSONRPCNotification:
    params = {"requestId": request_id, "reason": "mcip-guard no longer needs the answer"}
    return JSONRPCNotification(jsonrpc="2.0", method="notifications/cancelled", params=params)


def elicit_params(version: str | None, message: str, schema: dict) -> dict[str, Any]:
    """``elicitation/create`` params for a handshake-era client at ``version`` (``mode`` is 2025-11-25+)."""
    params = types.ElicitRequestFormParams(message=message, requested_schema=schema)
    data = result_data(params)
    surface = methods.SERVER_REQUESTS.get(("elicitation/create", version or ""))
    if surface is None:
        return data
    frame = surface.model_validate(
        {"jsonrpc": "2.0", "id": 0, "method": "elicitation/create", "params": data}
    )
    return frame.model_dump(by_alias=True, mode="json", exclude_none=True)["params"]


class Waiter:
    """One answer the proxy waits for (to a request it sent itself)."""

    def __init__(self) -> None:
        self.event = anyio.Event()
        self.message: JSONRPCResponse | JSONRPCError | None = None

    def set(self, message: JSONRPCResponse | JSONRPCError) -> None:
        self.message = message
        self.event.set()


class HttpHeaders:
    """The per-message headers the SDK's streamable-HTTP client transport expects from its caller (the SDK's
    session stamps them; a relay must): ``MCP-Protocol-Version`` on every message after the handshake, and on a
    2026 request also ``Mcp-Method``, ``Mcp-Name`` and the ``Mcp-Param-*`` mirrors of ``x-mcp-header`` arguments
    (learnt from the ``tools/list`` answers that pass by)."""

    def __init__(self) -> None:
        self.version: str | None = None  # the handshake's version, once the upstream answered `initialize`
        self.param_maps: dict[str, dict] = {}

    def learn_tools(self, tools: list[dict]) -> None:
        for tool in tools:
            schema = tool.get("inputSchema")
            if isinstance(tool.get("name"), str) and find_invalid_x_mcp_header(schema) is None:
                self.param_maps[tool["name"]] = x_mcp_header_map(schema)

    def metadata(self, message: Message) -> ClientMessageMetadata | None:
        params = getattr(message, "params", None) or {}
        version = meta_of(params).get(types.PROTOCOL_VERSION_META_KEY)
        if isinstance(message, JSONRPCRequest) and message.method == "initialize":
            return None
        if not is_modern(version):
            return (
                ClientMessageMetadata(headers={MCP_PROTOCOL_VERSION_HEADER: self.version})
                if self.version
                else None
            )
        headers = {MCP_PROTOCOL_VERSION_HEADER: version}
        if isinstance(message, JSONRPCRequest):
            headers[MCP_METHOD_HEADER] = message.method
            key = NAME_BEARING_METHODS.get(message.method)
            if key is not None and isinstance(name := params.get(key), str):
                headers[MCP_NAME_HEADER] = encode_header_value(name)
            if message.method == "tools/call" and (header_map := self.param_maps.get(params.get("name"))):
                headers.update(mcp_param_headers(header_map, params.get("arguments") or {}))
        return ClientMessageMetadata(headers=headers)
