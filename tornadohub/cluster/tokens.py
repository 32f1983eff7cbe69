"""Upstream OAuth tokens shared by every node, refreshed by one node at a time.

Without sharing, N nodes each hold and rotate their own tokens; with rotating refresh
tokens a second concurrent refresh replays a rotated token and the authorization
server revokes the whole family. So the token set lives in Redis (one hash per
upstream: ``rev`` and the set sealed with AES-GCM under the cluster's token key, bound
to the upstream and the revision), and a refresh is single-flight across nodes:

1. read the tokens; if their revision is newer than the one found stale, use them;
2. else take the lock (``SET NX PX``, or ours already; released by compare-and-delete)
   and read again;
3. still stale: refresh (bounded by the lock's lifetime, so the lock cannot lapse
   while the refresh runs), store ``rev + 1``, release;
4. lock taken by another node: wait for its new revision (or for the lock to go).

One Redis call that fails or times out is not an outage: while the breaker stays closed
the refresh goes on trying (a node that refreshed on its own instead would spend the
refresh token the others are about to use). Only an open breaker (the outage the node
then serves through as a single node) or the wait's bound ends it. Once the refresh ran,
its tokens are never dropped: storing them is retried while the lock lasts, a lock that
cannot be released lapses by itself, and tokens that could not be stored reach the caller
(:class:`~tornadohub.oauth.RefreshNotSharedError`).

The SDK's own single-flight is a per-process lock; this is the cross-node one. The
seam is ``mcp.client.auth.TokenStorage`` (wired with ``oauth.py`` in phase 2).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tornadohub.cluster.control import Redis, RedisControl
from tornadohub.cluster.errors import ClusterUnavailableError
from tornadohub.cluster.keyspace import Keyspace
from tornadohub.cluster.secret import ClusterKeys
from tornadohub.metrics import RedisOp
from tornadohub.oauth import RefreshNotSharedError

log = logging.getLogger("tornadohub.cluster")

NONCE_BYTES = 12

# KEYS[1] tokens hash. ARGV: expected rev, new rev, sealed. Returns the stored rev, or
# -current rev - 1 when the expected rev is not current. Idempotent: a put sent again
# (its first answer was lost to a timeout) finds its own set stored and succeeds.
PUT_LUA = """
local rev = tonumber(redis.call('HGET', KEYS[1], 'rev')) or 0
if rev == tonumber(ARGV[2]) and redis.call('HGET', KEYS[1], 'sealed') == ARGV[3] then
  return rev
end
if rev ~= tonumber(ARGV[1]) then return -rev - 1 end
redis.call('HSET', KEYS[1], 'rev', ARGV[2], 'sealed', ARGV[3])
return tonumber(ARGV[2])
"""

# KEYS[1] lock. ARGV: our lock value, its lifetime (ms). Takes the lock, or keeps it when
# it is ours already (a take whose answer was lost to a timeout). Returns 1 if we hold it.
LOCK_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 0
"""

# KEYS[1] lock. ARGV: our lock value. Deletes it only if it is still ours.
UNLOCK_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class TokenSealError(Exception):
    """The stored token set cannot be opened (another cluster's secret, or corrupt)."""


class RefreshWaitError(ClusterUnavailableError):
    """Another node held the refresh lock for longer than we could wait."""


@dataclass(frozen=True)
class TokenRecord:
    rev: int
    tokens: dict[str, Any]


