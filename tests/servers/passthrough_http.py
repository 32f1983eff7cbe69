"""Fixture: ``passthrough_stdio.py``'s server over Streamable HTTP, handshake era only.

Usage: ``python tests/servers/passthrough_http.py PORT``

The same tools and resources as the STDIO fixture (progress, log entries, sampling,
elicitation and roots requests of its client, cancellation, subscriptions), on ``/mcp``;
a request of the 2026-07-28 era is refused (``-32022``), as by servers on older SDKs, so the
hub bridges its 2026-07-28 clients over the handshake session here too. Binds 127.0.0.1;
prints ``READY <url>`` once listening.
"""

import json
import sys
from pathlib import Path
from typing import Any

import anyio
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.servers.http_server import serve_asgi
from tests.servers.passthrough_stdio import build_server

HOST = "127.0.0.1"


class HandshakeOnly:
    """ASGI gate: a request of a 2026-07-28 protocol version is refused."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            version = dict(scope["headers"]).get(b"mcp-protocol-version", b"").decode()
            if version in MODERN_PROTOCOL_VERSIONS:
                error = {"code": -32022, "message": "Unsupported protocol version"}
                body = json.dumps({"jsonrpc": "2.0", "id": None, "error": error}).encode()
                start = {
                    "type": "http.response.start",
                    "status": 400,
                    "headers": [(b"content-type", b"application/json")],
                }
                await send(start)
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


async def serve(port: int) -> None:
    app = build_server().streamable_http_app(streamable_http_path="/mcp", host=HOST)
    await serve_asgi(HandshakeOnly(app), port)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python tests/servers/passthrough_http.py PORT")
    anyio.run(serve, int(sys.argv[1]))
