"""Cluster settings: flags with environment fallbacks, validated into a frozen dataclass.

A flag wins; its ``TORNADOHUB_*`` variable is read only when the flag is absent. No
Redis URL from either means embedded mode (:func:`resolve` returns None) and nothing
else is checked. In cluster mode every problem is reported at once
(:class:`~tornadohub.cluster.errors.ClusterConfigError`), the secrets are turned into
keys at once and never kept (nor printed) as text.
"""

from __future__ import annotations

import argparse
import math
import re
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar
from urllib.parse import urlsplit

from tornadohub.cluster.errors import ClusterConfigError
from tornadohub.cluster.secret import MIN_SECRET_BYTES, ClusterKeys

#: Node ids and cluster names: they appear in session ids, Redis keys and nginx names.
NAME_PATTERN = re.compile(r"[a-z0-9-]{1,32}")
REDIS_SCHEMES = frozenset({"redis", "rediss", "unix"})
TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off", ""})

Misrouted = Literal["forward", "reject"]
_T = TypeVar("_T")


@dataclass(frozen=True)
class ClusterOptions:
    """Everything cluster mode needs to know; see :func:`add_arguments` for each field."""

    redis_url: str
    node_id: str
    keys: ClusterKeys
    cluster: str = "default"
    internal_host: str = "127.0.0.1"
    internal_port: int = 0  # 0: the hop listener is off
    advertise_url: str | None = None
    misrouted: Misrouted = "forward"
    heartbeat_interval: float = 5.0
    node_ttl: float = 15.0
    leader_ttl: float = 15.0
    redis_timeout: float = 0.25
    breaker_failures: int = 3
    breaker_reset: float = 5.0
    require_redis: bool = False
    events_maxlen: int = 10_000

    def __repr__(self) -> str:  # the URL may hold a password
        return f"ClusterOptions(node_id={self.node_id!r}, cluster={self.cluster!r}, ...)"

    @property
    def redis_url_redacted(self) -> str:
        """The Redis URL without its password, for logs."""
        parts = urlsplit(self.redis_url)
        if parts.password is None:
            return self.redis_url
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        return parts._replace(netloc=netloc).geturl()


# (flag, dest, env, help): the single table behind add_arguments() and resolve().
_SETTINGS: tuple[tuple[str, str, str, str], ...] = (
    ("--redis-url", "redis_url", "REDIS_URL", "redis://, rediss:// or unix:// URL: cluster mode"),
    ("--cluster", "cluster", "CLUSTER", "cluster name (Redis key prefix; default 'default')"),
    ("--node-id", "node_id", "NODE_ID", "this node's id, [a-z0-9-]{1,32} (default: hostname)"),
    ("--cluster-secret-file", "cluster_secret_file", "CLUSTER_SECRET", "file with the secret"),
    (
        "--cluster-secret-previous-file",
        "cluster_secret_previous_file",
        "CLUSTER_SECRET_PREVIOUS",
        "file with the previous secret, still accepted while rotating",
    ),
    ("--internal-listen", "internal_listen", "INTERNAL_LISTEN", "HOST:PORT of the hop listener"),
    ("--advertise-url", "advertise_url", "ADVERTISE_URL", "URL peers reach the hop listener at"),
    ("--misrouted", "misrouted", "MISROUTED", "forward (default) or reject a misrouted session"),
    ("--heartbeat-interval", "heartbeat_interval", "HEARTBEAT_INTERVAL", "seconds (default 5)"),
    ("--node-ttl", "node_ttl", "NODE_TTL", "seconds a silent node stays a member (default 15)"),
    ("--leader-ttl", "leader_ttl", "LEADER_TTL", "leader lease seconds, renewed at 1/3 (15)"),
    ("--redis-timeout", "redis_timeout", "REDIS_TIMEOUT", "seconds per Redis call (0.25)"),
    (
        "--redis-breaker-failures",
        "redis_breaker_failures",
        "REDIS_BREAKER_FAILURES",
        "consecutive failures that open the breaker (3)",
    ),
    (
        "--redis-breaker-reset",
        "redis_breaker_reset",
        "REDIS_BREAKER_RESET",
        "seconds between probes while open (5)",
    ),
    ("--require-redis", "require_redis", "REQUIRE_REDIS", "/readyz fails while Redis is down"),
    ("--events-maxlen", "events_maxlen", "EVENTS_MAXLEN", "events kept for resuming (10000)"),
)
ENV_PREFIX = "TORNADOHUB_"