class SharedTokens:
    """Sealed upstream token sets in Redis, with a cross-node single-flight refresh."""

    def __init__(
        self,
        control: RedisControl,
        keyspace: Keyspace,
        keys: ClusterKeys,
        node_id: str,
        *,
        lock_ttl: float = 10.0,
        poll_interval: float = 0.05,
    ) -> None:
        self.control = control
        self.keyspace = keyspace
        self.keys = keys
        self.node_id = node_id
        self.lock_ttl = lock_ttl
        self.poll_interval = poll_interval
        self._put = control.script(PUT_LUA)
        self._lock = control.script(LOCK_LUA)
        self._unlock = control.script(UNLOCK_LUA)

    # ------------------------------------------------------------ sealing
    def seal(self, upstream: str, rev: int, tokens: dict[str, Any]) -> str:
        keys = self.keys.current
        nonce = os.urandom(NONCE_BYTES)
        plain = json.dumps(tokens, separators=(",", ":")).encode()
        sealed = AESGCM(keys.token).encrypt(nonce, plain, f"tok|{upstream}|{rev}".encode())
        return f"{keys.kid}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def open(self, upstream: str, rev: int, sealed: str) -> dict[str, Any]:
        kid, _, body = sealed.partition(".")
        keys = self.keys.by_kid(kid)
        if keys is None:
            raise TokenSealError("sealed with an unknown key")
        try:
            blob = base64.urlsafe_b64decode(body)
            plain = AESGCM(keys.token).decrypt(
                blob[:NONCE_BYTES], blob[NONCE_BYTES:], f"tok|{upstream}|{rev}".encode()
            )
            tokens = json.loads(plain)
        except (InvalidTag, ValueError, binascii.Error):
            raise TokenSealError("the token set does not open") from None
        if not isinstance(tokens, dict):
            raise TokenSealError("the token set is not an object")
        return tokens

    # ------------------------------------------------------------ storage
    async def get(self, upstream: str) -> TokenRecord | None:
        """The shared token set of *upstream*, or None if there is none (or it won't open)."""
        key = self.keyspace.oauth(upstream)

        async def read(redis: Redis) -> list[Any]:
            return list(await redis.hmget(key, ["rev", "sealed"]))

        rev_text, sealed = await self.control.call(RedisOp.tokens, read)
        if rev_text is None or sealed is None:
            return None
        rev = int(rev_text)
        try:
            return TokenRecord(rev, self.open(upstream, rev, str(sealed)))
        except TokenSealError:
            return None

    async def put(
        self, upstream: str, tokens: dict[str, Any], *, expected_rev: int, until: float = 0.0
    ) -> int | None:
        """Store *tokens* as revision ``expected_rev + 1``; None if *expected_rev* is stale.

        Until the ``time.monotonic()`` value *until*, a failed Redis call is tried again
        while the breaker stays closed (the put is idempotent).
        """
        rev = expected_rev + 1
        keys = [self.keyspace.oauth(upstream)]
        args: list[str | int] = [expected_rev, rev, self.seal(upstream, rev, tokens)]
        while True:
            try:
                stored = await self.control.call(
                    RedisOp.tokens, lambda redis: self._put(keys=keys, args=args, client=redis)
                )
            except ClusterUnavailableError:
                if not self._may_retry(until):
                    raise
                await asyncio.sleep(self.poll_interval)
                continue
            return int(stored) if int(stored) >= 0 else None

    # ------------------------------------------------------------ refresh
    async def refresh(
        self,
        upstream: str,
        *,
        stale_rev: int,
        refresh: Callable[[TokenRecord | None], Awaitable[dict[str, Any]]],
        wait: float | None = None,
        newer: Callable[[TokenRecord], bool] | None = None,
    ) -> TokenRecord:
        """Tokens newer than *stale_rev* (or, given, those *newer* accepts): another node's
        fresh ones, or ours from *refresh*.

        *refresh* gets the current record (None: none stored) and returns the new token
        set; it runs on one node at a time across the cluster. Raises
        :class:`RefreshWaitError` after *wait* seconds (default: 1.5 x the lock's
        lifetime) behind another node's lock or a Redis that keeps failing,
        ClusterUnavailableError once the breaker is open (the caller then refreshes on its
        own, as a single node would), and :class:`~tornadohub.oauth.RefreshNotSharedError`
        when the refresh ran but its tokens could not be stored.
        """

        def later(record: TokenRecord) -> bool:
            return record.rev > stale_rev

        newer = newer or later
        deadline = time.monotonic() + (self.lock_ttl * 1.5 if wait is None else wait)
        lock_key = self.keyspace.oauth_lock(upstream)
        me = f"{self.node_id}:{base64.urlsafe_b64encode(os.urandom(9)).decode()}"
        lock_ms = int(self.lock_ttl * 1000)
        while True:
            try:
                current = await self.get(upstream)
                if current is not None and newer(current):
                    return current
                taken = await self.control.call(
                    RedisOp.lock,
                    lambda redis: self._lock(keys=[lock_key], args=[me, lock_ms], client=redis),
                )
                if taken:
                    try:
                        return await self._refresh_locked(upstream, newer, refresh)
                    finally:
                        await self._unlock_quietly(lock_key, me)
            except ClusterUnavailableError as exc:
                # Before any refresh ran (after one, RefreshNotSharedError): try again.
                if not self._may_retry(deadline):
                    raise
                log.info("Refresh of the tokens of %s goes on after: %s", upstream, exc)
            if time.monotonic() >= deadline:
                raise RefreshWaitError(f"another node is still refreshing the tokens of {upstream}")
            await asyncio.sleep(self.poll_interval)

    async def _refresh_locked(
        self,
        upstream: str,
        newer: Callable[[TokenRecord], bool],
        refresh: Callable[[TokenRecord | None], Awaitable[dict[str, Any]]],
    ) -> TokenRecord:
        locked_until = time.monotonic() + self.lock_ttl * 0.8
        current = await self.get(upstream)
        if current is not None and newer(current):
            return current  # refreshed by the node that held the lock before us
        # Leave a margin: past the lock's lifetime another node could start refreshing.
        async with asyncio.timeout(max(0.0, locked_until - time.monotonic())):
            tokens = await refresh(current)
        base = current.rev if current is not None else 0
        try:
            stored = await self.put(upstream, tokens, expected_rev=base, until=locked_until)
        except ClusterUnavailableError as exc:
            raise RefreshNotSharedError(tokens, str(exc)) from exc
        if stored is None:  # only a writer without the lock could do this
            raise RefreshNotSharedError(tokens, f"the tokens of {upstream} changed meanwhile")
        return TokenRecord(stored, tokens)

    def _may_retry(self, until: float) -> bool:
        """Whether a failed Redis call may be tried again: a closed breaker (one failure,
        not an outage) and the ``time.monotonic()`` bound *until* not reached."""
        return self.control.available and time.monotonic() < until

    async def _unlock_quietly(self, lock_key: str, me: str) -> None:
        """Release the lock if it is still ours; one that cannot be released lapses."""
        try:
            await self.control.call(
                RedisOp.lock, lambda redis: self._unlock(keys=[lock_key], args=[me], client=redis)
            )
        except ClusterUnavailableError as exc:
            log.info("Refresh lock %s left to lapse: %s", lock_key, exc)


