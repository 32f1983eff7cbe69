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

import anyio
import mcp.types as types
import uvicorn
from mcp.server import MCPServer

HOST = "127.0.0.1"
USAGE = "usage: python tests/servers/http_server.py PORT [PATH]"


def build_server() -> MCPServer:
    server: MCPServer = MCPServer("fixture-http", version="1.0.0", log_level="WARNING")

    @server.tool(description="Echo a message back.", structured_output=False)
    def echo(message: str) -> str:
        return f"Echo: {message}"

    @server.tool(description="Add two integers (text and structured output).")
    def add(a: int, b: int) -> int:
        return a + b

    @server.tool(description="Return a tool error carrying the message.", structured_output=False)
    def fail(message: str) -> types.CallToolResult:
        # Returned rather than raised: a raised ToolError gets an "Error executing tool" prefix.
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=message)], is_error=True
        )

    @server.tool(description="Sleep for some seconds, then answer.", structured_output=False)
    async def slow(seconds: float) -> str:
        await anyio.sleep(seconds)
        return f"slept {seconds:g}"

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

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, port))
    sock.listen(128)
    bound_port = sock.getsockname()[1]
    print(f"READY http://{HOST}:{bound_port}{path}", flush=True)

    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    await uvicorn.Server(config).serve(sockets=[sock])


def main() -> None:
    port, path = parse_args(sys.argv[1:])
    anyio.run(serve, port, path)


if __name__ == "__main__":
    main()
