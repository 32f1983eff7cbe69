"""Search mode of a profile (``"search": true``): two meta-tools instead of the tool list.

:func:`search_catalog` gives a view's catalog its search-mode form: the tools listing holds
``search_tools`` and ``call_tool`` (:mod:`tornadohub.surface.meta_tools`), with no route,
and the view's tools move to :attr:`~tornadohub.mcp.aggregate.Catalog.searchable`, where
only these two reach them. So ``tools/list`` never changes (no ``tools/list_changed`` is
due when the servers' tools do), and a ``tools/call`` of a real tool's name routes nowhere,
on the kernel's path as on any fast path that looks names up in the catalog.

:class:`ToolSearch` keeps the BM25 index (:class:`~tornadohub.surface.ToolIndex`) of one
view's searchable tools, per era (the 2026-07-28 catalog may differ), brought up to date on
the first search after a change: only the servers whose tools changed are indexed again.

:func:`call_meta_tool` answers a search-mode ``tools/call``: a search, or the call of a
found tool through the view's direct call path, so that its result, progress,
cancellation, the client's input and errors are those of a direct call; a name the
catalog does not list is the usual unknown tool. Arguments a meta-tool cannot use give
an ``isError`` result the model can correct itself from.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import mcp_types as types
from mcp.shared.exceptions import MCPError

from tornadohub.mcp.aggregate import TOOLS, Catalog, Listing, Route
from tornadohub.surface import ToolIndex
from tornadohub.surface.meta_tools import (
    CALL_TOOL,
    SEARCH_TOOL,
    MetaToolArgumentError,
    error_result,
    meta_tool_definitions,
    parse_call_arguments,
    parse_search_arguments,
    search_result,
)

#: The view's direct call of one routed tool: (route, public name, arguments) -> result.
DirectCall = Callable[[Route, str, dict[str, Any]], Awaitable[dict[str, Any]]]


def search_catalog(catalog: Catalog) -> Catalog:
    """*catalog* in search mode: the meta-tools listed, its tools searchable."""
    listing = Listing()
    for definition in meta_tool_definitions():
        listing.positions[definition["name"]] = len(listing.items)
        listing.items.append(definition)
    return dataclasses.replace(
        catalog,
        listings={**catalog.listings, TOOLS.key: listing},
        searchable=catalog.listing(TOOLS),
    )


def unknown_tool(name: str) -> MCPError:
    """The error of a ``tools/call`` whose name routes nowhere (mcp-hub: -32603)."""
    return MCPError(types.INVALID_PARAMS, f"Unknown tool: {name}", data=name)


class ToolSearch:
    """The search indexes of one view, one per era, each synced to the last listing searched."""

    def __init__(self) -> None:
        self._indexes: dict[bool, tuple[Listing, ToolIndex]] = {}

    def index(self, listing: Listing, *, modern: bool) -> ToolIndex:
        """The index of *listing*, the searchable tools of the catalog of one era (the
        eras' catalogs are one object unless a server shows the eras different lists)."""
        for synced_listing, synced_index in self._indexes.values():
            if synced_listing is listing:
                return synced_index
        synced = self._indexes.get(modern)
        index = synced[1] if synced is not None else ToolIndex()
        index.sync(_by_server(listing))
        self._indexes[modern] = (listing, index)
        return index


def _by_server(listing: Listing) -> dict[str, Sequence[tuple[str, Mapping[str, Any]]]]:
    """The listed tools per upstream, as ``(its own name, published definition)``."""
    grouped: dict[str, list[tuple[str, Mapping[str, Any]]]] = {}
    for item in listing.items:
        route = listing.routes[item[TOOLS.field]]
        grouped.setdefault(route.upstream, []).append((route.original, item))
    return dict(grouped)


async def call_meta_tool(
    catalog: Catalog,
    search: ToolSearch,
    params: types.CallToolRequestParams,
    call: DirectCall,
    *,
    modern: bool,
) -> dict[str, Any]:
    """The result of ``tools/call`` *params* on a search-mode view whose catalog is *catalog*."""
    searchable = catalog.searchable
    if searchable is None or params.name not in (SEARCH_TOOL, CALL_TOOL):
        raise unknown_tool(params.name)
    try:
        if params.name == SEARCH_TOOL:
            asked = parse_search_arguments(params.arguments)
            hits = search.index(searchable, modern=modern).search(asked.query, asked.limit)
            return search_result(hits)
        wanted = parse_call_arguments(params.arguments)
    except MetaToolArgumentError as exc:
        return error_result(exc)
    route = searchable.routes.get(wanted.name)
    if route is None:
        raise unknown_tool(wanted.name)
    return await call(route, wanted.name, wanted.arguments)
