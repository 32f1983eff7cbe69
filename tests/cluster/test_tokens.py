"""Shared OAuth tokens: sealed at rest, one refresh across nodes, waiters get its result,
and a Redis that stalls for a moment (``CLIENT PAUSE``) neither splits the refresh nor loses
its tokens."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import pytest
import redis.asyncio as aioredis

from tests.cluster.services import RedisServer
from tornadohub.cluster.control import Redis, RedisControl
from tornadohub.cluster.errors import ClusterUnavailableError
from tornadohub.cluster.keyspace import Keyspace
from tornadohub.cluster.secret import ClusterKeys
from tornadohub.cluster.tokens import (
    RefreshWaitError,
    SharedTokens,
    SharedUpstreamTokens,
    TokenRecord,
)
from tornadohub.metrics import RedisOp
from tornadohub.oauth import RefreshNotSharedError

Make = Callable[..., RedisControl]
_T = TypeVar("_T")
UPSTREAM = "https://mcp.example.com/mcp"
FIRST = {"access_token": "AT-1", "refresh_token": "RT-1", "expires_in": 3600}


class AuthorizationServer:
    """Rotating refresh tokens: each RT works once; a replay would revoke the family."""

    def __init__(self, before_answer: Callable[[], Awaitable[None]] | None = None) -> None:
        self.grants: list[str] = []
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        self.before_answer = before_answer

    async def refresh(self, current: TokenRecord | None) -> dict[str, Any]:
        assert current is not None
        used = current.tokens["refresh_token"]
        assert used not in self.grants, "refresh token replayed: family revoked"
        self.grants.append(used)
        self.entered.set()
        await self.release.wait()
        if self.before_answer is not None:
            await self.before_answer()
        n = len(self.grants) + 1
        return {"access_token": f"AT-{n}", "refresh_token": f"RT-{n}", "expires_in": 3600}


#: Longer than a Redis call may take in :func:`touchy` nodes: each call made meanwhile fails.
STALL_MS = 400


def shared(control: Make, keyspace: Keyspace, keys: ClusterKeys, node_id: str) -> SharedTokens:
    return SharedTokens(control(timeout=1.0), keyspace, keys, node_id, lock_ttl=5.0)


def touchy(
    control: Make, keyspace: Keyspace, keys: ClusterKeys, node_id: str, *, failures: int
) -> SharedTokens:
    """A node whose Redis calls time out during a stall (the production timeout)."""
    client = control(timeout=0.25, failures=failures)
    return SharedTokens(client, keyspace, keys, node_id, lock_ttl=5.0)


class LosesAnAnswer(RedisControl):
    """A node whose event loop was too busy to read one answer in time: Redis carried out
    the *nth* call of *op* (counted from 1), the node saw a timeout."""

    def __init__(self, url: str, op: RedisOp, nth: int) -> None:
        super().__init__(url, timeout=1.0, breaker_failures=5)
        self.op, self.left = op, nth

    async def call(
        self, op: RedisOp, command: Callable[[Redis], Awaitable[_T]], *, block: float = 0.0
    ) -> _T:
        result = await super().call(op, command, block=block)
        if op is self.op:
            self.left -= 1
            if self.left == 0:
                self.breaker.record_failure()
                raise ClusterUnavailableError(f"Redis {op.value} failed: TimeoutError")
        return result


@pytest.fixture
async def stall(redis_server: RedisServer) -> AsyncIterator[Callable[[], Awaitable[None]]]:
    """Makes Redis hold every command for :data:`STALL_MS` (as a loaded host can); a call
    that times out meanwhile is dropped with its connection."""
    raw = aioredis.Redis.from_url(redis_server.url)

    async def pause() -> None:
        await raw.client_pause(STALL_MS)

    yield pause
    await raw.aclose()


async def test_one_refresh_across_nodes(
    control: Make, keyspace: Keyspace, cluster_keys: ClusterKeys
) -> None:
    nodes = [shared(control, keyspace, cluster_keys, f"h{i}") for i in (1, 2, 3)]
    assert await nodes[0].put(UPSTREAM, FIRST, expected_rev=0) == 1
    server = AuthorizationServer()
    # All three find AT-1 expired at once.
    refreshes = [
        asyncio.create_task(node.refresh(UPSTREAM, stale_rev=1, refresh=server.refresh))
        for node in nodes
    ]
    async with asyncio.timeout(5):
        await server.entered.wait()
    others = [task for task in refreshes if not task.done()]
    done, _ = await asyncio.wait(others, timeout=0.3)  # the others wait, they do not refresh
    assert not done and len(server.grants) == 1
    server.release.set()
    results = await asyncio.gather(*refreshes)
    assert server.grants == ["RT-1"]
    assert {(r.rev, r.tokens["access_token"]) for r in results} == {(2, "AT-2")}
    current = await nodes[2].get(UPSTREAM)
    assert current is not None and current.tokens["refresh_token"] == "RT-2"


async def test_tokens_are_sealed_at_rest(
    control: Make, keyspace: Keyspace, cluster_keys: ClusterKeys, redis_server: RedisServer
) -> None:
    node = shared(control, keyspace, cluster_keys, "h1")
    await node.put(UPSTREAM, FIRST, expected_rev=0)
    raw = aioredis.Redis.from_url(redis_server.url, decode_responses=True)
    try:
        stored = {str(k): str(v) for k, v in (await raw.hgetall(keyspace.oauth(UPSTREAM))).items()}
        assert stored["rev"] == "1" and "AT-1" not in str(stored) and "RT-1" not in str(stored)
        # A sealed set moved to another upstream's key does not open there.
        for name in ("rev", "sealed"):
            await raw.hset(keyspace.oauth("https://other/mcp"), name, stored[name])
    finally:
        await raw.aclose()
    assert await node.get("https://other/mcp") is None
    other_cluster = ClusterKeys.from_secrets(b"another secret, long enough: 32+", "test")
    assert await shared(control, keyspace, other_cluster, "h2").get(UPSTREAM) is None


async def test_a_stale_writer_cannot_overwrite(
    control: Make, keyspace: Keyspace, cluster_keys: ClusterKeys
) -> None:
    node = shared(control, keyspace, cluster_keys, "h1")
    assert await node.put(UPSTREAM, FIRST, expected_rev=0) == 1
    assert await node.put(UPSTREAM, {"access_token": "late"}, expected_rev=0) is None
    current = await node.get(UPSTREAM)
    assert current is not None and current.tokens == FIRST


async def test_tokens_kept_through_an_outage_never_replace_newer_ones(
    control: Make, keyspace: Keyspace, cluster_keys: ClusterKeys
) -> None:
    """What a node could not share during an outage (made from revision *after*) is stored
    when it is still what the cluster holds, or when Redis came back empty; not over
    tokens another node stored meanwhile. A new authorization replaces anything."""
    sharing = SharedUpstreamTokens(shared(control, keyspace, cluster_keys, "h1"))
    assert await sharing.store(UPSTREAM, {"tokens": FIRST}, after=5) == 1  # Redis came back empty
    refreshed = {"tokens": {"access_token": "AT-2", "refresh_token": "RT-2"}}
    assert await sharing.store(UPSTREAM, refreshed, after=1) == 2
    assert await sharing.store(UPSTREAM, {"tokens": {"access_token": "late"}}, after=1) is None
    assert await sharing.load(UPSTREAM) == (2, refreshed)
    authorized = {"tokens": {"access_token": "AT-new"}}
    assert await sharing.store(UPSTREAM, authorized) == 3
    assert await sharing.load(UPSTREAM) == (3, authorized)


async def test_a_set_other_than_the_one_held_is_taken_whatever_its_revision(
    control: Make, keyspace: Keyspace, cluster_keys: ClusterKeys
) -> None:
    """Redis came back empty and h1 refreshed: its set is revision 1, the revision h2
    held before the outage. h2 takes it instead of refreshing once more (which, with a
    server that rotates refresh tokens, spends the set h1 just stored)."""
    h1, h2 = (SharedUpstreamTokens(shared(control, keyspace, cluster_keys, n)) for n in "12")
    refreshed = {"tokens": {"access_token": "AT-2", "refresh_token": "RT-2"}}
    assert await h1.store(UPSTREAM, refreshed, after=1) == 1  # revision 1 again

    async def must_not_run(_: dict[str, Any] | None) -> dict[str, Any]:
        raise AssertionError("refreshed again")

    assert await h2.refresh(UPSTREAM, stale_rev=1, held="AT-1", refresh=must_not_run) == (
        1,
        refreshed,
    )
    # The set held is no reason to take it: it is refreshed (here by h2).
    again = {"tokens": {"access_token": "AT-3", "refresh_token": "RT-3"}}

    async def rotate(current: dict[str, Any] | None) -> dict[str, Any]:
        assert current == refreshed
        return again

    assert await h2.refresh(UPSTREAM, stale_rev=1, held="AT-2", refresh=rotate) == (2, again)


async def test_a_failed_refresh_releases_the_lock(
    control: Make, keyspace: Keyspace, cluster_keys: ClusterKeys
) -> None:
    h1, h2 = (shared(control, keyspace, cluster_keys, f"h{i}") for i in (1, 2))
    await h1.put(UPSTREAM, FIRST, expected_rev=0)

    async def failing(_: TokenRecord | None) -> dict[str, Any]:
        raise RuntimeError("authorization server said no")

    with pytest.raises(RuntimeError):
        await h1.refresh(UPSTREAM, stale_rev=1, refresh=failing)

    async def works(_: TokenRecord | None) -> dict[str, Any]:
        return {"access_token": "AT-2"}

    result = await h2.refresh(UPSTREAM, stale_rev=1, refresh=works, wait=0.5)
    assert result.rev == 2  # got the lock at once: h1 had released it


async def test_waiting_for_a_stuck_refresher_is_bounded(
    control: Make, keyspace: Keyspace, cluster_keys: ClusterKeys
) -> None:
    h1, h2 = (shared(control, keyspace, cluster_keys, f"h{i}") for i in (1, 2))
    await h1.put(UPSTREAM, FIRST, expected_rev=0)
    server = AuthorizationServer()
    stuck = asyncio.create_task(h1.refresh(UPSTREAM, stale_rev=1, refresh=server.refresh))
    async with asyncio.timeout(5):
        await server.entered.wait()
    with pytest.raises(RefreshWaitError):
        await h2.refresh(UPSTREAM, stale_rev=1, refresh=server.refresh, wait=0.3)
    server.release.set()
    assert (await stuck).rev == 2


async def test_a_stalled_redis_does_not_split_the_refresh(
    control: Make,
    keyspace: Keyspace,
    cluster_keys: ClusterKeys,
    stall: Callable[[], Awaitable[None]],
) -> None:
    """Redis stalls just as three nodes find the tokens stale: their calls time out, but
    the breaker stays closed, so none refreshes on its own (that would spend the refresh
    token the others use): one refresh, and all three get its tokens."""
    nodes = [touchy(control, keyspace, cluster_keys, f"h{i}", failures=5) for i in (1, 2, 3)]
    assert await nodes[0].put(UPSTREAM, FIRST, expected_rev=0) == 1
    server = AuthorizationServer()
    server.release.set()
    await stall()
    async with asyncio.timeout(10):
        results = await asyncio.gather(
            *(node.refresh(UPSTREAM, stale_rev=1, refresh=server.refresh) for node in nodes)
        )
    assert server.grants == ["RT-1"]
    assert {(r.rev, r.tokens["access_token"]) for r in results} == {(2, "AT-2")}
    assert all(node.control.available for node in nodes)


async def test_tokens_refreshed_during_a_stall_are_stored(
    control: Make,
    keyspace: Keyspace,
    cluster_keys: ClusterKeys,
    stall: Callable[[], Awaitable[None]],
) -> None:
    """Redis stalls right after the authorization server rotated the refresh token: the
    put is tried again (not the refresh), so the other nodes get the new tokens."""
    h1 = touchy(control, keyspace, cluster_keys, "h1", failures=5)
    h2 = shared(control, keyspace, cluster_keys, "h2")
    await h1.put(UPSTREAM, FIRST, expected_rev=0)
    server = AuthorizationServer(before_answer=stall)
    server.release.set()
    async with asyncio.timeout(10):
        refreshed = await h1.refresh(UPSTREAM, stale_rev=1, refresh=server.refresh)
        assert (refreshed.rev, refreshed.tokens["refresh_token"]) == (2, "RT-2")
        seen = await h2.refresh(UPSTREAM, stale_rev=1, refresh=server.refresh)
    assert (seen.rev, seen.tokens["refresh_token"]) == (2, "RT-2")
    assert server.grants == ["RT-1"]


async def test_refreshed_tokens_that_cannot_be_stored_reach_the_caller(
    control: Make,
    keyspace: Keyspace,
    cluster_keys: ClusterKeys,
    stall: Callable[[], Awaitable[None]],
) -> None:
    """The breaker opens right after the refresh: the new tokens (the only valid ones
    now) come back in the error, for the node to go on with; the lock lapses."""
    h1 = touchy(control, keyspace, cluster_keys, "h1", failures=1)
    await h1.put(UPSTREAM, FIRST, expected_rev=0)
    server = AuthorizationServer(before_answer=stall)
    server.release.set()
    async with asyncio.timeout(10):
        with pytest.raises(RefreshNotSharedError) as refused:
            await h1.refresh(UPSTREAM, stale_rev=1, refresh=server.refresh)
    assert refused.value.record["refresh_token"] == "RT-2"
    assert not h1.control.available and server.grants == ["RT-1"]


@pytest.mark.parametrize(
    ("op", "nth"),
    [(RedisOp.lock, 1), (RedisOp.tokens, 3)],  # the lock's take; the put after the refresh
    ids=["lock", "put"],
)
async def test_an_answer_lost_after_redis_acted_is_no_failure(
    redis_server: RedisServer,
    keyspace: Keyspace,
    cluster_keys: ClusterKeys,
    op: RedisOp,
    nth: int,
) -> None:
    """The take of the lock, or the put of the new tokens, was carried out but its answer
    came too late: tried again, it finds the lock, or the tokens, its own (a node that
    waited behind its own lock, or took its own put for another writer's, would end up
    refreshing on its own)."""
    control = LosesAnAnswer(redis_server.url, op, nth)
    try:
        h1 = SharedTokens(control, keyspace, cluster_keys, "h1", lock_ttl=5.0)
        await h1.put(UPSTREAM, FIRST, expected_rev=0)  # not counted: before the op's calls
        control.left = nth
        server = AuthorizationServer()
        server.release.set()
        async with asyncio.timeout(10):
            refreshed = await h1.refresh(UPSTREAM, stale_rev=1, refresh=server.refresh, wait=2.0)
        assert (refreshed.rev, refreshed.tokens["refresh_token"]) == (2, "RT-2")
        assert server.grants == ["RT-1"] and control.left < 0
    finally:
        await control.close()
