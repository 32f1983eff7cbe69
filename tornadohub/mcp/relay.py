"""What the hub passes between its MCP clients and its upstreams besides requests and results.

The hub's request handlers register every forwarded request as an
:class:`InFlight` call for as long as the upstream works on it. That is how
traffic the upstream starts on its own finds the client it belongs to:

* ``notifications/message`` (logging): a handshake-era session that set a level
  with ``logging/setLevel`` gets the entries at or above it, on the stream of its
  in-flight call to that upstream if it has one, else on its standalone (GET)
  stream; a 2026-07-28 request gets them on its own stream when it asked with
  ``io.modelcontextprotocol/logLevel``. On ``/mcp`` the ``logger`` names the
  server: ``<id>`` or ``<id>__<logger>``.
* ``notifications/resources/updated``: :class:`Subscriptions` counts who
  subscribed to which upstream resource (``resources/subscribe`` sessions,
  2026-07-28 ``subscriptions/listen`` streams) and tells each of them, with the
  URI as that client knows it. The upstream is subscribed once, unsubscribed
  when the last holder goes, and subscribed again after it reconnected.
* ``sampling/createMessage``, ``elicitation/create``, ``roots/list``: sent to the
  client whose call to that upstream is in flight, on that call's stream, under
  the client session's own request id (the SDK kernel mints it, the upstream's
  id stays between hub and upstream). When no client, or more than one client,
  has a call in flight to that upstream the hub cannot know whom to ask and the
  upstream gets an error saying so; likewise when the client did not declare
  the capability. A 2026-07-28 client has no server-to-client requests: its
  call runs as an :class:`~tornadohub.mcp.rounds.Exchange`, which turns the
  request into an ``InputRequiredResult`` and waits for the retry that answers it.

Progress and cancellation need no table: progress goes straight from the
upstream request's ``on_progress`` to the downstream request's token, and a
cancelled downstream request cancels the task awaiting the upstream, which
makes the SDK send ``notifications/cancelled`` upstream.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Final, Protocol

import mcp_types as types
from mcp import MCPError
from mcp.server.connection import allowed_log_levels
from mcp.server.context import ServerRequestContext
from mcp.shared.jsonrpc_dispatcher import progress_token_from_params
from mcp.shared.message import ServerMessageMetadata
from mcp_types import JSONRPCNotification
from pydantic import TypeAdapter

from tornadohub.errors import UpstreamError
from tornadohub.mcp.aggregate import DELIMITER
from tornadohub.mcp.rounds import PARK_SECONDS, Exchange, Exchanges
from tornadohub.state import UpstreamStatus
from tornadohub.upstreams import Upstream
from tornadohub.upstreams.wire import RawResult

log = logging.getLogger("tornadohub.mcp")

Context = ServerRequestContext[Any, Any]

#: Syslog severities in increasing order (the spec's LoggingLevel).
LOG_LEVELS: Final = (
    "debug",
    "info",
    "notice",
    "warning",
    "error",
    "critical",
    "alert",
    "emergency",
)

#: Remembered URL elicitations (id -> client), so their completion reaches the same client.
ELICITATION_MEMORY: Final = 256

#: Upstream subscribe/unsubscribe calls made in the background.
BACKGROUND_TIMEOUT: Final = 30.0

_SERVER_REQUEST: TypeAdapter[types.ServerRequest] = TypeAdapter(types.ServerRequest)


class Client(Protocol):
    """A handshake-era downstream session, as the relay sees it."""

    log_level: str | None

    def send_notification(self, method: str, params: dict[str, Any]) -> None:
        """Send a notification on the session's standalone stream."""

    def resource_updated(self, uri: str) -> None:
        """Tell the session that the resource it subscribed as *uri* changed."""

    def public_prefix(self, upstream: str) -> str | None:
        """The id the session sees *upstream* under ("" unprefixed; None: not at all)."""


@dataclass(frozen=True, eq=False)
class RequestOrigin:
    """Who sent one request, and how to reach that request's own stream.

    The transport puts it in ``ServerMessageMetadata.request_context``; handlers
    see it as ``ctx.request``.
    """

    http: Any  # the transport's HttpRequest
    client: Client | None  # None: a 2026-07-28 exchange (no session, no back-channel)
    send: Callable[[JSONRPCNotification], None]


def request_origin(ctx: Context) -> RequestOrigin | None:
    request = ctx.request
    return request if isinstance(request, RequestOrigin) else None


