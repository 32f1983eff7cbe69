"""Fixtures of the cluster tests (real Redis, see :mod:`tests.cluster.services`).

- ``redis_server``: a private ``redis-server`` for one test (stopped by pid).
- ``control``: makes :class:`RedisControl` clients ("nodes") on it, closed at teardown.
- ``keyspace``: the key names of a test cluster.
- ``cluster_keys``: keys derived from a fixed test secret.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from tests.cluster.services import RedisServer
from tornadohub.cluster.control import RedisControl
from tornadohub.cluster.keyspace import Keyspace
from tornadohub.cluster.secret import ClusterKeys

SECRET = b"a test secret that is long enough for HKDF"


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def control(redis_server: RedisServer) -> AsyncIterator[Callable[..., RedisControl]]:
    made: list[RedisControl] = []

    def make(timeout: float = 0.25, failures: int = 3, reset: float = 5.0) -> RedisControl:
        client = RedisControl(
            redis_server.url, timeout=timeout, breaker_failures=failures, breaker_reset=reset
        )
        made.append(client)
        return client

    yield make
    for client in made:
        await client.close()


@pytest.fixture
def keyspace() -> Keyspace:
    return Keyspace("test")


@pytest.fixture
def cluster_keys() -> ClusterKeys:
    return ClusterKeys.from_secrets(SECRET, "test")
