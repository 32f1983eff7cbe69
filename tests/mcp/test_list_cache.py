"""Cached list pages are the SDK kernel's bytes, in every protocol era and on every transport.

An in-process Tornado app with the MCP routes over a fake hub whose one upstream publishes
definitions with fields that differ between protocol versions (the kernel sieves them per
version). Every list request is sent with the page cache on, twice (the first fills it,
the second is answered from it), and with it off (``ListPages.response`` declining, so the
kernel answers everything, as before the cache existed); the HTTP status and body bytes
must be identical, for every page, for invalid cursors and for a cursor of another list.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
import httpx
import pytest
from mcp.server.runner import serve_one
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from tornado import web

from tests.fakes import FakeHub, FakeUpstream
from tests.mcp.clients import app_state, mcp_app
from tornadohub.mcp import list_cache
from tornadohub.mcp.list_cache import ListPages

MODERN = "2026-07-28"
MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientCapabilities": {},
}
HANDSHAKE_VERSIONS = HANDSHAKE_PROTOCOL_VERSIONS
PAGE = 10
ACCEPT = {"Accept": "application/json, text/event-stream"}
METHODS = ("tools/list", "resources/list", "resources/templates/list", "prompts/list")
Reply = tuple[int, bytes]
Send = Callable[[dict[str, Any]], Awaitable[Reply]]


def tool(i: int) -> dict[str, Any]:
    """A tool with fields newer protocol versions added, and one no version knows."""
    schema = {"type": "object", "properties": {"q": {"type": "string", "description": "ü ∑"}}}
    definition: dict[str, Any] = {"name": f"tool_{i:02d}", "inputSchema": schema}
    if i % 2:
        definition.update(title=f"Tool {i}", description="Does — things", x_vendor={"n": i})
    if i % 3 == 0:
        definition["outputSchema"] = {"type": "object", "properties": {"n": {"type": "number"}}}
        definition["annotations"] = {"readOnlyHint": True, "title": "ro"}
    if i % 5 == 0:
        definition["icons"] = [{"src": "https://example.com/i.png", "mimeType": "image/png"}]
        definition["_meta"] = {"example.com/k": [1, 2.5, None]}
    return definition


def capabilities(tools: int) -> dict[str, list[dict[str, Any]]]:
    return {
        "tools": [tool(i) for i in range(tools)],
        "resources": [
            {"uri": f"file:///r{i}", "name": f"r{i}", "title": "R", "size": i} for i in range(12)
        ],
        "resourceTemplates": [{"uriTemplate": "file:///t/{x}", "name": "t", "title": "T"}],
        "prompts": [
            {"name": f"p{i}", "arguments": [{"name": "a", "required": True}]} for i in range(3)
        ],
    }


def fake_upstream(name: str, tools: int) -> FakeUpstream:
    return FakeUpstream(name, capabilities(tools))


@pytest.fixture
async def app() -> AsyncIterator[tuple[web.Application, str]]:
    async with mcp_app(FakeHub({"up.one": fake_upstream("up.one", 25)}, page_size=PAGE)) as served:
        yield served


def request(ident: int | str, method: str, params: dict[str, Any] | None) -> dict[str, Any]:
    body: dict[str, Any] = {"jsonrpc": "2.0", "id": ident, "method": method}
    if params is not None:
        body["params"] = params
    return body


async def walk(send: Send, meta: dict[str, Any] | None = None) -> list[Reply]:
    """Every page of every list (twice), odd params, and cursors that are not valid here."""
    replies: list[Reply] = []
    counter = iter(range(1, 10_000))
    foreign: str | None = None  # the first cursor tools/list hands out

    def params(extra: dict[str, Any]) -> dict[str, Any]:
        return {**extra, "_meta": meta} if meta is not None else extra

    for method in METHODS:
        for _ in range(2):
            cursor: str | None = None
            for _page in range(20):
                reply = await send(request(next(counter), method, params({"cursor": cursor})))
                replies.append(reply)
                result = json.loads(reply[1])["result"]
                cursor = result.get("nextCursor")
                if cursor is None:
                    break
                foreign = foreign or cursor
        odd: list[dict[str, Any] | None] = [{}, {"cursor": "not-a-cursor"}, {"cursor": 5}]
        if meta is None:
            odd.append(None)
        for extra in odd:
            body = params(extra) if extra is not None else None
            replies.append(await send(request(f"s-{next(counter)}", method, body)))
    for method in METHODS[1:]:  # a cursor another list handed out
        replies.append(await send(request(next(counter), method, params({"cursor": foreign}))))
    return replies


async def handshake(client: httpx.AsyncClient, url: str, version: str) -> list[Reply]:
    init = request(0, "initialize", {"protocolVersion": version, "capabilities": {}})
    init["params"]["clientInfo"] = {"name": "pages-test", "version": "0"}
    opened = await client.post(url, json=init, headers=ACCEPT)
    assert opened.status_code == 200, opened.text
    headers = {**ACCEPT, "Mcp-Session-Id": opened.headers["mcp-session-id"]}
    notified = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    assert (await client.post(url, json=notified, headers=headers)).status_code == 202

    async def send(body: dict[str, Any]) -> Reply:
        response = await client.post(url, json=body, headers=headers)
        assert response.headers["content-type"].startswith("application/json")
        return response.status_code, response.content

    return await walk(send)


async def modern(client: httpx.AsyncClient, url: str) -> list[Reply]:
    async def send(body: dict[str, Any]) -> Reply:
        headers = {**ACCEPT, "MCP-Protocol-Version": MODERN, "Mcp-Method": body["method"]}
        response = await client.post(url, json=body, headers=headers)
        return response.status_code, response.content

    return await walk(send, MODERN_META)


async def legacy(client: httpx.AsyncClient, base: str) -> list[Reply]:
    """mcp-hub's HTTP+SSE: replies are the ``data:`` of the stream's message events."""
    async with client.stream("GET", f"{base}/mcp") as stream:
        lines = stream.aiter_lines()

        async def data() -> bytes:
            with anyio.fail_after(10):
                async for line in lines:
                    if line.startswith("data: "):
                        return line[len("data: ") :].encode()
            raise AssertionError("the stream ended")

        endpoint = (await data()).decode()

        async def send(body: dict[str, Any]) -> Reply:
            posted = await client.post(base + endpoint, json=body)
            assert posted.status_code == 202, posted.text
            return 200, await data()

        init = request(0, "initialize", {"protocolVersion": "2024-11-05", "capabilities": {}})
        init["params"]["clientInfo"] = {"name": "pages-test", "version": "0"}
        await send(init)
        await client.post(
            base + endpoint, json={"jsonrpc": "2.0", "method": "notifications/initialized"}
        )
        return await walk(send)


async def everything(base: str) -> dict[str, list[Reply]]:
    """The replies of every era and transport, in a fixed order."""
    url = f"{base}/mcp"
    async with httpx.AsyncClient(timeout=10) as client:
        replies = {f"handshake {v}": await handshake(client, url, v) for v in HANDSHAKE_VERSIONS}
        replies["2026-07-28"] = await modern(client, url)
        replies["legacy SSE"] = await legacy(client, base)
    return replies


async def test_cached_pages_are_the_kernels_bytes(
    app: tuple[web.Application, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, base = app
    computed: list[str] = []

    async def counting(*args: Any, **kwargs: Any) -> dict[str, Any]:
        computed.append(args[2])
        return await serve_one(*args, **kwargs)

    monkeypatch.setattr(list_cache, "serve_one", counting)
    cached = await everything(base)
    # 3 tools pages, 2 resources pages, 1 each for templates and prompts; per version
    assert len(computed) == 7 * (len(HANDSHAKE_VERSIONS) + 1)

    async def declined(self: ListPages, *args: Any) -> None:
        return None

    monkeypatch.setattr(ListPages, "response", declined)
    kernel = await everything(base)
    assert cached.keys() == kernel.keys()
    for name, replies in kernel.items():
        assert len(cached[name]) == len(replies), name
        for got, expected in zip(cached[name], replies, strict=True):
            assert got == expected, name
    # what the kernel adds and removes, so the comparison above is not between no-ops
    assert all(b"x_vendor" not in body for replies in kernel.values() for _, body in replies)
    pages_2026 = [body for status, body in kernel["2026-07-28"] if status == 200]
    for added in (b'"resultType":"complete"', b'"ttlMs":0', b"io.modelcontextprotocol/serverInfo"):
        assert all(added in body for body in pages_2026)
    assert all(b"ttlMs" not in body for _, body in kernel["handshake 2025-11-25"])
    invalid = [body for status, body in kernel["2026-07-28"] if status != 200]
    assert len(invalid) == 2 * len(METHODS)  # a bad cursor and a bad params each
    assert all(b'"code":-32602' in body for body in invalid)


async def test_pages_follow_catalog_changes(app: tuple[web.Application, str]) -> None:
    application, base = app
    url = f"{base}/mcp"
    async with httpx.AsyncClient(timeout=10) as client:

        async def names() -> list[str]:
            body = request(1, "tools/list", {"_meta": MODERN_META})
            headers = {**ACCEPT, "MCP-Protocol-Version": MODERN, "Mcp-Method": "tools/list"}
            response = await client.post(url, json=body, headers=headers)
            assert response.status_code == 200, response.text
            return [t["name"] for t in response.json()["result"]["tools"]]

        assert len(await names()) == PAGE
        state = app_state(application)
        assert isinstance(state.hub, FakeHub)
        state.hub.upstreams["up.one"] = fake_upstream("up.one", 3)
        state.mcp.resync()
        assert await names() == ["up_one__tool_00", "up_one__tool_01", "up_one__tool_02"]
