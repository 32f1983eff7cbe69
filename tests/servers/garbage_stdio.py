"""Fixture stdio MCP server that writes non-JSON garbage to stdout before serving.

Usage: ``python tests/servers/garbage_stdio.py``. Prints three garbage lines to stdout, then
serves ``fixture-garbage`` 1.0.0 with one tool, ``echo(message)`` -> ``Echo: <message>``.
Imports only ``mcp`` and the standard library.
"""

from mcp.server import MCPServer

GARBAGE_LINES = (
    "this is not JSON-RPC",
    "{ still: not json",
    "Starting fixture-garbage ... \x1b[32mOK\x1b[0m",
)


def build_server() -> MCPServer:
    server: MCPServer = MCPServer("fixture-garbage", version="1.0.0")

    @server.tool(description="Echo a message back.", structured_output=False)
    def echo(message: str) -> str:
        return f"Echo: {message}"

    return server


def main() -> None:
    for line in GARBAGE_LINES:
        print(line, flush=True)
    build_server().run()


if __name__ == "__main__":
    main()
