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
one node at a time across the cluster (:mod:`tornadohub.oauth_refresh`), because
with rotating refresh tokens a second refresh would replay a spent token and the
authorization server would revoke the whole family. When the shared store cannot be
reached the node carries on with its own copy, and refreshes on its own only a token
that has expired (one due for its early refresh is still used).

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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

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
