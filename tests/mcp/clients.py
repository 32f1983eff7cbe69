"""MCP clients the /mcp tests share."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import anyio
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client


@contextlib.asynccontextmanager
async def handshake(url: str, **kwargs: Any) -> AsyncIterator[ClientSession]:
    """A handshake-era SDK session over Streamable HTTP, initialized (within 10 s)."""
    async with streamable_http_client(url) as (read, write):
        async with ClientSession(read, write, **kwargs) as session:
            with anyio.fail_after(10):
                await session.initialize()
            yield session
