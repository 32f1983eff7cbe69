"""Refreshing an upstream's OAuth tokens: ahead of expiry, and once for a whole cluster.

:func:`refresh_early` adapts an SDK ``OAuthClientProvider`` (mcp is pinned exactly): tokens
are refreshed a little before they expire (stored ones included), a refused refresh
forgets the set, and in cluster mode (:attr:`tornadohub.oauth.OAuthStore.shared`) a due
token is refreshed by one node for all before the SDK's own flow sees it. Storage and the
sharing protocol are :mod:`tornadohub.oauth`.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncGenerator
from typing import Any

import httpx2
from mcp.client.auth import OAuthClientProvider
from mcp.client.auth.oauth2 import OAuthContext
from mcp.shared.auth import OAuthClientInformationFull, OAuthMetadata, OAuthToken

from tornadohub.errors import HubError
from tornadohub.oauth import (
    RefreshNotSharedError,
    ServerTokenStorage,
    stored_token,
    token_data,
)

log = logging.getLogger("tornadohub.oauth")

#: Refresh this long before expiry (at most half the token's lifetime).
REFRESH_MARGIN_SECONDS = 30.0
#: Token-endpoint statuses that refuse a refresh for good (RFC 6749 §5.2: ``invalid_grant``,
#: ``invalid_client``): sending the same refresh token again can only be refused again.
REFUSED_REFRESH_STATUSES = frozenset({400, 401})
#: The SDK's own refresh in cluster mode comes this long before the token expires, so
#: that a request sent with it does not expire on the way.
_IN_FLIGHT_SECONDS = 1.0
#: A token expiry in the past (the SDK reads 0 as "never expires").
_LONG_AGO = 1.0


class _EarlyRefreshContext(OAuthContext):
    """Treats a token as expired a little before it is, so it is refreshed ahead of use
    (under the provider's lock: concurrent calls cause one refresh) instead of a call
    failing with 401 first."""

    #: When the token really expires (``token_expiry_time`` is earlier: the refresh is due).
    real_expiry_time: float | None = None

    def update_token_expiry(self, token: OAuthToken) -> None:
        super().update_token_expiry(token)
        self.real_expiry_time = self.token_expiry_time
        if self.token_expiry_time is not None and token.expires_in:
            self.token_expiry_time -= min(REFRESH_MARGIN_SECONDS, token.expires_in / 2)

    def clear_tokens(self) -> None:
        super().clear_tokens()
        self.real_expiry_time = None

    def refresh_due(self) -> bool:
        """Whether the hub refreshes before the next request (the early rule)."""
        return not OAuthContext.is_token_valid(self)


class _SharedRefreshContext(_EarlyRefreshContext):
    """Cluster mode: only the shared refresh runs ahead of expiry, and the SDK's own flow
    refreshes a token only when it has really expired (Redis out: as a single node would).

    The SDK checks the token a moment after the hub's shared refresh did: with the early
    rule it could find it due in between, or after a shared refresh that failed for a
    moment, and refresh on its own with a refresh token another node had already spent;
    refused, the node forgot its tokens and asked for a new authorization."""

    def is_token_valid(self) -> bool:
        expiry = self.real_expiry_time
        return bool(
            self.current_tokens
            and self.current_tokens.access_token
            and (not expiry or time.time() <= expiry - _IN_FLIGHT_SECONDS)
        )


def expire_now(context: OAuthContext) -> None:
    """Count the current token as expired (refused before its time): the next request
    refreshes it first."""
    context.token_expiry_time = _LONG_AGO
    if isinstance(context, _EarlyRefreshContext):
        context.real_expiry_time = _LONG_AGO


def refresh_early(provider: OAuthClientProvider, storage: ServerTokenStorage) -> None:
    """Make an SDK provider refresh tokens before they expire, stored ones included.

    mcp 2.3.0 (pinned exactly) computes an expiry only for tokens it just received and
    discovers the token endpoint only after a 401: tokens loaded from storage count as
    never expiring, and a refresh right after a restart goes to a guessed endpoint. A
    restarted hub would then send an expired token and start a whole new authorization
    instead of a refresh. So the context gets an early-expiry rule, stored tokens are
    dated on load, and the discovered metadata is persisted with the tokens.
    """
    context = provider.context
    context.__class__ = _EarlyRefreshContext
    load = provider._initialize

    async def initialize() -> None:
        await load()
        tokens = context.current_tokens
        if tokens is not None and tokens.expires_in is not None:
            context.update_token_expiry(tokens)
        if context.oauth_metadata is None:
            discovered = await storage.get_discovery()
            context.oauth_metadata = discovered.get("authorizationServer")
            context.protected_resource_metadata = discovered.get("protectedResource")

    save = storage.set_tokens

    async def set_tokens(tokens: OAuthToken) -> None:
        await storage.set_discovery(context.oauth_metadata, context.protected_resource_metadata)
        await save(tokens)  # after: in cluster mode the metadata is shared with the tokens

    handle_refresh_response = provider._handle_refresh_response

    async def refresh_handled(response: httpx2.Response) -> bool:
        refreshed = await handle_refresh_response(response)
        if not refreshed and response.status_code in REFUSED_REFRESH_STATUSES:
            await storage.keep(None)  # the SDK forgot them; the file must too
        return refreshed

    provider._initialize = initialize  # type: ignore[method-assign]
    provider._handle_refresh_response = refresh_handled  # type: ignore[method-assign]
    storage.set_tokens = set_tokens  # type: ignore[method-assign]
    if storage.store.shared is not None:
        _refresh_across_nodes(provider, storage)


def _refresh_across_nodes(provider: OAuthClientProvider, storage: ServerTokenStorage) -> None:
    """Cluster mode: an expired token is refreshed by one node for all (see the module
    docstring) before the SDK's own flow sees it, which then finds a valid token."""
    context = provider.context
    assert isinstance(context, _EarlyRefreshContext)  # refresh_early's
    context.__class__ = _SharedRefreshContext
    flow = provider._auth_flow

    async def refresh(current: dict[str, Any] | None) -> dict[str, Any]:
        """The refresh itself, with the newest refresh token and the client it belongs to."""
        client = (current or {}).get("clientInfo") or storage.shared_client
        discovery = (current or {}).get("discovery") or storage.shared_discovery
        own = context.client_info
        if current is not None and isinstance(current.get("tokens"), dict):
            context.current_tokens = stored_token(current["tokens"])
        if context.oauth_metadata is None and isinstance(discovery, dict):
            with contextlib.suppress(ValueError):
                server = discovery.get("authorizationServer")
                context.oauth_metadata = OAuthMetadata.model_validate(server)
        if isinstance(client, dict):
            context.client_info = OAuthClientInformationFull.model_validate(client)
        try:
            request = await provider._refresh_token()
        finally:
            context.client_info = own
        async with httpx2.AsyncClient(timeout=30) as http:
            response = await http.send(request)
        if response.status_code in REFUSED_REFRESH_STATUSES:
            # Stored as the next revision: no node sends this refresh token again.
            log.warning("Token refresh of %s refused: %d", storage.key, response.status_code)
            return {"tokens": None, "clientInfo": client, "discovery": discovery}
        if response.status_code != 200:
            raise HubError(f"Token refresh failed: {response.status_code}", code="OAUTH_ERROR")
        fresh = OAuthToken.model_validate_json(response.content)
        prior = context.current_tokens
        if prior is not None:  # RFC 6749 §6: both may be left out when unchanged
            fresh.scope = fresh.scope or prior.scope
            fresh.refresh_token = fresh.refresh_token or prior.refresh_token
        return {"tokens": token_data(fresh), "clientInfo": client, "discovery": discovery}

    async def shared_refresh() -> bool:
        """Whether this node now holds a newer token set."""
        shared = storage.store.shared
        if shared is None:
            return False
        try:
            held = context.current_tokens.access_token if context.current_tokens else None
            rev, record = await shared.refresh(
                storage.key, stale_rev=storage.rev, held=held, refresh=refresh
            )
        except RefreshNotSharedError as exc:  # refreshing again would replay a spent token
            log.warning("Keeping the refreshed tokens of %s on this node: %s", storage.key, exc)
            storage.store.unshared[storage.key] = (exc.record, storage.rev)
            tokens = exc.record.get("tokens")
            data = tokens if isinstance(tokens, dict) else None
        except Exception as exc:  # the SDK's flow goes on as a single hub's would
            log.warning("Shared refresh of the tokens of %s failed: %s", storage.key, exc)
            return False
        else:
            data = storage.take_shared(rev, record)
            if data is not None:
                log.info("Tokens of %s now at shared revision %d", storage.key, rev)
        if data is None:  # refused: the SDK's flow goes on without tokens, to authorization
            log.info("Tokens of %s refused; authorization needed again", storage.key)
            context.clear_tokens()
            await storage.keep(None)
            return False
        context.current_tokens = stored_token(data)
        context.update_token_expiry(context.current_tokens)
        await storage.keep(data)
        return True

    def refreshable() -> bool:
        tokens = context.current_tokens
        return bool(
            tokens and tokens.refresh_token and (context.client_info or storage.shared_client)
        )

    async def auth_flow(request: httpx2.Request) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        async with context.lock:
            if not provider._initialized:
                await provider._initialize()
            for _ in range(2):  # the newest stored set may have expired too: refresh that
                if not context.refresh_due() or not refreshable() or not await shared_refresh():
                    break
        inner = flow(request)
        try:
            outgoing = await inner.__anext__()
            while True:
                incoming = yield outgoing
                outgoing = await inner.asend(incoming)
        except StopAsyncIteration:
            return
        finally:
            await inner.aclose()  # closed early, it must still release the provider's lock

    provider._auth_flow = auth_flow  # type: ignore[method-assign]
