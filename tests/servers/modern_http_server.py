"""Fixture: an MCP server that speaks only the 2026-07-28 (stateless) protocol era.

Usage: ``python tests/servers/modern_http_server.py PORT``. The same SDK server as
``http_server.py`` behind a gate that answers every request not carrying a modern
``MCP-Protocol-Version`` (an ``initialize`` handshake, for one) with HTTP 400 and the
spec's ``UnsupportedProtocolVersion`` error (-32022) listing the supported versions.
Prints ``READY <url>`` once listening on 127.0.0.1.
"""

import json
import sys
from pathlib import Path
from typing import Any

import anyio
from mcp.types.version import MODERN_PROTOCOL_VERSIONS

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.servers.http_server import HOST, build_server, serve_asgi


class ModernOnly:
    """ASGI gate: only requests of a modern protocol version reach the server."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            version = headers.get(b"mcp-protocol-version", b"").decode()
            if version not in MODERN_PROTOCOL_VERSIONS:
                error = {
                    "code": -32022,
                    "message": "Unsupported protocol version",
                    "data": {"supported": list(MODERN_PROTOCOL_VERSIONS), "requested": version},
                }
                body = json.dumps({"jsonrpc": "2.0", "id": None, "error": error}).encode()
                await send(
                    {
                        "type": "http.response.start",
                        "status": 400,
                        "headers": [(b"content-type", b"application/json")],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


async def serve(port: int) -> None:
    app = build_server().streamable_http_app(streamable_http_path="/mcp", host=HOST)
    await serve_asgi(ModernOnly(app), port)


if __name__ == "__main__":
    anyio.run(serve, int(sys.argv[1]))
