"""``GET /api/events``: the hub's Server-Sent Events stream, framed exactly as mcp-hub.

Frames are ``event: NAME\\ndata: ONE-LINE-JSON\\n\\n`` (mcphub.nvim's parser relies on
it). Each client reads its own bounded queue from the event bus; a client too slow
to keep up is dropped by the bus, never allowed to slow the hub down.
"""

from __future__ import annotations

import json

from tornado.iostream import StreamClosedError

from tornadohub.clock import iso_now
from tornadohub.events import CLOSE, HUB_STATE, Event, Subscriber
from tornadohub.handlers.base import APIHandler
from tornadohub.handlers.docs import STREAM, RouteDoc
from tornadohub.openapi import Operation


def frame(event: Event) -> str:
    data = json.dumps(event.payload, separators=(",", ":"))
    if event.id is not None:
        return f"id: {event.id}\nevent: {event.name}\ndata: {data}\n\n"
    return f"event: {event.name}\ndata: {data}\n\n"


class EventsHandler(APIHandler):
    """GET /api/events: ``hub_state`` first, then every hub event as it happens."""

    openapi = RouteDoc({"get": Operation({200: STREAM})})

    subscriber: Subscriber | None = None

    def set_default_headers(self) -> None:
        self.set_header("Content-Type", "text/event-stream")
        self.set_header("Cache-Control", "no-cache")
        self.set_header("Connection", "keep-alive")
        self.set_header("X-Accel-Buffering", "no")

    async def get(self) -> None:
        bus = self.hub.events
        self.subscriber = subscriber = bus.subscribe()
        self.hub.client_connected(subscriber)
        state = Event(HUB_STATE, {**self.hub.state_payload(), "timestamp": iso_now()})
        try:
            self.write(frame(state))
            replayed = await self._replay(self.request.headers.get("Last-Event-ID"))
            await self.flush()
            while True:
                event = await subscriber.queue.get()
                chunks = []
                while event is not CLOSE:
                    if event.id is None or event.id not in replayed:  # else already replayed
                        chunks.append(frame(event))
                    if subscriber.queue.empty():
                        break
                    event = subscriber.queue.get_nowait()
                if chunks:
                    self.write("".join(chunks))
                    subscriber.last_event_at = iso_now()
                    await self.flush()
                if event is CLOSE:
                    break
        except StreamClosedError:
            pass

    async def _replay(self, last_event_id: str | None) -> set[str]:
        """Cluster mode: write the events after *last_event_id*; their ids."""
        cluster = self.app_state.cluster
        if not last_event_id or cluster is None:
            return set()
        missed = await cluster.events_after(last_event_id)
        for event in missed:
            self.write(frame(event))
        return {event.id for event in missed if event.id is not None}

    def on_connection_close(self) -> None:
        if self.subscriber is not None:
            self.hub.events.unsubscribe(self.subscriber)

    def on_finish(self) -> None:
        subscriber, self.subscriber = self.subscriber, None
        if subscriber is not None:
            self.hub.events.unsubscribe(subscriber)
            self.hub.client_disconnected(subscriber)


default_handlers = [(r"/api/events", EventsHandler)]
