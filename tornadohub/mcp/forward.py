"""Where a view's request goes upstream, in the right era, with the client's input.

:class:`UpstreamCalls` sends one request of a ``/mcp`` client to the upstream that owns the
name or URI, through the upstream's 2026-07-28 channel when the client speaks that era and
the server does too, and carries the client's input both ways (SEP-2322) whichever era each
side speaks. Progress, logs and the upstream's own requests reach the caller through the
relay while the call runs; a graceful stop waits for it (``hub.calls``).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

import mcp_types as types
from mcp.shared.dispatcher import ProgressFnT
from mcp.shared.exceptions import MCPError
from mcp.shared.jsonrpc_dispatcher import progress_token_from_params
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from tornadohub.errors import HubError, UpstreamError
from tornadohub.hub import Hub
from tornadohub.mcp.aggregate import namespaced_uri
from tornadohub.mcp.relay import (
    Context,
    Relay,
    ask_session,
    log_level_wanted,
)
from tornadohub.mcp.rounds import Exchange
from tornadohub.upstreams import Upstream
from tornadohub.upstreams.sdk_patch import UNSET, Unset
from tornadohub.upstreams.wire import SUBSCRIPTION_METHODS

SERVER_INFO_META_KEY = "io.modelcontextprotocol/serverInfo"


MCP_ERROR_PREFIX = re.compile(r"^MCP error -?\d+: ")


#: The fields a retried request carries in a multi-round-trip request (SEP-2322).
_INPUT_FIELDS = ("inputResponses", "requestState")


#: Rounds the hub answers for a handshake-era client before it gives up.
MAX_INPUT_ROUNDS = 10


def _declared_capabilities(ctx: Context) -> dict[str, Any] | None:
    """The capabilities the client behind *ctx* declared, as JSON (None: none)."""
    caps = ctx.session.client_capabilities
    return None if caps is None else caps.model_dump(by_alias=True, mode="json", exclude_none=True)


def _own_result(result: dict[str, Any]) -> dict[str, Any]:
    """Drop an upstream's 2026 ``serverInfo`` stamp so the hub stamps its own."""
    meta = result.get("_meta")
    if isinstance(meta, dict) and SERVER_INFO_META_KEY in meta:
        meta = {k: v for k, v in meta.items() if k != SERVER_INFO_META_KEY}
        result = {**result, "_meta": meta} if meta else _without(result, "_meta")
    return result


def _without(result: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k != key}


@dataclass(frozen=True)
class UpstreamRequest:
    """One request of a ``/mcp`` client for upstream *server*, as its view routed it."""

    ctx: Context
    #: The upstream's config key.
    server: str
    method: str
    #: The params as the upstream gets them (its own names and URIs).
    params: dict[str, Any]
    #: What an error names besides the server (``tool`` and ``args``, ``uri``, ``prompt``).
    context: dict[str, Any]
    #: The name or URI the client asked for, which keys its SEP-2322 input rounds; None for
    #: a request that never asks the client for input.
    asked_as: str | None = None

    def with_params(self, params: dict[str, Any]) -> UpstreamRequest:
        return replace(self, params=params)