@dataclass(eq=False)
class InFlight:
    """One request the hub forwarded to an upstream and is still waiting on."""

    upstream: str
    context: Context | None  # built on first use by make_context when None
    origin: RequestOrigin
    prefix: str  # the server id the client sees the upstream under ("" unprefixed)
    #: A client capability the upstream needed and a 2026-07-28 client had not declared.
    missing: dict[str, Any] | None = None
    #: The rounds of a 2026-07-28 client's call to a handshake-era upstream.
    exchange: Exchange | None = None
    #: Sent through the upstream's 2026-07-28 channel, which asks nothing of the hub.
    channel: bool = False
    #: Builds the kernel context of a request the transport answered itself (fastpath).
    make_context: Callable[[], Context] | None = None

    @property
    def ctx(self) -> Context:
        """The kernel's request context (built now for a request the transport answers)."""
        if self.context is None:
            assert self.make_context is not None
            self.context = self.make_context()
        return self.context

    @ctx.setter
    def ctx(self, value: Context) -> None:
        self.context = value

    @property
    def caller(self) -> object:
        """The session that sent it, or the request (or exchange) for a 2026-07-28 client."""
        if self.origin.client is not None:
            return self.origin.client
        return self.exchange if self.exchange is not None else self


def log_level_wanted(ctx: Context) -> str | None:
    """The lowest log level the sender of this request wants, if it asked for logs."""
    origin = request_origin(ctx)
    if origin is not None and origin.client is not None:
        return origin.client.log_level
    level = (ctx.meta or {}).get(types.LOG_LEVEL_META_KEY)
    return level if level in LOG_LEVELS else None


def at_least(level: str, minimum: str | None) -> bool:
    if minimum is None or level not in LOG_LEVELS or minimum not in LOG_LEVELS:
        return False
    return LOG_LEVELS.index(level) >= LOG_LEVELS.index(minimum)


def log_params(params: types.LoggingMessageNotificationParams, prefix: str) -> dict[str, Any]:
    body = params.model_dump(by_alias=True, mode="json", exclude_none=True)
    body.pop("_meta", None)
    if prefix:
        body["logger"] = f"{prefix}{DELIMITER}{params.logger}" if params.logger else prefix
    return body


Sink = Callable[[str], None]


class Subscriptions:
    """Who holds which upstream resource subscription.

    A key is ``(upstream, original URI)``; a holder is a token (a session and
    the URI it subscribed, or one listen stream and a URI) with the sink that
    delivers updates and the public URI to deliver.
    """

    def __init__(self) -> None:
        self._holders: dict[tuple[str, str], dict[object, tuple[Sink, str]]] = {}

    def held(self, upstream: str, original: str) -> bool:
        return bool(self._holders.get((upstream, original)))

    def hold(self, upstream: str, original: str, token: object, sink: Sink, uri: str) -> None:
        self._holders.setdefault((upstream, original), {})[token] = (sink, uri)

    def release(self, upstream: str, original: str, token: object) -> bool:
        """Drop *token*; True when it was the last holder (the upstream may be unsubscribed)."""
        holders = self._holders.get((upstream, original))
        if holders is None or holders.pop(token, None) is None:
            return False
        if holders:
            return False
        del self._holders[(upstream, original)]
        return True

    def release_owner(self, owner: object) -> list[tuple[str, str]]:
        """Drop every token ``(owner, uri)``; return the keys nobody holds any more."""
        emptied: list[tuple[str, str]] = []
        for key, holders in list(self._holders.items()):
            for token in [t for t in holders if isinstance(t, tuple) and t[0] is owner]:
                del holders[token]
            if not holders:
                del self._holders[key]
                emptied.append(key)
        return emptied

    def originals(self, upstream: str) -> list[str]:
        return [original for name, original in self._holders if name == upstream]

    def deliver(self, upstream: str, original: str) -> int:
        """Tell every holder (once per sink and URI); return how many were told."""
        targets = dict.fromkeys(self._holders.get((upstream, original), {}).values())
        for sink, uri in targets:
            try:
                sink(uri)
            except Exception:
                log.exception("resource update delivery failed")
        return len(targets)


