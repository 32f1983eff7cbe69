"""Search mode's catalog, index and meta-tool dispatch (``tornadohub/mcp/search_mode.py``)."""

from __future__ import annotations

from typing import Any

import mcp_types as types
import pytest
from mcp import MCPError

from tornadohub.mcp.aggregate import TOOLS, Catalog, Route, Source, build_catalog
from tornadohub.mcp.search_mode import ToolSearch, call_meta_tool, search_catalog


def tool(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "description": description, "inputSchema": {"type": "object"}}


def catalog(github_description: str = "Create a pull request") -> Catalog:
    sources = [
        Source("github", "github", {"tools": [tool("create_pr", github_description)]}),
        Source("fs", "fs", {"tools": [tool("read_file", "Read a file from disk")]}),
    ]
    return search_catalog(build_catalog(sources))


def test_the_meta_tools_are_listed_and_nothing_routes_directly() -> None:
    searchable = catalog()
    listing = searchable.listing(TOOLS)
    assert [item["name"] for item in listing.items] == ["search_tools", "call_tool"]
    for name in ("search_tools", "call_tool", "github__create_pr"):
        assert searchable.route(TOOLS, name) is None  # a fast path finds nothing to forward
    assert searchable.searchable is not None
    assert searchable.searchable.routes["github__create_pr"] == Route("github", "create_pr")


def test_the_index_follows_the_catalog_it_is_given() -> None:
    search = ToolSearch()
    first = catalog()
    assert first.searchable is not None
    index = search.index(first.searchable, modern=False)
    assert search.index(first.searchable, modern=False) is index  # synced: nothing to do
    assert [hit.name for hit in index.search("pull request")] == ["github__create_pr"]
    changed = catalog("Merge a branch")
    assert changed.searchable is not None
    assert search.index(changed.searchable, modern=False).search("pull request") == []
    modern = search.index(changed.searchable, modern=True)
    assert modern is search.index(changed.searchable, modern=False)  # one catalog: one index
    other = catalog("Open a pull request")
    assert other.searchable is not None
    assert search.index(other.searchable, modern=True) is not modern  # the eras' differ
    assert search.index(changed.searchable, modern=False) is modern


async def test_meta_tool_calls() -> None:
    calls: list[tuple[Route, str, dict[str, Any]]] = []

    async def direct(route: Route, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        calls.append((route, name, arguments))
        return {"content": [], "isError": False}

    search = ToolSearch()
    searchable = catalog()

    async def meta(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        params = types.CallToolRequestParams(name=name, arguments=arguments)
        return await call_meta_tool(searchable, search, params, direct, modern=False)

    found = await meta("search_tools", {"query": "read a file"})
    assert [t["name"] for t in found["structuredContent"]["tools"]] == ["fs__read_file"]
    assert await meta("call_tool", {"name": "fs__read_file", "arguments": {"path": "a"}}) == {
        "content": [],
        "isError": False,
    }
    assert calls == [(Route("fs", "read_file"), "fs__read_file", {"path": "a"})]
    assert (await meta("call_tool", {"name": 3}))["isError"] is True
    for name, arguments in (("call_tool", {"name": "nope"}), ("fs__read_file", {})):
        with pytest.raises(MCPError) as error:
            await meta(name, arguments)
        assert error.value.code == types.INVALID_PARAMS
        assert error.value.message.startswith("Unknown tool: ")
