"""What /mcp passes between clients and upstreams besides results, through the SDK's clients.

One hub per upstream transport with the ``passthrough`` fixture server
(``tests/servers/passthrough_stdio.py``, then the same server over Streamable HTTP,
``passthrough_http.py``) and ``everything`` as a second upstream. Progress, logging, resource
subscriptions, cancellation (both eras) and server-to-client requests (sampling, elicitation,
roots) routed to the client whose call caused them.

The passthrough upstream starts disabled and is started once ``/mcp`` has been used: an upstream
advertises sampling, elicitation and roots only when it connects after the MCP endpoint exists.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import anyio
import httpx
import mcp_types as types
import pytest
from mcp import Client, ClientSession, MCPError
from mcp.client.session import ClientRequestContext

from tests.conftest import stdio_entry
from tests.helpers import HubProcess, eventually, fixture_server
from tests.hubs import running_hub
from tests.mcp.clients import handshake

UPSTREAM = "passthrough"
COUNTER = "passthrough+passthrough://counter"


@pytest.fixture(scope="module", params=["stdio", "http"])
def hub(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HubProcess]:
    """The passthrough upstream over STDIO, then over Streamable HTTP (each through the
    hub's plain-JSON channel for calls, the SDK session for the rest)."""
    with contextlib.ExitStack() as stack:
        if request.param == "stdio":
            entry = stdio_entry("passthrough_stdio.py", disabled=True)
        else:
            upstream = stack.enter_context(fixture_server("passthrough_http.py"))
            entry = {"url": upstream.url, "disabled": True}
        servers = {UPSTREAM: entry, "everything": stdio_entry("everything_stdio.py")}
        root = tmp_path_factory.mktemp(f"passthrough-{request.param}")
        yield stack.enter_context(running_hub(root, servers, late=[UPSTREAM]))


@pytest.fixture
def url(hub: HubProcess) -> str:
    return f"http://127.0.0.1:{hub.port}/mcp"


async def call_text(session: ClientSession | Client, tool: str, **arguments: Any) -> str:
    with anyio.fail_after(20):
        result = await session.call_tool(f"{UPSTREAM}__{tool}", arguments)
    assert not result.is_error, result
    content = result.content[0]
    assert isinstance(content, types.TextContent)
    return content.text


async def set_level(session: ClientSession, level: types.LoggingLevel) -> None:
    request = types.SetLevelRequest(params=types.SetLevelRequestParams(level=level))
    await session.send_request(request, types.EmptyResult)


async def resource_request(session: ClientSession, method: str, uri: str) -> None:
    request: Any
    if method == "subscribe":
        request = types.SubscribeRequest(params=types.SubscribeRequestParams(uri=uri))
    else:
        request = types.UnsubscribeRequest(params=types.UnsubscribeRequestParams(uri=uri))
    with anyio.fail_after(10):
        await session.send_request(request, types.EmptyResult)


# ------------------------------------------------------------------ progress
async def test_progress_reaches_the_callers_token_in_both_eras(url: str) -> None:
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    async with handshake(url) as session:
        with anyio.fail_after(20):
            result = await session.call_tool(
                f"{UPSTREAM}__progress", {"steps": 3}, progress_callback=on_progress
            )
    assert result.content[0].text == "done 3"  # type: ignore[union-attr]
    assert seen == [(1, 3, "step 1"), (2, 3, "step 2"), (3, 3, "step 3")]

    seen.clear()
    async with Client(url, mode="2026-07-28") as client:
        with anyio.fail_after(20):
            await client.call_tool(
                f"{UPSTREAM}__progress", {"steps": 2}, progress_callback=on_progress
            )
    assert seen == [(1, 2, "step 1"), (2, 2, "step 2")]


# ------------------------------------------------------------------- logging
async def test_logs_reach_sessions_that_set_a_level(url: str) -> None:
    logs: list[types.LoggingMessageNotificationParams] = []

    async def on_log(params: types.LoggingMessageNotificationParams) -> None:
        logs.append(params)

    async with handshake(url, logging_callback=on_log) as session:
        assert session.server_capabilities and session.server_capabilities.logging is not None
        await call_text(session, "log", level="warning", message="unasked")
        assert logs == []  # no logging/setLevel yet: nothing is relayed
        await set_level(session, "info")
        assert await call_text(session, "log", level="warning", message="hello") == "logged"
    assert [(p.level, p.logger, p.data) for p in logs] == [
        ("warning", f"{UPSTREAM}__fixture", "hello")  # the debug entry is below "info"
    ]


async def test_logs_without_a_call_in_flight_use_the_standalone_stream(url: str) -> None:
    logs: list[types.LoggingMessageNotificationParams] = []
    both = anyio.Event()

    async def on_log(params: types.LoggingMessageNotificationParams) -> None:
        logs.append(params)
        if len(logs) == 2:
            both.set()

    async with handshake(url, logging_callback=on_log) as listener:
        await set_level(listener, "debug")
        async with handshake(url) as caller:
            await call_text(caller, "log", level="error", message="to all")
        with anyio.fail_after(10):
            await both.wait()
    assert [(p.level, p.logger, p.data) for p in logs] == [
        ("error", f"{UPSTREAM}__fixture", "to all"),
        ("debug", UPSTREAM, "detail"),
    ]


async def test_modern_logs_are_opt_in_per_request_and_unprefixed_per_server(
    url: str, hub: HubProcess
) -> None:
    logs: list[types.LoggingMessageNotificationParams] = []

    async def on_log(params: types.LoggingMessageNotificationParams) -> None:
        logs.append(params)

    async with Client(url, mode="2026-07-28", logging_callback=on_log) as quiet:
        await call_text(quiet, "log", level="error", message="unasked")
    assert logs == []
    per_server = f"http://127.0.0.1:{hub.port}/servers/{UPSTREAM}/mcp"
    async with Client(
        per_server, mode="2026-07-28", logging_callback=on_log, log_level="info"
    ) as client:
        with anyio.fail_after(20):
            await client.call_tool("log", {"level": "notice", "message": "modern"})
    assert [(p.level, p.logger, p.data) for p in logs] == [("notice", "fixture", "modern")]


def sse_messages(text: str) -> list[dict[str, Any]]:
    """The JSON-RPC messages of an SSE body (or a JSON body), in the order sent."""
    if text.lstrip().startswith("{"):
        return [json.loads(text)]
    return [
        json.loads(line.removeprefix("data: "))
        for line in text.splitlines()
        if line.startswith("data: ") and line.strip() != "data:"
    ]


async def test_a_calls_log_entries_precede_its_response_on_its_own_stream(url: str) -> None:
    """An upstream's log entries sent just before its result reach the call's own stream, in
    order, before the response: none late, none on the standalone stream (both eras)."""
    accept = {"Accept": "application/json, text/event-stream"}
    async with httpx.AsyncClient(timeout=20) as http:
        opened = await http.post(
            url,
            headers=accept,
            json={
                "jsonrpc": "2.0",
                "id": 0,
                "method": "initialize",
                "params": {
                    "protocolVersion": "2025-11-25",
                    "capabilities": {},
                    "clientInfo": {"name": "order", "version": "1"},
                },
            },
        )
        headers = {
            **accept,
            "Mcp-Session-Id": opened.headers["mcp-session-id"],
            "MCP-Protocol-Version": "2025-11-25",
        }
        initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        await http.post(url, headers=headers, json=initialized)
        level = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "logging/setLevel",
            "params": {"level": "debug"},
        }
        await http.post(url, headers=headers, json=level)
        for rid in range(2, 32):
            arguments = {"level": "info", "message": f"m{rid}"}
            call = {
                "jsonrpc": "2.0",
                "id": rid,
                "method": "tools/call",
                "params": {"name": f"{UPSTREAM}__log", "arguments": arguments},
            }
            reply = await http.post(url, headers=headers, json=call)
            messages = sse_messages(reply.text)
            assert [m.get("method", m.get("id")) for m in messages] == [
                "notifications/message",
                "notifications/message",
                rid,
            ], messages
            assert [m["params"]["data"] for m in messages[:2]] == [f"m{rid}", "detail"]
        modern = {
            **accept,
            "MCP-Protocol-Version": "2026-07-28",
            "Mcp-Method": "tools/call",
            "Mcp-Name": f"{UPSTREAM}__log",
        }
        for rid in range(32, 42):
            meta = {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {},
                "io.modelcontextprotocol/logLevel": "debug",
            }
            arguments = {"level": "info", "message": f"m{rid}"}
            call = {
                "jsonrpc": "2.0",
                "id": rid,
                "method": "tools/call",
                "params": {"name": f"{UPSTREAM}__log", "arguments": arguments, "_meta": meta},
            }
            messages = sse_messages((await http.post(url, headers=modern, json=call)).text)
            assert [m.get("method", m.get("id")) for m in messages] == [
                "notifications/message",
                "notifications/message",
                rid,
            ], messages


