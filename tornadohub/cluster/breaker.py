"""The circuit breaker in front of Redis: closed, open, half-open.

Closed: calls go through; :attr:`failures` consecutive failures open it. Open: no call
reaches Redis (the caller gets an immediate "unavailable" and the node carries on as a
single node); every :attr:`reset` seconds one probe may try (half-open). A successful
probe closes it (the node then rejoins and resyncs); a failed one opens it again.
Pure state and a clock: the Redis wrapper drives it, tests drive it directly.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable


class BreakerState(enum.IntEnum):
    """The state, valued as the ``mcphub_redis_breaker_state`` gauge."""

    closed = 0
    half_open = 1
    open = 2


class CircuitBreaker:
    def __init__(
        self,
        failures: int = 3,
        reset: float = 5.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[BreakerState, BreakerState], None] | None = None,
    ) -> None:
        self.failures = failures
        self.reset = reset
        self._clock = clock
        self._on_change = on_change
        self._state = BreakerState.closed
        self._consecutive = 0
        self._opened_at = 0.0

    @property
    def state(self) -> BreakerState:
        return self._state

    def allows_calls(self) -> bool:
        """Whether ordinary calls may go to Redis (closed only: half-open is the probe's)."""
        return self._state is BreakerState.closed

    def probe_due(self) -> bool:
        """Open for :attr:`reset` seconds: move to half-open, and let the caller probe."""
        if self._state is BreakerState.open and self._clock() - self._opened_at >= self.reset:
            self._set(BreakerState.half_open)
            return True
        return False

    def seconds_to_probe(self) -> float:
        if self._state is not BreakerState.open:
            return 0.0
        return max(0.0, self._opened_at + self.reset - self._clock())

    def record_success(self) -> None:
        self._consecutive = 0
        if self._state is not BreakerState.closed:
            self._set(BreakerState.closed)

    def record_failure(self) -> None:
        self._consecutive += 1
        if self._state is BreakerState.half_open or (
            self._state is BreakerState.closed and self._consecutive >= self.failures
        ):
            self._opened_at = self._clock()
            self._set(BreakerState.open)

    def _set(self, state: BreakerState) -> None:
        previous, self._state = self._state, state
        if self._on_change is not None and previous is not state:
            self._on_change(previous, state)
