"""Fixture stdio MCP server that leaves a grandchild process behind.

Usage: ``python tests/servers/forking_stdio.py``. At startup it spawns ``sleep 300`` (same
process group and session as the server, stdio on /dev/null so it holds none of the server's
pipes) and, when ``FIXTURE_GRANDCHILD_PIDFILE`` is set, writes the grandchild's pid to that
file. The server never reaps or kills the grandchild itself: whoever stops the server must
stop its process group.

Serves ``fixture-forking`` 1.0.0 with tools ``echo(message)`` -> ``Echo: <message>`` and
``grandchild_pid()`` -> the grandchild's pid as text. Imports only ``mcp`` and the standard
library.
"""

import os
import subprocess

from mcp.server import MCPServer

PIDFILE_ENV = "FIXTURE_GRANDCHILD_PIDFILE"


def spawn_grandchild() -> subprocess.Popen[bytes]:
    grandchild = subprocess.Popen(
        ["sleep", "300"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    pidfile = os.environ.get(PIDFILE_ENV)
    if pidfile:
        # Write then rename, so a reader never sees a half-written file.
        tmp = f"{pidfile}.tmp"
        with open(tmp, "w", encoding="ascii") as f:
            f.write(f"{grandchild.pid}\n")
        os.replace(tmp, pidfile)
    return grandchild


def build_server(grandchild_pid: int) -> MCPServer:
    server: MCPServer = MCPServer("fixture-forking", version="1.0.0")

    @server.tool(description="Echo a message back.", structured_output=False)
    def echo(message: str) -> str:
        return f"Echo: {message}"

    @server.tool(
        name="grandchild_pid",
        description="Return the pid of the grandchild process.",
        structured_output=False,
    )
    def grandchild_pid_tool() -> str:
        return str(grandchild_pid)

    return server


def main() -> None:
    grandchild = spawn_grandchild()
    build_server(grandchild.pid).run()


if __name__ == "__main__":
    main()