# ------------------------------------------------------------- subscriptions
async def test_subscriptions_are_held_upstream_and_updates_relayed(url: str) -> None:
    updates: list[str] = []
    updated = anyio.Event()

    async def on_message(message: Any) -> None:
        if isinstance(message, types.ResourceUpdatedNotification):
            updates.append(message.params.uri)
            updated.set()

    async with handshake(url, message_handler=on_message) as session:
        caps = session.server_capabilities
        assert caps and caps.resources and caps.resources.subscribe is True
        await resource_request(session, "subscribe", COUNTER)
        assert json.loads(await call_text(session, "subscriptions")) == ["passthrough://counter"]
        async with handshake(url) as other:
            await resource_request(other, "subscribe", COUNTER)
            await resource_request(other, "unsubscribe", COUNTER)  # the first one still holds it
            assert await call_text(other, "touch", uri="passthrough://counter") == "touched"
        with anyio.fail_after(10):
            await updated.wait()
        assert updates == [COUNTER]
        await resource_request(session, "unsubscribe", COUNTER)
        assert json.loads(await call_text(session, "subscriptions")) == []

        await resource_request(session, "subscribe", "passthrough+passthrough://other")
    # The session ended: its subscription is dropped upstream too.
    async with handshake(url) as checker:

        async def unsubscribed() -> bool:
            return bool(json.loads(await call_text(checker, "subscriptions")) == [])

        await eventually(unsubscribed)


