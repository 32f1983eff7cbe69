"""Fixture MCP server over stdio whose names contain the hub's ``__`` delimiter.

Usage: ``python tests/servers/dunder_stdio.py``. Server ``fixture-dunder`` 1.0.0:

* tools: ``two__parts(message)`` -> ``parts: <message>``;
* resources: ``fixture://a__b`` -> ``a__b body``; template ``item://{id}`` -> ``item <id>``
  (read by the hub's clients as ``<id>__item://7``);
* prompts: ``my__prompt`` -> one user message ``dunder prompt``.
"""

import anyio
from mcp.server import MCPServer


def build_server() -> MCPServer:
    server: MCPServer = MCPServer("fixture-dunder", version="1.0.0")

    @server.tool(name="two__parts", description="A tool whose name holds __.")
    def two_parts(message: str) -> str:
        return f"parts: {message}"

    @server.resource("fixture://a__b", name="a__b", mime_type="text/plain")
    def a_b() -> str:
        return "a__b body"

    @server.resource("item://{id}", name="item", mime_type="text/plain")
    def item(id: str) -> str:
        return f"item {id}"

    @server.prompt(name="my__prompt", description="A prompt whose name holds __.")
    def my_prompt() -> str:
        return "dunder prompt"

    return server


if __name__ == "__main__":
    anyio.run(build_server().run_stdio_async)
