"""Fixture MCP server over stdio for the dashboard tests: rich input schemas and hostile text.

Usage: ``python tests/servers/dashboard_stdio.py``. Built on the low-level ``Server`` so the
tools keep exactly the input schemas below. Imports only ``mcp``, ``anyio`` and the standard
library.

Server ``fixture-dashboard`` 1.0.0:

* ``probe``: an input schema with a string (``minLength`` 2), an integer (1..10), a number, a
  boolean, an enum, an array of strings, a required nested object and an optional one, an
  array of objects, and a ``$ref`` into ``$defs``; answers ``received <arguments as JSON>``
  (keys sorted).
* ``hostile``: its title, description and an argument description are HTML/script markup
  (:data:`HOSTILE`); it answers that markup as text, a 1x1 PNG image and an embedded
  resource whose text is markup too.
* resource ``dashboard://note`` named with markup; prompt ``greet(name)`` whose description
  is markup.

Writes :data:`STDERR_LINE` (markup included) to stderr at start.
"""

import json
from typing import Any

import anyio
import mcp.types as types
from mcp.server import Server, ServerRequestContext
from mcp.server.stdio import stdio_server
from mcp.shared.exceptions import MCPError

#: Text that runs script if a page ever treats it as HTML.
HOSTILE = '<img src=x onerror="window.__xss=(window.__xss||0)+1">'
STDERR_LINE = f"dashboard fixture ready {HOSTILE}"
PNG_1X1 = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9aw"
    "AAAABJRU5ErkJggg=="
)

PROBE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "$defs": {
        "Point": {
            "type": "object",
            "properties": {"x": {"type": "number"}, "y": {"type": "number"}},
            "required": ["x", "y"],
        }
    },
    "properties": {
        "title": {"type": "string", "minLength": 2, "description": "At least two characters"},
        "count": {"type": "integer", "minimum": 1, "maximum": 10},
        "ratio": {"type": "number"},
        "enabled": {"type": "boolean"},
        "mode": {"type": "string", "enum": ["fast", "safe"]},
        "tags": {"type": "array", "items": {"type": "string"}},
        "owner": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
            "required": ["name"],
        },
        "extra": {
            "anyOf": [
                {
                    "type": "object",
                    "properties": {"note": {"type": "string"}, "level": {"type": "integer"}},
                    "required": ["note"],
                },
                {"type": "null"},
            ],
            "default": None,
        },
        "points": {"type": "array", "items": {"$ref": "#/$defs/Point"}},
    },
    "required": ["title", "count", "enabled", "mode", "owner"],
}

TOOLS = [
    types.Tool(
        name="probe",
        description="Echo the arguments back as JSON.",
        input_schema=PROBE_SCHEMA,
    ),
    types.Tool(
        name="hostile",
        title=f"Hostile {HOSTILE}",
        description=f"A description with markup: {HOSTILE}",
        input_schema={
            "type": "object",
            "properties": {"text": {"type": "string", "description": f"Markup: {HOSTILE}"}},
        },
    ),
]


async def list_tools(
    ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
) -> types.ListToolsResult:
    return types.ListToolsResult(tools=TOOLS)


async def call_tool(
    ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
) -> types.CallToolResult:
    arguments = params.arguments or {}
    if params.name == "probe":
        text = "received " + json.dumps(arguments, sort_keys=True, separators=(",", ":"))
        return types.CallToolResult(content=[types.TextContent(type="text", text=text)])
    if params.name == "hostile":
        return types.CallToolResult(
            content=[
                types.TextContent(type="text", text=f"answer {HOSTILE}"),
                types.ImageContent(type="image", data=PNG_1X1, mime_type="image/png"),
                types.EmbeddedResource(
                    type="resource",
                    resource=types.TextResourceContents(
                        uri="dashboard://embedded", mime_type="text/html", text=HOSTILE
                    ),
                ),
            ]
        )
    raise MCPError(types.INVALID_PARAMS, f"Unknown tool: {params.name}")


async def list_resources(
    ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
) -> types.ListResourcesResult:
    note = types.Resource(
        uri="dashboard://note", name=f"note {HOSTILE}", mime_type="text/plain", description=HOSTILE
    )
    return types.ListResourcesResult(resources=[note])


async def read_resource(
    ctx: ServerRequestContext[Any], params: types.ReadResourceRequestParams
) -> types.ReadResourceResult:
    text = types.TextResourceContents(
        uri=params.uri, mime_type="text/plain", text=f"note {HOSTILE}"
    )
    return types.ReadResourceResult(contents=[text])


async def list_prompts(
    ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
) -> types.ListPromptsResult:
    argument = types.PromptArgument(name="name", description=HOSTILE, required=True)
    prompt = types.Prompt(name="greet", description=f"Greets {HOSTILE}", arguments=[argument])
    return types.ListPromptsResult(prompts=[prompt])


async def get_prompt(
    ctx: ServerRequestContext[Any], params: types.GetPromptRequestParams
) -> types.GetPromptResult:
    name = (params.arguments or {}).get("name", "")
    message = types.PromptMessage(
        role="user", content=types.TextContent(type="text", text=f"Hello {name}")
    )
    return types.GetPromptResult(messages=[message])


async def serve() -> None:
    import sys

    print(STDERR_LINE, file=sys.stderr, flush=True)
    server = Server(
        "fixture-dashboard",
        version="1.0.0",
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_resources=list_resources,
        on_read_resource=read_resource,
        on_list_prompts=list_prompts,
        on_get_prompt=get_prompt,
    )
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())


if __name__ == "__main__":
    anyio.run(serve)
