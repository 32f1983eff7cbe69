"""Remote upstreams: Streamable HTTP first, the legacy HTTP+SSE transport as fallback.

Each attempt owns its own ``httpx2`` client (the SDK's HTTP library), created and
closed in the owner task, over a :class:`~tornadohub.upstreams.keepalive.DrainingTransport`
so that calls reuse pooled connections. A 401 on either transport makes the server
``unauthorized`` instead of falling back or retrying.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
import httpx2
import mcp_types as types
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp import ClientSession, MCPError
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.message import SessionMessage
from mcp_types import JSONRPCNotification, jsonrpc_message_adapter
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import ValidationError

from tornadohub.oauth import ServerTokenStorage
from tornadohub.oauth_refresh import refresh_early
from tornadohub.oauth_session import OAuthSession, redirect_uri_for
from tornadohub.placeholders import ResolvedServer, predefined_variables, resolve_string
from tornadohub.state import UpstreamStatus
from tornadohub.upstreams.base import Upstream
from tornadohub.upstreams.core import AuthorizedElsewhere, UnauthorizedError, UnreadableList
from tornadohub.upstreams.keepalive import DrainingTransport
from tornadohub.upstreams.ordering import relay_in_order
from tornadohub.upstreams.rawhttp import HttpRawChannel
from tornadohub.upstreams.sdk_patch import read_upstream_json
from tornadohub.upstreams.wire import RawResult, build_request, describe_exception, innermost

log = logging.getLogger("tornadohub.upstream")

read_upstream_json()  # an HTTP upstream's messages are read as a STDIO server's lines

HTTP_TIMEOUT = httpx2.Timeout(30.0, read=300.0)


#: How much of an error response's body its server's ``error`` quotes.
BODY_EXCERPT_CHARS = 200


class _StatusWatch:
    """Remembers whether any response of this attempt was a 401, and the last error
    response (status, reason and the start of its body) for the server's ``error``."""

    def __init__(self) -> None:
        self.unauthorized = False
        self.failure: str | None = None
        #: The ``Mcp-Session-Id`` the server gave (the raw channel sends it too).
        self.session_id: str | None = None

    async def __call__(self, response: httpx2.Response) -> None:
        status = response.status_code
        session_id = response.headers.get("mcp-session-id")
        if session_id and status < 400:
            self.session_id = session_id
        if status == 401:
            self.unauthorized = True
        if status < 400 or status == 405:  # 405: no GET stream, which is allowed
            return
        try:
            await response.aread()
            body = " ".join(response.text.split())
        except Exception:  # the body is a courtesy; the status is what matters
            body = ""
        excerpt = body[:BODY_EXCERPT_CHARS] + ("…" if len(body) > BODY_EXCERPT_CHARS else "")
        reason = f"HTTP {status} {response.reason_phrase}".rstrip()
        self.failure = f"{reason}: {excerpt}" if excerpt else reason


_CONNECT_CALL = re.compile(r"\('([^']*)', (\d+)")


def refused(exc: BaseException) -> str | None:
    """mcp-hub's words for a server nobody listens on, which its last transport (the
    SSE fallback) reports: ``SSE error: TypeError: fetch failed: connect ECONNREFUSED
    127.0.0.1:PORT``; None for any other failure."""
    seen: set[int] = set()
    pending = [exc]
    where = ""
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, httpx2.RequestError) and not where:
            with contextlib.suppress(RuntimeError):  # no request attached
                url = current.request.url
                where = f"{url.host}:{url.port or (443 if url.scheme == 'https' else 80)}"
        if isinstance(current, ConnectionRefusedError):
            # asyncio names the address it tried; uvloop does not, the URL does
            if address := _CONNECT_CALL.search(str(current)):
                where = f"{address[1]}:{address[2]}"
            return f"SSE error: TypeError: fetch failed: connect ECONNREFUSED {where}".rstrip()
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        pending.extend(e for e in (current.__cause__, current.__context__) if e is not None)
    return None


