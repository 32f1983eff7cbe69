"""The unified /mcp endpoint against a real hub with real upstreams, through the SDK's clients.

One hub per module: ``everything`` (stdio), ``paginated`` (stdio, lists paged by 10) and
``remote`` (Streamable HTTP). The hub pages aggregated lists by 10 and sends SSE
keep-alives every 0.5 s, so paging and streaming are exercised with small fixtures.
Tests that add tools use names of their own; nothing else changes the hub.
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
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from tests.conftest import stdio_entry
from tests.helpers import (
    HubProcess,
    ServerProcess,
    fixture_server,
    initialize_request,
    wait_until,
)
from tests.hubs import running_hub
from tests.mcp.clients import ACCEPT, handshake, raw_post, raw_session

MODERN = "2026-07-28"
INIT = initialize_request("raw-test", "2025-11-25")


@pytest.fixture(scope="module")
def remote() -> Iterator[ServerProcess]:
    with fixture_server("http_server.py") as server:
        yield server


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory, remote: ServerProcess) -> Iterator[HubProcess]:
    root = tmp_path_factory.mktemp("mcp")
    servers = {
        "everything": stdio_entry("everything_stdio.py"),
        "paginated": stdio_entry("paginated_stdio.py"),
        "remote": {"url": remote.url},
    }
    env = {"TORNADOHUB_MCP_PAGE_SIZE": "10", "TORNADOHUB_MCP_KEEPALIVE": "0.5"}
    with running_hub(root, servers, env=env) as process:
        for name in servers:
            process.wait_status(name, "connected")
        yield process


@pytest.fixture
def url(hub: HubProcess) -> str:
    return f"http://127.0.0.1:{hub.port}/mcp"


async def list_all(fetch: Callable[[str | None], Awaitable[Any]], field: str) -> list[Any]:
    """Follow nextCursor to the end; also checks that pages really are pages."""
    items: list[Any] = []
    cursor: str | None = None
    for _ in range(50):
        with anyio.fail_after(10):
            page = await fetch(cursor)
        chunk = getattr(page, field)
        assert len(chunk) <= 10
        items += chunk
        cursor = page.next_cursor
        if cursor is None:
            return items
    raise AssertionError("pagination did not end")


def paged(session: ClientSession, method: str) -> Callable[[str | None], Awaitable[Any]]:
    call = getattr(session, method)
    return lambda cursor: call(params=types.PaginatedRequestParams(cursor=cursor))


def modern_call(name: str, arguments: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """A hand-built 2026-07-28 tools/call: envelope in _meta plus routing headers."""
    body = {
        "jsonrpc": "2.0",
        "id": 7,
        "method": "tools/call",
        "params": {
            "name": name,
            "arguments": arguments,
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": MODERN,
                "io.modelcontextprotocol/clientCapabilities": {},
            },
        },
    }
    headers = {"MCP-Protocol-Version": MODERN, "Mcp-Method": "tools/call", "Mcp-Name": name}
    return body, headers


# ------------------------------------------------------------- handshake era
async def test_handshake_session_lists_every_kind_namespaced(url: str) -> None:
    async with streamable_http_client(url) as (read, write):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            assert init.server_info.name == "mcp-hub-internal-endpoint"
            caps = init.capabilities
            assert caps.tools and caps.tools.list_changed
            assert caps.prompts and caps.prompts.list_changed
            assert caps.resources and caps.resources.list_changed
            first = await session.list_tools()
            assert len(first.tools) == 10 and first.next_cursor is not None

            tools = {t.name for t in await list_all(paged(session, "list_tools"), "tools")}
            assert {"everything__echo", "everything__add_tool", "remote__echo"} <= tools
            assert {f"paginated__tool_{i:02d}" for i in range(25)} <= tools
            resources = await list_all(paged(session, "list_resources"), "resources")
            assert {r.uri for r in resources} == {
                "everything+fixture://readme",
                "remote+fixture://readme",
                *(f"paginated+page://r/{i:02d}" for i in range(12)),
            }
            templates = await list_all(
                paged(session, "list_resource_templates"), "resource_templates"
            )
            assert {t.uri_template for t in templates} == {
                "everything+fixture://items/{id}",
                *(f"paginated+page://t{i}/{{id}}" for i in range(5)),
            }
            prompts = await list_all(paged(session, "list_prompts"), "prompts")
            assert {p.name for p in prompts} == {
                "everything__simple",
                "everything__weather",
                "remote__simple",
                *(f"paginated__p{i}" for i in range(7)),
            }


async def test_calls_reads_and_prompts_reach_their_servers(url: str) -> None:
    async with handshake(url) as session:
        echo = await session.call_tool("everything__echo", {"message": "via hub"})
        assert echo.content[0].text == "Echo: via hub"  # type: ignore[union-attr]
        remote = await session.call_tool("remote__echo", {"message": "remote"})
        assert remote.content[0].text == "Echo: remote"  # type: ignore[union-attr]
        paged_tool = await session.call_tool("paginated__tool_24", {})
        assert paged_tool.content[0].text == "tool_24 ok"  # type: ignore[union-attr]
        slow = await session.call_tool("everything__slow", {"seconds": 0.7})  # SSE + keep-alive
        assert slow.content[0].text == "slept 0.7"  # type: ignore[union-attr]
        added = await session.call_tool("everything__add", {"a": 19, "b": 23})
        assert added.structured_content == {"result": 42}

        readme = await session.read_resource("everything+fixture://readme")
        assert readme.contents[0].uri == "everything+fixture://readme"  # the URI read
        assert readme.contents[0].text == "fixture readme"  # type: ignore[union-attr]
        item = await session.read_resource("everything+fixture://items/7")
        assert item.contents[0].text == "item 7"  # type: ignore[union-attr]
        page = await session.read_resource("paginated+page://r/03")
        assert page.contents[0].text == "resource 03"  # type: ignore[union-attr]

        prompt = await session.get_prompt("everything__weather", {"city": "Porto", "state": "PT"})
        assert prompt.messages[0].content.text == "What's weather in Porto, PT?"  # type: ignore[union-attr]

        failed = await session.call_tool("everything__fail", {"message": "broken"})
        assert failed.is_error and failed.content[0].text == "broken"  # type: ignore[union-attr]


async def test_upstream_errors_pass_through(url: str) -> None:
    async with handshake(url) as session:
        wrong = await session.call_tool("everything__echo", {"message": 5})
        assert wrong.is_error and "validation error" in wrong.content[0].text  # type: ignore[union-attr]
        with pytest.raises(MCPError) as missing:
            await session.read_resource("paginated+page://r/99")
        assert missing.value.code == -32602
        assert missing.value.message == "Unknown resource: page://r/99"  # the upstream's words
        with pytest.raises(MCPError) as unknown:
            await session.get_prompt("paginated__p9")  # not listed: the hub answers
        assert unknown.value.message == "Unknown prompt: paginated__p9"


async def test_dead_upstream_is_a_tool_error_and_the_others_keep_working(
    start_hub: Callable[..., HubProcess], write_config: Callable[..., str]
) -> None:
    config = write_config(
        {
            "crashy": stdio_entry("everything_stdio.py"),
            "paginated": stdio_entry("paginated_stdio.py"),
        }
    )
    hub = start_hub(config)
    async with handshake(f"http://127.0.0.1:{hub.port}/mcp") as session:
        crashed = await session.call_tool("crashy__crash", {})
        assert crashed.is_error
        assert "Connection closed" in crashed.content[0].text  # type: ignore[union-attr]
        alive = await session.call_tool("paginated__tool_01", {})
        assert alive.content[0].text == "tool_01 ok"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (lambda s: s.call_tool("nope__echo", {}), "Unknown tool: nope__echo"),
        (lambda s: s.call_tool("echo", {}), "Unknown tool: echo"),
        (lambda s: s.get_prompt("nope__simple"), "Unknown prompt: nope__simple"),
        (lambda s: s.read_resource("nope__x://y"), "Unknown resource: nope__x://y"),
        (lambda s: s.read_resource("fixture://readme"), "Unknown resource: fixture://readme"),
    ],
)
async def test_unknown_names_are_invalid_params(
    url: str, call: Callable[[ClientSession], Awaitable[Any]], expected: str
) -> None:
    async with handshake(url) as session:
        with pytest.raises(MCPError) as error:
            await call(session)
    assert error.value.code == -32602
    assert error.value.message == expected


async def test_new_upstream_tool_is_announced_and_listed(url: str) -> None:
    changed = anyio.Event()

    async def on_message(message: Any) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            changed.set()

    async with handshake(url, message_handler=on_message) as session:
        await session.call_tool("everything__add_tool", {"name": "announced_tool"})
        with anyio.fail_after(10):
            await changed.wait()
        tools = await list_all(paged(session, "list_tools"), "tools")
        assert "everything__announced_tool" in {t.name for t in tools}
        result = await session.call_tool("everything__announced_tool", {})
        assert result.content[0].text == "announced_tool ok"  # type: ignore[union-attr]


def test_deleted_session_is_gone(url: str) -> None:
    session_id = raw_session(url)
    listed = raw_post(
        url,
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
        headers={"Mcp-Session-Id": session_id},
    )
    assert listed.status_code == 200 and len(listed.json()["result"]["tools"]) == 10
    deleted = httpx.delete(url, headers={"Mcp-Session-Id": session_id}, timeout=10)
    assert deleted.status_code == 200
    again = raw_post(
        url,
        {"jsonrpc": "2.0", "id": 3, "method": "tools/list"},
        headers={"Mcp-Session-Id": session_id},
    )
    assert again.status_code == 404
    assert again.json()["error"]["code"] == -32600
    assert httpx.delete(url, headers={"Mcp-Session-Id": session_id}).status_code == 404


# ------------------------------------------------------------- HTTP rules
@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Host": "evil.example.com"}, 421),
        ({"Host": "evil.example.com:80"}, 421),
        ({"Origin": "http://evil.example.com"}, 403),
        ({"Origin": "http://localhost.evil.example.com:3000"}, 403),
        ({"Origin": "http://localhost:3000"}, 403),  # a local app on another port: not us
        ({"Origin": "http://127.0.0.1"}, 403),
        ({"Host": "localhost:1234"}, 200),
        ({"Host": "[::1]:1234"}, 200),
    ],
)
def test_dns_rebinding_protection(url: str, headers: dict[str, str], status: int) -> None:
    response = raw_post(url, INIT, headers=headers)
    assert response.status_code == status, response.text
    if status != 200:
        assert response.json()["error"]["message"].startswith("Invalid")
    else:
        httpx.delete(url, headers={"Mcp-Session-Id": response.headers["mcp-session-id"]})


def test_legacy_stream_refuses_foreign_origin(url: str) -> None:
    response = httpx.get(url, headers={"Origin": "http://evil.example.com"}, timeout=10)
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("body", "headers", "status", "code"),
    [
        (b'{"jsonrpc": "2.0", "id": 1, "method"', {}, 400, -32700),
        (b'{"jsonrpc": "2.0", "id": 1', {"MCP-Protocol-Version": MODERN}, 400, -32700),
        (b"[]", {}, 400, -32600),
        (b'{"id": 1}', {}, 400, -32600),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}', {}, 400, -32600),  # no session
        (
            b'{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}',
            {"Mcp-Session-Id": "no-such-session"},
            404,
            -32600,
        ),
        (json.dumps(INIT).encode(), {"Accept": "application/json"}, 406, -32600),
        (json.dumps(INIT).encode(), {"Content-Type": "text/plain"}, 415, -32600),
        (
            b'{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}',
            {"MCP-Protocol-Version": "1999-01-01"},
            400,
            -32602,
        ),
    ],
)
def test_malformed_requests_get_json_rpc_errors(
    url: str, body: bytes, headers: dict[str, str], status: int, code: int
) -> None:
    response = raw_post(url, body, headers=headers)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


SURROGATE_CALL = (
    b'{"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "remote__echo", '
    b'"arguments": {"message": "\\ud800"}, "_meta": {'
    b'"io.modelcontextprotocol/protocolVersion": "2026-07-28", '
    b'"io.modelcontextprotocol/clientCapabilities": {}}}}'
)


@pytest.mark.parametrize("modern", [False, True])
def test_lone_surrogates_are_parse_errors_and_the_upstream_stays(
    url: str, hub: HubProcess, modern: bool
) -> None:
    """A lone surrogate escape is JSON grammar but no text: the hub could not write it to the
    upstream (a 2026-07-28 call took the upstream's channel down with it; a session call got
    an error with code 0; a legacy session died writing its answer). Refused up front."""
    if modern:
        headers = {"MCP-Protocol-Version": MODERN, "Mcp-Method": "tools/call"}
        headers["Mcp-Name"] = "remote__echo"
    else:
        headers = {"Mcp-Session-Id": raw_session(url)}
    refused = raw_post(url, SURROGATE_CALL, headers=headers)
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"]["code"] == -32700
    assert "surrogate" in refused.json()["error"]["message"]
    body, call_headers = modern_call("remote__echo", {"message": "after"})
    fine = raw_post(url, body, headers=call_headers)
    assert fine.status_code == 200 and fine.json()["result"]["content"][0]["text"] == "Echo: after"
    assert "disconnected" not in hub.log_text()


def test_messages_nested_past_what_the_hub_can_write_are_parse_errors(url: str) -> None:
    arguments = b"[" * 300 + b"]" * 300
    body = (
        b'{"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"name": '
        b'"everything__echo", "arguments": {"message": ' + arguments + b"}}}"
    )
    session_id = raw_session(url)
    response = raw_post(url, body, headers={"Mcp-Session-Id": session_id})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == -32700


@pytest.mark.parametrize("meta", [b"", b', "_meta": {"kernel": true}'])
def test_numbers_past_a_floats_range_are_parse_errors_on_both_paths(url: str, meta: bytes) -> None:
    """``1e999``: the fast path (no ``_meta``) read it as infinity and wrote ``Infinity``
    (not JSON) to the upstream; the kernel's path refused it. Both refuse it now."""
    body = (
        b'{"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"name": '
        b'"everything__add", "arguments": {"a": 1e999, "b": 1}' + meta + b"}}"
    )
    session_id = raw_session(url)
    response = raw_post(url, body, headers={"Mcp-Session-Id": session_id})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == -32700


