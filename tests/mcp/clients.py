"""MCP clients the /mcp tests share."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import anyio
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from tornado import httpserver, netutil, web

from tornadohub.handlers.mcp import default_handlers


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
    application = web.Application(default_handlers, hub=hub)
    sockets = netutil.bind_sockets(0, "127.0.0.1")
    server = httpserver.HTTPServer(application)
    server.add_sockets(sockets)
    try:
        yield application, f"http://127.0.0.1:{sockets[0].getsockname()[1]}"
    finally:
        server.stop()
        await server.close_all_connections()
