"""Fixture stdio MCP server that floods stdout with non-JSON lines before serving.

Usage: ``python tests/servers/flood_stdio.py MIB``. Writes MIB MiB of short garbage lines
(``garbage <n> ...``, about 40 bytes each) to stdout, then serves ``fixture-flood`` 1.0.0 with
the common fixture tools (``echo``, ``add``, ...). Imports only ``mcp`` and the standard library.
"""

import sys
from pathlib import Path

from mcp.server import MCPServer

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a script, too

from tests.servers.fixture_tools import add_common_tools

MIB = 1024 * 1024


def flood(mib: float) -> int:
    """Write the garbage; the number of lines written."""
    out = sys.stdout.buffer
    written = lines = 0
    block = b"".join(b"garbage %07d not json-rpc at all\n" % n for n in range(1000))
    while written < mib * MIB:
        out.write(block)
        written += len(block)
        lines += 1000
    out.flush()
    return lines


def main() -> None:
    flood(float(sys.argv[1]))
    server: MCPServer = MCPServer("fixture-flood", version="1.0.0")
    add_common_tools(server)
    server.run()


if __name__ == "__main__":
    main()
