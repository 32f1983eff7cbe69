"""A node's whole control plane: join, lead, share events and config, ride out an outage,
drain. Two nodes on short timers against a real redis-server."""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator, Callable
from dataclasses import replace

import pytest

from tests.cluster.conftest import SECRET
from tests.cluster.services import RedisServer, eventually
from tornadohub import metrics
from tornadohub.cluster.config_store import LogEntry
from tornadohub.cluster.node import ClusterNode
from tornadohub.cluster.options import ClusterOptions
from tornadohub.cluster.secret import ClusterKeys
from tornadohub.cluster.streams import ClusterEvent


class Recorder:
    def __init__(self) -> None:
        self.events: list[ClusterEvent] = []
        self.configs: list[LogEntry] = []
        self.rejoins = 0

    def rejoined(self) -> None:
        self.rejoins += 1


def options(redis_server: RedisServer, node_id: str) -> ClusterOptions:
    return ClusterOptions(
        redis_url=redis_server.url,
        node_id=node_id,
        keys=ClusterKeys.from_secrets(SECRET, "test"),
        cluster="test",
        advertise_url=f"http://127.0.0.1:1{node_id[1:]}",
        heartbeat_interval=0.1,
        node_ttl=0.4,
        leader_ttl=0.6,
        redis_timeout=0.25,
        breaker_failures=2,
        breaker_reset=0.2,
    )


@pytest.fixture
async def cluster(
    redis_server: RedisServer,
) -> AsyncIterator[Callable[..., tuple[ClusterNode, Recorder]]]:
    made: list[ClusterNode] = []

    def make(node_id: str, **changes: object) -> tuple[ClusterNode, Recorder]:
        recorder = Recorder()
        node = ClusterNode(
            replace(options(redis_server, node_id), **changes),  # type: ignore[arg-type]
            version="test",
            on_event=recorder.events.append,
            on_config=recorder.configs.append,
            on_rejoin=recorder.rejoined,
        )
        made.append(node)
        return node, recorder

    yield make
    for node in made:
        await node.stop()
    if redis_server.proc is not None and redis_server.proc.poll() is not None:
        redis_server.start()  # the fixture stops it


async def test_two_nodes_share_one_control_plane(
    cluster: Callable[..., tuple[ClusterNode, Recorder]],
) -> None:
    (h1, r1), (h2, r2) = cluster("h1"), cluster("h2")
    await h1.start()
    await h2.start()
    await eventually(
        lambda: set(h1.membership.members) == set(h2.membership.members) == {"h1", "h2"}
    )
    await eventually(lambda: h1.leader.is_leader != h2.leader.is_leader, timeout=5)
    assert metrics.CLUSTER_REGISTRY.get_sample_value("mcphub_cluster_nodes") == 2

    await h1.tail.started.wait()
    await h2.tail.started.wait()
    await h1.events.publish("server.stopped", {"server": "mock", "node": "h1"})
    await h2.config.publish('{"mcpServers": {}}', expected_rev=0)
    await eventually(lambda: len(r1.events) == len(r2.events) == 1 and len(r2.configs) == 1)
    assert r2.events[0].payload == {"server": "mock", "node": "h1"}
    assert r1.configs[0].rev == 1 and r1.configs[0].by == "h2"

    # Both nodes open each other's session ids; hops verify across nodes.
    sid = h1.session_ids.mint(principal="k", protocol_version="2025-11-25")
    assert h2.session_ids.open(sid, principal="k").epoch == h1.epoch
    hop = h2.hop_signer.sign(
        target="h1", method="POST", path="/mcp", session_id=sid, principal="k", body=b"{}"
    )
    assert (
        h1.hop_verifier.verify(
            hop.headers, method="POST", path="/mcp", session_id=sid, body=b"{}"
        ).sender
        == "h2"
    )


async def test_redis_outage_degrades_and_rejoins(
    cluster: Callable[..., tuple[ClusterNode, Recorder]], redis_server: RedisServer
) -> None:
    (h1, r1), (h2, _) = cluster("h1"), cluster("h2", require_redis=True)
    await h1.start()
    await h2.start()
    await eventually(lambda: len(h1.membership.members) == 2)
    assert h1.mode == "cluster" and h1.readiness() == (
        True,
        {"mode": "cluster", "redis": "up", "node": "h1"},
    )

    redis_server.stop(signal.SIGKILL)
    await eventually(lambda: h1.mode == h2.mode == "degraded", timeout=5)
    ready, body = h1.readiness()
    assert ready and body["redis"] == "down"  # serving as a single node
    assert not h2.readiness()[0]  # --require-redis: unready while Redis is down

    redis_server.start()  # empty: membership, lease and streams come back by themselves
    await eventually(lambda: h1.mode == h2.mode == "cluster", timeout=5)
    assert r1.rejoins == 1
    await eventually(lambda: set(h1.membership.members) == {"h1", "h2"}, timeout=5)
    await eventually(lambda: h1.leader.is_leader != h2.leader.is_leader, timeout=5)
    await h2.events.publish("cluster.rejoined", {"node": "h2"})
    await eventually(lambda: [e.name for e in r1.events] == ["cluster.rejoined"], timeout=5)


async def test_drain_leaves_at_once_and_hands_the_lease_over(
    cluster: Callable[..., tuple[ClusterNode, Recorder]],
) -> None:
    (h1, _), (h2, _) = cluster("h1"), cluster("h2")
    await h1.start()
    await eventually(h1.leader.step)  # h1 leads
    await h2.start()
    await eventually(lambda: len(h2.membership.members) == 2)

    await h1.drain()
    assert h1.readiness() == (
        False,
        {"mode": "cluster", "redis": "up", "node": "h1", "reason": "draining"},
    )
    assert set(await h2.membership.beat()) == {"h2"}  # gone before its TTL
    await eventually(lambda: h2.leader.is_leader, timeout=2)  # without waiting for expiry
