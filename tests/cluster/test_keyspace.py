"""Every key the control plane writes carries the cluster's ``{hash tag}``."""

from __future__ import annotations

import time
from collections.abc import Callable

import redis.asyncio as aioredis

from tests.cluster.services import RedisServer
from tornadohub.cluster.adoption import AdoptionClaims
from tornadohub.cluster.config_store import ConfigRevisions
from tornadohub.cluster.control import RedisControl
from tornadohub.cluster.keyspace import Keyspace
from tornadohub.cluster.leader import LeaderLease
from tornadohub.cluster.membership import Membership, NodeRecord
from tornadohub.cluster.secret import ClusterKeys
from tornadohub.cluster.streams import ClusterEvents
from tornadohub.cluster.tokens import SharedTokens

Make = Callable[..., RedisControl]


async def test_all_keys_share_one_hash_tag(
    control: Make, redis_server: RedisServer, cluster_keys: ClusterKeys
) -> None:
    keyspace = Keyspace("team-a")
    client = control()
    record = NodeRecord("h1", None, "e1", "0", time.time())
    await Membership(client, keyspace, record).join()
    await LeaderLease(client, keyspace, "h1", "e1").step()
    await ClusterEvents(client, keyspace, "h1").publish("log", {})
    await ConfigRevisions(client, keyspace, "h1").publish("{}", expected_rev=0)
    await AdoptionClaims(client, keyspace, "h1").claim("h2.1abcd.x", ttl=10)
    tokens = SharedTokens(client, keyspace, cluster_keys, "h1")
    await tokens.refresh("up", stale_rev=0, refresh=lambda _: _fresh())

    raw = aioredis.Redis.from_url(redis_server.url, decode_responses=True)
    try:
        keys = sorted(str(key) for key in await raw.keys("*"))
    finally:
        await raw.aclose()
    assert len(keys) >= 8, keys
    assert all(key.startswith("th:{team-a}:") for key in keys), keys


async def _fresh() -> dict[str, str]:
    return {"access_token": "x"}
