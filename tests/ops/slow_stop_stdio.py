"""Fixture stdio MCP server that is slow to stop.

Usage: ``python tests/ops/slow_stop_stdio.py``. Serves ``fixture-slow-stop`` 1.0.0 with the
tool ``echo(message)`` -> ``Echo: <message>``, ignores SIGTERM, and lingers for 30 s after its
stdin closes, so the hub needs its whole grace period (about 4 s, ending in SIGKILL) to stop
it: long enough to watch a hub that is shutting down. Imports only ``mcp`` and the standard
library.
"""

import signal
import time

from mcp.server import MCPServer


def main() -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    server: MCPServer = MCPServer("fixture-slow-stop", version="1.0.0")

    @server.tool(description="Echo a message back.", structured_output=False)
    def echo(message: str) -> str:
        return f"Echo: {message}"

    server.run()
    time.sleep(30)


if __name__ == "__main__":
    main()
