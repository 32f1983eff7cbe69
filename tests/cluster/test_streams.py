"""``/api/events`` over Redis Streams: one order on every node, resume by id, outages."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from tests.cluster.services import RedisServer, eventually
from tornadohub.cluster.control import RedisControl
from tornadohub.cluster.errors import ClusterUnavailableError
from tornadohub.cluster.keyspace import Keyspace
from tornadohub.cluster.streams import ClusterEvent, ClusterEvents, StreamTail

Make = Callable[..., RedisControl]


class Node:
    """A node's publisher and its tail, collecting what it delivers."""

    def __init__(self, control: RedisControl, keyspace: Keyspace, node_id: str) -> None:
        self.events = ClusterEvents(control, keyspace, node_id, maxlen=10_000)
        self.seen: list[ClusterEvent] = []
        handler = self.events.deliver_with(self.seen.append)
        self.tail = StreamTail(control, {keyspace.events: handler}, block=0.5)
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.task = asyncio.create_task(self.tail.run())
        async with asyncio.timeout(5):
            await self.tail.started.wait()

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task


@contextlib.asynccontextmanager
async def nodes(control: Make, keyspace: Keyspace, count: int) -> AsyncIterator[list[Node]]:
    made = [Node(control(timeout=1.0, reset=0.2), keyspace, f"h{i + 1}") for i in range(count)]
    for node in made:
        await node.start()
    try:
        yield made
    finally:
        for node in made:
            await node.stop()


async def test_one_order_on_every_node(control: Make, keyspace: Keyspace) -> None:
    async with nodes(control, keyspace, 3) as cluster:

        async def publish_from(node: Node) -> None:
            for i in range(20):
                await node.events.publish("server.stopped", {"n": i, "by": node.events.node_id})

        await asyncio.gather(*(publish_from(node) for node in cluster))
        await eventually(lambda: all(len(node.seen) == 60 for node in cluster), timeout=10)
        orders = [[event.id for event in node.seen] for node in cluster]
        assert orders[0] == orders[1] == orders[2]
        assert orders[0] == sorted(orders[0], key=lambda i: tuple(map(int, i.split("-"))))
        first = cluster[0].seen[0]
        assert first.name == "server.stopped" and first.origin in ("h1", "h2", "h3")
        assert first.payload["by"] == first.origin  # payloads arrive intact
        for node in cluster:  # each node's own 20 events, in its publish order
            mine = [e.payload["n"] for e in cluster[1].seen if e.origin == node.events.node_id]
            assert mine == list(range(20))


async def test_resume_by_id_on_another_node(control: Make, keyspace: Keyspace) -> None:
    h1 = ClusterEvents(control(), keyspace, "h1")
    h3 = ClusterEvents(control(), keyspace, "h3")
    ids = [await h1.publish("log", {"i": i}) for i in range(10)]
    missed = await h3.after(ids[3])
    assert missed is not None
    assert [e.id for e in missed] == ids[4:] and [e.payload["i"] for e in missed] == list(
        range(4, 10)
    )
    assert await h3.after(ids[-1]) == []
    with pytest.raises(ValueError):
        await h3.after("not-an-id")


async def test_an_id_older_than_the_stream_is_a_gap(control: Make, keyspace: Keyspace) -> None:
    events = ClusterEvents(control(), keyspace, "h1", maxlen=100)
    ids = [await events.publish("log", {"i": i}) for i in range(400)]
    assert await events.after(ids[0]) is None  # trimmed: the client must start over
    assert await events.after("0-0") is None
    recent = await events.after(ids[-50])  # MAXLEN ~100 keeps at least the last 100
    assert recent is not None and [e.id for e in recent] == ids[-49:]


async def test_a_tail_resumes_after_what_it_delivered(control: Make, keyspace: Keyspace) -> None:
    async with nodes(control, keyspace, 1) as [node]:
        await node.events.publish("a", {})
        await eventually(lambda: len(node.seen) == 1)
        await node.stop()  # cut off while the others go on publishing
        await node.events.publish("b", {})
        await node.events.publish("c", {})
        node.task = asyncio.create_task(node.tail.run())
        await eventually(lambda: [e.name for e in node.seen] == ["a", "b", "c"], timeout=5)


@pytest.fixture
def restartable(redis_server: RedisServer) -> Iterator[RedisServer]:
    yield redis_server
    if redis_server.proc is not None and redis_server.proc.poll() is not None:
        redis_server.start()  # so the fixture's teardown finds it running


async def test_tail_survives_a_redis_restart(
    restartable: RedisServer, control: Make, keyspace: Keyspace
) -> None:
    async with nodes(control, keyspace, 2) as [h1, h2]:
        await h1.events.publish("before", {})
        await eventually(lambda: len(h2.seen) == 1)
        restartable.stop(signal.SIGKILL)
        with pytest.raises(ClusterUnavailableError):  # degraded: the caller delivers locally
            for _ in range(5):
                await h1.events.publish("during", {})
        restartable.start()  # an empty Redis on the same port (no persistence)
        await eventually(lambda: h1.events.control.available, timeout=5)
        await eventually(lambda: h2.events.control.available, timeout=5)
        await h1.events.publish("after", {})
        await eventually(lambda: [e.name for e in h2.seen] == ["before", "after"], timeout=5)
