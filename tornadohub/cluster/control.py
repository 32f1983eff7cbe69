"""The one door to Redis: redis-py's asyncio client on Tornado's own loop, a timeout on
every operation, and the circuit breaker.

Tornado 6 runs on asyncio, so redis-py's asyncio client needs no thread and no second
loop (measured: a ``GET`` round trip is 262 µs on loopback, which is why Redis stays off
the request path). Every operation goes through :meth:`RedisControl.call`:

* it is refused at once (:class:`ClusterUnavailableError`) unless the breaker is closed;
* it gets ``--redis-timeout`` seconds (blocking reads: their block time on top);
* a connection error or timeout counts against the breaker; an error *answer* from
  Redis (a bad script, a wrong type) does not, it is a bug, not an outage;
* redis-py's own retries are off: the breaker and the callers' loops decide.

While the breaker is open a background task probes with ``PING`` every
``--redis-breaker-reset`` seconds; when one succeeds the breaker closes and
:meth:`wait_available` wakes everything that waits to rejoin and resync.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from tornadohub import metrics
from tornadohub.cluster.breaker import BreakerState, CircuitBreaker
from tornadohub.cluster.errors import ClusterCommandError, ClusterUnavailableError
from tornadohub.metrics import RedisOp

log = logging.getLogger("tornadohub.cluster")

_T = TypeVar("_T")
Redis = aioredis.Redis
#: Failures that mean "Redis is not there (now)".
OUTAGES = (RedisConnectionError, RedisTimeoutError, TimeoutError, OSError)


class RedisControl:
    """A Redis client whose every call is timed out, measured and guarded by a breaker."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 0.25,
        breaker_failures: int = 3,
        breaker_reset: float = 5.0,
        client_name: str | None = None,
    ) -> None:
        self.timeout = timeout
        self.breaker = CircuitBreaker(
            breaker_failures, breaker_reset, on_change=self._on_breaker_change
        )
        self._listeners: list[Callable[[BreakerState], None]] = []
        self._available = asyncio.Event()
        self._available.set()
        self.redis: Redis = aioredis.Redis.from_url(
            url,
            socket_connect_timeout=timeout,
            socket_timeout=None,  # per operation, below: blocking reads need longer
            retry=Retry(NoBackoff(), 0),
            decode_responses=True,
            client_name=client_name,
            health_check_interval=0,
        )
        self._prober: asyncio.Task[None] | None = None
        metrics.redis_breaker(self.breaker.state.value)

    # ------------------------------------------------------------------ calls
    async def call(
        self, op: RedisOp, command: Callable[[Redis], Awaitable[_T]], *, block: float = 0.0
    ) -> _T:
        """Run ``command(redis)`` within the timeout (+ *block* seconds for blocking reads).

        Raises :class:`ClusterUnavailableError` (breaker open, connection failure or
        timeout) or :class:`ClusterCommandError` (Redis answered with an error).
        """
        if not self.breaker.allows_calls():
            raise ClusterUnavailableError("Redis is unavailable (circuit breaker open)")
        return await self._attempt(op, command, block)

    async def _attempt(
        self, op: RedisOp, command: Callable[[Redis], Awaitable[_T]], block: float
    ) -> _T:
        start = time.perf_counter()
        try:
            async with asyncio.timeout(self.timeout + block):
                result = await command(self.redis)
        except OUTAGES as exc:
            metrics.redis_op(op, None)
            self.breaker.record_failure()
            reason = str(exc) or type(exc).__name__
            raise ClusterUnavailableError(f"Redis {op.value} failed: {reason}") from exc
        except RedisError as exc:
            metrics.redis_op(op, None)
            raise ClusterCommandError(f"Redis {op.value}: {exc}") from exc
        metrics.redis_op(op, time.perf_counter() - start)
        self.breaker.record_success()
        return result

    def script(self, lua: str) -> AsyncScript:
        """A Lua script (``EVALSHA``, loaded on first use); run it through :meth:`call`."""
        return self.redis.register_script(lua)

    # ------------------------------------------------------------ availability
    @property
    def available(self) -> bool:
        return self.breaker.state is BreakerState.closed

    async def wait_available(self) -> None:
        """Return once the breaker is closed (at once if it is)."""
        await self._available.wait()

    def add_listener(self, listener: Callable[[BreakerState], None]) -> Callable[[], None]:
        """Call *listener* with the new state on every breaker transition."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def _on_breaker_change(self, previous: BreakerState, state: BreakerState) -> None:
        log.warning("Redis circuit breaker %s -> %s", previous.name, state.name)
        metrics.redis_breaker(state.value)
        if state is BreakerState.closed:
            self._available.set()
        else:
            self._available.clear()
        if state is BreakerState.open and (self._prober is None or self._prober.done()):
            with contextlib.suppress(RuntimeError):  # no running loop: nobody to probe for
                self._prober = asyncio.get_running_loop().create_task(self._probe())
        for listener in list(self._listeners):
            try:
                listener(state)
            except Exception:
                log.exception("breaker listener failed")

    async def _probe(self) -> None:
        """While open: ``PING`` every reset interval until one succeeds."""
        while self.breaker.state is not BreakerState.closed:
            await asyncio.sleep(self.breaker.seconds_to_probe())
            if self.breaker.probe_due():
                with contextlib.suppress(ClusterUnavailableError, ClusterCommandError):
                    await self._attempt(RedisOp.ping, lambda redis: redis.ping(), 0.0)

    async def ping(self) -> bool:
        """One ``PING`` through the breaker: whether Redis answered."""
        try:
            await self.call(RedisOp.ping, lambda redis: redis.ping())
        except (ClusterUnavailableError, ClusterCommandError):
            return False
        return True

    async def close(self) -> None:
        if self._prober is not None:
            self._prober.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._prober
        await self.redis.aclose()
