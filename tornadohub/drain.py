"""The drain gate: calls in flight, and how a graceful stop waits for them.

Every call the hub forwards on behalf of a client (REST tool, resource and prompt calls,
``/mcp`` requests) runs inside :meth:`WorkGate.in_flight`. Once the hub stops taking work
a new call is refused with :func:`stopping_error`; :meth:`WorkGate.drain` then waits up to
``--shutdown-timeout`` for the calls in flight, and cancels those left, each of which
answers ``HUB_STOPPING`` saying so.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import Any

from tornadohub.errors import NotReadyError

log = logging.getLogger("tornadohub.hub")

#: How long calls cancelled at the shutdown deadline get to write their error response.
CANCEL_GRACE_SECONDS = 5.0


def stopping_error() -> NotReadyError:
    """What new work gets once a shutdown started: 503 ``HUB_STOPPING``."""
    return NotReadyError("Hub is shutting down", code="HUB_STOPPING")


class WorkGate:
    """Counts the calls in flight per task; refuses new ones once *accepting* says no."""

    def __init__(self, accepting: Callable[[], bool], timeout: float) -> None:
        self._accepting = accepting
        #: How long :meth:`drain` waits (``--shutdown-timeout``).
        self.timeout = timeout
        #: How many calls each task is running.
        self._calls: dict[asyncio.Task[Any], int] = {}
        self._no_calls = asyncio.Event()
        self._no_calls.set()
        #: Tasks whose calls :meth:`drain` cancelled at the deadline.
        self._abandoned: set[asyncio.Task[Any]] = set()

    @property
    def count(self) -> int:
        """The calls in flight (``GET /api/stats`` ``callsInFlight``)."""
        return sum(self._calls.values())

    @contextlib.contextmanager
    def in_flight(self, **context: Any) -> Iterator[None]:
        """Run one call (tool, resource, prompt) as work a graceful stop waits for.

        Refused with :func:`stopping_error` once the hub is stopping. A call still running
        when :meth:`drain` gives up is cancelled and raises ``HUB_STOPPING`` saying so,
        with *context* (server, tool, ...) in its data.
        """
        if not self._accepting():
            raise stopping_error()
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("in_flight needs a running task")
        self._calls[task] = self._calls.get(task, 0) + 1
        self._no_calls.clear()
        try:
            yield
        except (Exception, asyncio.CancelledError):
            if task not in self._abandoned:
                raise
            if task.cancelling():
                task.uncancel()
            raise NotReadyError(
                f"Hub is shutting down: the call did not finish within {self.timeout:g} s",
                code="HUB_STOPPING",
                data={**context, "shutdownTimeout": self.timeout},
            ) from None
        finally:
            self._calls[task] -= 1
            if not self._calls[task]:
                del self._calls[task]
                self._abandoned.discard(task)
            if not self._calls:
                self._no_calls.set()

    async def drain(self) -> None:
        """Wait up to :attr:`timeout` for the calls in flight, then cancel those left (each
        answers ``HUB_STOPPING``) and give them a moment to say so. New work must already
        be refused (``Hub.stop_accepting``)."""
        timeout = self.timeout
        if self._calls:
            log.info(
                "Waiting up to %g s for %d call(s) in flight",
                timeout,
                self.count,
                extra={"data": {"calls": self.count, "timeout": timeout}},
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._no_calls.wait(), timeout)
        if not self._calls:
            return
        left = list(self._calls)
        log.warning(
            "Cancelling %d call(s) still running after the %g s shutdown timeout",
            self.count,
            timeout,
            extra={"data": {"calls": self.count, "timeout": timeout}},
        )
        for task in left:
            self._abandoned.add(task)
            task.cancel()
        await asyncio.wait(left, timeout=CANCEL_GRACE_SECONDS)
