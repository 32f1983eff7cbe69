"""Config revisions: compare-and-set, no-op for the same content, the log every node tails."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import pytest

from tests.cluster.services import eventually
from tornadohub.cluster.config_store import ConfigRevisions, LogEntry, config_digest
from tornadohub.cluster.control import RedisControl
from tornadohub.cluster.errors import ConfigConflictError
from tornadohub.cluster.keyspace import Keyspace
from tornadohub.cluster.streams import Entry, StreamTail

Make = Callable[..., RedisControl]
V1 = '{"mcpServers": {"a": {"command": "a"}}}'
V2 = '{"mcpServers": {"a": {"command": "a"}, "b": {"url": "http://b"}}}'


async def test_compare_and_set(control: Make, keyspace: Keyspace) -> None:
    h1 = ConfigRevisions(control(), keyspace, "h1")
    h2 = ConfigRevisions(control(), keyspace, "h2")
    assert await h1.current() is None
    first = await h1.publish(V1, expected_rev=0)
    assert (first.rev, first.changed) == (1, True)

    # The same content again, from any node and whatever it expected: no new revision.
    again = await h2.publish(V1, expected_rev=0)
    assert (again.rev, again.changed) == (1, False)

    with pytest.raises(ConfigConflictError) as caught:
        await h2.publish(V2, expected_rev=0)  # written on top of a revision it never saw
    assert (caught.value.expected, caught.value.current, caught.value.status) == (0, 1, 409)

    second = await h2.publish(V2, expected_rev=1)
    assert (second.rev, second.changed) == (2, True)
    current = await h1.current()
    assert current is not None
    assert (current.rev, current.by, current.config) == (2, "h2", V2)
    assert current.sha256 == config_digest(V2)


async def test_concurrent_writers_exactly_one_wins(control: Make, keyspace: Keyspace) -> None:
    writers = [ConfigRevisions(control(), keyspace, f"h{i}") for i in (1, 2, 3)]
    await writers[0].publish(V1, expected_rev=0)
    results = await asyncio.gather(
        *(w.publish(f'{{"from": "{w.node_id}"}}', expected_rev=1) for w in writers),
        return_exceptions=True,
    )
    wins = [r for r in results if not isinstance(r, BaseException)]
    conflicts = [r for r in results if isinstance(r, ConfigConflictError)]
    assert len(wins) == 1 and len(conflicts) == 2 and wins[0].rev == 2
    assert all(c.current == 2 for c in conflicts)


async def test_every_node_reads_the_log(control: Make, keyspace: Keyspace) -> None:
    seen: list[LogEntry] = []

    def on_entry(entry: Entry) -> None:
        seen.append(LogEntry.from_entry(*entry))

    tail = StreamTail(control(), {keyspace.config_log: on_entry}, block=0.5)
    task = asyncio.create_task(tail.run())
    try:
        async with asyncio.timeout(5):
            await tail.started.wait()
        writer = ConfigRevisions(control(), keyspace, "h2")
        await writer.publish(V1, expected_rev=0)
        await writer.publish(V1, expected_rev=1)  # unchanged: no log entry
        await writer.publish(V2, expected_rev=1)
        await eventually(lambda: len(seen) == 2)
        assert [(e.rev, e.by, e.sha256) for e in seen] == [
            (1, "h2", config_digest(V1)),
            (2, "h2", config_digest(V2)),
        ]
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
