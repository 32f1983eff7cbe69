"""MCP clients the /mcp tests share."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any, cast

import anyio
import httpx
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from tornado import httpserver, netutil, web

from tests.helpers import initialize_request
from tornadohub.appstate import APP_STATE, AppState
from tornadohub.handlers.mcp import default_handlers
from tornadohub.mcp.service import McpService
from tornadohub.mcp.transport import McpTransport
from tornadohub.policy import policy_from

ACCEPT = "application/json, text/event-stream"


@contextlib.asynccontextmanager
async def handshake(url: str, **kwargs: Any) -> AsyncIterator[ClientSession]:
    """A handshake-era SDK session over Streamable HTTP, initialized (within 10 s)."""
    async with streamable_http_client(url) as (read, write):
        async with ClientSession(read, write, **kwargs) as session:
            with anyio.fail_after(10):
                await session.initialize()
            yield session


@contextlib.asynccontextmanager
async def mcp_app(hub: Any) -> AsyncIterator[tuple[web.Application, str]]:
    """The MCP routes in process over *hub* (a stand-in), on a free loopback port.

    Yields the application and its base URL; for tests of the transport itself.
    """
    service = McpService(hub, hub.options.mcp)
    state = AppState(
        hub=hub,
        mcp=service,
        transport=McpTransport(service),
        marketplace=cast(Any, None),  # not served here
        keys=None,
        policy=policy_from(hub.options.host),
        recent_logs=cast(Any, None),
    )
    application = web.Application(default_handlers, app_state=state)
    sockets = netutil.bind_sockets(0, "127.0.0.1")
    server = httpserver.HTTPServer(application)
    server.add_sockets(sockets)
    try:
        yield application, f"http://127.0.0.1:{sockets[0].getsockname()[1]}"
    finally:
        server.stop()
        await server.close_all_connections()


def app_state(application: web.Application) -> AppState:
    """The application state of an :func:`mcp_app`."""
    return cast(AppState, application.settings[APP_STATE])


MODERN_VERSION = "2026-07-28"


def modern_body(method: str, params: dict[str, Any], caps: dict[str, Any]) -> dict[str, Any]:
    meta = {
        "io.modelcontextprotocol/protocolVersion": MODERN_VERSION,
        "io.modelcontextprotocol/clientCapabilities": caps,
    }
    return {"jsonrpc": "2.0", "id": 1, "method": method, "params": {**params, "_meta": meta}}


def modern_post(url: str, tool: str, caps: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """One raw 2026-07-28 tools/call; the JSON-RPC response (SSE or JSON)."""
    body = modern_body("tools/call", {"name": tool, "arguments": {}, **extra}, caps)
    headers = {
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": MODERN_VERSION,
        "Mcp-Method": "tools/call",
        "Mcp-Name": tool,
    }
    response = httpx.post(url, json=body, headers=headers, timeout=20)
    assert response.status_code in (200, 400), response.text
    if response.headers["content-type"].startswith("application/json"):
        reply: dict[str, Any] = response.json()
        return reply
    data = [line for line in response.text.splitlines() if line.startswith("data: ")]
    last: dict[str, Any] = json.loads(data[-1].removeprefix("data: "))
    return last


def raw_post(url: str, body: Any, *, headers: dict[str, str] | None = None) -> httpx.Response:
    """One JSON-RPC POST as bytes (*body* as given, or JSON-encoded), with MCP's Accept."""
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    all_headers = {"Accept": ACCEPT, "Content-Type": "application/json", **(headers or {})}
    return httpx.post(url, content=content, headers=all_headers, timeout=10)


def raw_session(url: str) -> str:
    """A 2025-11-25 session opened by hand (initialize, then initialized): its id."""
    response = raw_post(url, initialize_request("raw-test", "2025-11-25"))
    assert response.status_code == 200, response.text
    session_id = response.headers["mcp-session-id"]
    notified = raw_post(
        url,
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        headers={"Mcp-Session-Id": session_id},
    )
    assert notified.status_code == 202
    return session_id
