"""The circuit breaker's state machine, on a fake clock."""

from __future__ import annotations

from tornadohub.cluster.breaker import BreakerState, CircuitBreaker


def state(breaker: CircuitBreaker) -> BreakerState:
    return breaker.state  # a call: mypy keeps no narrowing of the property across steps


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_consecutive_failures_only() -> None:
    changes: list[tuple[BreakerState, BreakerState]] = []
    breaker = CircuitBreaker(3, 5.0, clock=Clock(), on_change=lambda a, b: changes.append((a, b)))
    breaker.record_failure()
    breaker.record_failure()
    breaker.record_success()  # resets the count
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.allows_calls()
    breaker.record_failure()
    assert state(breaker) is BreakerState.open and not breaker.allows_calls()
    assert changes == [(BreakerState.closed, BreakerState.open)]


def test_one_probe_per_reset_interval_then_closes_or_reopens() -> None:
    clock = Clock()
    breaker = CircuitBreaker(1, 5.0, clock=clock)
    breaker.record_failure()
    assert not breaker.probe_due() and breaker.seconds_to_probe() == 5.0
    clock.now = 5.0
    assert breaker.probe_due() and state(breaker) is BreakerState.half_open
    assert not breaker.allows_calls() and not breaker.probe_due()  # only the one probe
    breaker.record_failure()
    assert breaker.seconds_to_probe() == 5.0  # open again, for a whole interval
    clock.now = 10.0
    assert breaker.probe_due()
    breaker.record_success()
    assert state(breaker) is BreakerState.closed and breaker.allows_calls()
