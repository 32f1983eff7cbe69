"""The tools that ``everything_stdio.py`` and ``http_server.py`` share, so both behave alike.

``echo(message)``, ``add(a, b)`` (text and ``structuredContent``), ``fail(message)`` (a tool
error carrying the message) and ``slow(seconds)``.
"""

from __future__ import annotations

import anyio
import mcp.types as types
from mcp.server import MCPServer


def add_common_tools(server: MCPServer) -> None:
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
