"""The MCP server the hub shows its clients: one SDK low-level ``Server`` per view.

A :class:`McpView` is the aggregated view (every connected upstream, names
prefixed with the server id unless unprefixed mode finds them unique, served at
``/mcp``), a profile's view (the profile's servers and items, named as on
``/mcp``, served at ``/profiles/<name>/mcp``; in search mode its tools are reached
through two meta-tools, :mod:`tornadohub.mcp.search_mode`) or a single-upstream
view (names unprefixed, served at ``/servers/<id>/mcp``). Its request handlers
look names up in the current :class:`~tornadohub.mcp.aggregate.Catalog` of the
client's era and forward the call to the owning upstream with the original name
or URI, in that era when the upstream speaks it too
(:mod:`tornadohub.upstreams.eras`); the SDK kernel does the protocol work
(handshake, version sieve, serialization).
:func:`~tornadohub.mcp.views.view_sources` is where each upstream's lists enter a view's
catalog; :class:`~tornadohub.mcp.forward.UpstreamCalls` is where a request goes upstream.

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

import asyncio
import logging
from collections.abc import Iterator, Mapping
from functools import partial
from typing import Any

import mcp_types as types
from mcp.server.caching import CacheHint
from mcp.server.lowlevel import NotificationOptions, Server
from mcp.server.models import InitializationOptions
from mcp.server.subscriptions import (
    ListenHandler,
    ResourceUpdated,
)
from mcp.shared.exceptions import MCPError
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from tornadohub import metrics
from tornadohub.errors import HubError, UpstreamError
from tornadohub.hub import Hub
from tornadohub.mcp.aggregate import (
    PROMPTS,
    RESOURCES,
    TEMPLATES,
    TOOLS,
    Catalog,
    InvalidCursorError,
    Kind,
    Route,
    Source,
    build_catalog,
)
from tornadohub.mcp.forward import MCP_ERROR_PREFIX, UpstreamCalls, UpstreamRequest, public_contents
from tornadohub.mcp.handshake import in_mcp_hub_order
from tornadohub.mcp.listen import LIST_CHANGED, LISTEN_EVENTS, ListenBus
from tornadohub.mcp.relay import (
    Client,
    Context,
    Relay,
    request_origin,
)
from tornadohub.mcp.search_mode import (
    ToolSearch,
    call_meta_tool,
    search_catalog,
    unknown_tool,
)
from tornadohub.mcp.views import (
    SERVER_NAME,
    public_ids,
    unprefixed_names,
    view_members,
    view_profile,
    view_sources,
)
from tornadohub.upstreams import Upstream

log = logging.getLogger("tornadohub.mcp")

SERVER_VERSION = "1.0.0"


#: MCP error codes the hub's own client raises (no answer in time, connection gone):
#: a tools/call failing with them is a tool error in every era, like other hub failures.
_HUB_SIDE_CODES = frozenset({types.REQUEST_TIMEOUT, types.CONNECTION_CLOSED})


class McpView:
    """One MCP face of the hub and the catalog it currently publishes."""

    def __init__(
        self,
        hub: Hub,
        *,
        upstream: str | None,
        page_size: int,
        request_timeout: float,
        relay: Relay | None = None,
        profile: str | None = None,
    ) -> None:
        self.hub = hub
        self.upstream = upstream  # None: the aggregated view, or a profile's
        self.profile = profile  # the profile's name (its rules are the config's, read anew)
        self.search = ToolSearch()
        self.page_size = page_size
        self.request_timeout = request_timeout
        self.relay = relay or Relay(lambda: hub.upstreams, tuple)
        self.calls = UpstreamCalls(hub, self.relay, request_timeout, self.public_prefix)
        self.bus = ListenBus()
        self._listen_handler = ListenHandler(self.bus)
        self.server = self._build_server()
        self.init_options: InitializationOptions = self.server.create_initialization_options(
            NotificationOptions(prompts_changed=True, resources_changed=True, tools_changed=True)
        )
        #: What handshake-era clients see, and what 2026-07-28 clients see: the same
        #: catalog unless an upstream is reached through its 2026-07-28 channel, whose
        #: lists are that era's (a STDIO server there is a process of its own).
        self.catalog: Catalog = self._build()
        self.modern_catalog: Catalog = self._modern_catalog(self.catalog)

    # ----------------------------------------------------------------- catalog
    def catalog_for(self, protocol_version: str | None) -> Catalog:
        """The catalog a client speaking *protocol_version* sees."""
        if protocol_version in MODERN_PROTOCOL_VERSIONS:
            return self.modern_catalog
        return self.catalog

    @property
    def unprefixed(self) -> bool:
        """Whether names unique across servers pass unchanged (always, on one server's view)."""
        return self.upstream is not None or unprefixed_names(self.hub)

    def _members(self) -> Iterator[Upstream]:
        return view_members(self.hub, self.upstream)

    def _sources(self, *, modern: bool = False) -> Iterator[Source]:
        return view_sources(self.hub, self.upstream, modern=modern, profile=self.profile)

    def _build(self, *, modern: bool = False) -> Catalog:
        catalog = build_catalog(
            self._sources(modern=modern), unprefixed=self.upstream is None and self.unprefixed
        )
        profile = view_profile(self.hub, self.profile) if self.profile is not None else None
        return search_catalog(catalog) if profile is not None and profile.search else catalog

    def _modern_catalog(self, catalog: Catalog) -> Catalog:
        """The 2026-07-28 catalog: *catalog* unless an upstream shows that era other lists."""
        members = self._members()
        if any(member.modern.capabilities is not member.capabilities for member in members):
            return self._build(modern=True)
        return catalog

    def resync(self) -> set[str]:
        """Rebuild the catalogs; return the list_changed methods due to handshake sessions.

        2026-07-28 clients hear of their catalog's changes on their listen streams.
        """
        previous, self.catalog = self.catalog, self._build()
        self._resync_modern()
        return {LIST_CHANGED[key] for key in self.catalog.changed_kinds(previous)}

    def _resync_modern(self) -> None:
        previous, self.modern_catalog = self.modern_catalog, self._modern_catalog(self.catalog)
        due = {LIST_CHANGED[key] for key in self.modern_catalog.changed_kinds(previous)}
        for method in sorted(due):
            self.bus.publish_now(LISTEN_EVENTS[method])

    async def open_channels(self) -> None:
        """Open the 2026-07-28 channels of this view's upstreams (or learn they have none)
        before a 2026-07-28 client sees anything, so that its lists are its era's from the
        first page on: over STDIO the channel is a process of its own, whose lists may differ.
        At once when every channel is settled (the usual case)."""
        pending = [member.modern for member in self._members() if member.modern.pending]
        if pending:
            await asyncio.gather(*(channel.reach() for channel in pending))
            self._resync_modern()

    def public_prefix(self, name: str) -> str | None:
        """The id this view shows upstream *name* under: "" when unprefixed, None if absent."""
        if self.upstream is not None:
            return "" if name == self.upstream else None
        return public_ids(self.hub).get(name)

    def publish_updated(self, uri: str) -> None:
        """Tell this view's listen streams that resource *uri* (as they know it) changed."""
        self.bus.publish_now(ResourceUpdated(uri=uri))

    def tool_input_schema(self, name: str) -> Mapping[str, Any] | None:
        """A tool's input schema, for the ``Mcp-Param-*`` checks of 2026-07-28 requests."""
        listing = self.modern_catalog.listing(TOOLS)
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
            on_subscriptions_listen=self._listen,
        )
        server.middleware.append(in_mcp_hub_order)
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
        server.add_request_handler(
            "resources/subscribe", types.SubscribeRequestParams, self._subscribe
        )
        server.add_request_handler(
            "resources/unsubscribe", types.UnsubscribeRequestParams, self._unsubscribe
        )
        server.add_request_handler("logging/setLevel", types.SetLevelRequestParams, self._set_level)
        server.add_notification_handler(
            "notifications/roots/list_changed", types.NotificationParams, self._roots_changed
        )
        return server

    async def _list(
        self, kind: Kind, ctx: Context, params: types.PaginatedRequestParams
    ) -> dict[str, Any]:
        if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
            await self.open_channels()
        try:
            catalog = self.catalog_for(ctx.protocol_version)
            items, next_cursor = catalog.listing(kind).page(kind, params.cursor, self.page_size)
        except InvalidCursorError:
            raise MCPError(types.INVALID_PARAMS, "Invalid cursor", data=params.cursor) from None
        result: dict[str, Any] = {kind.key: items}
        if next_cursor is not None:
            result["nextCursor"] = next_cursor
        return _complete_result(ctx, result)

    async def _call_tool(self, ctx: Context, params: types.CallToolRequestParams) -> dict[str, Any]:
        catalog = self.catalog_for(ctx.protocol_version)
        if catalog.searchable is not None:  # search mode: the two meta-tools
            call = partial(self._call_route, ctx)
            modern = ctx.protocol_version in MODERN_PROTOCOL_VERSIONS
            result = await call_meta_tool(catalog, self.search, params, call, modern=modern)
            return _complete_result(ctx, result)
        route = catalog.route(TOOLS, params.name)
        if route is None:
            raise unknown_tool(params.name)
        return await self._call_route(ctx, route, params.name, params.arguments or {})

    async def _call_route(
        self, ctx: Context, route: Route, name: str, arguments: dict[str, Any]
    ) -> dict[str, Any]:
        """Call the tool *route* leads to, which the client named *name*."""
        try:
            result = await metrics.measure_tool_call(
                route.upstream,
                self.calls.interact(
                    UpstreamRequest(
                        ctx,
                        route.upstream,
                        "tools/call",
                        {"name": route.original, "arguments": arguments},
                        context={"tool": route.original, "args": arguments},
                    ),
                    name,
                ),
            )
        except UpstreamError as exc:
            if (
                isinstance(exc.code, int)
                and exc.code not in _HUB_SIDE_CODES
                and ctx.protocol_version in MODERN_PROTOCOL_VERSIONS
            ):
                # The upstream's own JSON-RPC error (a tampered requestState, bad
                # arguments): 2026-07-28 clients get it as one. mcp-hub's clients,
                # all of an older era, get it as a tool error, as mcp-hub sends it.
                message = MCP_ERROR_PREFIX.sub("", exc.message)
                raise MCPError(exc.code, message, exc.upstream_data) from None
            result = _tool_error(exc.message)
        except HubError as exc:  # the hub stopping
            result = _tool_error(exc.message)
        return _complete_result(ctx, result)

    async def _read_resource(
        self, ctx: Context, params: types.ReadResourceRequestParams
    ) -> dict[str, Any]:
        route = self.catalog_for(ctx.protocol_version).route_resource(params.uri)
        if route is None:
            raise MCPError(
                types.INVALID_PARAMS, f"Unknown resource: {params.uri}", data={"uri": params.uri}
            )
        result = await self.calls.forward_or_raise(
            UpstreamRequest(
                ctx,
                route.upstream,
                "resources/read",
                {"uri": route.original},
                {"uri": route.original},
                asked_as=params.uri,
            ),
            error_data={"uri": params.uri},  # SEP-2164: name the URI asked for
        )
        return _complete_result(ctx, public_contents(result, route.namespace))

    async def _get_prompt(
        self, ctx: Context, params: types.GetPromptRequestParams
    ) -> dict[str, Any]:
        route = self.catalog_for(ctx.protocol_version).route(PROMPTS, params.name)
        if route is None:
            raise MCPError(types.INVALID_PARAMS, f"Unknown prompt: {params.name}", data=params.name)
        forwarded: dict[str, Any] = {"name": route.original, "arguments": params.arguments or {}}
        result = await self.calls.forward_or_raise(
            UpstreamRequest(
                ctx,
                route.upstream,
                "prompts/get",
                forwarded,
                {"prompt": route.original},
                asked_as=params.name,
            )
        )
        return _complete_result(ctx, result)

    async def _complete(self, ctx: Context, params: types.CompleteRequestParams) -> dict[str, Any]:
        ref = params.ref
        catalog = self.catalog_for(ctx.protocol_version)
        if isinstance(ref, types.PromptReference):
            route = catalog.route(PROMPTS, ref.name)
            if route is None:
                raise MCPError(types.INVALID_PARAMS, f"Unknown prompt: {ref.name}")
            forwarded_ref: dict[str, Any] = {"type": "ref/prompt", "name": route.original}
        else:
            route = catalog.route(TEMPLATES, ref.uri) or catalog.route(RESOURCES, ref.uri)
            if route is None:
                raise MCPError(types.INVALID_PARAMS, f"Unknown resource: {ref.uri}")
            forwarded_ref = {"type": "ref/resource", "uri": route.original}
        forwarded = params.model_dump(by_alias=True, mode="json", exclude_none=True)
        forwarded.pop("_meta", None)
        forwarded["ref"] = forwarded_ref
        result = await self.calls.forward_or_raise(
            UpstreamRequest(
                ctx, route.upstream, "completion/complete", forwarded, {"ref": forwarded_ref}
            )
        )
        return _complete_result(ctx, result)

    # ------------------------------------------- subscriptions and logging
    def _resource_route(self, ctx: Context, uri: str) -> Route:
        route = self.catalog_for(ctx.protocol_version).route_resource(uri)
        if route is None:
            raise MCPError(types.INVALID_PARAMS, f"Unknown resource: {uri}", data={"uri": uri})
        return route

    async def _subscribe(
        self, ctx: Context, params: types.SubscribeRequestParams
    ) -> dict[str, Any]:
        route = self._resource_route(ctx, params.uri)
        client = _session_client(ctx)
        subscriptions = self.relay.subscriptions
        if not subscriptions.held(route.upstream, route.original):
            await self.calls.forward_or_raise(_subscription(ctx, route, "resources/subscribe"))
        subscriptions.hold(
            route.upstream,
            route.original,
            (client, params.uri),
            client.resource_updated,
            params.uri,
        )
        return {}

    async def _unsubscribe(
        self, ctx: Context, params: types.UnsubscribeRequestParams
    ) -> dict[str, Any]:
        route = self._resource_route(ctx, params.uri)
        client = _session_client(ctx)
        if self.relay.subscriptions.release(route.upstream, route.original, (client, params.uri)):
            await self.calls.forward_or_raise(_subscription(ctx, route, "resources/unsubscribe"))
        return {}

    async def _roots_changed(self, ctx: Context, params: types.NotificationParams | None) -> None:
        """A client's roots changed: tell the upstreams behind this view, which may ask again.

        Only handshake-era upstreams have the notification; a 2026-07-28 upstream
        asks for roots within each request anyway.
        """
        for source in self._sources():
            upstream = self.hub.upstreams.get(source.name)
            if upstream is not None:
                await upstream.notify_roots_changed()

    async def _set_level(self, ctx: Context, params: types.SetLevelRequestParams) -> dict[str, Any]:
        """Upstream log entries at or above *level* are relayed to this session from now on."""
        _session_client(ctx).log_level = params.level
        return {}

    async def _listen(
        self, ctx: Context, params: types.SubscriptionsListenRequestParams
    ) -> types.SubscriptionsListenResult:
        """``subscriptions/listen`` (2026-07-28); its resource subscriptions are held upstream."""
        await self.open_channels()  # list changes in a channel's process reach this stream
        token = object()
        held: list[tuple[Route, str]] = []
        subscriptions = self.relay.subscriptions
        try:
            for uri in params.notifications.resource_subscriptions or ():
                route = self.modern_catalog.route_resource(uri)
                if route is None:
                    continue  # honored all the same; it never fires
                if not subscriptions.held(route.upstream, route.original):
                    try:
                        await self.calls.forward(_subscription(ctx, route, "resources/subscribe"))
                    except UpstreamError as exc:
                        log.info(
                            "listen: %s cannot subscribe to %s: %s",
                            route.upstream,
                            uri,
                            exc.message,
                        )
                        continue
                subscriptions.hold(
                    route.upstream, route.original, (token, uri), self.publish_updated, uri
                )
                held.append((route, uri))
            return await self._listen_handler(ctx, params)
        finally:
            for route, uri in held:
                if subscriptions.release(route.upstream, route.original, (token, uri)):
                    self.relay.unsubscribe_later(route.upstream, route.original)


def _tool_error(message: str) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": message}], "isError": True}


def _session_client(ctx: Context) -> Client:
    """The handshake-era session that sent this request (logging, subscriptions)."""
    origin = request_origin(ctx)
    if origin is None or origin.client is None:
        raise MCPError(types.INVALID_REQUEST, f"{ctx.method} needs a session")
    return origin.client


def _complete_result(ctx: Context, result: dict[str, Any]) -> dict[str, Any]:
    """2026-07-28 results must say ``resultType``; older eras drop the key anyway."""
    if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS and "resultType" not in result:
        return {**result, "resultType": "complete"}
    return result


def _subscription(ctx: Context, route: Route, method: str) -> UpstreamRequest:
    """``resources/subscribe`` or ``/unsubscribe`` of *route*'s resource, at its upstream."""
    return UpstreamRequest(
        ctx, route.upstream, method, {"uri": route.original}, {"uri": route.original}
    )
