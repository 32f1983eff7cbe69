"""Fixture MCP server over stdio whose every list is split into pages of 10.

Usage: ``python tests/servers/paginated_stdio.py``. Built on the low-level ``Server`` so the
list handlers see the client's cursor. Imports only ``mcp``, ``anyio`` and the standard library.

Server ``fixture-paginated`` 1.0.0:

* 25 tools ``tool_00`` .. ``tool_24`` (no arguments); calling one returns ``<tool name> ok``;
* 12 resources ``page://r/00`` .. ``page://r/11`` (names ``r00`` .. ``r11``, text/plain,
  text ``resource <NN>``);
* 5 resource templates ``page://t<i>/{id}`` (names ``t0`` .. ``t4``);
* 7 prompts ``p0`` .. ``p6`` (no arguments; one user message ``prompt p<i>``).

Cursors are decimal string offsets (``"10"``, ``"20"``); ``nextCursor`` is absent on the last
page. An unparsable or out-of-range cursor is a ``-32602`` error.
"""

from collections.abc import Sequence
from typing import Any, TypeVar

import anyio
import mcp.types as types
from mcp.server import Server, ServerRequestContext
from mcp.server.stdio import stdio_server
from mcp.shared.exceptions import MCPError

PAGE_SIZE = 10

ItemT = TypeVar("ItemT")

TOOLS = [
    types.Tool(
        name=f"tool_{i:02d}",
        description=f"Paginated fixture tool number {i}.",
        input_schema={"type": "object", "properties": {}},
    )
    for i in range(25)
]
RESOURCES = [
    types.Resource(uri=f"page://r/{i:02d}", name=f"r{i:02d}", mime_type="text/plain")
    for i in range(12)
]
TEMPLATES = [
    types.ResourceTemplate(uri_template=f"page://t{i}/{{id}}", name=f"t{i}", mime_type="text/plain")
    for i in range(5)
]
PROMPTS = [types.Prompt(name=f"p{i}", description=f"Prompt number {i}.") for i in range(7)]


def paginate(items: Sequence[ItemT], cursor: str | None) -> tuple[list[ItemT], str | None]:
    """Return the page starting at ``cursor`` and the cursor of the next page, if any."""
    start = 0
    if cursor is not None:
        try:
            start = int(cursor)
        except ValueError:
            raise MCPError(types.INVALID_PARAMS, f"Invalid cursor: {cursor!r}") from None
        if not 0 <= start <= len(items):
            raise MCPError(types.INVALID_PARAMS, f"Cursor out of range: {cursor!r}")
    end = start + PAGE_SIZE
    return list(items[start:end]), (str(end) if end < len(items) else None)


def _cursor(params: types.PaginatedRequestParams | None) -> str | None:
    return params.cursor if params is not None else None


async def list_tools(
    ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
) -> types.ListToolsResult:
    page, next_cursor = paginate(TOOLS, _cursor(params))
    return types.ListToolsResult(tools=page, next_cursor=next_cursor)


async def call_tool(
    ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
) -> types.CallToolResult:
    if not any(tool.name == params.name for tool in TOOLS):
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=f"Unknown tool: {params.name}")],
            is_error=True,
        )
    return types.CallToolResult(content=[types.TextContent(type="text", text=f"{params.name} ok")])


async def list_resources(
    ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
) -> types.ListResourcesResult:
    page, next_cursor = paginate(RESOURCES, _cursor(params))
    return types.ListResourcesResult(resources=page, next_cursor=next_cursor)


async def list_resource_templates(
    ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
) -> types.ListResourceTemplatesResult:
    page, next_cursor = paginate(TEMPLATES, _cursor(params))
    return types.ListResourceTemplatesResult(resource_templates=page, next_cursor=next_cursor)


async def read_resource(
    ctx: ServerRequestContext[Any], params: types.ReadResourceRequestParams
) -> types.ReadResourceResult:
    for resource in RESOURCES:
        if resource.uri == params.uri:
            number = resource.uri.rsplit("/", 1)[-1]
            text = types.TextResourceContents(
                uri=params.uri, mime_type="text/plain", text=f"resource {number}"
            )
            return types.ReadResourceResult(contents=[text])
    raise MCPError(types.INVALID_PARAMS, f"Unknown resource: {params.uri}")


async def list_prompts(
    ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
) -> types.ListPromptsResult:
    page, next_cursor = paginate(PROMPTS, _cursor(params))
    return types.ListPromptsResult(prompts=page, next_cursor=next_cursor)


async def get_prompt(
    ctx: ServerRequestContext[Any], params: types.GetPromptRequestParams
) -> types.GetPromptResult:
    if not any(prompt.name == params.name for prompt in PROMPTS):
        raise MCPError(types.INVALID_PARAMS, f"Unknown prompt: {params.name}")
    message = types.PromptMessage(
        role="user", content=types.TextContent(type="text", text=f"prompt {params.name}")
    )
    return types.GetPromptResult(messages=[message])


def build_server() -> Server[Any]:
    return Server(
        "fixture-paginated",
        version="1.0.0",
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_resources=list_resources,
        on_list_resource_templates=list_resource_templates,
        on_read_resource=read_resource,
        on_list_prompts=list_prompts,
        on_get_prompt=get_prompt,
    )


async def serve() -> None:
    server = build_server()
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())


def main() -> None:
    anyio.run(serve)


if __name__ == "__main__":
    main()