class _ArgumentContainer(Protocol):
    """An argparse parser or argument group."""

    def add_argument(self, *names: str, **options: Any) -> argparse.Action: ...


def add_arguments(parser: _ArgumentContainer) -> None:
    """Add the cluster flags to *parser* (or an argument group); all default to None."""
    for flag, dest, env, help_text in _SETTINGS:
        text = f"{help_text} (env {ENV_PREFIX}{env}"
        text += "[_FILE])" if env.startswith("CLUSTER_SECRET") or env == "REDIS_URL" else ")"
        if dest == "require_redis":
            parser.add_argument(flag, dest=dest, action="store_const", const="1", help=text)
        else:
            parser.add_argument(flag, dest=dest, metavar=dest.split("_")[-1].upper(), help=text)


def default_node_id(hostname: str | None = None) -> str:
    """The hostname, lower-cased, other characters as ``-``, at most 32 characters."""
    name = re.sub(r"[^a-z0-9-]+", "-", (hostname or socket.gethostname()).lower())
    return name.strip("-")[:32].strip("-")


class _Reader:
    """Reads one setting (flag, else environment) and collects every problem."""

    def __init__(self, flags: Mapping[str, Any], environ: Mapping[str, str]) -> None:
        self.flags = flags
        self.environ = environ
        self.problems: list[str] = []

    def text(self, dest: str) -> tuple[str, str] | None:
        """(value, where it came from) or None when unset."""
        flag, env = next((f, e) for f, d, e, _ in _SETTINGS if d == dest)
        value = self.flags.get(dest)
        if value is not None:
            return str(value), flag
        name = ENV_PREFIX + env
        if self.environ.get(name):
            return self.environ[name], name
        return None

    def secret(self, dest: str) -> bytes | None:
        """A secret from a file (the flag or ``*_FILE``) or from the variable itself."""
        flag, env = next((f, e) for f, d, e, _ in _SETTINGS if d == dest)
        path = self.flags.get(dest) or self.environ.get(f"{ENV_PREFIX}{env}_FILE")
        if path:
            try:
                return Path(path).read_bytes().rstrip(b"\r\n")
            except OSError as exc:
                self.problems.append(f"{flag}: cannot read {path}: {exc.strerror}")
                return None
        value = self.environ.get(ENV_PREFIX + env)
        return value.encode() if value else None

    def parsed(self, dest: str, parse: Callable[[str], _T], default: _T, rule: str) -> _T:
        found = self.text(dest)
        if found is None:
            return default
        value, where = found
        try:
            return parse(value)
        except ValueError:
            self.problems.append(f"{where} must be {rule}, not {value!r}")
            return default


def _positive(text: str) -> float:
    value = float(text)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(text)
    return value


def _count(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text)
        if value < minimum:
            raise ValueError(text)
        return value

    return parse


def _boolean(text: str) -> bool:
    word = text.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(text)


def _misrouted(text: str) -> Misrouted:
    if text == "forward":
        return "forward"
    if text == "reject":
        return "reject"
    raise ValueError(text)


