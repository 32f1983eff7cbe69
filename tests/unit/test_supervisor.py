"""The per-server supervisor against a scripted upstream: no processes, no sockets.

End-to-end orderings are in ``tests/lifecycle``; here each rule is pinned on its own: a
start joins a start in flight, a stop cancels a start, the last intent wins, an error is
never ``None``, and ``close`` kills what does not stop in time.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, cast

import pytest

from tornadohub.config import ServerEntry
from tornadohub.errors import UpstreamConnectionError
from tornadohub.state import UpstreamStatus
from tornadohub.upstreams.base import Upstream
from tornadohub.upstreams.supervisor import Supervisor, Want


class Scripted:
    """What the supervisor sees of an Upstream; each attempt ends when the test says."""

    def __init__(self, entry: ServerEntry) -> None:
        self.entry = entry
        self.name = entry.name
        self.status = UpstreamStatus.disconnected
        self.error: str | None = None
        self.attempt: asyncio.Future[None] | None = None
        self.launches = 0
        self.stops = 0
        self.killed = False
        self.stop_hangs = False

    @property
    def disabled(self) -> bool:
        return self.status is UpstreamStatus.disabled

    def launch(self) -> asyncio.Future[None]:
        if self.attempt is None or self.attempt.done():
            self.launches += 1
            self.status = UpstreamStatus.connecting
            self.attempt = asyncio.get_running_loop().create_future()
        return self.attempt

    def finish(self, status: UpstreamStatus, error: str | None = None) -> None:
        self.status, self.error = status, error
        assert self.attempt is not None
        self.attempt.set_result(None)

    async def stop(self, *, disable: bool = False) -> None:
        self.stops += 1
        if self.stop_hangs:
            await asyncio.Event().wait()
        if self.attempt is not None and not self.attempt.done():
            self.attempt.set_result(None)
        self.status = UpstreamStatus.disabled if disable else UpstreamStatus.disconnected

    async def kill(self) -> None:
        self.killed = True
        self.status = UpstreamStatus.disconnected


def supervised(made: list[Scripted] | None = None) -> tuple[Supervisor, Scripted]:
    made = made if made is not None else []

    def make(entry: ServerEntry) -> Upstream:
        made.append(Scripted(entry))
        return cast(Upstream, made[-1])

    first = make(ServerEntry("s", {"command": "x"}))
    return Supervisor(first, make, lambda old, new: None), cast(Scripted, first)


async def until(predicate: Any, timeout: float = 5.0) -> None:
    """Let the loop run until *predicate* holds (bounded)."""
    deadline = time.monotonic() + timeout
    for _ in iter(predicate, True):
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.001)


async def test_a_start_meeting_a_start_in_flight_awaits_the_same_outcome() -> None:
    supervisor, upstream = supervised()
    first = asyncio.create_task(supervisor.start())
    await until(lambda: upstream.attempt is not None)
    second = asyncio.create_task(supervisor.start())
    await asyncio.sleep(0)
    upstream.finish(UpstreamStatus.connected)
    await asyncio.gather(first, second)
    assert upstream.launches == 1


async def test_a_stop_cancels_a_start_in_flight_and_the_start_reports_no_error() -> None:
    supervisor, upstream = supervised()
    start = asyncio.create_task(supervisor.start())
    await until(lambda: upstream.attempt is not None)
    await supervisor.stop(disable=True)
    await start  # superseded: no error about the abandoned attempt
    assert upstream.status is UpstreamStatus.disabled
    assert upstream.attempt is not None and upstream.attempt.done()
    assert supervisor.want is Want.disabled


async def test_the_last_intent_wins() -> None:
    supervisor, upstream = supervised()
    calls = [
        supervisor.start(),
        supervisor.stop(disable=True),
        supervisor.start(),
        supervisor.stop(),
        supervisor.start(),
    ]
    tasks = [asyncio.create_task(call) for call in calls]
    await until(lambda: upstream.attempt is not None and upstream.status.value == "connecting")
    upstream.finish(UpstreamStatus.connected)
    await asyncio.gather(*tasks)
    assert supervisor.want is Want.running
    assert upstream.status is UpstreamStatus.connected


async def test_a_failed_start_always_says_why() -> None:
    supervisor, upstream = supervised()
    start = asyncio.create_task(supervisor.start())
    await until(lambda: upstream.attempt is not None)
    upstream.finish(UpstreamStatus.disconnected, error=None)
    with pytest.raises(UpstreamConnectionError) as raised:
        await start
    assert raised.value.message == 'Failed to connect to "s" MCP server: status is disconnected'
    assert raised.value.data["error"] == "status is disconnected"


async def test_a_new_entry_replaces_the_upstream() -> None:
    made: list[Scripted] = []
    supervisor, old = supervised(made)
    start = asyncio.create_task(supervisor.apply(ServerEntry("s", {"command": "y"})))
    await until(lambda: len(made) == 2 and made[1].attempt is not None)
    made[1].finish(UpstreamStatus.connected)
    await start
    assert cast(Scripted, supervisor.upstream) is made[1]
    assert old.stops == 1


async def test_close_kills_what_does_not_stop_by_the_deadline() -> None:
    supervisor, upstream = supervised()
    start = asyncio.create_task(supervisor.start())
    await until(lambda: upstream.attempt is not None)
    upstream.finish(UpstreamStatus.connected)
    await start
    upstream.stop_hangs = True
    began = time.monotonic()
    await supervisor.close(time.monotonic() + 0.2)
    assert upstream.killed
    assert time.monotonic() - began < 2
    assert not supervisor.busy
