"""OAuth 2.0 for remote upstreams: token storage, refresh, token sharing across nodes.

The SDK's ``OAuthClientProvider`` runs the whole flow (protected-resource and
authorization-server discovery, dynamic registration, PKCE, RFC 8707 ``resource``,
refresh, one refresh at a time). The hub supplies three things:

* storage: mcp-hub's ``oauth-storage.json`` (mode 0600), keyed by the server's raw
  config ``url``, so tokens and client registrations survive restarts;
* a redirect handler that does not open a browser but publishes the authorization URL
  (the server becomes ``unauthorized``) and a callback handler that waits until the
  user's redirect reaches ``/api/oauth/callback`` or ``/api/oauth/manual_callback``
  (:mod:`tornadohub.oauth_session`);
* client-credentials providers for machine-to-machine upstreams.

The PKCE verifier and ``state`` never leave the SDK's flow; the hub only checks that a
callback's ``state`` matches the URL it handed out before resuming that flow.

Cluster mode sets :attr:`OAuthStore.shared` (:class:`TokenSharing`): every node then reads
and stores an upstream's tokens there first (the file stays a copy), and a refresh runs on
one node at a time across the cluster (:func:`refresh_early` wraps the SDK's flow), because
with rotating refresh tokens a second refresh would replay a spent token and the
authorization server would revoke the whole family. When the shared store cannot be
reached the node carries on with its own copy, and refreshes on its own only a token
that has expired (one due for its early refresh is still used: :class:`_SharedRefreshContext`).

A refresh the authorization server refuses for good (400 or 401) ends that token set: the
node forgets it, and in cluster mode the refusal is stored as the next revision, so that
neither a reconnect nor another node sends the spent refresh token again; the server then
asks for an authorization. Tokens a node gets while Redis is out (an authorization or a
refresh) are offered to the cluster when Redis is back
(:meth:`OAuthStore.share_unshared`), unless another node stored newer ones meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx2
from mcp.client.auth import OAuthClientProvider
from mcp.client.auth.oauth2 import OAuthContext
from mcp.shared.auth import (
    OAuthClientInformationFull,
    OAuthMetadata,
    OAuthToken,
    ProtectedResourceMetadata,
)

from tornadohub.errors import HubError
from tornadohub.paths import write_atomic

log = logging.getLogger("tornadohub.oauth")

CLIENT_NAME = "MCP Hub"
#: Refresh this long before expiry (at most half the token's lifetime).
REFRESH_MARGIN_SECONDS = 30.0
#: Token-endpoint statuses that refuse a refresh for good (RFC 6749 §5.2: ``invalid_grant``,
#: ``invalid_client``): sending the same refresh token again can only be refused again.
REFUSED_REFRESH_STATUSES = frozenset({400, 401})


class RefreshNotSharedError(HubError):
    """Cluster mode: the refresh ran (the authorization server rotated the refresh token)
    but its result could not be stored for the other nodes. *record* is that result: the
    only valid token set now, which this node keeps using."""

    def __init__(self, record: dict[str, Any], reason: str) -> None:
        super().__init__(f"Refreshed tokens not shared: {reason}", code="CLUSTER_UNAVAILABLE")
        self.record = record


class TokenSharing(Protocol):
    """Cluster mode: upstream token sets every node shares, each with a revision number.

    Every method raises :class:`~tornadohub.errors.HubError` when the shared store cannot
    be used now; the caller then goes on with its own copy.
    """

    async def load(self, key: str) -> tuple[int, dict[str, Any]] | None:
        """The revision and token set stored for *key* (None: none)."""

    async def store(
        self, key: str, tokens: dict[str, Any], *, after: int | None = None
    ) -> int | None:
        """Store *tokens* for *key* as a new revision; its number. A new authorization
        replaces whatever is stored (*after* None); a set made from revision *after* is
        stored only while no other revision is (None: another one is)."""

    async def refresh(
        self,
        key: str,
        *,
        stale_rev: int,
        held: str | None,
        refresh: Callable[[dict[str, Any] | None], Awaitable[dict[str, Any]]],
    ) -> tuple[int, dict[str, Any]]:
        """Tokens newer than revision *stale_rev* (or a set other than the one whose access
        token is *held*: Redis came back empty and counts from 1 again): another node's, or
        *refresh*'s result (given the newest stored set), run on one node at a time across
        the cluster.

        Raises :class:`RefreshNotSharedError` when *refresh* ran but its result could not
        be stored.
        """


class OAuthStore:
    """The JSON file of every server's client registration and tokens."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        #: Cluster mode: where the token sets are shared (None: this file only).
        self.shared: TokenSharing | None = None
        #: Cluster mode: token sets made while the cluster could not take them (Redis was
        #: out), by key: the record and the revision it was made from (None: it replaces
        #: any), offered again by :meth:`share_unshared`.
        self.unshared: dict[str, tuple[dict[str, Any], int | None]] = {}

    def read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def update(self, key: str, **fields: Any) -> None:
        with self._lock:
            data = self.read()
            entry = data.get(key) if isinstance(data.get(key), dict) else None
            entry = entry or {"clientInfo": None, "tokens": None, "codeVerifier": None}
            entry.update(fields)
            data[key] = entry
            self._write(data)

    def _write(self, data: dict[str, Any]) -> None:
        write_atomic(self.path, json.dumps(data, indent=2), mode=0o600)

    async def share_unshared(self) -> None:
        """Redis is back: give the cluster the token sets it missed (an authorization or a
        refresh made meanwhile), unless another node stored newer ones."""
        for key, entry in list(self.unshared.items()):
            if self.shared is None:
                return
            record, after = entry
            try:
                rev = await self.shared.store(key, record, after=after)
            except HubError as exc:
                log.warning("Tokens of %s still not shared: %s", key, exc)
                continue
            if self.unshared.get(key) is entry:  # not replaced by a newer set meanwhile
                del self.unshared[key]
            if rev is not None:
                log.info("Tokens of %s shared after the outage: revision %d", key, rev)


