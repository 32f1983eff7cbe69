"""Heartbeats and members: one table for all, expiry by Redis time, leave, id conflicts."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

import pytest

from tests.cluster.services import eventually
from tornadohub.cluster.control import RedisControl
from tornadohub.cluster.errors import NodeIdConflictError
from tornadohub.cluster.keyspace import Keyspace
from tornadohub.cluster.membership import Membership, NodeRecord

Make = Callable[..., RedisControl]


def member(
    control: Make, keyspace: Keyspace, node_id: str, *, epoch: str = "e1", ttl: float = 0.6
) -> Membership:
    record = NodeRecord(node_id, f"http://{node_id}:9000", epoch, "0.1.0", time.time())
    return Membership(control(), keyspace, record, interval=ttl / 3, ttl=ttl)


async def test_every_node_sees_every_live_node(control: Make, keyspace: Keyspace) -> None:
    nodes = [member(control, keyspace, f"h{i}") for i in (1, 2, 3)]
    for node in nodes:
        await node.join()
    tables = [await node.beat() for node in nodes]
    for table in tables:
        assert sorted(table) == ["h1", "h2", "h3"]
    assert tables[0]["h2"].advertise_url == "http://h2:9000"
    assert nodes[0].alive("h2", "e1") and not nodes[0].alive("h2", "other-epoch")


async def test_a_silent_node_expires_and_a_leaving_one_goes_at_once(
    control: Make, keyspace: Keyspace
) -> None:
    h1, h2, h3 = (member(control, keyspace, f"h{i}") for i in (1, 2, 3))
    for node in (h1, h2, h3):
        await node.join()
    assert await h3.leave()
    assert sorted(await h1.beat()) == ["h1", "h2"]  # no TTL wait for a drained node

    async def h2_gone() -> bool:
        return "h2" not in await h1.beat()  # h2 stopped beating; h1 keeps going

    await eventually(h2_gone, timeout=5)
    assert sorted(h1.members) == ["h1"]


async def test_run_loop_keeps_a_node_alive(control: Make, keyspace: Keyspace) -> None:
    h1, h2 = member(control, keyspace, "h1", ttl=0.3), member(control, keyspace, "h2", ttl=0.3)
    await h1.join()
    loop = asyncio.create_task(h1.run())
    try:
        await h2.join()
        deadline = time.monotonic() + 1.0  # > 3 TTLs: h1 must have renewed itself
        while time.monotonic() < deadline:
            assert "h1" in await h2.beat()
            await asyncio.sleep(0.05)
    finally:
        loop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loop


async def test_same_id_from_another_address_is_refused(control: Make, keyspace: Keyspace) -> None:
    await member(control, keyspace, "h1").join()
    impostor = member(control, keyspace, "h1", epoch="e2")
    impostor.me = NodeRecord("h1", "http://elsewhere:9000", "e2", "0.1.0", time.time())
    with pytest.raises(NodeIdConflictError, match="http://h1:9000"):
        await impostor.join()


async def test_a_restart_replaces_its_previous_life(control: Make, keyspace: Keyspace) -> None:
    before = member(control, keyspace, "h1", epoch="boot1")
    await before.join()
    after = member(control, keyspace, "h1", epoch="boot2")  # same address, new epoch
    table = await after.join()
    assert table["h1"].epoch == "boot2"
    with pytest.raises(NodeIdConflictError):
        await before.beat()  # the old process, if it still runs, learns it was replaced
    await before.leave()  # removes only its own epoch's record
    assert (await after.beat())["h1"].epoch == "boot2"
