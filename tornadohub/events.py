"""The hub's event bus: one publisher, many bounded subscriber queues.

Every status, capability and hub-state change goes through here; ``/api/events``
(SSE) subscribes. A subscriber whose queue is full is dropped rather than allowed
to slow the hub or the other subscribers.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tornadohub.clock import iso_now

log = logging.getLogger("tornadohub.events")

HEARTBEAT = "heartbeat"
HUB_STATE = "hub_state"
LOG = "log"
SUBSCRIPTION_EVENT = "subscription_event"

DEFAULT_QUEUE_SIZE = 1000


@dataclass(frozen=True)
class Event:
    """One SSE frame: ``event: <name>`` and a JSON payload (timestamp set at publish)."""

    name: str
    payload: dict[str, Any]


#: Queued to a subscriber to end its stream.
CLOSE = Event("", {})


@dataclass
class Subscriber:
    """A connected SSE client; ``closed`` is set when the bus dropped it."""

    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    queue: asyncio.Queue[Event] = field(
        default_factory=lambda: asyncio.Queue(maxsize=DEFAULT_QUEUE_SIZE)
    )
    connected_at: str = field(default_factory=iso_now)
    last_event_at: str | None = None
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "state": "disconnected" if self.closed.is_set() else "connected",
            "connectedAt": self.connected_at,
            "lastEventAt": self.last_event_at,
        }


class EventBus:
    """Fan-out of hub events to subscribers, in publish order for each of them."""

    def __init__(self) -> None:
        self._subscribers: dict[str, Subscriber] = {}
        self._listeners: list[Callable[[Event], None]] = []

    @property
    def subscribers(self) -> list[Subscriber]:
        return list(self._subscribers.values())

    def subscribe(self) -> Subscriber:
        subscriber = Subscriber()
        self._subscribers[subscriber.id] = subscriber
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        """Forget a subscriber and wake its writer so the stream ends."""
        subscriber.closed.set()
        self._subscribers.pop(subscriber.id, None)
        try:
            subscriber.queue.put_nowait(CLOSE)
        except asyncio.QueueFull:
            subscriber.queue.get_nowait()
            subscriber.queue.put_nowait(CLOSE)

    def close_all(self) -> None:
        """End every stream (shutdown): clients see EOF, which means "hub stopped"."""
        for subscriber in list(self._subscribers.values()):
            self.unsubscribe(subscriber)

    def add_listener(self, listener: Callable[[Event], None]) -> Callable[[], None]:
        """In-process listeners (e.g. the /mcp endpoint's re-sync); returns an unsubscribe."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def publish(self, name: str, payload: dict[str, Any]) -> Event:
        event = Event(name, {**payload, "timestamp": iso_now()})
        for subscriber in list(self._subscribers.values()):
            try:
                subscriber.queue.put_nowait(event)
            except asyncio.QueueFull:
                log.warning("dropping slow event subscriber %s", subscriber.id)
                self.unsubscribe(subscriber)
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                log.exception("event listener failed")
        return event

    def subscription_event(self, kind: str, **payload: Any) -> Event:
        return self.publish(SUBSCRIPTION_EVENT, {"type": kind, **payload})
