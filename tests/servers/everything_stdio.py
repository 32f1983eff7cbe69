"""Fixture MCP server over stdio with every feature the hub's tests exercise.

Usage: ``python tests/servers/everything_stdio.py``. Imports only ``mcp``, ``anyio``, the
standard library and ``fixture_tools.py`` next to it.

Server ``fixture-everything`` 1.0.0 (advertises ``tools.listChanged``):

* tools: ``echo(message)`` -> ``Echo: <message>``; ``add(a, b)`` -> the sum as text plus
  ``structuredContent`` ``{"result": <sum>}``; ``fail(message)`` -> ``isError`` result whose text
  is ``message``; ``slow(seconds)`` -> sleeps, then ``slept <seconds>`` (``%g`` format);
  ``env(name)`` -> the child's environment value or ``<unset>``; ``pid()`` -> the server's pid;
  ``add_tool(name)`` -> registers a no-argument tool ``name`` (which returns ``<name> ok``) and
  sends ``notifications/tools/list_changed``; ``crash()`` -> ``os._exit(3)`` mid-call.
* resources: ``fixture://readme`` (text/plain, ``fixture readme``); template
  ``fixture://items/{id}`` -> ``item <id>``.
* prompts: ``simple`` (no arguments) and ``weather(city, state)`` -> one user message
  ``What's weather in <city>, <state>?``.

Writes ``fixture-everything stderr hello`` to stderr at startup.
"""

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
from mcp.server import MCPServer, NotificationOptions
from mcp.server.mcpserver import Context
from mcp.server.stdio import stdio_server
from mcp.types.version import MODERN_PROTOCOL_VERSIONS

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a script, too

from tests.servers.fixture_tools import add_common_tools

STDERR_GREETING = "fixture-everything stderr hello"


def _dynamic_tool(name: str) -> Callable[[], str]:
    def tool() -> str:
        return f"{name} ok"

    return tool


def build_server() -> MCPServer:
    server: MCPServer = MCPServer("fixture-everything", version="1.0.0")

    add_common_tools(server)

    @server.tool(
        description="Return an environment variable of the server.", structured_output=False
    )
    def env(name: str) -> str:
        return os.environ.get(name, "<unset>")

    @server.tool(description="Return the server's process id.", structured_output=False)
    def pid() -> str:
        return str(os.getpid())

    @server.tool(
        description="Register a new no-argument tool and announce tools/list_changed.",
        structured_output=False,
    )
    async def add_tool(name: str, ctx: Context[Any, Any]) -> str:
        server.add_tool(_dynamic_tool(name), name=name, structured_output=False)
        if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
            await ctx.notify_tools_changed()
        else:
            await ctx.session.send_tool_list_changed()
        return f"added {name}"

    @server.tool(description="Kill the server process in the middle of the call.")
    def crash() -> str:
        sys.stderr.flush()
        os._exit(3)

    @server.resource("fixture://readme", name="readme", mime_type="text/plain")
    def readme() -> str:
        return "fixture readme"

    @server.resource("fixture://items/{id}", name="item", mime_type="text/plain")
    def item(id: str) -> str:
        return f"item {id}"

    @server.prompt(description="A prompt without arguments.")
    def simple() -> str:
        return "This is a simple prompt."

    @server.prompt(description="Ask about the weather somewhere.")
    def weather(city: str, state: str) -> str:
        return f"What's weather in {city}, {state}?"

    return server


async def serve(server: MCPServer) -> None:
    # MCPServer.run() does not advertise listChanged; drive its low-level server ourselves.
    lowlevel = server._lowlevel_server
    options = lowlevel.create_initialization_options(NotificationOptions(tools_changed=True))
    async with stdio_server() as (read_stream, write_stream):
        await lowlevel.run(read_stream, write_stream, options)


def main() -> None:
    print(STDERR_GREETING, file=sys.stderr, flush=True)
    anyio.run(serve, build_server())


if __name__ == "__main__":
    main()
