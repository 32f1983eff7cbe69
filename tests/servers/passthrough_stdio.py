"""Fixture MCP server over stdio for what the hub passes through besides results.

Usage: ``python tests/servers/passthrough_stdio.py``. Imports only ``mcp``, ``anyio`` and
the standard library. Server ``fixture-passthrough`` 1.0.0, written on the SDK's low-level
``Server`` so every message is explicit; it speaks only the handshake era (as servers on
older SDKs do), so the hub bridges its 2026-07-28 clients. Tools (all answer one text
content):

* ``progress(steps)``: reports ``i/steps`` with message ``step i`` for i = 1..steps, then
  ``done <steps>``.
* ``log(level, message)``: sends ``notifications/message`` with logger ``fixture`` at
  *level*, then a second one at ``debug`` without a logger; answers ``logged``.
* ``sample(prompt)``: asks the client ``sampling/createMessage`` (one user message) and
  answers ``sampled: <text of the reply>``; a refusal answers ``refused: <message>``.
* ``elicit(message)``: asks the client ``elicitation/create`` for ``{name: string}`` and
  answers ``<action> <content as JSON>``.
* ``roots()``: asks the client ``roots/list`` and answers the URIs joined by spaces.
* ``interview()``: asks ``elicitation/create`` for a name, then ``sampling/createMessage``
  for a greeting of that name (two requests, one after the other), reporting progress
  between them; answers ``<name>: <text of the reply>``.
* ``roots_changes()``: how many ``notifications/roots/list_changed`` arrived.
* ``wait(seconds)``: reports progress 0 (``waiting``), sleeps; a cancelled wait is remembered
  (its progress token or request id). ``cancelled()`` answers the remembered list as JSON.
* ``touch(uri)``: sends ``notifications/resources/updated`` for *uri* when it is
  subscribed; answers ``touched`` or ``not subscribed``.
* ``subscriptions()``: the subscribed URIs, sorted, as JSON.

Resources: ``passthrough://counter`` (text, how many times it was touched) and
``passthrough://other``; both can be subscribed (``resources/subscribe``).
"""

from __future__ import annotations

import json
from typing import Any

import anyio
import mcp.types as types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import NotificationOptions, Server
from mcp.server.runner import serve_loop
from mcp.server.stdio import stdio_server
from mcp.shared.exceptions import MCPError
from mcp.shared.message import ServerMessageMetadata

Ctx = ServerRequestContext[Any, Any]

COUNTER = "passthrough://counter"
OTHER = "passthrough://other"

subscribed: set[str] = set()
cancelled: list[str] = []
roots_changes: list[int] = []
touches: dict[str, int] = {}


def _tool(name: str, description: str, **properties: str) -> types.Tool:
    return types.Tool(
        name=name,
        description=description,
        input_schema={
            "type": "object",
            "properties": {key: {"type": kind} for key, kind in properties.items()},
            "required": list(properties),
        },
    )


TOOLS = [
    _tool("progress", "Report progress steps, then answer.", steps="integer"),
    _tool("log", "Send log notifications.", level="string", message="string"),
    _tool("sample", "Ask the client to sample an LLM.", prompt="string"),
    _tool("elicit", "Ask the client for a name.", message="string"),
    _tool("roots", "Ask the client for its roots."),
    _tool("interview", "Ask the client for a name, then for a greeting of it."),
    _tool("roots_changes", "How many notifications/roots/list_changed arrived."),
    _tool("wait", "Sleep; remember a cancellation.", seconds="number"),
    _tool("cancelled", "The waits that were cancelled."),
    _tool("touch", "Announce that a resource changed.", uri="string"),
    _tool("subscriptions", "The subscribed resources."),
]


def text(value: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=value)])


def related(ctx: Ctx) -> ServerMessageMetadata:
    return ServerMessageMetadata(related_request_id=ctx.request_id)


async def list_tools(
    ctx: Ctx, params: types.PaginatedRequestParams | None
) -> types.ListToolsResult:
    return types.ListToolsResult(tools=TOOLS)


