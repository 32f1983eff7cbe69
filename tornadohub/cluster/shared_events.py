"""``/api/events`` across the cluster: the event bus's shared events through the Redis stream.

The hub's :class:`~tornadohub.events.EventBus` hands every shared event (all but a
process's own heartbeats, hub state and log lines) to :meth:`SharedEvents.share`. One task
appends them to the cluster's stream in the order they were published, a batch per round
trip, each with ``node`` (the publishing node) in its payload; the stream tail brings every
node's events, this node's own included, back to this node's subscribers with their stream
ids (:meth:`SharedEvents.deliver`), so every node shows one order.

While Redis cannot be reached the events are delivered here only, at once: a degraded node
is a single hub. Nothing here runs on a tool call.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from typing import Any

from tornadohub.cluster.errors import ClusterCommandError, ClusterUnavailableError
from tornadohub.cluster.streams import ClusterEvent, ClusterEvents
from tornadohub.events import Event, EventBus

log = logging.getLogger("tornadohub.cluster")

#: Most events appended in one round trip.
BATCH = 256


class SharedEvents:
    """The bridge between one node's event bus and the cluster's event stream."""

    def __init__(
        self, bus: EventBus, events: ClusterEvents, node_id: str, tail_started: asyncio.Event
    ) -> None:
        self.bus = bus
        self.events = events
        self.node_id = node_id
        self._tail_started = tail_started
        self._pending: collections.deque[Event] = collections.deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.bus.share = self.share
        self._task = asyncio.create_task(self._run(), name="cluster-events-out")

    async def stop(self) -> None:
        """Back to local delivery; what was not sent yet is delivered here."""
        self.bus.share = None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        while self._pending:
            self.bus.deliver(self._pending.popleft())

    def share(self, event: Event) -> None:
        """The bus's hook: queue *event* for the stream (never blocks the publisher)."""
        self._pending.append(event)
        self._wake.set()

    def deliver(self, event: ClusterEvent) -> None:
        """An event from the stream (any node's): to this node's subscribers."""
        self.bus.deliver(Event(event.name, event.payload, id=event.id))

    async def after(self, last_event_id: str) -> list[Event]:
        """The events after *last_event_id* (``Last-Event-ID``); none if that cannot be
        known (malformed, trimmed away, Redis unreachable): the client starts over."""
        try:
            found = await self.events.after(last_event_id)
        except (ValueError, ClusterUnavailableError, ClusterCommandError):
            return []
        return [Event(e.name, e.payload, id=e.id) for e in found or []]

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                count = min(len(self._pending), BATCH)
                batch = [self._pending.popleft() for _ in range(count)]
                await self._send(batch)

    async def _send(self, batch: list[Event]) -> None:
        if self._tail_started.is_set():  # else this node could not read them back
            items = [(event.name, self._stamped(event.payload)) for event in batch]
            try:
                await self.events.publish_many(items)
                return
            except ClusterUnavailableError:
                pass
            except ClusterCommandError:
                log.exception("publishing events to the cluster failed")
        for event in batch:
            self.bus.deliver(event)

    def _stamped(self, payload: dict[str, Any]) -> dict[str, Any]:
        return payload if "node" in payload else {**payload, "node": self.node_id}
