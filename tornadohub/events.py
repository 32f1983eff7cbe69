"""The hub's event bus: one publisher, many bounded subscriber queues.

Every status, capability and hub-state change goes through here; ``/api/events``
(SSE) subscribes. A subscriber whose queue is full is dropped rather than allowed
to slow the hub or the other subscribers.

Cluster mode sets :attr:`EventBus.share`: every event but this process's own
(:data:`NODE_EVENTS`) then goes to the cluster's event stream instead of straight to the
subscribers, and comes back to every node's subscribers through :meth:`EventBus.deliver`
with its stream id, so all nodes show one order. In-process listeners always get the
events of this process at once, and only those.
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


#: Events about this process alone, never shared with the other nodes of a cluster.
NODE_EVENTS = frozenset({HEARTBEAT, HUB_STATE, LOG})


@dataclass(frozen=True)
class Event:
    """One SSE frame: ``event: <name>`` and a JSON payload (timestamp set at publish)."""

    name: str
    payload: dict[str, Any]
    #: Cluster mode: the event's id in the cluster stream (the SSE ``id:``, which a client
    #: resumes from with ``Last-Event-ID`` on any node); None for this process's own events.
    id: str | None = None


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
        #: Cluster mode: takes every event not in :data:`NODE_EVENTS` instead of the
        #: subscribers (it comes back through :meth:`deliver`); None: embedded.
        self.share: Callable[[Event], None] | None = None

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
        if self.share is not None and name not in NODE_EVENTS:
            self.share(event)
        else:
            self.deliver(event)
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                log.exception("event listener failed")
        return event

    def deliver(self, event: Event) -> None:
        """Queue *event* to every subscriber (not to the listeners)."""
        for subscriber in list(self._subscribers.values()):
            try:
                subscriber.queue.put_nowait(event)
            except asyncio.QueueFull:
                log.warning("dropping slow event subscriber %s", subscriber.id)
                self.unsubscribe(subscriber)

    def subscription_event(self, kind: str, **payload: Any) -> Event:
        return self.publish(SUBSCRIPTION_EVENT, {"type": kind, **payload})