def split_host_port(text: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``[v6]:PORT``; ValueError otherwise."""
    host, sep, port_text = text.rpartition(":")
    if not sep or not host or not port_text.isdigit():
        raise ValueError(text)
    port = int(port_text)
    if port > 65535:
        raise ValueError(text)
    return host.removeprefix("[").removesuffix("]"), port


def resolve(
    flags: Mapping[str, Any], environ: Mapping[str, str], *, hostname: str | None = None
) -> ClusterOptions | None:
    """Cluster options from *flags* (dest -> value or None) and *environ*; None: embedded.

    Raises :class:`ClusterConfigError` listing every invalid setting.
    """
    reader = _Reader(flags, environ)
    url_source = reader.text("redis_url")
    redis_url = url_source[0] if url_source else None
    if redis_url is None and environ.get(f"{ENV_PREFIX}REDIS_URL_FILE"):
        file = environ[f"{ENV_PREFIX}REDIS_URL_FILE"]
        try:
            redis_url = Path(file).read_text().strip() or None
        except OSError as exc:
            raise ClusterConfigError([f"cannot read {file}: {exc.strerror}"]) from None
    if redis_url is None:
        return None
    problems = reader.problems
    if urlsplit(redis_url).scheme not in REDIS_SCHEMES:
        problems.append("the Redis URL must start with redis://, rediss:// or unix://")

    cluster = reader.parsed("cluster", _name, "default", "[a-z0-9-]{1,32}")
    node_id = reader.parsed("node_id", _name, "", "[a-z0-9-]{1,32}")
    if not node_id and reader.text("node_id") is None:
        node_id = default_node_id(hostname)
        if not NAME_PATTERN.fullmatch(node_id):
            problems.append("the hostname makes no valid node id: give --node-id")
    secret = reader.secret("cluster_secret_file")
    previous = reader.secret("cluster_secret_previous_file")
    if secret is None:
        problems.append(
            "cluster mode needs a secret: --cluster-secret-file, "
            f"{ENV_PREFIX}CLUSTER_SECRET or {ENV_PREFIX}CLUSTER_SECRET_FILE"
        )
    for label, value in (("cluster secret", secret), ("previous cluster secret", previous)):
        if value is not None and len(value) < MIN_SECRET_BYTES:
            problems.append(f"the {label} must be at least {MIN_SECRET_BYTES} bytes")
    internal_host, internal_port = reader.parsed(
        "internal_listen", split_host_port, ("127.0.0.1", 0), "HOST:PORT"
    )
    advertise_url = reader.parsed("advertise_url", _http_url, None, "an http(s):// URL")
    if advertise_url is None and internal_port:
        host = f"[{internal_host}]" if ":" in internal_host else internal_host
        advertise_url = f"http://{host}:{internal_port}"
    heartbeat = reader.parsed("heartbeat_interval", _positive, 5.0, "a positive number")
    node_ttl = reader.parsed("node_ttl", _positive, 15.0, "a positive number")
    if node_ttl < 2 * heartbeat:
        problems.append(
            f"the node TTL ({node_ttl:g} s) must be at least twice the heartbeat interval"
            f" ({heartbeat:g} s), or one late heartbeat drops the node"
        )
    misrouted: Misrouted = reader.parsed("misrouted", _misrouted, "forward", "forward or reject")
    leader_ttl = reader.parsed("leader_ttl", _positive, 15.0, "a positive number")
    redis_timeout = reader.parsed("redis_timeout", _positive, 0.25, "a positive number")
    failures = reader.parsed("redis_breaker_failures", _count(1), 3, "a whole number >= 1")
    reset = reader.parsed("redis_breaker_reset", _positive, 5.0, "a positive number")
    require_redis = reader.parsed("require_redis", _boolean, False, "1/true/yes or 0/false/no")
    events_maxlen = reader.parsed("events_maxlen", _count(100), 10_000, "a whole number >= 100")
    if problems or secret is None:
        raise ClusterConfigError(problems)
    return ClusterOptions(
        redis_url=redis_url,
        node_id=node_id,
        keys=ClusterKeys.from_secrets(secret, cluster, previous),
        cluster=cluster,
        internal_host=internal_host,
        internal_port=internal_port,
        advertise_url=advertise_url,
        misrouted=misrouted,
        heartbeat_interval=heartbeat,
        node_ttl=node_ttl,
        leader_ttl=leader_ttl,
        redis_timeout=redis_timeout,
        breaker_failures=failures,
        breaker_reset=reset,
        require_redis=require_redis,
        events_maxlen=events_maxlen,
    )


def _name(text: str) -> str:
    if not NAME_PATTERN.fullmatch(text):
        raise ValueError(text)
    return text


def _http_url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(text)
    return text.rstrip("/")
