"""The MCP server the hub shows its clients: one SDK low-level ``Server`` per view.

A :class:`McpView` is either the aggregated view (every connected upstream,
names prefixed with the server id unless unprefixed mode finds them unique,
served at ``/mcp``) or a single-upstream view (names unprefixed, served at
``/servers/<id>/mcp``). Its request handlers look names up in the current
:class:`~tornadohub.mcp.aggregate.Catalog` of the client's era and forward the
call to the owning upstream with the original name or URI, in that era when the
upstream speaks it too (:mod:`tornadohub.upstreams.eras`); the SDK kernel does
the protocol work (handshake, version sieve, serialization). :func:`view_sources`
is where each upstream's lists enter a view's catalog.

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
import re
from collections.abc import Awaitable, Callable, Iterator, Mapping
from functools import partial
from typing import Any

import mcp_types as types
from mcp.server.caching import CacheHint
from mcp.server.lowlevel import NotificationOptions, Server
from mcp.server.models import InitializationOptions
from mcp.server.subscriptions import (
    ListenHandler,
    PromptsListChanged,
    ResourcesListChanged,
    ResourceUpdated,
    ServerEvent,
    ToolsListChanged,
)
from mcp.shared.dispatcher import ProgressFnT
from mcp.shared.exceptions import MCPError
from mcp.shared.jsonrpc_dispatcher import progress_token_from_params
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
    assign_namespaces,
    assign_server_ids,
    build_catalog,
    namespaced_uri,
)
from tornadohub.mcp.relay import (
    Client,
    Context,
    Relay,
    ask_session,
    log_level_wanted,
    request_origin,
)
from tornadohub.mcp.rounds import Exchange
from tornadohub.state import UpstreamStatus
from tornadohub.upstreams import Upstream
from tornadohub.upstreams.sdk_patch import UNSET, Unset
from tornadohub.upstreams.wire import SUBSCRIPTION_METHODS

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

#: The fields a retried request carries in a multi-round-trip request (SEP-2322).
_INPUT_FIELDS = ("inputResponses", "requestState")
#: MCP error codes the hub's own client raises (no answer in time, connection gone):
#: a tools/call failing with them is a tool error in every era, like other hub failures.
_HUB_SIDE_CODES = frozenset({types.REQUEST_TIMEOUT, types.CONNECTION_CLOSED})
#: Rounds the hub answers for a handshake-era client before it gives up.
MAX_INPUT_ROUNDS = 10


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
        self,
        hub: Hub,
        *,
        upstream: str | None,
        page_size: int,
        request_timeout: float,
        relay: Relay | None = None,
    ) -> None:
        self.hub = hub
        self.upstream = upstream  # None: the aggregated view
        self.page_size = page_size
        self.request_timeout = request_timeout
        self.relay = relay or Relay(lambda: hub.upstreams, tuple)
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
        return view_sources(self.hub, self.upstream, modern=modern)

    def _build(self, *, modern: bool = False) -> Catalog:
        return build_catalog(
            self._sources(modern=modern), unprefixed=self.upstream is None and self.unprefixed
        )

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
            self.bus.publish_now(_LISTEN_EVENTS[method])

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
        return assign_server_ids(self.hub.upstreams).get(name)

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
        route = self.catalog_for(ctx.protocol_version).route(TOOLS, params.name)
        if route is None:
            raise MCPError(types.INVALID_PARAMS, f"Unknown tool: {params.name}", data=params.name)
        arguments = params.arguments or {}
        try:
            result = await metrics.measure_tool_call(
                route.upstream,
                self._interact(
                    ctx,
                    route.upstream,
                    "tools/call",
                    {"name": route.original, "arguments": arguments},
                    context={"tool": route.original, "args": arguments},
                    target=params.name,
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
                message = _MCP_ERROR_PREFIX.sub("", exc.message)
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
        result = await self._forward_or_raise(
            ctx,
            route.upstream,
            "resources/read",
            {"uri": route.original},
            {"uri": route.original},
            error_data={"uri": params.uri},  # SEP-2164: name the URI asked for
            target=params.uri,
        )
        return _complete_result(ctx, _public_contents(result, route.namespace))

    async def _get_prompt(
        self, ctx: Context, params: types.GetPromptRequestParams
    ) -> dict[str, Any]:
        route = self.catalog_for(ctx.protocol_version).route(PROMPTS, params.name)
        if route is None:
            raise MCPError(types.INVALID_PARAMS, f"Unknown prompt: {params.name}", data=params.name)
        forwarded: dict[str, Any] = {"name": route.original, "arguments": params.arguments or {}}
        result = await self._forward_or_raise(
            ctx,
            route.upstream,
            "prompts/get",
            forwarded,
            {"prompt": route.original},
            target=params.name,
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
        result = await self._forward_or_raise(
            ctx, route.upstream, "completion/complete", forwarded, {"ref": forwarded_ref}
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
            await self._forward_or_raise(
                ctx,
                route.upstream,
                "resources/subscribe",
                {"uri": route.original},
                {"uri": route.original},
            )
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
            await self._forward_or_raise(
                ctx,
                route.upstream,
                "resources/unsubscribe",
                {"uri": route.original},
                {"uri": route.original},
            )
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
                        await self._forward(
                            ctx,
                            route.upstream,
                            "resources/subscribe",
                            {"uri": route.original},
                            context={"uri": route.original},
                        )
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

    # ---------------------------------------------------------------- upstream
    def _upstream(self, name: str, context: dict[str, Any]) -> Upstream:
        upstream = self.hub.upstreams.get(name)
        if upstream is None:
            raise UpstreamError("Server not found", data={"server": name, **context})
        return upstream

    async def _target(self, ctx: Context, name: str, context: dict[str, Any]) -> Upstream:
        """Where a request of *ctx*'s client goes: upstream *name* in the client's era.

        A 2026-07-28 client reaches a handshake-era upstream through the upstream's
        2026-07-28 channel when the server speaks that era too (opened on first use);
        otherwise every request uses the upstream's own connection.
        """
        upstream = self._upstream(name, context)
        if (
            ctx.protocol_version in MODERN_PROTOCOL_VERSIONS
            and upstream.protocol_version not in MODERN_PROTOCOL_VERSIONS
        ):
            channel = await upstream.modern.reach()
            if channel is not None:
                return channel
        return upstream

    async def _interact(
        self,
        ctx: Context,
        name: str,
        method: str,
        params: dict[str, Any],
        *,
        context: dict[str, Any],
        target: str,
    ) -> dict[str, Any]:
        """Forward a request that may need the client's input first (SEP-2322).

        Which way the input travels depends on the eras of the two sides:

        * both 2026-07-28: ``inputResponses``/``requestState`` pass through both
          ways, and the upstream sees the client's capabilities;
        * a 2026-07-28 upstream, a handshake-era client: the hub asks the client
          with server-to-client requests and retries the upstream itself;
        * a handshake-era upstream, a 2026-07-28 client: an exchange of rounds
          (:mod:`tornadohub.mcp.rounds`);
        * both handshake-era: the relay routes the upstream's requests.
        """
        upstream = await self._target(ctx, name, context)
        raw = ctx.params or {}
        modern_client = ctx.protocol_version in MODERN_PROTOCOL_VERSIONS
        if upstream.protocol_version in MODERN_PROTOCOL_VERSIONS:
            caps = _declared_capabilities(ctx)
            if modern_client:
                carried = {key: raw[key] for key in _INPUT_FIELDS if key in raw}
                forwarded = {**params, **carried}
                return await self._forward(
                    ctx, name, method, forwarded, context=context, caps=caps, target=upstream
                )
            return await self._answer_rounds(ctx, name, method, params, context, caps)
        if not modern_client:
            return await self._forward(ctx, name, method, params, context=context)
        exchanges = self.relay.exchanges
        state = raw.get("requestState")
        if isinstance(state, str):
            exchange = exchanges.resume(state, method, target)
            exchange.answer(raw.get("inputResponses"))
        else:

            def work(exchange: Exchange) -> Awaitable[dict[str, Any]]:
                return self._forward(ctx, name, method, params, context=context, exchange=exchange)

            exchange = exchanges.start(method, target, work)
        self.relay.next_round(exchange, ctx)
        try:
            return await exchanges.round(exchange)
        finally:
            exchange.report_progress = None

    async def _answer_rounds(
        self,
        ctx: Context,
        name: str,
        method: str,
        params: dict[str, Any],
        context: dict[str, Any],
        caps: dict[str, Any] | None,
    ) -> dict[str, Any]:
        """A 2026-07-28 upstream's input requests, asked of a handshake-era client."""
        forwarded = params
        for _round in range(MAX_INPUT_ROUNDS):
            result = await self._forward(ctx, name, method, forwarded, context=context, caps=caps)
            if result.get("resultType") != "input_required":
                return result
            requests = result.get("inputRequests") or {}
            try:
                answers = {
                    key: await ask_session(
                        ctx, str(request.get("method")), request.get("params") or {}
                    )
                    for key, request in requests.items()
                    if isinstance(request, dict)
                }
            except MCPError as exc:  # the client cannot or would not answer
                raise UpstreamError(exc.message, data={"server": name, **context}) from None
            forwarded = {**params, "inputResponses": answers}
            if isinstance(result.get("requestState"), str):
                forwarded["requestState"] = result["requestState"]
        raise UpstreamError(
            f"{name} still asked for input after {MAX_INPUT_ROUNDS} rounds",
            data={"server": name, **context},
        )

    async def _forward(
        self,
        ctx: Context,
        name: str,
        method: str,
        params: dict[str, Any],
        *,
        context: dict[str, Any],
        caps: dict[str, Any] | None | Unset = UNSET,
        exchange: Exchange | None = None,
        target: Upstream | None = None,
    ) -> dict[str, Any]:
        """Send one request to upstream *name* on behalf of the request of *ctx*.

        While it runs, upstream progress reaches the caller's progress token, and
        the relay can route the upstream's log entries and requests to the caller
        (to *exchange* when the call spans a 2026-07-28 client's rounds). The request
        goes to *target* (the upstream or its 2026-07-28 channel), by default where
        :meth:`_target` sends it; resource subscriptions always go to the upstream,
        whose 2026-07-28 channel follows them.
        """
        if target is None:
            if method in SUBSCRIPTION_METHODS:
                target = self._upstream(name, context)
            else:
                target = await self._target(ctx, name, context)
        upstream = target
        on_progress: ProgressFnT | None = None
        if exchange is not None:
            on_progress = exchange.progress
        elif progress_token_from_params(ctx.params) is not None:
            on_progress = ctx.session.report_progress
        level = log_level_wanted(ctx)
        if level is not None and upstream.protocol_version in MODERN_PROTOCOL_VERSIONS:
            meta = {**params.get("_meta", {}), types.LOG_LEVEL_META_KEY: level}
            params = {**params, "_meta": meta}  # 2026 logs are opt-in
        # A graceful stop waits for this call (and refuses new ones once stopping).
        prefix = self.public_prefix(name) or ""
        through_channel = upstream is not self.hub.upstreams.get(name)
        with (
            self.hub.calls.in_flight(server=name, **context),
            self.relay.in_flight(name, ctx, prefix, exchange, channel=through_channel) as call,
        ):
            try:
                result = await upstream.request(
                    method,
                    params,
                    timeout=self.request_timeout,
                    error_code="TOOL_ERROR",
                    context=context,
                    on_progress=on_progress,
                    client_capabilities=caps,
                )
            except UpstreamError as exc:
                if exc.code == types.MISSING_REQUIRED_CLIENT_CAPABILITY:  # the caller's to fix
                    data = (
                        {"requiredCapabilities": call.missing}
                        if call and call.missing
                        else exc.upstream_data
                    )
                    raise MCPError(exc.code, _MCP_ERROR_PREFIX.sub("", exc.message), data) from None
                raise
        return _own_result(result)

    async def _forward_or_raise(
        self,
        ctx: Context,
        name: str,
        method: str,
        params: dict[str, Any],
        context: dict[str, Any],
        *,
        error_data: Any = None,
        target: str | None = None,
    ) -> dict[str, Any]:
        """:meth:`_forward` (:meth:`_interact` given a *target*), upstream errors raised as
        JSON-RPC errors (with *error_data*)."""
        try:
            if target is not None:
                return await self._interact(
                    ctx, name, method, params, context=context, target=target
                )
            return await self._forward(ctx, name, method, params, context=context)
        except UpstreamError as exc:
            if isinstance(exc.code, int):  # the upstream's JSON-RPC error, passed through
                message = _MCP_ERROR_PREFIX.sub("", exc.message)
                data = error_data if error_data is not None else exc.upstream_data
                raise MCPError(exc.code, message, data) from None
            raise MCPError(types.INTERNAL_ERROR, f"{name}: {exc.message}") from None
        except HubError as exc:  # the hub is stopping
            raise MCPError(types.INTERNAL_ERROR, exc.message) from None