class RemoteUpstream(Upstream):
    """An upstream reached over HTTP. ``transportType`` is "sse" as in mcp-hub."""

    transport_type = "sse"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: The transport that worked last: "streamable-http" or "sse".
        self.negotiated_transport: str | None = None
        self._transport_kind = "streamable-http"
        #: OAuth state while an authorization-code flow may be needed.
        self.oauth: OAuthSession | None = None
        #: The last HTTP error response of the current attempt (see :class:`_StatusWatch`).
        self._http_failure: str | None = None
        #: Where the authorization-code flow keeps its tokens (None: no such flow).
        self._token_storage: ServerTokenStorage | None = None

    def describe_failure(self, exc: BaseException) -> str:
        """An HTTP error response says more than the exception it caused."""
        failure, self._http_failure = self._http_failure, None
        return failure or refused(exc) or describe_exception(exc)

    def _auth(self, resolved: ResolvedServer) -> httpx2.Auth | None:
        """The OAuth provider for this server, unless it authenticates by static headers.

        ``oauth: false`` turns OAuth off; ``oauth: {"grant": "client_credentials",
        "client_id", "client_secret", "scope"?, "auth_method"?}`` uses the
        machine-to-machine grant; otherwise the authorization-code flow runs on a 401.
        """
        self._token_storage = None
        store = self.env.oauth_store
        settings = self.entry.config.get("oauth")
        if store is None or settings is False or not resolved.url:
            return None
        if any(name.lower() == "authorization" for name in resolved.headers):
            return None
        redirect_uri = redirect_uri_for(self.env.port, self.name)
        storage = ServerTokenStorage(store, str(self.entry.config.get("url")), redirect_uri)
        if isinstance(settings, dict) and settings.get("grant") == "client_credentials":
            from mcp.client.auth.extensions.client_credentials import (
                ClientCredentialsOAuthProvider,
            )

            provider = ClientCredentialsOAuthProvider(
                server_url=resolved.url,
                storage=storage,
                client_id=self._secret(settings.get("client_id")),
                client_secret=self._secret(settings.get("client_secret")),
                token_endpoint_auth_method=settings.get("auth_method", "client_secret_basic"),
                scope=settings.get("scope"),
            )
            refresh_early(provider, storage)
            return provider
        scope = settings.get("scope") if isinstance(settings, dict) else None
        self._token_storage = storage
        self.oauth = OAuthSession(
            self.name,
            resolved.url,
            storage,
            redirect_uri,
            self._authorization_needed,
            self._tokens_refused,
            scope=scope,
        )
        return self.oauth.provider

    def _secret(self, value: Any) -> str:
        """Resolve placeholders in an OAuth setting (e.g. ``${env:CLIENT_SECRET}``)."""
        context = {**predefined_variables(self.env.cwd), **self.env.environ, **self.env.hub_env}
        return resolve_string(str(value or ""), context)

    async def _authorization_needed(self, url: str) -> None:
        """The user must authorize: publish the URL and stop blocking start() callers."""
        self.authorization_url = url
        if self._connect_scope is not None:
            self._connect_scope.deadline = float("inf")  # waiting on a person, not a server
        self._set_status(UpstreamStatus.unauthorized)
        self._finish_attempt()

    def _tokens_refused(self) -> None:
        """A call's tokens were refused and cannot be refreshed: end the session (its calls
        fail now) so that the owner connects again, which asks the user."""
        conn = self._conn
        if conn is not None and not conn.unauthorized:
            conn.unauthorized = True
            conn.lost.set()

    def _serving(self) -> None:
        """The session is up: from now on the OAuth flow never waits for the user."""
        if self.oauth is not None:
            self.oauth.serving = True

    async def _raw_allowed(self, auth: httpx2.Auth | None) -> bool:
        """Whether calls may skip the SDK's HTTP client: not when a provider adds tokens
        (client credentials, or an authorization-code flow that has some)."""
        if auth is None:
            return True
        storage = self._token_storage
        return (
            self.oauth is not None
            and auth is self.oauth.provider
            and storage is not None
            and await storage.get_tokens() is None
        )

    def _raw_channel(
        self, resolved: ResolvedServer, watch: _StatusWatch, inject: Inject
    ) -> HttpRawChannel:
        """The plain-JSON channel beside this attempt's SDK session (see :mod:`.rawhttp`)."""
        assert resolved.url is not None

        async def through_sdk(
            method: str, params: dict[str, Any], timeout: float, on_progress: Any
        ) -> dict[str, Any]:
            conn = self._conn
            if conn is None:
                raise MCPError(types.CONNECTION_CLOSED, "Connection closed")
            result = await conn.session.send_request(
                build_request(method, params),
                RawResult,
                request_read_timeout_seconds=timeout,
                progress_callback=on_progress,
            )
            return result.root

        return HttpRawChannel(
            resolved.url,
            {str(name): str(value) for name, value in resolved.headers.items()},
            session_id=lambda: watch.session_id,
            protocol_version=lambda: self.protocol_version,
            deliver=inject,
            relay=lambda method, params: relay_in_order(self, method, params),
            fallback=through_sdk,
            ssl_context=httpx2.create_ssl_context,
        )

    @contextlib.asynccontextmanager
    async def _open_session(
        self, resolved: ResolvedServer, lost: anyio.Event
    ) -> AsyncIterator[ClientSession]:
        """Try Streamable HTTP; on any failure but 401 try the legacy SSE transport.

        A server spoken to in 2026-07-28 only gets no fallback: the legacy transport
        predates that era.
        """
        if self.entry.config.get("protocolVersion") in MODERN_PROTOCOL_VERSIONS:
            self._transport_kind = self.negotiated_transport = "streamable-http"
            async with super()._open_session(resolved, lost) as session:
                self._serving()
                yield session
            return
        async with contextlib.AsyncExitStack() as stack:
            self._transport_kind = "streamable-http"
            self._http_failure = None
            # The first attempt gets its own "lost" event: a failed attempt ends its
            # transport, which must not read as the loss of the fallback's session.
            first_lost = anyio.Event()
            try:
                session = await stack.enter_async_context(
                    super()._open_session(resolved, first_lost)
                )
            except (UnauthorizedError, AuthorizedElsewhere):
                raise
            except Exception as exc:  # includes anyio's exception groups
                if isinstance(innermost(exc), UnreadableList):
                    raise  # the server spoke Streamable HTTP: its answer was the problem
                log.debug(
                    "%s: Streamable HTTP failed (%s); trying SSE",
                    self.name,
                    self._redact(describe_exception(exc)),
                )
                self._transport_kind = "sse"
                session = await stack.enter_async_context(super()._open_session(resolved, lost))
            else:
                relay = await stack.enter_async_context(anyio.create_task_group())
                stack.callback(relay.cancel_scope.cancel)
                relay.start_soon(_forward_event, first_lost, lost)
            self.negotiated_transport = self._transport_kind
            self._serving()
            yield session

    @contextlib.asynccontextmanager
    async def _open_transport(
        self, resolved: ResolvedServer, lost: anyio.Event
    ) -> AsyncIterator[tuple[Any, Any]]:
        if not resolved.url:
            raise ValueError("missing url")
        watch = _StatusWatch()
        try:
            auth = self._auth(resolved)
            if self._transport_kind == "sse":
                transport: Any = sse_client(
                    resolved.url,
                    headers=resolved.headers,
                    httpx_client_factory=_factory(watch),
                    auth=auth,
                )
                async with transport as (read, write), _relay(read, lost, self) as (relayed, _):
                    yield relayed, write
            else:
                async with (
                    _client(watch, headers=resolved.headers, auth=auth) as client,
                    streamable_http_client(resolved.url, http_client=client) as (read, write),
                    _relay(read, lost, self) as (relayed, inject),
                ):
                    if await self._raw_allowed(auth):
                        self.raw = self._raw_channel(resolved, watch, inject)
                    try:
                        yield relayed, write
                    finally:
                        if self.raw is not None:
                            self.raw.close()
                            self.raw = None
        except Exception as exc:
            if self.oauth is not None and self.oauth.authorized_elsewhere:
                raise AuthorizedElsewhere from None
            if watch.unauthorized:
                raise UnauthorizedError(f"Unauthorized: {describe_exception(exc)}") from None
            self._http_failure = watch.failure or self._http_failure
            raise