def test_a_failed_initialize_in_a_session_keeps_the_session(url: str) -> None:
    """An ``initialize`` sent in a session is that session's request: refused, it must not
    end the session (it was discarded as if the request had opened it)."""
    session_id = raw_session(url)
    headers = {"Mcp-Session-Id": session_id}
    bad = {"jsonrpc": "2.0", "id": 2, "method": "initialize", "params": {"protocolVersion": 5}}
    refused = raw_post(url, bad, headers=headers)
    assert refused.status_code == 200 and refused.json()["error"]["code"] == -32602
    call = {"jsonrpc": "2.0", "id": 3, "method": "tools/call"}
    call["params"] = {"name": "everything__echo", "arguments": {"message": "still"}}
    answered = raw_post(url, call, headers=headers)
    assert answered.status_code == 200, answered.text
    assert answered.json()["result"]["content"][0]["text"] == "Echo: still"


def test_oversized_body_is_refused(url: str) -> None:
    padding = "x" * (4 * 1024 * 1024 + 1)
    response = raw_post(
        url, {"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {"p": padding}}
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == -32600


def test_methods_outside_the_transport_are_405(url: str) -> None:
    put = httpx.put(url, content=b"{}", timeout=10)
    assert put.status_code == 405 and put.headers["allow"] == "GET, POST, DELETE"
    modern_get = httpx.get(url, headers={"MCP-Protocol-Version": MODERN}, timeout=10)
    assert modern_get.status_code == 405 and modern_get.headers["allow"] == "POST"


def test_get_stream_needs_a_live_session_and_sse(url: str) -> None:
    session_id = raw_session(url)
    try:
        plain = httpx.get(url, headers={"Mcp-Session-Id": session_id, "Accept": "application/json"})
        assert plain.status_code == 406
        unknown = httpx.get(url, headers={"Mcp-Session-Id": "nope", "Accept": "text/event-stream"})
        assert unknown.status_code == 404
    finally:
        httpx.delete(url, headers={"Mcp-Session-Id": session_id})


# ------------------------------------------------------------- legacy SSE
async def test_legacy_sse_client_works_as_with_mcp_hub(url: str) -> None:
    async with sse_client(url) as (read, write):
        async with ClientSession(read, write) as session:
            with anyio.fail_after(10):
                init = await session.initialize()
            assert init.server_info.name == "mcp-hub-internal-endpoint"
            tools = await list_all(paged(session, "list_tools"), "tools")
            assert "paginated__tool_00" in {t.name for t in tools}
            echo = await session.call_tool("remote__echo", {"message": "legacy"})
            assert echo.content[0].text == "Echo: legacy"  # type: ignore[union-attr]
            with pytest.raises(MCPError) as error:
                await session.call_tool("nope__echo", {})
            assert error.value.code == -32602


def test_legacy_messages_errors_match_mcp_hub(hub: HubProcess) -> None:
    base = f"http://127.0.0.1:{hub.port}"
    missing = httpx.post(f"{base}/messages", json={"jsonrpc": "2.0", "method": "x"})
    assert missing.status_code == 400
    assert missing.json() == {
        "jsonrpc": "2.0",
        "error": {"code": -32000, "message": "Missing sessionId parameter"},
        "id": None,
    }
    unknown = httpx.post(f"{base}/messages?sessionId=abc", json={"jsonrpc": "2.0", "method": "x"})
    assert unknown.status_code == 404
    assert unknown.json()["error"] == {"code": -32000, "message": "Session not found: abc"}


async def test_legacy_wire_announces_endpoint_and_accepts_posts(hub: HubProcess) -> None:
    base = f"http://127.0.0.1:{hub.port}"
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        async with client.stream("GET", "/mcp") as stream:
            assert stream.headers["content-type"] == "text/event-stream"
            lines = stream.aiter_lines()
            with anyio.fail_after(10):
                assert await anext(lines) == "event: endpoint"
                endpoint = (await anext(lines)).removeprefix("data: ")
            assert endpoint.startswith("/messages?sessionId=")
            posted = await client.post(endpoint, json=INIT)
            assert posted.status_code == 202 and posted.text == "Accepted"
            with anyio.fail_after(10):
                async for line in lines:
                    if line.startswith("data: "):
                        reply = json.loads(line.removeprefix("data: "))
                        break
            assert reply["id"] == 1 and reply["result"]["serverInfo"]["version"] == "1.0.0"


@pytest.mark.parametrize("path", ["/mcp/", "/MCP", "/Servers/everything/MCP/"])
async def test_express_spellings_of_the_endpoint_work_as_with_mcp_hub(
    hub: HubProcess, path: str
) -> None:
    """mcp-hub's Express routes tolerate case and a trailing slash (``GET /mcp/`` is its SSE
    stream); a client configured with such a URL keeps working on every transport."""
    base = f"http://127.0.0.1:{hub.port}"
    echo = "everything__echo" if path.lower().startswith("/mcp") else "echo"
    async with handshake(base + path) as session:
        answer = await session.call_tool(echo, {"message": path})
        assert answer.content[0].text == f"Echo: {path}"  # type: ignore[union-attr]
    async with sse_client(base + path) as (read, write):
        async with ClientSession(read, write) as session:
            with anyio.fail_after(10):
                await session.initialize()
                answer = await session.call_tool(echo, {"message": "legacy"})
            assert answer.content[0].text == "Echo: legacy"  # type: ignore[union-attr]
    for messages in ("/messages/", "/MESSAGES"):
        unknown = raw_post(f"{base}{messages}?sessionId=abc", {"jsonrpc": "2.0", "method": "x"})
        assert unknown.status_code == 404
        assert unknown.json()["error"]["message"] == "Session not found: abc"


# ------------------------------------------------------------- 2026-07-28
async def test_modern_client_discovers_lists_calls_and_listens(url: str) -> None:
    async with Client(url) as client:
        assert client.session.protocol_version == MODERN
        tools: list[Any] = []
        cursor: str | None = None
        for _ in range(20):
            page = await client.list_tools(cursor=cursor)
            tools += page.tools
            cursor = page.next_cursor
            if cursor is None:
                break
        assert {"everything__echo", "paginated__tool_24", "remote__add"} <= {t.name for t in tools}
        echo = await client.call_tool("remote__echo", {"message": "modern"})
        assert echo.content[0].text == "Echo: modern"  # type: ignore[union-attr]
        readme = await client.read_resource("everything+fixture://readme")
        assert readme.contents[0].text == "fixture readme"  # type: ignore[union-attr]
        with pytest.raises(MCPError) as error:
            await client.call_tool("nope__echo", {})
        assert error.value.code == -32602

        async with client.listen(tools_list_changed=True) as subscription:
            await client.call_tool("everything__add_tool", {"name": "listened_tool"})
            with anyio.fail_after(10):
                event = await anext(aiter(subscription))
        assert type(event).__name__ == "ToolsListChanged"


def test_modern_request_streams_keepalives_then_the_result(url: str) -> None:
    body, headers = modern_call("everything__slow", {"seconds": 1.2})
    response = raw_post(url, body, headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream"
    assert ": ping" in response.text
    data = [line for line in response.text.splitlines() if line.startswith("data: ")]
    result = json.loads(data[-1].removeprefix("data: "))
    assert result["id"] == 7 and result["result"]["content"][0]["text"] == "slept 1.2"


def test_modern_headers_are_validated(url: str) -> None:
    body, headers = modern_call("everything__echo", {"message": "x"})
    mismatch = raw_post(url, body, headers={**headers, "Mcp-Name": "everything__add"})
    assert mismatch.status_code == 400 and mismatch.json()["error"]["code"] == -32020
    lines = [*headers.items(), ("Mcp-Name", "everything__echo")]
    lines += [("Accept", ACCEPT), ("Content-Type", "application/json")]
    repeated = httpx.post(url, content=json.dumps(body).encode(), headers=lines, timeout=10)
    assert repeated.status_code == 400 and repeated.json()["error"]["code"] == -32020
    fine = raw_post(url, body, headers=headers)
    assert fine.status_code == 200 and fine.json()["result"]["content"][0]["text"] == "Echo: x"
    unknown = raw_post(
        url, {**body, "method": "no/such"}, headers={**headers, "Mcp-Method": "no/such"}
    )
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == -32601


async def test_closing_a_modern_stream_cancels_the_call(url: str, hub: HubProcess) -> None:
    body, headers = modern_call("everything__slow", {"seconds": 30})
    headers = {"Accept": ACCEPT, "Content-Type": "application/json", **headers}
    async with httpx.AsyncClient(timeout=10) as client:
        async with client.stream("POST", url, json=body, headers=headers) as stream:
            with anyio.fail_after(10):
                first = await anext(stream.aiter_lines())
            assert first == ": ping"

    def cancelled() -> bool:
        return any(
            "tools/call 7 cancelled" in entry.get("message", "") for entry in hub.log_entries()
        )

    wait_until(cancelled, timeout=10)


# ------------------------------------------------------------- per server
async def test_per_server_endpoint_exposes_one_upstream_unprefixed(hub: HubProcess) -> None:
    url = f"http://127.0.0.1:{hub.port}/servers/paginated/mcp"
    async with handshake(url) as session:
        tools = await list_all(paged(session, "list_tools"), "tools")
        assert [t.name for t in tools] == [f"tool_{i:02d}" for i in range(25)]
        result = await session.call_tool("tool_07", {})
        assert result.content[0].text == "tool_07 ok"  # type: ignore[union-attr]
        page = await session.read_resource("page://r/05")
        assert page.contents[0].text == "resource 05"  # type: ignore[union-attr]
    async with handshake(f"http://127.0.0.1:{hub.port}/servers/everything/mcp") as session:
        item = await session.read_resource("fixture://items/3")  # template URI, unprefixed
        assert item.contents[0].text == "item 3"  # type: ignore[union-attr]
    missing = raw_post(f"http://127.0.0.1:{hub.port}/servers/nope/mcp", INIT)
    assert missing.status_code == 404


async def test_completion_is_routed_and_unknown_refs_rejected(url: str) -> None:
    async with handshake(url) as session:
        ref = types.PromptReference(type="ref/prompt", name="everything__weather")
        with pytest.raises(MCPError) as routed:
            await session.complete(ref, {"name": "city", "value": "Po"})
        assert routed.value.code == -32601  # the upstream has no completions: its own answer
        unknown = types.PromptReference(type="ref/prompt", name="nope__weather")
        with pytest.raises(MCPError) as rejected:
            await session.complete(unknown, {"name": "city", "value": "Po"})
        assert rejected.value.code == -32602


async def test_cancelled_request_ends_its_stream(url: str) -> None:
    session_id = raw_session(url)
    headers = {"Accept": ACCEPT, "Content-Type": "application/json", "Mcp-Session-Id": session_id}
    call = {
        "jsonrpc": "2.0",
        "id": 5,
        "method": "tools/call",
        "params": {"name": "everything__slow", "arguments": {"seconds": 30}},
    }
    cancel = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 5}}
    async with httpx.AsyncClient(timeout=10) as client:
        async with client.stream("POST", url, json=call, headers=headers) as stream:
            lines = stream.aiter_lines()
            with anyio.fail_after(10):
                assert (await anext(lines)).startswith("id: ")  # priming: committed to SSE
                posted = await client.post(url, json=cancel, headers=headers)
                assert posted.status_code == 202
                data = [line async for line in lines if line.startswith("data: ")]
        await client.delete(url, headers={"Mcp-Session-Id": session_id})
    reply = json.loads(data[-1].removeprefix("data: "))
    assert reply == {
        "jsonrpc": "2.0",
        "id": 5,
        "error": {"code": -32800, "message": "Request cancelled"},
    }


async def test_broken_stream_resumes_with_last_event_id(url: str) -> None:
    session_id = raw_session(url)  # initialized at 2025-11-25: resumable
    headers = {"Accept": ACCEPT, "Content-Type": "application/json", "Mcp-Session-Id": session_id}
    call = {
        "jsonrpc": "2.0",
        "id": 9,
        "method": "tools/call",
        "params": {"name": "everything__slow", "arguments": {"seconds": 1.5}},
    }
    async with httpx.AsyncClient(timeout=10) as client:
        async with client.stream("POST", url, json=call, headers=headers) as stream:
            with anyio.fail_after(10):
                priming = await anext(stream.aiter_lines())
        assert priming.startswith("id: ")  # the stream broke right after its priming event
        resume = {**headers, "Accept": "text/event-stream", "Last-Event-ID": priming[4:]}
        async with client.stream("GET", url, headers=resume) as resumed:
            assert resumed.status_code == 200
            with anyio.fail_after(10):
                data = [line async for line in resumed.aiter_lines() if line.startswith("data: ")]
        unknown = await client.get(url, headers={**resume, "Last-Event-ID": "r99-99"})
        assert unknown.status_code == 404
        await client.delete(url, headers={"Mcp-Session-Id": session_id})
    reply = json.loads(data[-1].removeprefix("data: "))
    assert reply["id"] == 9 and reply["result"]["content"][0]["text"] == "slept 1.5"


# ------------------------------------------------------------- abuse
async def test_session_cap_reaping_and_eviction(
    start_hub: Callable[..., HubProcess], write_config: Callable[..., str]
) -> None:
    """At the cap the least recently used idle session makes room; busy ones never do."""
    hub = start_hub(
        write_config({"paginated": stdio_entry("paginated_stdio.py")}),
        TORNADOHUB_MCP_MAX_SESSIONS="5",
        TORNADOHUB_MCP_IDLE_TIMEOUT="1",
    )
    url = f"http://127.0.0.1:{hub.port}/mcp"
    abandoned = [raw_post(url, INIT).headers["mcp-session-id"] for _ in range(40)]
    assert len(set(abandoned)) == 40
    first_gone = raw_post(
        url, {"jsonrpc": "2.0", "id": 2, "method": "ping"}, headers={"Mcp-Session-Id": abandoned[0]}
    )
    assert first_gone.status_code == 404

    def reaped() -> bool:
        # A stray JSON-RPC response is accepted (202) without counting as activity.
        probe = {"jsonrpc": "2.0", "id": 999, "result": {}}
        return raw_post(url, probe, headers={"Mcp-Session-Id": abandoned[-1]}).status_code == 404

    wait_until(reaped, timeout=10)

    async with httpx.AsyncClient(timeout=10) as client, contextlib.AsyncExitStack() as streams:
        readers = []  # keep each line iterator alive: dropping one closes its stream
        for _ in range(5):  # five legacy streams keep five sessions busy
            stream = await streams.enter_async_context(client.stream("GET", url))
            readers.append(stream.aiter_lines())
            with anyio.fail_after(10):
                assert await anext(readers[-1]) == "event: endpoint"
        full = raw_post(url, INIT)
        assert (
            full.status_code == 503 and full.json()["error"]["message"] == "Too many open sessions"
        )
    assert hub.health() is not None


def test_sessions_belong_to_the_api_key_that_opened_them(
    start_hub: Callable[..., HubProcess], write_config: Callable[..., str]
) -> None:
    tokens = {"alice": "alice-token-0123456789abcdef", "bob": "bob-token-0123456789abcdef"}
    hub = start_hub(
        write_config({"paginated": stdio_entry("paginated_stdio.py")}),
        wait=False,
        MCP_HUB_AUTH_TOKENS=",".join(f"{name}:{token}" for name, token in tokens.items()),
    )
    hub.client.headers["Authorization"] = f"Bearer {tokens['alice']}"
    hub.wait_ready()
    url = f"http://127.0.0.1:{hub.port}/mcp"
    alice = {"Authorization": f"Bearer {tokens['alice']}"}
    bob = {"Authorization": f"Bearer {tokens['bob']}"}
    assert raw_post(url, INIT).status_code == 401
    opened = raw_post(url, INIT, headers=alice)
    assert opened.status_code == 200
    ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
    session = {"Mcp-Session-Id": opened.headers["mcp-session-id"]}
    assert raw_post(url, ping, headers={**bob, **session}).status_code == 404
    assert raw_post(url, ping, headers={**alice, **session}).status_code == 200
