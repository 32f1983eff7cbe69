"""Adoption claims: under concurrency, each orphaned session is adopted exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from tests.cluster.services import RedisServer
from tornadohub.cluster.adoption import AdoptionClaims
from tornadohub.cluster.control import RedisControl
from tornadohub.cluster.keyspace import Keyspace

Make = Callable[..., RedisControl]


async def test_exactly_one_adopter_per_session(
    control: Make, keyspace: Keyspace, redis_server: RedisServer
) -> None:
    nodes = [AdoptionClaims(control(timeout=2.0), keyspace, f"h{i}") for i in (1, 3, 4)]
    sessions = [f"h2.1abcd.session{i}" for i in range(50)]
    # Every node tries every session at the same time, as backups behind nginx would.
    claims = await asyncio.gather(
        *(node.claim(session, ttl=60) for session in sessions for node in nodes)
    )
    for index, session in enumerate(sessions):
        outcomes = claims[index * len(nodes) : (index + 1) * len(nodes)]
        winners = [node.node_id for node, c in zip(nodes, outcomes, strict=True) if c.won]
        assert len(winners) == 1, (session, outcomes)
        assert {c.holder for c in outcomes} == {winners[0]}  # losers learn whom to forward to
    # Asking again is idempotent: the adopter keeps it, the others still lose.
    again = await asyncio.gather(*(node.claim(sessions[0], ttl=60) for node in nodes))
    assert [c.won for c in again] == [c.won for c in claims[: len(nodes)]]
    key = keyspace.adoption(sessions[0])
    assert 0 < int(redis_server.command("TTL", key).lstrip(":")) <= 60
