"""One HTTP stream's outbound queue: :class:`Mailbox` of :class:`StreamEvent`.

Unlike an anyio memory stream, a receive that times out or is cancelled never loses an
item, and ``put`` never blocks (the kernel's router must not stall on a slow client).
Used by sessions (one mailbox per stream) and by 2026-07-28 exchanges (one per request).
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from mcp_types import (
    JSONRPCError,
    JSONRPCMessage,
    JSONRPCResponse,
)

log = logging.getLogger("tornadohub.mcp")


MAILBOX_LIMIT: Final = 1024


@dataclass(frozen=True)
class StreamEvent:
    """One outbound message and its SSE event id (None: not resumable)."""

    message: JSONRPCMessage
    id: str | None = None

    @property
    def final(self) -> bool:
        """Whether this is a response, which ends a request's stream."""
        return isinstance(self.message, JSONRPCResponse | JSONRPCError)


class Closed:
    """Marker: the mailbox was closed and is drained."""


class Idle:
    """Marker: nothing arrived within the wait."""


CLOSED: Final = Closed()


IDLE: Final = Idle()


class Mailbox:
    """A bounded queue of outbound events for one HTTP stream.

    Unlike an anyio memory stream, a receive that times out or is cancelled can
    never lose an item (it stays queued), which the keep-alive loop relies on.
    ``put`` never blocks: the kernel's router must not stall on a slow client.
    """

    def __init__(self, limit: int = MAILBOX_LIMIT, *, stream: str | None = None) -> None:
        self._items: collections.deque[StreamEvent] = collections.deque()
        self._limit = limit
        self._waiter: asyncio.Future[None] | None = None
        self.stream = stream  # the session's name for this stream (event ids start with it)
        self.closed = False
        #: Called when an event is put or the mailbox closes, for a reader that does not
        #: wait in :meth:`get` (a fast call's response, written in the caller's step).
        self.notify: Callable[[], None] | None = None

    def put(self, event: StreamEvent, *, force: bool = False) -> bool:
        """Queue *event*; False when closed or full (then the stream is closed).

        *force* ignores the limit: a request's final response is never dropped.
        """
        if self.closed:
            return False
        if len(self._items) >= self._limit and not force:
            log.warning("MCP stream backlog full; closing the stream")
            self.close()
            return False
        self._items.append(event)
        if self.notify is not None:
            self.notify()  # may take the event itself
        if self._items:
            _wake(self._waiter)
        return True

    def close(self) -> None:
        self.closed = True
        _wake(self._waiter)
        if self.notify is not None:
            self.notify()

    @property
    def waiting(self) -> bool:
        """Whether a reader waits in :meth:`get` (nothing was queued when it came)."""
        return self._waiter is not None and not self._waiter.done()

    def take_nowait(self) -> StreamEvent | Closed | None:
        """The next event, :data:`CLOSED`, or None while neither has come."""
        if self._items:
            return self._items.popleft()
        return CLOSED if self.closed else None

    async def get(self, timeout: float) -> StreamEvent | Closed | Idle:
        """The next event, :data:`IDLE` after *timeout* s, or :data:`CLOSED`.

        (A plain future and timer: this wait is on every call's path.)
        """
        if not self._items and not self.closed:
            loop = asyncio.get_running_loop()
            waiter = self._waiter = loop.create_future()
            timer = loop.call_later(timeout, _wake, waiter)
            try:
                await waiter
            finally:
                timer.cancel()
                self._waiter = None
        if self._items:
            return self._items.popleft()
        return CLOSED if self.closed else IDLE


def _wake(waiter: asyncio.Future[None] | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)