async def test_subscribing_to_an_unknown_resource_is_invalid_params(url: str) -> None:
    async with handshake(url) as session:
        with pytest.raises(Exception) as error:
            await resource_request(session, "subscribe", "nope__x://y")
    assert getattr(error.value, "code", None) == types.INVALID_PARAMS


# -------------------------------------------------------------- cancellation
async def test_cancelling_downstream_cancels_upstream_in_both_eras(url: str) -> None:
    async with handshake(url) as session:

        async def cancelled() -> list[str]:
            return list(json.loads(await call_text(session, "cancelled")))

        before = await cancelled()
        with pytest.raises(MCPError):  # the SDK times out and sends notifications/cancelled
            await session.call_tool(f"{UPSTREAM}__wait", {"seconds": 30}, read_timeout_seconds=0.5)
        await eventually(lambda: _grew(cancelled, len(before)))

        before = await cancelled()
        async with Client(url, mode="2026-07-28") as modern:
            with anyio.move_on_after(0.5):  # abandoning the call closes its stream
                await modern.call_tool(f"{UPSTREAM}__wait", {"seconds": 30})
        await eventually(lambda: _grew(cancelled, len(before)))


async def _grew(fetch: Callable[[], Awaitable[list[str]]], size: int) -> bool:
    return len(await fetch()) > size


# -------------------------------------------------------- client requests
async def test_sampling_elicitation_and_roots_reach_the_calling_client(url: str) -> None:
    asked: list[Any] = []

    async def sampling(
        context: ClientRequestContext, params: types.CreateMessageRequestParams
    ) -> types.CreateMessageResult:
        asked.append(params)
        prompt = params.messages[0].content
        assert isinstance(prompt, types.TextContent)
        return types.CreateMessageResult(
            role="assistant",
            content=types.TextContent(type="text", text=f"reply to {prompt.text}"),
            model="test-model",
        )

    async def elicitation(
        context: ClientRequestContext, params: types.ElicitRequestParams
    ) -> types.ElicitResult:
        asked.append(params)
        return types.ElicitResult(action="accept", content={"name": "Ada"})

    async def roots(context: ClientRequestContext) -> types.ListRootsResult:
        return types.ListRootsResult(
            roots=[types.Root.model_validate({"uri": "file:///work", "name": "work"})]
        )

    async with handshake(
        url, sampling_callback=sampling, elicitation_callback=elicitation, list_roots_callback=roots
    ) as session:
        assert await call_text(session, "sample", prompt="hi") == "sampled: reply to hi"
        assert await call_text(session, "elicit", message="who?") == 'accept {"name": "Ada"}'
        assert await call_text(session, "roots") == "file:///work"
    assert asked[0].max_tokens == 50 and asked[1].message == "who?"


async def test_server_requests_that_cannot_be_routed_are_refused_clearly(url: str) -> None:
    async def sampling(
        context: ClientRequestContext, params: types.CreateMessageRequestParams
    ) -> types.CreateMessageResult | types.CreateMessageResultWithTools | types.ErrorData:
        raise AssertionError("must not be asked while another client has a call in flight")

    in_flight = anyio.Event()

    async def wait(session: ClientSession) -> None:
        async def started(progress: float, total: float | None, message: str | None) -> None:
            in_flight.set()

        await session.call_tool(f"{UPSTREAM}__wait", {"seconds": 30}, progress_callback=started)

    async with handshake(url) as plain:
        refused = await call_text(plain, "sample", prompt="hi")
        assert refused == "refused: The MCP client does not support sampling"

    async with handshake(url) as waiting, handshake(url, sampling_callback=sampling) as asking:
        async with anyio.create_task_group() as tg:
            tg.start_soon(wait, waiting)
            with anyio.fail_after(10):
                await in_flight.wait()
            refused = await call_text(asking, "sample", prompt="hi")
            tg.cancel_scope.cancel()
    assert refused == (
        "refused: sampling/createMessage cannot be routed: requests of 2 MCP clients"
        f" are in flight to '{UPSTREAM}' at the hub"
    )


async def test_a_clients_roots_change_reaches_the_upstreams(url: str) -> None:
    async def roots(context: ClientRequestContext) -> types.ListRootsResult:
        return types.ListRootsResult(roots=[])

    async with handshake(url, list_roots_callback=roots) as session:
        before = int(await call_text(session, "roots_changes"))
        await session.send_notification(types.RootsListChangedNotification())

        async def arrived() -> bool:
            return int(await call_text(session, "roots_changes")) > before

        await eventually(arrived)
