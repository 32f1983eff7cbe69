"""The Redis door: per-operation timeout and the breaker, against a real redis-server."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable

import pytest
from tornado.ioloop import IOLoop

from tests.cluster.services import RedisServer, eventually
from tornadohub import metrics
from tornadohub.cluster.breaker import BreakerState
from tornadohub.cluster.control import Redis, RedisControl
from tornadohub.cluster.errors import ClusterCommandError, ClusterUnavailableError
from tornadohub.metrics import RedisOp

Make = Callable[..., RedisControl]


def failures(op: RedisOp) -> float:
    value = metrics.CLUSTER_REGISTRY.get_sample_value(
        "mcphub_redis_op_failures_total", {"op": op.value}
    )
    return value or 0.0


def gauge(name: str) -> float | None:
    return metrics.CLUSTER_REGISTRY.get_sample_value(name)


async def ping(client: RedisControl) -> object:
    return await client.call(RedisOp.ping, lambda redis: redis.ping())


async def test_runs_on_tornados_own_loop(control: Make) -> None:
    """No thread, no second loop: Tornado's IOLoop is the asyncio loop redis-py runs on."""
    assert IOLoop.current().asyncio_loop is asyncio.get_running_loop()  # type: ignore[attr-defined]
    client = control()
    answered: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

    async def from_a_tornado_callback() -> None:
        answered.set_result(await client.ping())

    IOLoop.current().add_callback(from_a_tornado_callback)
    async with asyncio.timeout(5):
        assert await answered


async def test_breaker_opens_when_redis_dies_and_closes_when_it_returns(
    redis_server: RedisServer, control: Make
) -> None:
    client = control(timeout=0.5, failures=3, reset=0.2)
    assert await client.ping()
    redis_server.stop(signal.SIGKILL)
    for _ in range(3):
        with pytest.raises(ClusterUnavailableError):
            await ping(client)
    assert client.breaker.state is BreakerState.open and not client.available
    assert gauge("mcphub_redis_up") == 0 and gauge("mcphub_redis_breaker_state") == 2

    # Open: refused at once, without trying Redis (no new failure is recorded).
    before = failures(RedisOp.ping)
    with pytest.raises(ClusterUnavailableError, match="breaker open"):
        await ping(client)
    assert failures(RedisOp.ping) == before

    redis_server.start()  # same port
    await eventually(lambda: client.available, timeout=5)
    await client.wait_available()
    assert await ping(client) is True
    assert gauge("mcphub_redis_up") == 1 and gauge("mcphub_redis_breaker_state") == 0


async def test_a_hung_redis_times_out_instead_of_hanging(
    redis_server: RedisServer, control: Make
) -> None:
    client = control(timeout=0.2, failures=2, reset=0.2)
    assert await client.ping()
    os.kill(redis_server.pid, signal.SIGSTOP)
    try:
        start = time.monotonic()
        for _ in range(2):
            with pytest.raises(ClusterUnavailableError):
                await ping(client)
        assert time.monotonic() - start < 5  # two timeouts, not a hang
        assert client.breaker.state is BreakerState.open
    finally:
        os.kill(redis_server.pid, signal.SIGCONT)
    await eventually(lambda: client.available, timeout=5)


async def unknown_command(redis: Redis) -> object:
    return await redis.execute_command("NO-SUCH-CMD")  # type: ignore[no-untyped-call]


async def test_an_error_answer_is_not_an_outage(redis_server: RedisServer, control: Make) -> None:
    client = control(failures=1)
    for _ in range(3):
        with pytest.raises(ClusterCommandError):
            await client.call(RedisOp.ping, unknown_command)
    assert client.available


async def test_refused_at_connect_when_redis_was_never_there(control: Make) -> None:
    client = RedisControl("redis://127.0.0.1:1/0", timeout=0.5, breaker_failures=1)
    try:
        with pytest.raises(ClusterUnavailableError):
            await ping(client)
        assert client.breaker.state is BreakerState.open
    finally:
        await client.close()