class SharedUpstreamTokens:
    """The hub's OAuth token sharing (``tornadohub.oauth.TokenSharing``) over
    :class:`SharedTokens`; every method raises ClusterUnavailableError when Redis is out."""

    #: Attempts to store a new authorization's tokens while others write.
    STORE_ATTEMPTS = 5

    def __init__(self, tokens: SharedTokens) -> None:
        self.tokens = tokens

    async def load(self, key: str) -> tuple[int, dict[str, Any]] | None:
        record = await self.tokens.get(key)
        return None if record is None else (record.rev, record.tokens)

    async def store(
        self, key: str, tokens: dict[str, Any], *, after: int | None = None
    ) -> int | None:
        """A new authorization replaces whatever is stored (*after* None); a set made from
        revision *after* replaces only that revision, or nothing when Redis restarted empty;
        otherwise nothing is stored (None)."""
        for _ in range(self.STORE_ATTEMPTS):
            current = await self.tokens.get(key)
            if after is not None and current is not None and current.rev != after:
                return None  # another node stored newer tokens: those stand
            stored = await self.tokens.put(
                key, tokens, expected_rev=0 if current is None else current.rev
            )
            if stored is not None:
                return stored
        raise ClusterUnavailableError(f"the tokens of {key} are changing too fast")

    async def refresh(
        self,
        key: str,
        *,
        stale_rev: int,
        held: str | None,
        refresh: Callable[[dict[str, Any] | None], Awaitable[dict[str, Any]]],
    ) -> tuple[int, dict[str, Any]]:
        async def run(current: TokenRecord | None) -> dict[str, Any]:
            return await refresh(None if current is None else current.tokens)

        def newer(record: TokenRecord) -> bool:
            """A later revision, or a set other than the one held (Redis came back empty:
            another node's refresh is revision 1 again, and the held refresh token spent)."""
            tokens = record.tokens.get("tokens")
            access = tokens.get("access_token") if isinstance(tokens, dict) else None
            return record.rev > stale_rev or (held is not None and access != held)

        record = await self.tokens.refresh(key, stale_rev=stale_rev, refresh=run, newer=newer)
        return record.rev, record.tokens
