"""The leader lease: one holder, handover when it stops renewing, time fencing, release."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from tests.cluster.services import eventually
from tornadohub.cluster.control import RedisControl
from tornadohub.cluster.keyspace import Keyspace
from tornadohub.cluster.leader import LeaderLease

Make = Callable[..., RedisControl]
TTL = 0.6


def lease(control: Make, keyspace: Keyspace, node_id: str, epoch: str = "e1") -> LeaderLease:
    return LeaderLease(control(), keyspace, node_id, epoch, ttl=TTL)


async def test_one_holder_at_a_time(control: Make, keyspace: Keyspace) -> None:
    h1, h2, h3 = (lease(control, keyspace, f"h{i}") for i in (1, 2, 3))
    results = await asyncio.gather(h1.step(), h2.step(), h3.step())
    assert sorted(results) == [False, False, True]
    leader = next(node for node, won in zip((h1, h2, h3), results, strict=True) if won)
    assert leader.is_leader and leader.token is not None
    for other in {h1, h2, h3} - {leader}:
        assert not other.is_leader and other.holder is not None
        assert other.holder.node_id == leader.node_id
    assert await leader.step()  # renewal keeps the same lease
    assert leader.holder is not None and leader.holder.token == leader.token


async def test_handover_when_the_holder_stops_renewing(control: Make, keyspace: Keyspace) -> None:
    h1, h2 = lease(control, keyspace, "h1"), lease(control, keyspace, "h2")
    assert await h1.step()
    first_token = h1.token
    renewed_at = time.monotonic()
    assert not await h2.step()

    # h1 stops renewing (a stalled process): its own fence ends its duties first ...
    await eventually(lambda: not h1.is_leader, timeout=2)
    assert time.monotonic() - renewed_at < TTL  # before the key can expire
    # ... then the key expires and h2 takes over with a newer fencing token.
    await eventually(h2.step, timeout=5)
    assert h2.is_leader and h2.token is not None and first_token is not None
    assert h2.token > first_token
    assert not await h1.step()  # h1 wakes up: it is not the leader any more
    assert h1.holder is not None and h1.holder.node_id == "h2"


async def test_release_hands_over_at_once(control: Make, keyspace: Keyspace) -> None:
    h1, h2 = lease(control, keyspace, "h1"), lease(control, keyspace, "h2")
    assert await h1.step()
    await h1.release()
    assert not h1.is_leader
    assert await h2.step()


async def test_a_restarted_node_does_not_inherit_its_old_lease(
    control: Make, keyspace: Keyspace
) -> None:
    old = lease(control, keyspace, "h1", epoch="boot1")
    assert await old.step()
    new = lease(control, keyspace, "h1", epoch="boot2")
    assert not await new.step()


def recorder(node_id: str, changes: list[tuple[str, bool]]) -> Callable[[bool], None]:
    return lambda leader: changes.append((node_id, leader))


async def test_run_loops_keep_exactly_one_leader_through_a_leader_kill(
    control: Make, keyspace: Keyspace
) -> None:
    nodes = [lease(control, keyspace, f"h{i}") for i in (1, 2, 3)]
    changes: list[tuple[str, bool]] = []
    for node in nodes:
        node.add_listener(recorder(node.node_id, changes))
    loops = {node.node_id: asyncio.create_task(node.run()) for node in nodes}
    try:
        await eventually(lambda: sum(node.is_leader for node in nodes) == 1, timeout=5)
        first = next(node for node in nodes if node.is_leader)
        loops[first.node_id].cancel()  # killed: no release
        with contextlib.suppress(asyncio.CancelledError):
            await loops[first.node_id]
        survivors = [node for node in nodes if node is not first]
        await eventually(lambda: any(node.is_leader for node in survivors), timeout=TTL * 4)
        deadline = time.monotonic() + TTL  # across renewal rounds: never two
        while time.monotonic() < deadline:
            assert sum(node.is_leader for node in nodes) == 1
            await asyncio.sleep(0.02)
        assert not first.is_leader  # the dead loop's fence ran out by itself
        new = next(node for node in survivors if node.is_leader)
        assert changes[0] == (first.node_id, True) and (new.node_id, True) in changes
    finally:
        for task in loops.values():
            task.cancel()
        await asyncio.gather(*loops.values(), return_exceptions=True)
