"""Fixture MCP server over HTTP: Streamable HTTP plus the legacy HTTP+SSE transport.

Usage: ``python tests/servers/http_server.py PORT [PATH]``

* binds 127.0.0.1 only; ``PORT`` may be ``0`` to let the OS pick a free port;
* Streamable HTTP on ``PATH`` (default ``/mcp``);
* legacy SSE: ``GET /sse`` opens the event stream, messages are POSTed to ``/messages/``;
* once the socket listens, prints ``READY http://127.0.0.1:<port><PATH>`` on stdout (flushed).

Server ``fixture-http`` 1.0.0 with the same behaviour as ``everything_stdio.py`` for: tools
``echo(message)``, ``add(a, b)`` (text + ``structuredContent``), ``slow(seconds)``,
``fail(message)``; resource ``fixture://readme``; prompt ``simple``. Imports only ``mcp``,
``anyio``, the SDK's own dependencies (uvicorn) and the standard library.
"""

import socket
import sys
from pathlib import Path
from typing import Any

import anyio
import uvicorn
from mcp.server import MCPServer

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a script, too

from tests.servers.fixture_tools import add_common_tools

HOST = "127.0.0.1"
USAGE = "usage: python tests/servers/http_server.py PORT [PATH]"


def build_server() -> MCPServer:
    server: MCPServer = MCPServer("fixture-http", version="1.0.0", log_level="WARNING")

    add_common_tools(server)

    @server.resource("fixture://readme", name="readme", mime_type="text/plain")
    def readme() -> str:
        return "fixture readme"

    @server.prompt(description="A prompt without arguments.")
    def simple() -> str:
        return "This is a simple prompt."

    return server


def parse_args(argv: list[str]) -> tuple[int, str]:
    if not 1 <= len(argv) <= 2:
        raise SystemExit(USAGE)
    try:
        port = int(argv[0])
    except ValueError:
        raise SystemExit(USAGE) from None
    path = argv[1] if len(argv) == 2 else "/mcp"
    if not path.startswith("/"):
        path = "/" + path
    return port, path


async def serve(port: int, path: str) -> None:
    server = build_server()
    app = server.streamable_http_app(streamable_http_path=path, host=HOST)
    # Same server, legacy transport: GET /sse + POST /messages/ next to the Streamable HTTP route.
    app.router.routes.extend(server.sse_app(host=HOST).routes)

    await serve_asgi(app, port, path)


async def serve_asgi(app: Any, port: int, path: str = "/mcp") -> None:
    """Serve *app* on 127.0.0.1:*port* (0: any free port); print ``READY <url>`` once the
    socket listens, so the test that started this process knows where and when."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, port))
    sock.listen(128)
    print(f"READY http://{HOST}:{sock.getsockname()[1]}{path}", flush=True)
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    await uvicorn.Server(config).serve(sockets=[sock])


def main() -> None:
    port, path = parse_args(sys.argv[1:])
    anyio.run(serve, port, path)


if __name__ == "__main__":
    main()
