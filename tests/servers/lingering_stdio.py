"""Fixture stdio MCP server that outlives its stdin: only a signal ends it soon.

Usage: ``python tests/servers/lingering_stdio.py [--ignore-sigterm]``. Serves
``fixture-lingering`` 1.0.0 with the tool ``echo(message)`` -> ``Echo: <message>``, then
lingers for 60 s after its stdin closes (a server busy with work of its own would too).
SIGTERM ends it at once, as it ends any process that does not handle it; with
``--ignore-sigterm`` only SIGKILL does, so a hub stopping it takes its whole grace (a server
with slow cleanup of its own would too). Imports only ``mcp`` and the standard library.
"""

import signal
import sys
import time

from mcp.server import MCPServer


def main() -> None:
    if "--ignore-sigterm" in sys.argv[1:]:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    server: MCPServer = MCPServer("fixture-lingering", version="1.0.0")

    @server.tool(description="Echo a message back.", structured_output=False)
    def echo(message: str) -> str:
        return f"Echo: {message}"

    server.run()
    time.sleep(60)


if __name__ == "__main__":
    main()
