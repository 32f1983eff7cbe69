"""Fixture: the Streamable HTTP fixture server, counting the TCP connections it is sent on.

Usage: ``python tests/servers/counting_http_server.py PORT [--modern]``

* the tools of ``http_server.py`` (``echo``, ``add``, ``fail``, ``slow``) plus ``wait(seconds)``,
  which sleeps and counts the sleeps that were cancelled;
* ``--modern``: only the 2026-07-28 protocol era, as ``modern_http_server.py``;
* ``GET /stats`` answers ``{"connections": n, "requests": m, "cancelled": k}``: *n* is the
  number of distinct client connections (peer address and port) that carried a request to
  ``/mcp``, *m* the number of those requests, *k* the number of cancelled ``wait`` calls;
* binds 127.0.0.1; prints ``READY <url>`` once listening.
"""

import json
import sys
from pathlib import Path
from typing import Any

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.servers.http_server import HOST, build_server, serve_asgi
from tests.servers.modern_http_server import ModernOnly

USAGE = "usage: python tests/servers/counting_http_server.py PORT [--modern]"


class Counting:
    """ASGI wrapper: records which connection each request came on; serves ``/stats``."""

    def __init__(self, app: Any, cancelled: list[float]) -> None:
        self.app = app
        self.cancelled = cancelled
        self.peers: set[tuple[str, int]] = set()
        self.requests = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/stats":
            stats = {
                "connections": len(self.peers),
                "requests": self.requests,
                "cancelled": len(self.cancelled),
            }
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": json.dumps(stats).encode()})
            return
        if scope["type"] == "http" and scope.get("client"):
            host, port = scope["client"]
            self.peers.add((host, port))
            self.requests += 1
        await self.app(scope, receive, send)


async def serve(port: int, modern: bool) -> None:
    server = build_server()
    cancelled: list[float] = []

    @server.tool(
        description="Sleep for some seconds; a cancelled sleep is counted.", structured_output=False
    )
    async def wait(seconds: float) -> str:
        try:
            await anyio.sleep(seconds)
        except anyio.get_cancelled_exc_class():
            cancelled.append(seconds)
            raise
        return f"waited {seconds:g}"

    app: Any = server.streamable_http_app(streamable_http_path="/mcp", host=HOST)
    if modern:
        app = ModernOnly(app)
    await serve_asgi(Counting(app, cancelled), port)


def main() -> None:
    args = sys.argv[1:]
    if not 1 <= len(args) <= 2 or (len(args) == 2 and args[1] != "--modern"):
        raise SystemExit(USAGE)
    anyio.run(serve, int(args[0]), len(args) == 2)


if __name__ == "__main__":
    main()
