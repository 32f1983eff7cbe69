"""Fixture MCP server over Streamable HTTP for the ``x-mcp-header`` rules of 2026-07-28.

Usage: ``python tests/servers/header_tools.py PORT``: both protocol eras on
``http://127.0.0.1:PORT/mcp`` (``PORT`` may be ``0``); prints ``READY <url>`` once listening.
Imports only ``mcp``, ``anyio``, the SDK's own dependencies (uvicorn) and the standard library.
Tools (each answers one text content):

* ``regional(region)``: ``region`` carries ``"x-mcp-header": "Region"``, so a 2026-07-28
  ``tools/call`` must mirror it into an ``Mcp-Param-Region`` header (the SDK's server checks,
  and refuses a call without it: -32020); answers ``Region: <region>``;
* ``misannotated(payload)``: the annotation sits on an object property, which the spec does
  not allow, so a 2026-07-28 client must drop the tool from the list; answers ``called``
  (a handshake-era client may call it: the annotation means nothing there).
"""

import socket
import sys
from typing import Any

import anyio
import mcp.types as types
import uvicorn
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server

HOST = "127.0.0.1"
USAGE = "usage: python tests/servers/header_tools.py PORT"

TOOLS = [
    types.Tool.model_validate(
        {
            "name": "regional",
            "description": "Echoes a region mirrored into the Mcp-Param-Region header.",
            "inputSchema": {
                "type": "object",
                "properties": {"region": {"type": "string", "x-mcp-header": "Region"}},
                "required": ["region"],
            },
        }
    ),
    types.Tool.model_validate(
        {
            "name": "misannotated",
            "description": "An x-mcp-header annotation where none may be.",
            "inputSchema": {
                "type": "object",
                "properties": {"payload": {"type": "object", "x-mcp-header": "Payload"}},
            },
        }
    ),
]


async def list_tools(
    ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
) -> types.ListToolsResult:
    return types.ListToolsResult(tools=TOOLS)


async def call_tool(
    ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
) -> types.CallToolResult:
    if params.name == "regional":
        said = f"Region: {(params.arguments or {}).get('region')}"
    else:
        said = "called"
    return types.CallToolResult(content=[types.TextContent(type="text", text=said)])


async def serve(port: int) -> None:
    server: Server[Any] = Server(
        "fixture-header-tools", version="1.0.0", on_list_tools=list_tools, on_call_tool=call_tool
    )
    app = server.streamable_http_app(streamable_http_path="/mcp", host=HOST)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, port))
    sock.listen(128)
    print(f"READY http://{HOST}:{sock.getsockname()[1]}/mcp", flush=True)
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    await uvicorn.Server(config).serve(sockets=[sock])


if __name__ == "__main__":
    if len(sys.argv) != 2 or not sys.argv[1].isdigit():
        raise SystemExit(USAGE)
    anyio.run(serve, int(sys.argv[1]))
