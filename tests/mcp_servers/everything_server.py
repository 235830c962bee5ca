"""A conformance server for the guard's relay (official SDK, low-level ``Server``, stdio): one tool or resource per
protocol feature a transparent proxy must pass, so a session through ``mcip-guard proxy`` can be compared with the
same session made directly.

    python tests/mcp_servers/everything_server.py

Tools: ``log_and_progress`` (log notifications and progress), ``sample`` (asks the client for sampling),
``elicit`` (asks the user through the client), ``roots`` (asks for the client's roots), ``touch`` (changes the
subscribable resource ``mem://counter``: ``notifications/resources/updated`` to subscribers), ``grow`` (adds the
tool ``late_tool`` and sends ``notifications/tools/list_changed``), ``slow`` (sleeps: a call to cancel) and
``task_tool`` (declares ``execution.taskSupport``). Also ``logging/setLevel``, ``resources/subscribe`` and ping.
"""

from __future__ import annotations

import json
import warnings

import anyio
import mcp_types as types
from mcp.server.lowlevel import NotificationOptions, Server

COUNTER_URI = "mem://counter"
_state = {"counter": 0, "grown": False, "subscribed": set(), "level": None}

_TOOLS = {
    "log_and_progress": "Send two log messages and three progress notifications, then answer.",
    "sample": "Ask the client's model for a completion (sampling/createMessage).",
    "elicit": "Ask the user for a value (elicitation/create).",
    "roots": "Ask the client for its roots (roots/list).",
    "touch": "Increment mem://counter; subscribers get notifications/resources/updated.",
    "grow": "Add the tool late_tool; the client gets notifications/tools/list_changed.",
    "slow": "Sleep for `seconds` (a call to cancel).",
    "task_tool": "A tool that may run as a task (execution.taskSupport).",
}


def tools() -> list[types.Tool]:
    schema = {"type": "object", "properties": {"seconds": {"type": "number"}}}
    out = [types.Tool(name=n, description=d, input_schema=schema) for n, d in _TOOLS.items()]
    out[-1] = out[-1].model_copy(update={"execution": types.ToolExecution(task_support="optional")})
    if _state["grown"]:
        out.append(
            types.Tool(name="late_tool", description="Added mid-session.", input_schema={"type": "object"})
        )
    return out


def _text(value) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(text=json.dumps(value, sort_keys=True))])


async def on_list_tools(ctx, params) -> types.ListToolsResult:
    return types.ListToolsResult(tools=tools())


async def on_call_tool(ctx, params: types.CallToolRequestParams) -> types.CallToolResult:
    s, name = ctx.session, params.name
    if name == "log_and_progress":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for i in range(2):
                await s.send_log_message(
                    "info", {"step": i}, logger="everything", related_request_id=ctx.request_id
                )
        for i in range(1, 4):  # a no-op unless the call carried a progress token
            await s.report_progress(i, 3, f"step {i}")
        return _text({"done": True})
    if name == "sample":
        msg = types.SamplingMessage(role="user", content=types.TextContent(text="Say hello."))
        res = await s.create_message([msg], max_tokens=16, related_request_id=ctx.request_id)
        return _text({"sampled": res.content.text, "model": res.model})
    if name == "elicit":
        schema = {"type": "object", "properties": {"colour": {"type": "string"}}, "required": ["colour"]}
        res = await s.elicit_form("Your favourite colour?", schema, related_request_id=ctx.request_id)
        return _text({"action": res.action, "content": res.content})
    if name == "roots":
        res = await s.list_roots()
        return _text({"roots": [str(r.uri) for r in res.roots]})
    if name == "touch":
        _state["counter"] += 1
        if COUNTER_URI in _state["subscribed"]:
            await s.send_resource_updated(COUNTER_URI)
        return _text({"counter": _state["counter"]})
    if name == "grow":
        _state["grown"] = True
        await s.send_tool_list_changed()
        return _text({"grown": True})
    if name == "slow":
        await anyio.sleep(float((params.arguments or {}).get("seconds", 30)))
        return _text({"slept": True})
    if name in ("task_tool", "late_tool"):
        return _text({"ran": name})
    return types.CallToolResult(content=[types.TextContent(text=f"unknown tool {name}")], is_error=True)


async def on_list_resources(ctx, params) -> types.ListResourcesResult:
    return types.ListResourcesResult(resources=[types.Resource(uri=COUNTER_URI, name="counter")])


async def on_read_resource(ctx, params) -> types.ReadResourceResult:
    text = types.TextResourceContents(uri=COUNTER_URI, text=str(_state["counter"]))
    return types.ReadResourceResult(contents=[text])


async def on_subscribe(ctx, params) -> types.EmptyResult:
    _state["subscribed"].add(str(params.uri))
    return types.EmptyResult()


async def on_unsubscribe(ctx, params) -> types.EmptyResult:
    _state["subscribed"].discard(str(params.uri))
    return types.EmptyResult()


async def on_set_level(ctx, params) -> types.EmptyResult:
    _state["level"] = params.level
    return types.EmptyResult()


def build() -> Server:
    # logging/setLevel is deprecated at 2026-07-28; handshake-era clients still use it
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Server(
            "everything",
            version="1.0",
            on_list_tools=on_list_tools,
            on_call_tool=on_call_tool,
            on_list_resources=on_list_resources,
            on_read_resource=on_read_resource,
            on_subscribe_resource=on_subscribe,
            on_unsubscribe_resource=on_unsubscribe,
            on_set_logging_level=on_set_level,
        )


async def _stdio() -> None:
    from mcp.server.stdio import stdio_server

    server = build()
    opts = server.create_initialization_options(
        NotificationOptions(tools_changed=True, resources_changed=True)
    )
    async with stdio_server() as (read, write):
        await server.run(read, write, opts)


if __name__ == "__main__":
    anyio.run(_stdio)