@dataclass
class ServerTokenStorage:
    """The SDK's ``TokenStorage`` protocol over one entry of :class:`OAuthStore`.

    Tokens are stored with their absolute expiry so that a restarted hub refreshes
    them before use instead of trusting a stale ``expires_in``.
    """

    store: OAuthStore
    key: str
    #: A registration made for another redirect URI (the hub moved to another port)
    #: would send the user to an authorization server that rejects the redirect: it is
    #: not offered to the SDK, which registers again (and the user authorizes again).
    redirect_uri: str | None = None
    #: Cluster mode: the shared revision of the tokens this node holds (0: none).
    rev: int = 0
    #: Cluster mode: the client registration the shared tokens were issued to, and the
    #: authorization server's metadata (where to refresh them).
    shared_client: dict[str, Any] | None = None
    shared_discovery: dict[str, Any] | None = None
    _client: dict[str, Any] | None = None  # this node's registration, as last read or set
    _discovery: dict[str, Any] | None = None  # the metadata, as last set

    def _entry(self) -> dict[str, Any]:
        entry = self.store.read().get(self.key)
        return entry if isinstance(entry, dict) else {}

    async def get_tokens(self) -> OAuthToken | None:
        shared, tokens = await self._shared_tokens()
        if not shared:
            tokens = await asyncio.to_thread(lambda: self._entry().get("tokens"))
        return stored_token(tokens) if isinstance(tokens, dict) else None

    async def _shared_tokens(self) -> tuple[bool, dict[str, Any] | None]:
        """Whether the cluster holds a record for this server, and its token set (None:
        the refresh token was refused, so this node's older copy must not be used either)."""
        found = await self._shared_record(quiet=False)
        if found is None:
            return False, None
        return True, self.take_shared(*found)

    async def authorized_elsewhere(self) -> bool:
        """Cluster mode: whether the cluster holds other tokens than those this node loaded
        (another node's user authorized meanwhile)."""
        found = await self._shared_record(quiet=True)
        if found is None:
            return False
        rev, record = found  # another revision (not only a higher one: Redis may restart empty)
        return rev != self.rev and isinstance(record.get("tokens"), dict)

    async def _shared_record(self, *, quiet: bool) -> tuple[int, dict[str, Any]] | None:
        """The cluster's record for this server; None without one (or without Redis, which
        is logged unless *quiet*: a poll would say it every second)."""
        shared = self.store.shared
        if shared is None:
            return None
        try:
            return await shared.load(self.key)
        except HubError as exc:
            if not quiet:
                log.warning("Shared tokens of %s unavailable, using this node's: %s", self.key, exc)
            return None

    def take_shared(self, rev: int, record: dict[str, Any]) -> dict[str, Any] | None:
        """Hold the shared *record* of revision *rev*; its token set."""
        self.rev = rev
        client, discovery = record.get("clientInfo"), record.get("discovery")
        self.shared_client = client if isinstance(client, dict) else None
        self.shared_discovery = discovery if isinstance(discovery, dict) else None
        tokens = record.get("tokens")
        return tokens if isinstance(tokens, dict) else None

    async def set_tokens(self, tokens: OAuthToken) -> None:
        data = token_data(tokens)
        shared = self.store.shared
        if shared is not None:
            record = {"tokens": data, "clientInfo": self._client, "discovery": self._discovery}
            try:
                stored = await shared.store(self.key, record)
            except HubError as exc:
                log.warning("Could not share the new tokens of %s: %s", self.key, exc)
                self.store.unshared[self.key] = (record, None)
            else:
                self.store.unshared.pop(self.key, None)
                if stored is not None:
                    self.rev = stored
                self.shared_client, self.shared_discovery = self._client, self._discovery
        await self.keep(data)

    async def keep(self, data: dict[str, Any] | None) -> None:
        """Write a token set (as :func:`token_data` makes it) to this node's file; None
        forgets it (its refresh token was refused: a reconnect must not send it again)."""
        await asyncio.to_thread(self.store.update, self.key, tokens=data)

    async def get_discovery(self) -> dict[str, Any]:
        """The authorization-server and protected-resource metadata seen last time."""
        saved = self.shared_discovery or await asyncio.to_thread(
            lambda: self._entry().get("discovery")
        )
        found: dict[str, Any] = {}
        if isinstance(saved, dict):
            with contextlib.suppress(ValueError):
                if isinstance(saved.get("authorizationServer"), dict):
                    found["authorizationServer"] = OAuthMetadata.model_validate(
                        saved["authorizationServer"]
                    )
                if isinstance(saved.get("protectedResource"), dict):
                    found["protectedResource"] = ProtectedResourceMetadata.model_validate(
                        saved["protectedResource"]
                    )
        return found

    async def set_discovery(
        self,
        authorization_server: OAuthMetadata | None,
        protected_resource: ProtectedResourceMetadata | None,
    ) -> None:
        if authorization_server is None:
            return
        discovery = {
            "authorizationServer": authorization_server.model_dump(mode="json", exclude_none=True),
            "protectedResource": protected_resource.model_dump(mode="json", exclude_none=True)
            if protected_resource is not None
            else None,
        }
        self._discovery = discovery
        await asyncio.to_thread(self.store.update, self.key, discovery=discovery)

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        info = self.shared_client  # cluster mode: the client the shared tokens belong to
        if info is None or not self._redirects_here(info):
            info = await asyncio.to_thread(lambda: self._entry().get("clientInfo"))
        if not isinstance(info, dict) or not self._redirects_here(info):
            return None
        self._client = info
        return OAuthClientInformationFull.model_validate(info)

    def _redirects_here(self, info: dict[str, Any]) -> bool:
        registered = info.get("redirect_uris")
        return not (self.redirect_uri and registered and self.redirect_uri not in registered)

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        data = client_info.model_dump(mode="json", exclude_none=True)
        self._client = data
        await asyncio.to_thread(self.store.update, self.key, clientInfo=data)


def token_data(tokens: OAuthToken) -> dict[str, Any]:
    """A token set as stored: its absolute expiry instead of ``expires_in``."""
    data = tokens.model_dump(mode="json", exclude_none=True)
    if tokens.expires_in is not None:
        data["expiresAt"] = time.time() + tokens.expires_in
    return data


def stored_token(data: dict[str, Any]) -> OAuthToken:
    """The token set :func:`token_data` stored, with ``expires_in`` counted from now."""
    tokens = dict(data)
    expires_at = tokens.pop("expiresAt", None)
    if isinstance(expires_at, int | float):
        tokens["expires_in"] = max(0, int(expires_at - time.time()))
    return OAuthToken.model_validate(tokens)


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


#: The SDK's own refresh in cluster mode comes this long before the token expires, so
#: that a request sent with it does not expire on the way.
_IN_FLIGHT_SECONDS = 1.0
#: A token expiry in the past (the SDK reads 0 as "never expires").
_LONG_AGO = 1.0


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