class Relay:
    """In-flight calls, subscriptions and the routing of upstream-initiated traffic."""

    def __init__(
        self,
        upstreams: Callable[[], dict[str, Upstream]],
        clients: Callable[[], Iterable[Client]],
        *,
        park_seconds: float = PARK_SECONDS,
    ) -> None:
        self._upstreams = upstreams
        self._clients = clients
        self._in_flight: dict[str, list[InFlight]] = {}
        self.exchanges = Exchanges(park_seconds)
        self.subscriptions = Subscriptions()
        self._elicitations: collections.OrderedDict[str, Client] = collections.OrderedDict()
        self._background: set[asyncio.Task[None]] = set()

    # --------------------------------------------------------------- in flight
    @contextlib.contextmanager
    def in_flight(
        self,
        upstream: str,
        ctx: Context,
        prefix: str,
        exchange: Exchange | None = None,
        *,
        channel: bool = False,
    ) -> Iterator[InFlight | None]:
        """Register the forwarded request of *ctx* while the block runs (*channel*: sent
        through the upstream's 2026-07-28 channel)."""
        origin = request_origin(ctx)
        if origin is None:  # not from the HTTP transport (nothing could be routed back)
            yield None
            return
        entry = InFlight(upstream, ctx, origin, prefix, exchange=exchange, channel=channel)
        with self._registered(entry):
            yield entry

    @contextlib.contextmanager
    def in_flight_of(
        self, upstream: str, origin: RequestOrigin, prefix: str, make_context: Callable[[], Context]
    ) -> Iterator[InFlight]:
        """:meth:`in_flight` for a handshake session's request the transport answers itself:
        its kernel context is built only if an upstream request needs it."""
        entry = InFlight(upstream, None, origin, prefix, make_context=make_context)
        with self._registered(entry):
            yield entry

    @contextlib.contextmanager
    def _registered(self, entry: InFlight) -> Iterator[None]:
        entries = self._in_flight.setdefault(entry.upstream, [])
        entries.append(entry)
        try:
            yield
        finally:
            entries.remove(entry)
            if not entries and self._in_flight.get(entry.upstream) is entries:
                del self._in_flight[entry.upstream]

    def calls(self, upstream: str) -> list[InFlight]:
        return list(self._in_flight.get(upstream, ()))

    def next_round(self, exchange: Exchange, ctx: Context) -> None:
        """A retry continues *exchange*: its upstream's logs and progress go to *ctx* now."""
        origin = request_origin(ctx)
        for calls in self._in_flight.values():
            for call in calls:
                if call.exchange is exchange and origin is not None:
                    call.ctx, call.origin = ctx, origin
        exchange.report_progress = (
            ctx.session.report_progress if progress_token_from_params(ctx.params) else None
        )

    # ----------------------------------------------------------- notifications
    def on_notification(self, upstream: Upstream, message: Any) -> None:
        """The hub's notification listener: every notification any upstream sends."""
        if isinstance(message, types.LoggingMessageNotification):
            self._relay_log(upstream.name, message.params)
        elif isinstance(message, types.ResourceUpdatedNotification):
            self.subscriptions.deliver(upstream.name, message.params.uri)
        elif isinstance(message, types.ElicitCompleteNotification):
            client = self._elicitations.pop(message.params.elicitation_id, None)
            if client is not None:
                body = message.params.model_dump(by_alias=True, mode="json", exclude_none=True)
                client.send_notification("notifications/elicitation/complete", body)

    def _relay_log(self, upstream: str, params: types.LoggingMessageNotificationParams) -> None:
        told: set[object] = set()
        for call in reversed(self.calls(upstream)):
            client = call.origin.client
            if client is not None:
                if client in told or not at_least(params.level, client.log_level):
                    continue
                told.add(client)
            elif params.level not in allowed_log_levels(call.ctx.protocol_version, call.ctx.meta):
                continue
            body = log_params(params, call.prefix)
            call.origin.send(
                JSONRPCNotification(jsonrpc="2.0", method="notifications/message", params=body)
            )
        for client in list(self._clients()):
            if client in told or not at_least(params.level, client.log_level):
                continue
            prefix = client.public_prefix(upstream)
            if prefix is not None:
                client.send_notification("notifications/message", log_params(params, prefix))

    # --------------------------------------------------------- client requests
    async def client_request(
        self, upstream: Upstream, method: str, params: dict[str, Any]
    ) -> dict[str, Any]:
        """Serve a server-to-client request of *upstream* through the client that caused it.

        Raises :class:`MCPError` (which the upstream receives) when that client is
        not known or cannot answer.
        """
        # A call through the 2026-07-28 channel is not one the upstream's session asks about.
        calls = [call for call in self.calls(upstream.name) if not call.channel]
        callers = {call.caller for call in calls}
        if len(callers) != 1:
            why = (
                "no request of an MCP client is in flight"
                if not callers
                else f"requests of {len(callers)} MCP clients are in flight"
            )
            message = f"{method} cannot be routed: {why} to '{upstream.name}' at the hub"
            log.info("%s", message)
            raise MCPError(types.INVALID_REQUEST, message)
        call = calls[-1]
        session = call.ctx.session
        missing = missing_capability(method, params, session.client_capabilities)
        if missing is not None and not session.can_send_request:
            # 2026-07-28 names the capability (-32021); the hub answers the call with it.
            what, call.missing = missing
            raise MCPError(
                types.MISSING_REQUIRED_CLIENT_CAPABILITY,
                f"Missing required client capability: {what}",
                data={"requiredCapabilities": call.missing},
            )
        if call.exchange is not None:
            return await call.exchange.ask(method, params)
        result = await ask_session(call.ctx, method, params)
        elicitation_id = params.get("elicitationId")
        if (
            method == "elicitation/create"
            and isinstance(elicitation_id, str)
            and call.origin.client
        ):
            self._elicitations[elicitation_id] = call.origin.client
            while len(self._elicitations) > ELICITATION_MEMORY:
                self._elicitations.popitem(last=False)
        return result

    # ------------------------------------------------------------ subscriptions
    def release_client(self, client: object) -> None:
        """A session ended: drop its subscriptions, unsubscribing upstreams nobody else needs."""
        for upstream, original in self.subscriptions.release_owner(client):
            self.unsubscribe_later(upstream, original)

    def unsubscribe_later(self, upstream: str, original: str) -> None:
        self._spawn(self._upstream_call(upstream, "resources/unsubscribe", original))

    def resubscribe_later(self, upstream: str) -> None:
        """After a reconnect: the new upstream session knows nothing of earlier subscriptions."""
        for original in self.subscriptions.originals(upstream):
            self._spawn(self._upstream_call(upstream, "resources/subscribe", original))

    async def _upstream_call(self, name: str, method: str, uri: str) -> None:
        upstream = self._upstreams().get(name)
        if upstream is None or upstream.status is not UpstreamStatus.connected:
            return
        if method == "resources/unsubscribe" and self.subscriptions.held(name, uri):
            return  # subscribed again in the meantime
        try:
            await upstream.request(
                method,
                {"uri": uri},
                timeout=BACKGROUND_TIMEOUT,
                error_code="MCP_ERROR",
                context={"uri": uri},
            )
        except UpstreamError as exc:
            log.info("%s %s %s failed: %s", name, method, uri, exc.message)

    def _spawn(self, work: Awaitable[None]) -> None:
        try:
            task = asyncio.ensure_future(work)
        except RuntimeError:  # no running loop: shutting down
            if asyncio.iscoroutine(work):
                work.close()
            return
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def close(self) -> None:
        self.exchanges.close()
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)


