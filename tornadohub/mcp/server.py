"""The MCP server the hub shows its clients: one SDK low-level ``Server`` per view.

A :class:`McpView` is either the aggregated view (every connected upstream,
names prefixed with the server id, served at ``/mcp``) or a single-upstream view
(names unprefixed, served at ``/servers/<id>/mcp``). Its request handlers look
names up in the current :class:`~tornadohub.mcp.aggregate.Catalog` and forward
the call to the owning upstream with the original name or URI; the SDK kernel
does the protocol work (handshake, version sieve, serialization).

Error policy (mcp-hub's, with its bugs fixed):

* unknown tool, prompt or resource -> JSON-RPC ``-32602`` naming it (mcp-hub:
  ``-32603 "key is not defined"``);
* a failing ``tools/call`` -> a result with ``isError: true`` carrying the
  message, as mcp-hub does, so the model sees why;
* a failing ``resources/read``, ``prompts/get`` or ``completion/complete`` ->
  the upstream's own JSON-RPC error code and message (mcp-hub rewrote them all to
  ``-32602 "Failed to read resource"``); a hub-side failure (server gone, not
  connected, timeout) -> ``-32603`` with the hub's message.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Mapping
from functools import partial
from typing import Any

import mcp_types as types
from mcp.server.caching import CacheHint
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import NotificationOptions, Server
from mcp.server.models import InitializationOptions
from mcp.server.subscriptions import (
    ListenHandler,
    PromptsListChanged,
    ResourcesListChanged,
    ServerEvent,
    ToolsListChanged,
)
from mcp.shared.exceptions import MCPError
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from tornadohub import metrics
from tornadohub.errors import UpstreamError
from tornadohub.hub import Hub
from tornadohub.mcp.aggregate import (
    PROMPTS,
    RESOURCES,
    TEMPLATES,
    TOOLS,
    Catalog,
    InvalidCursorError,
    Kind,
    Source,
    assign_server_ids,
    build_catalog,
)
from tornadohub.upstreams import UpstreamStatus

log = logging.getLogger("tornadohub.mcp")

#: mcp-hub's identity on /mcp; an upstream announcing it is this hub (or another
#: mcp-hub) looped back into itself and is left out of every view.
SERVER_NAME = "mcp-hub-internal-endpoint"
SERVER_VERSION = "1.0.0"
SERVER_INFO_META_KEY = "io.modelcontextprotocol/serverInfo"

#: Which notification announces a change of which capability list.
LIST_CHANGED = {
    "tools": "notifications/tools/list_changed",
    "resources": "notifications/resources/list_changed",
    "resourceTemplates": "notifications/resources/list_changed",
    "prompts": "notifications/prompts/list_changed",
}
_LISTEN_EVENTS: dict[str, ServerEvent] = {
    "notifications/tools/list_changed": ToolsListChanged(),
    "notifications/resources/list_changed": ResourcesListChanged(),
    "notifications/prompts/list_changed": PromptsListChanged(),
}
_MCP_ERROR_PREFIX = re.compile(r"^MCP error -?\d+: ")

Context = ServerRequestContext[Any, Any]


class ListenBus:
    """The ``subscriptions/listen`` fan-out for one view (2026-07-28 clients).

    Satisfies the SDK's ``SubscriptionBus`` protocol and adds a synchronous
    :meth:`publish_now`, so the hub's change listener can fan out without a task.
    """

    def __init__(self) -> None:
        self._listeners: dict[object, Callable[[ServerEvent], None]] = {}

    async def publish(self, event: ServerEvent) -> None:
        self.publish_now(event)

    def publish_now(self, event: ServerEvent) -> None:
        for listener in list(self._listeners.values()):
            try:
                listener(event)
            except Exception:  # one broken listen stream must not starve the others
                log.exception("listen stream listener failed")

    def subscribe(self, listener: Callable[[ServerEvent], None]) -> Callable[[], None]:
        token = object()
        self._listeners[token] = listener

        def unsubscribe() -> None:
            self._listeners.pop(token, None)

        return unsubscribe


class McpView:
    """One MCP face of the hub and the catalog it currently publishes."""

    def __init__(
        self, hub: Hub, *, upstream: str | None, page_size: int, request_timeout: float
    ) -> None:
        self.hub = hub
        self.upstream = upstream  # None: the aggregated view
        self.page_size = page_size
        self.request_timeout = request_timeout
        self.bus = ListenBus()
        self.server = self._build_server()
        self.init_options: InitializationOptions = self.server.create_initialization_options(
            NotificationOptions(prompts_changed=True, resources_changed=True, tools_changed=True)
        )
        self.catalog: Catalog = build_catalog(self._sources())

    # ----------------------------------------------------------------- catalog
    def _sources(self) -> Iterator[Source]:
        upstreams = self.hub.upstreams  # replaced on restart: always read it fresh
        ids = assign_server_ids(upstreams)
        for name, upstream in upstreams.items():
            if self.upstream is not None and name != self.upstream:
                continue
            if upstream.status is not UpstreamStatus.connected:
                continue
            if (upstream.server_info or {}).get("name") == SERVER_NAME:
                continue
            yield Source(
                name=name,
                id="" if self.upstream is not None else ids[name],
                capabilities=upstream.capabilities,
            )

    def resync(self) -> set[str]:
        """Rebuild the catalog; return the list_changed methods that are now due."""
        previous, self.catalog = self.catalog, build_catalog(self._sources())
        due = {LIST_CHANGED[key] for key in self.catalog.changed_kinds(previous)}
        for method in sorted(due):
            self.bus.publish_now(_LISTEN_EVENTS[method])
        return due

    def tool_input_schema(self, name: str) -> Mapping[str, Any] | None:
        listing = self.catalog.listing(TOOLS)
        position = listing.positions.get(name)
        if position is None:
            return None
        schema = listing.items[position].get("inputSchema")
        return schema if isinstance(schema, Mapping) else None

    # ------------------------------------------------------------------ server
    def _build_server(self) -> Server[Any]:
        no_cache = CacheHint(ttl_ms=0, scope="private")
        server: Server[Any] = Server(
            SERVER_NAME,
            version=SERVER_VERSION,
            cache_hints={
                "tools/list": no_cache,
                "resources/list": no_cache,
                "resources/templates/list": no_cache,
                "resources/read": no_cache,
                "prompts/list": no_cache,
                "server/discover": no_cache,
            },
            get_tool_input_schema=self.tool_input_schema,
            on_subscriptions_listen=ListenHandler(self.bus),
        )
        for method, kind in (
            ("tools/list", TOOLS),
            ("resources/list", RESOURCES),
            ("resources/templates/list", TEMPLATES),
            ("prompts/list", PROMPTS),
        ):
            server.add_request_handler(
                method, types.PaginatedRequestParams, partial(self._list, kind)
            )
        server.add_request_handler("tools/call", types.CallToolRequestParams, self._call_tool)
        server.add_request_handler(
            "resources/read", types.ReadResourceRequestParams, self._read_resource
        )
        server.add_request_handler("prompts/get", types.GetPromptRequestParams, self._get_prompt)
        server.add_request_handler(
            "completion/complete", types.CompleteRequestParams, self._complete
        )
        return server

    async def _list(
        self, kind: Kind, ctx: Context, params: types.PaginatedRequestParams
    ) -> dict[str, Any]:
        try:
            items, next_cursor = self.catalog.listing(kind).page(
                kind, params.cursor, self.page_size
            )
        except InvalidCursorError:
            raise MCPError(types.INVALID_PARAMS, "Invalid cursor", data=params.cursor) from None
        result: dict[str, Any] = {kind.key: items}
        if next_cursor is not None:
            result["nextCursor"] = next_cursor
        return _complete_result(ctx, result)

    async def _call_tool(self, ctx: Context, params: types.CallToolRequestParams) -> dict[str, Any]:
        route = self.catalog.route(TOOLS, params.name)
        if route is None:
            raise MCPError(types.INVALID_PARAMS, f"Unknown tool: {params.name}", data=params.name)
        arguments = params.arguments or {}
        try:
            result = await metrics.measure_tool_call(
                route.upstream,
                self._forward(
                    route.upstream,
                    "tools/call",
                    {"name": route.original, "arguments": arguments},
                    context={"tool": route.original, "args": arguments},
                ),
            )
        except UpstreamError as exc:
            result = {"content": [{"type": "text", "text": exc.message}], "isError": True}
        return _complete_result(ctx, result)

    async def _read_resource(
        self, ctx: Context, params: types.ReadResourceRequestParams
    ) -> dict[str, Any]:
        route = self.catalog.route_resource(params.uri)
        if route is None:
            raise MCPError(
                types.INVALID_PARAMS, f"Unknown resource: {params.uri}", data={"uri": params.uri}
            )
        result = await self._forward_or_raise(
            route.upstream, "resources/read", {"uri": route.original}, {"uri": route.original}
        )
        return _complete_result(ctx, result)

    async def _get_prompt(
        self, ctx: Context, params: types.GetPromptRequestParams
    ) -> dict[str, Any]:
        route = self.catalog.route(PROMPTS, params.name)
        if route is None:
            raise MCPError(types.INVALID_PARAMS, f"Unknown prompt: {params.name}", data=params.name)
        forwarded: dict[str, Any] = {"name": route.original, "arguments": params.arguments or {}}
        result = await self._forward_or_raise(
            route.upstream, "prompts/get", forwarded, {"prompt": route.original}
        )
        return _complete_result(ctx, result)

    async def _complete(self, ctx: Context, params: types.CompleteRequestParams) -> dict[str, Any]:
        ref = params.ref
        if isinstance(ref, types.PromptReference):
            route = self.catalog.route(PROMPTS, ref.name)
            if route is None:
                raise MCPError(types.INVALID_PARAMS, f"Unknown prompt: {ref.name}")
            forwarded_ref: dict[str, Any] = {"type": "ref/prompt", "name": route.original}
        else:
            route = self.catalog.route(TEMPLATES, ref.uri) or self.catalog.route(RESOURCES, ref.uri)
            if route is None:
                raise MCPError(types.INVALID_PARAMS, f"Unknown resource: {ref.uri}")
            forwarded_ref = {"type": "ref/resource", "uri": route.original}
        forwarded = params.model_dump(by_alias=True, mode="json", exclude_none=True)
        forwarded.pop("_meta", None)
        forwarded["ref"] = forwarded_ref
        result = await self._forward_or_raise(
            route.upstream, "completion/complete", forwarded, {"ref": forwarded_ref}
        )
        return _complete_result(ctx, result)

    # ---------------------------------------------------------------- upstream
    async def _forward(
        self, name: str, method: str, params: dict[str, Any], *, context: dict[str, Any]
    ) -> dict[str, Any]:
        upstream = self.hub.upstreams.get(name)
        if upstream is None:
            raise UpstreamError("Server not found", data={"server": name, **context})
        result = await upstream.request(
            method, params, timeout=self.request_timeout, error_code="TOOL_ERROR", context=context
        )
        return _own_result(result)

    async def _forward_or_raise(
        self, name: str, method: str, params: dict[str, Any], context: dict[str, Any]
    ) -> dict[str, Any]:
        try:
            return await self._forward(name, method, params, context=context)
        except UpstreamError as exc:
            if isinstance(exc.code, int):  # the upstream's JSON-RPC error, passed through
                raise MCPError(exc.code, _MCP_ERROR_PREFIX.sub("", exc.message)) from None
            raise MCPError(types.INTERNAL_ERROR, f"{name}: {exc.message}") from None


def _own_result(result: dict[str, Any]) -> dict[str, Any]:
    """Drop an upstream's 2026 ``serverInfo`` stamp so the hub stamps its own."""
    meta = result.get("_meta")
    if isinstance(meta, dict) and SERVER_INFO_META_KEY in meta:
        meta = {k: v for k, v in meta.items() if k != SERVER_INFO_META_KEY}
        result = {**result, "_meta": meta} if meta else _without(result, "_meta")
    return result


def _without(result: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k != key}


def _complete_result(ctx: Context, result: dict[str, Any]) -> dict[str, Any]:
    """2026-07-28 results must say ``resultType``; older eras drop the key anyway."""
    if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS and "resultType" not in result:
        return {**result, "resultType": "complete"}
    return result
