"""Cluster settings: embedded without a Redis URL, flags over environment, every error at once."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from tornadohub.cluster.errors import ClusterConfigError
from tornadohub.cluster.options import add_arguments, default_node_id, resolve
from tornadohub.cluster.secret import ClusterKeys

SECRET = "s" * 32
BASE = {"TORNADOHUB_REDIS_URL": "redis://127.0.0.1:6379/0", "TORNADOHUB_CLUSTER_SECRET": SECRET}


def parse(*argv: str) -> dict[str, object]:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return vars(parser.parse_args(argv))


def test_no_redis_url_means_embedded() -> None:
    assert resolve(parse(), {}) is None
    assert resolve(parse(), {"TORNADOHUB_CLUSTER_SECRET": "short"}) is None  # nothing checked


def test_defaults_from_the_environment() -> None:
    options = resolve(parse(), {**BASE, "TORNADOHUB_NODE_ID": "h1"})
    assert options is not None
    assert (options.node_id, options.cluster, options.misrouted) == ("h1", "default", "forward")
    assert (options.heartbeat_interval, options.node_ttl, options.leader_ttl) == (5, 15, 15)
    assert (options.redis_timeout, options.breaker_failures, options.breaker_reset) == (
        0.25,
        3,
        5,
    )
    assert options.internal_port == 0 and options.advertise_url is None  # hop off
    assert options.keys == ClusterKeys.from_secrets(SECRET.encode(), "default")
    assert SECRET not in repr(options) and "redis://" not in repr(options)


def test_flags_win_over_the_environment(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_bytes(b"f" * 40 + b"\n")
    flags = parse(
        "--redis-url", "redis://:pw@10.0.0.5:6380/1",
        "--node-id", "h2",
        "--cluster", "team",
        "--cluster-secret-file", str(secret),
        "--internal-listen", "10.0.0.2:9001",
        "--heartbeat-interval", "0.5",
        "--node-ttl", "1.5",
        "--require-redis",
    )  # fmt: skip
    options = resolve(flags, {**BASE, "TORNADOHUB_NODE_ID": "ignored"})
    assert options is not None
    assert (options.node_id, options.cluster) == ("h2", "team")
    assert options.keys == ClusterKeys.from_secrets(b"f" * 40, "team")  # newline stripped
    assert options.advertise_url == "http://10.0.0.2:9001"
    assert options.require_redis and options.heartbeat_interval == 0.5
    assert options.redis_url_redacted == "redis://:***@10.0.0.5:6380/1"


def test_secret_and_previous_secret_from_files(tmp_path: Path) -> None:
    current, previous = tmp_path / "current", tmp_path / "previous"
    current.write_text("c" * 32)
    previous.write_text("p" * 32)
    env = {
        "TORNADOHUB_REDIS_URL": "unix:///run/redis.sock",
        "TORNADOHUB_CLUSTER_SECRET_FILE": str(current),
        "TORNADOHUB_CLUSTER_SECRET_PREVIOUS_FILE": str(previous),
        "TORNADOHUB_NODE_ID": "h1",
    }
    options = resolve(parse(), env)
    assert options is not None
    assert options.keys == ClusterKeys.from_secrets(b"c" * 32, "default", b"p" * 32)


def test_every_problem_is_reported_at_once() -> None:
    env = {
        "TORNADOHUB_REDIS_URL": "http://redis:6379",
        "TORNADOHUB_CLUSTER_SECRET": "too short",
        "TORNADOHUB_NODE_ID": "Bad_Node",
        "TORNADOHUB_MISROUTED": "drop",
        "TORNADOHUB_HEARTBEAT_INTERVAL": "5",
        "TORNADOHUB_NODE_TTL": "6",
        "TORNADOHUB_REDIS_TIMEOUT": "-1",
        "TORNADOHUB_EVENTS_MAXLEN": "10",
        "TORNADOHUB_INTERNAL_LISTEN": "nowhere",
    }
    with pytest.raises(ClusterConfigError) as caught:
        resolve(parse(), env)
    problems = caught.value.problems
    assert len(problems) == 8, problems
    text = " | ".join(problems)
    for expected in (
        "redis://",
        "at least 32 bytes",
        "TORNADOHUB_NODE_ID must be",
        "TORNADOHUB_MISROUTED must be forward or reject",
        "twice the heartbeat interval",
        "TORNADOHUB_REDIS_TIMEOUT must be a positive number",
        "TORNADOHUB_EVENTS_MAXLEN",
        "TORNADOHUB_INTERNAL_LISTEN must be HOST:PORT",
    ):
        assert expected in text


def test_a_secret_is_required(tmp_path: Path) -> None:
    with pytest.raises(ClusterConfigError, match="needs a secret"):
        resolve(parse("--redis-url", "redis://x", "--node-id", "h1"), {})
    with pytest.raises(ClusterConfigError, match="cannot read"):
        resolve(parse("--cluster-secret-file", str(tmp_path / "missing")), BASE)


@pytest.mark.parametrize(
    ("hostname", "node_id"),
    [("Hub-1.example.com", "hub-1-example-com"), ("x" * 40, "x" * 32), ("web_01", "web-01")],
)
def test_default_node_id_is_the_sanitized_hostname(hostname: str, node_id: str) -> None:
    assert default_node_id(hostname) == node_id
    options = resolve(parse(), BASE, hostname=hostname)
    assert options is not None and options.node_id == node_id