async def ask_session(ctx: Context, method: str, params: dict[str, Any]) -> dict[str, Any]:
    """Send a server-to-client request on the session of *ctx*'s request; its raw result.

    Raises :class:`MCPError` when that session cannot take requests or lacks the
    capability.
    """
    session = ctx.session
    missing = missing_capability(method, params, session.client_capabilities)
    if not session.can_send_request:
        raise MCPError(
            types.INVALID_REQUEST,
            f"{method} cannot be routed: the MCP client uses protocol "
            f"{ctx.protocol_version}, which has no server-to-client requests",
        )
    if missing is not None:
        raise MCPError(types.INVALID_REQUEST, f"The MCP client does not support {missing[0]}")
    request = _SERVER_REQUEST.validate_python({"method": method, "params": params}, by_name=False)
    result = await session.send_request(
        request,
        RawResult,
        metadata=ServerMessageMetadata(related_request_id=ctx.request_id),
    )
    return result.root


def missing_capability(
    method: str, params: dict[str, Any], caps: types.ClientCapabilities | None
) -> tuple[str, dict[str, Any]] | None:
    """The client capability a server-to-client request needs and *caps* lacks, if any:
    its description and its ``ClientCapabilities`` form."""
    if method == "sampling/createMessage":
        if caps is None or caps.sampling is None:
            return "sampling", {"sampling": {}}
        if (params.get("tools") or params.get("toolChoice")) and caps.sampling.tools is None:
            return "sampling with tools", {"sampling": {"tools": {}}}
    elif method == "elicitation/create":
        modes = caps.elicitation if caps is not None else None
        if params.get("mode") == "url":
            if modes is None or modes.url is None:
                return "URL elicitation", {"elicitation": {"url": {}}}
        elif modes is None or (modes.form is None and modes.url is not None):
            return "elicitation", {"elicitation": {"form": {}}}  # an empty object means form
    elif method == "roots/list" and (caps is None or caps.roots is None):
        return "roots", {"roots": {}}
    return None