class UpstreamCalls:
    """Forwards the requests of one view's clients to the upstreams, era by era."""

    def __init__(
        self,
        hub: Hub,
        relay: Relay,
        request_timeout: float,
        public_prefix: Callable[[str], str | None],
    ) -> None:
        self.hub = hub
        self.relay = relay
        self.request_timeout = request_timeout
        #: The id the view shows an upstream under (see ``McpView.public_prefix``).
        self.public_prefix = public_prefix

    def upstream(self, name: str, context: dict[str, Any]) -> Upstream:
        upstream = self.hub.upstreams.get(name)
        if upstream is None:
            raise UpstreamError("Server not found", data={"server": name, **context})
        return upstream

    async def target(self, request: UpstreamRequest) -> Upstream:
        """Where *request* goes: its upstream, in the client's era.

        A 2026-07-28 client reaches a handshake-era upstream through the upstream's
        2026-07-28 channel when the server speaks that era too (opened on first use);
        otherwise every request uses the upstream's own connection.
        """
        upstream = self.upstream(request.server, request.context)
        if (
            request.ctx.protocol_version in MODERN_PROTOCOL_VERSIONS
            and upstream.protocol_version not in MODERN_PROTOCOL_VERSIONS
        ):
            channel = await upstream.modern.reach()
            if channel is not None:
                return channel
        return upstream

    async def interact(self, request: UpstreamRequest, asked_as: str) -> dict[str, Any]:
        """Forward a request that may need the client's input first (SEP-2322); its rounds
        are keyed by *asked_as*, the name or URI the client asked for.

        Which way the input travels depends on the eras of the two sides:

        * both 2026-07-28: ``inputResponses``/``requestState`` pass through both
          ways, and the upstream sees the client's capabilities;
        * a 2026-07-28 upstream, a handshake-era client: the hub asks the client
          with server-to-client requests and retries the upstream itself;
        * a handshake-era upstream, a 2026-07-28 client: an exchange of rounds
          (:mod:`tornadohub.mcp.rounds`);
        * both handshake-era: the relay routes the upstream's requests.
        """
        ctx = request.ctx
        upstream = await self.target(request)
        raw = ctx.params or {}
        modern_client = ctx.protocol_version in MODERN_PROTOCOL_VERSIONS
        if upstream.protocol_version in MODERN_PROTOCOL_VERSIONS:
            caps = _declared_capabilities(ctx)
            if modern_client:
                carried = {key: raw[key] for key in _INPUT_FIELDS if key in raw}
                forwarded = request.with_params({**request.params, **carried})
                return await self.forward(forwarded, caps=caps, target=upstream)
            return await self.answer_rounds(request, caps)
        if not modern_client:
            return await self.forward(request)
        exchanges = self.relay.exchanges
        state = raw.get("requestState")
        if isinstance(state, str):
            exchange = exchanges.resume(state, request.method, asked_as)
            exchange.answer(raw.get("inputResponses"))
        else:

            def work(exchange: Exchange) -> Awaitable[dict[str, Any]]:
                return self.forward(request, exchange=exchange)

            exchange = exchanges.start(request.method, asked_as, work)
        self.relay.next_round(exchange, ctx)
        try:
            return await exchanges.round(exchange)
        finally:
            exchange.report_progress = None

    async def answer_rounds(
        self, request: UpstreamRequest, caps: dict[str, Any] | None
    ) -> dict[str, Any]:
        """A 2026-07-28 upstream's input requests, asked of a handshake-era client."""
        forwarded = request
        failure = {"server": request.server, **request.context}
        for _round in range(MAX_INPUT_ROUNDS):
            result = await self.forward(forwarded, caps=caps)
            if result.get("resultType") != "input_required":
                return result
            requests = result.get("inputRequests") or {}
            try:
                answers = {
                    key: await ask_session(
                        request.ctx, str(asked.get("method")), asked.get("params") or {}
                    )
                    for key, asked in requests.items()
                    if isinstance(asked, dict)
                }
            except MCPError as exc:  # the client cannot or would not answer
                raise UpstreamError(exc.message, data=failure) from None
            params = {**request.params, "inputResponses": answers}
            if isinstance(result.get("requestState"), str):
                params["requestState"] = result["requestState"]
            forwarded = request.with_params(params)
        raise UpstreamError(
            f"{request.server} still asked for input after {MAX_INPUT_ROUNDS} rounds",
            data=failure,
        )

    async def forward(
        self,
        request: UpstreamRequest,
        *,
        caps: dict[str, Any] | None | Unset = UNSET,
        exchange: Exchange | None = None,
        target: Upstream | None = None,
    ) -> dict[str, Any]:
        """Send *request* to its upstream on behalf of the client's request.

        While it runs, upstream progress reaches the caller's progress token, and
        the relay can route the upstream's log entries and requests to the caller
        (to *exchange* when the call spans a 2026-07-28 client's rounds). The request
        goes to *target* (the upstream or its 2026-07-28 channel), by default where
        :meth:`target` sends it; resource subscriptions always go to the upstream,
        whose 2026-07-28 channel follows them.
        """
        ctx, name, method, context = request.ctx, request.server, request.method, request.context
        params = request.params
        if target is None:
            if method in SUBSCRIPTION_METHODS:
                target = self.upstream(name, context)
            else:
                target = await self.target(request)
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
                    raise MCPError(exc.code, MCP_ERROR_PREFIX.sub("", exc.message), data) from None
                raise
        return _own_result(result)

    async def forward_or_raise(
        self, request: UpstreamRequest, *, error_data: Any = None
    ) -> dict[str, Any]:
        """:meth:`interact` (:meth:`forward` for a request that never asks for input), upstream
        errors raised as JSON-RPC errors (with *error_data*)."""
        try:
            if request.asked_as is not None:
                return await self.interact(request, request.asked_as)
            return await self.forward(request)
        except UpstreamError as exc:
            if isinstance(exc.code, int):  # the upstream's JSON-RPC error, passed through
                message = MCP_ERROR_PREFIX.sub("", exc.message)
                data = error_data if error_data is not None else exc.upstream_data
                raise MCPError(exc.code, message, data) from None
            raise MCPError(types.INTERNAL_ERROR, f"{request.server}: {exc.message}") from None
        except HubError as exc:  # the hub is stopping
            raise MCPError(types.INTERNAL_ERROR, exc.message) from None


def public_contents(result: dict[str, Any], namespace: str) -> dict[str, Any]:
    """A ``resources/read`` result whose ``contents[].uri`` carry *namespace*, as the
    URI read did (an ``InputRequiredResult`` has no contents and passes unchanged)."""
    contents = result.get("contents")
    if not namespace or not isinstance(contents, list):
        return result
    return {**result, "contents": [_namespaced_item(namespace, item) for item in contents]}


def _namespaced_item(namespace: str, item: Any) -> Any:
    if isinstance(item, dict) and isinstance(item.get("uri"), str):
        return {**item, "uri": namespaced_uri(namespace, item["uri"])}
    return item