def _relayed(upstream: Upstream, message: SessionMessage) -> bool:
    notification = message.message
    if not isinstance(notification, JSONRPCNotification):
        return False
    return relay_in_order(upstream, notification.method, notification.params)


async def _forward_event(source: anyio.Event, target: anyio.Event) -> None:
    await source.wait()
    target.set()


def _client(
    watch: _StatusWatch,
    *,
    headers: dict[str, Any] | None = None,
    timeout: httpx2.Timeout | None = None,
    auth: httpx2.Auth | None = None,
) -> httpx2.AsyncClient:
    """The HTTP client of one attempt: 401s noted, connections kept for the next call."""
    return httpx2.AsyncClient(
        headers=headers,
        timeout=timeout or HTTP_TIMEOUT,
        auth=auth,
        event_hooks={"response": [watch]},
        transport=DrainingTransport(),
    )


def _factory(watch: _StatusWatch) -> Any:
    def make(
        headers: dict[str, Any] | None = None,
        timeout: httpx2.Timeout | None = None,
        auth: httpx2.Auth | None = None,
    ) -> httpx2.AsyncClient:
        return _client(watch, headers=headers, timeout=timeout, auth=auth)

    return make


Inject = Callable[[dict[str, Any]], Awaitable[None]]
"""Hands a message read elsewhere (by the raw channel) to the SDK session."""


@contextlib.asynccontextmanager
async def _relay(
    source: Any, lost: anyio.Event, upstream: Upstream
) -> AsyncIterator[tuple[MemoryObjectReceiveStream[SessionMessage | Exception], Inject]]:
    """Forward the transport's read stream and set *lost* when it ends; the notifications
    clients get are relayed at once instead (:mod:`~tornadohub.upstreams.ordering`).

    Also yields a way to add messages the raw channel read to what the session reads."""
    send: MemoryObjectSendStream[SessionMessage | Exception]
    send, receive = anyio.create_memory_object_stream[SessionMessage | Exception](16)

    async def inject(message: dict[str, Any]) -> None:
        try:
            parsed = jsonrpc_message_adapter.validate_python(message, by_name=False)
        except ValidationError:
            log.warning("%s sent an unreadable message: %.200s", upstream.name, message)
            return
        with contextlib.suppress(anyio.ClosedResourceError, anyio.BrokenResourceError):
            await send.send(SessionMessage(parsed))

    async def pump() -> None:
        try:
            async with send:
                async for message in source:
                    if isinstance(message, SessionMessage) and _relayed(upstream, message):
                        continue
                    await send.send(message)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            pass
        finally:
            lost.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(pump)
        try:
            yield receive, inject
        finally:
            tg.cancel_scope.cancel()
            await receive.aclose()
