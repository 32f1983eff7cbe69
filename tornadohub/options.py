"""Every runtime option of the hub, in one object the CLI fills: :class:`HubOptions`.

The CLI decides each value (a flag, else its documented environment variable, else the
default); the hub, the MCP endpoint and the HTTP server only read what is here and never
argv or the environment themselves. A leaf module (it imports only :mod:`.policy`'s body
limit), so the hub, the metrics and the handlers can all import it.

Environment fallbacks (unset, unparsable, non-positive or infinite values keep the default):

* ``TORNADOHUB_MCP_{PAGE_SIZE,MAX_SESSIONS,MAX_SESSIONS_PER_CLIENT,IDLE_TIMEOUT,KEEPALIVE,
  MAX_BODY,REQUEST_TIMEOUT}`` for :class:`McpOptions`;
* ``TORNADOHUB_HEADER_TIMEOUT`` and ``TORNADOHUB_BODY_TIMEOUT`` for :class:`ConnectionLimits`;
* ``TORNADOHUB_BACKOFF_INITIAL`` and ``TORNADOHUB_BACKOFF_MAX`` for :class:`ConnectPolicy`.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from tornadohub.policy import MAX_BODY_BYTES

if TYPE_CHECKING:
    from tornadohub.cluster.options import ClusterOptions

_Options = TypeVar("_Options")


def positive_number(environ: Mapping[str, str], name: str) -> float | None:
    """The environment variable *name* as a finite number above 0; None otherwise."""
    try:
        value = float(environ.get(name, ""))
    except ValueError:
        return None
    return value if math.isfinite(value) and value > 0 else None


def _from_environ(
    cls: type[_Options],
    environ: Mapping[str, str],
    prefix: str,
    given: Mapping[str, Any],
    *,
    from_env: frozenset[str] | None = None,
) -> _Options:
    """*cls* with each field from *given* (not None), else ``<prefix><FIELD>`` (for the
    fields in *from_env*, default all), else its default."""
    values: dict[str, Any] = {}
    for spec in dataclasses.fields(cls):  # type: ignore[arg-type]
        if given.get(spec.name) is not None:
            values[spec.name] = given[spec.name]
            continue
        if from_env is not None and spec.name not in from_env:
            continue
        number = positive_number(environ, f"{prefix}{spec.name.upper()}")
        if number is not None:
            values[spec.name] = int(number) if spec.type in ("int", int) else number
    return cls(**values)


@dataclass(frozen=True)
class ConnectPolicy:
    """Upstream timeouts and the reconnect backoff (doubling from initial up to max)."""

    connect_timeout: float = 300.0
    list_timeout: float = 60.0
    backoff_initial: float = 1.0
    backoff_max: float = 60.0

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], **given: Any) -> ConnectPolicy:
        """*given* values (None: not given), then ``TORNADOHUB_BACKOFF_{INITIAL,MAX}``
        (seconds), then defaults."""
        backoff = frozenset({"backoff_initial", "backoff_max"})
        return _from_environ(cls, environ, "TORNADOHUB_", given, from_env=backoff)


@dataclass(frozen=True)
class McpOptions:
    """Tunables of the ``/mcp`` endpoint (flags ``--mcp-*``, env ``TORNADOHUB_MCP_*``).

    Defaults: 1000 items per list page, 1000 sessions, 100 per client (API key, else
    address), 30 min idle, a 15 s keep-alive, 4 MiB bodies (never more: the HTTP server's
    own limit), 300 s per forwarded request, which also bounds how long a client may take
    to answer input.
    """

    page_size: int = 1000
    max_sessions: int = 1000
    max_sessions_per_client: int = 100
    idle_timeout: float = 30 * 60.0
    keepalive: float = 15.0
    max_body: int = MAX_BODY_BYTES
    request_timeout: float = 300.0

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], **given: Any) -> McpOptions:
        """*given* values (None: not given), then ``TORNADOHUB_MCP_<FIELD>``, then defaults."""
        options = _from_environ(cls, environ, "TORNADOHUB_MCP_", given)
        return dataclasses.replace(options, max_body=min(options.max_body, MAX_BODY_BYTES))


@dataclass(frozen=True)
class ConnectionLimits:
    """Bounds on every HTTP connection (env ``TORNADOHUB_{HEADER,BODY}_TIMEOUT``)."""

    max_connections: int = 1000
    header_timeout: float = 30.0
    body_timeout: float = 60.0
    #: The HTTP/1.1 wire layer: ``httptools`` (:mod:`tornadohub.httpfront`) or ``tornado``.
    http_server: str = "httptools"

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], **given: Any) -> ConnectionLimits:
        """*given* values (None: not given), then ``TORNADOHUB_{HEADER,BODY}_TIMEOUT``, then
        defaults."""
        timeouts = frozenset({"header_timeout", "body_timeout"})
        return _from_environ(cls, environ, "TORNADOHUB_", given, from_env=timeouts)


@dataclass
class HubOptions:
    """What the CLI decided; the hub never reads argv or the environment itself."""

    config_paths: list[str]
    port: int
    host: str = "127.0.0.1"
    watch: bool = False
    auto_shutdown: bool = False
    shutdown_delay_ms: int = 0
    environ: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    hub_env: dict[str, str] = field(default_factory=dict)
    cwd: str = field(default_factory=os.getcwd)
    #: Upstream timeouts and the reconnect backoff (the edge policy is ``AppState.policy``).
    connect_policy: ConnectPolicy = field(default_factory=ConnectPolicy)
    #: Where OAuth tokens and client registrations persist (None: OAuth off).
    oauth_store_path: Path | None = None
    #: ``/readyz`` answers 503 while fewer servers than this are connected.
    min_ready_servers: int = 0
    #: Marketplace catalog URL (None: mcp-hub's) and the official MCP Registry (None: off).
    marketplace_url: str | None = None
    registry_url: str | None = None
    #: On SIGTERM/SIGINT, how long calls in flight may run on before they are cancelled.
    shutdown_timeout: float = 10.0
    #: ``--unprefixed``: /mcp publishes names unique across servers without the prefix.
    unprefixed: bool = False
    #: ``--metrics-auth``: ``/metrics`` needs an API key too.
    metrics_auth: bool = False
    #: The ``/mcp`` endpoint's tunables.
    mcp: McpOptions = field(default_factory=McpOptions)
    #: Bounds on the HTTP connections.
    limits: ConnectionLimits = field(default_factory=ConnectionLimits)
    #: Cluster mode (``--redis-url`` and the other cluster flags); None: embedded.
    cluster: ClusterOptions | None = None