def _public_contents(result: dict[str, Any], namespace: str) -> dict[str, Any]:
    """A ``resources/read`` result whose ``contents[].uri`` carry *namespace*, as the
    URI read did (an ``InputRequiredResult`` has no contents and passes unchanged)."""
    contents = result.get("contents")
    if not namespace or not isinstance(contents, list):
        return result
    public = [
        {**item, "uri": namespaced_uri(namespace, item["uri"])}
        if isinstance(item, dict) and isinstance(item.get("uri"), str)
        else item
        for item in contents
    ]
    return {**result, "contents": public}


def view_members(hub: Hub, upstream: str | None) -> Iterator[Upstream]:
    """Every connected upstream a view shows (*upstream*: one server's view, else all)."""
    for name, member in hub.upstreams.items():  # replaced on restart: read it fresh
        if upstream is not None and name != upstream:
            continue
        if member.status is not UpstreamStatus.connected:
            continue
        if (member.server_info or {}).get("name") == SERVER_NAME:
            continue  # the hub itself, or another mcp-hub, looped back
        yield member


def view_sources(hub: Hub, upstream: str | None, *, modern: bool = False) -> Iterator[Source]:
    """What a view publishes, per upstream (*modern*: as its 2026-07-28 clients see it)."""
    ids = assign_server_ids(hub.upstreams)
    namespaces = assign_namespaces(tuple(ids.values()))
    for member in view_members(hub, upstream):
        public_id = "" if upstream is not None else ids[member.name]
        yield Source(
            name=member.name,
            id=public_id,
            capabilities=member.modern.capabilities if modern else member.capabilities,
            namespace=namespaces.get(public_id, ""),
        )


def unprefixed_names(hub: Hub) -> bool:
    """The aggregated endpoint's unprefixed mode: ``--unprefixed`` or, in the config,
    ``"mcpEndpoint": {"unprefixed": true}`` (a key mcp-hub ignores)."""
    if hub.options.unprefixed:
        return True
    settings = hub.config.data.get("mcpEndpoint") if hub.config is not None else None
    return isinstance(settings, dict) and settings.get("unprefixed") is True


def _tool_error(message: str) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": message}], "isError": True}


def _declared_capabilities(ctx: Context) -> dict[str, Any] | None:
    """The capabilities the client behind *ctx* declared, as JSON (None: none)."""
    caps = ctx.session.client_capabilities
    return None if caps is None else caps.model_dump(by_alias=True, mode="json", exclude_none=True)


def _session_client(ctx: Context) -> Client:
    """The handshake-era session that sent this request (logging, subscriptions)."""
    origin = request_origin(ctx)
    if origin is None or origin.client is None:
        raise MCPError(types.INVALID_REQUEST, f"{ctx.method} needs a session")
    return origin.client


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