async def call_tool(ctx: Ctx, params: types.CallToolRequestParams) -> types.CallToolResult:
    args = params.arguments or {}
    session = ctx.session
    if params.name == "progress":
        steps = int(args["steps"])
        for step in range(1, steps + 1):
            await session.report_progress(step, steps, f"step {step}")
            await anyio.sleep(0.01)
        return text(f"done {steps}")
    if params.name == "log":
        entries = [
            {"level": args["level"], "logger": "fixture", "data": args["message"]},
            {"level": "debug", "data": "detail"},
        ]
        for entry in entries:
            notification = types.LoggingMessageNotification(
                params=types.LoggingMessageNotificationParams.model_validate(entry)
            )
            await session.send_notification(notification, related_request_id=ctx.request_id)
        return text("logged")
    if params.name == "sample":
        sampling = types.CreateMessageRequest(
            params=types.CreateMessageRequestParams(
                messages=[
                    types.SamplingMessage(
                        role="user", content=types.TextContent(type="text", text=args["prompt"])
                    )
                ],
                max_tokens=50,
            )
        )
        try:
            reply = await session.send_request(
                sampling, types.CreateMessageResult, metadata=related(ctx)
            )
        except MCPError as exc:
            return text(f"refused: {exc.message}")
        content = reply.content
        return text(
            f"sampled: {content.text if isinstance(content, types.TextContent) else content}"
        )
    if params.name == "elicit":
        request = types.ElicitRequest(
            params=types.ElicitRequestFormParams(
                message=args["message"],
                requested_schema={"type": "object", "properties": {"name": {"type": "string"}}},
            )
        )
        try:
            answer = await session.send_request(request, types.ElicitResult, metadata=related(ctx))
        except MCPError as exc:
            return text(f"refused: {exc.message}")
        return text(f"{answer.action} {json.dumps(answer.content, sort_keys=True)}")
    if params.name == "roots":
        try:
            roots = await session.send_request(
                types.ListRootsRequest(), types.ListRootsResult, metadata=related(ctx)
            )
        except MCPError as exc:
            return text(f"refused: {exc.message}")
        return text(" ".join(str(root.uri) for root in roots.roots))
    if params.name == "interview":
        ask = types.ElicitRequest(
            params=types.ElicitRequestFormParams(
                message="Your name?",
                requested_schema={"type": "object", "properties": {"name": {"type": "string"}}},
            )
        )
        answer = await session.send_request(ask, types.ElicitResult, metadata=related(ctx))
        name = str((answer.content or {}).get("name"))
        await session.report_progress(1, 2, "asked")
        greeting = types.CreateMessageRequest(
            params=types.CreateMessageRequestParams(
                messages=[
                    types.SamplingMessage(
                        role="user", content=types.TextContent(type="text", text=f"greet {name}")
                    )
                ],
                max_tokens=20,
            )
        )
        reply = await session.send_request(
            greeting, types.CreateMessageResult, metadata=related(ctx)
        )
        said = reply.content.text if isinstance(reply.content, types.TextContent) else "?"
        return text(f"{name}: {said}")
    if params.name == "wait":
        await session.report_progress(0, None, "waiting")
        try:
            await anyio.sleep(float(args["seconds"]))
        except anyio.get_cancelled_exc_class():
            token = (ctx.meta or {}).get("progressToken")
            cancelled.append(str(token if token is not None else ctx.request_id))
            raise
        return text("waited")
    if params.name == "roots_changes":
        return text(str(len(roots_changes)))
    if params.name == "cancelled":
        return text(json.dumps(cancelled))
    if params.name == "touch":
        uri = args["uri"]
        touches[uri] = touches.get(uri, 0) + 1
        if uri not in subscribed:
            return text("not subscribed")
        await session.send_resource_updated(uri)
        return text("touched")
    if params.name == "subscriptions":
        return text(json.dumps(sorted(subscribed)))
    raise MCPError(types.INVALID_PARAMS, f"Unknown tool: {params.name}")


async def list_resources(
    ctx: Ctx, params: types.PaginatedRequestParams | None
) -> types.ListResourcesResult:
    return types.ListResourcesResult(
        resources=[
            types.Resource(uri=COUNTER, name="counter", mime_type="text/plain"),
            types.Resource(uri=OTHER, name="other", mime_type="text/plain"),
        ]
    )


async def read_resource(
    ctx: Ctx, params: types.ReadResourceRequestParams
) -> types.ReadResourceResult:
    uri = str(params.uri)
    if uri not in (COUNTER, OTHER):
        raise MCPError(types.INVALID_PARAMS, f"Unknown resource: {uri}")
    return types.ReadResourceResult(
        contents=[
            types.TextResourceContents(
                uri=uri, mime_type="text/plain", text=str(touches.get(uri, 0))
            )
        ]
    )


async def subscribe(ctx: Ctx, params: types.SubscribeRequestParams) -> types.EmptyResult:
    subscribed.add(str(params.uri))
    return types.EmptyResult()


async def unsubscribe(ctx: Ctx, params: types.UnsubscribeRequestParams) -> types.EmptyResult:
    subscribed.discard(str(params.uri))
    return types.EmptyResult()


async def set_level(ctx: Ctx, params: types.SetLevelRequestParams) -> types.EmptyResult:
    return types.EmptyResult()


async def roots_changed(ctx: Any, params: types.NotificationParams | None) -> None:
    roots_changes.append(1)


def build_server() -> Server[Any]:
    """The fixture server (also served over HTTP by ``passthrough_http.py``)."""
    return Server(
        "fixture-passthrough",
        version="1.0.0",
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_resources=list_resources,
        on_read_resource=read_resource,
        on_subscribe_resource=subscribe,
        on_unsubscribe_resource=unsubscribe,
        on_set_logging_level=set_level,
        on_roots_list_changed=roots_changed,
    )


async def main() -> None:
    server = build_server()
    options = server.create_initialization_options(NotificationOptions())
    # The handshake era only (a 2026-07-28 ``server/discover`` is refused), as servers on
    # older SDKs are: the hub bridges its 2026-07-28 clients over the handshake session.
    async with server.lifespan(server) as state, stdio_server() as (read_stream, write_stream):
        await serve_loop(
            server, read_stream, write_stream, lifespan_state=state, init_options=options
        )


if __name__ == "__main__":
    anyio.run(main)
