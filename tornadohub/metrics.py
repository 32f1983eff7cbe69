"""Prometheus metrics: every metric the hub exports is defined in this module.

Names follow ``mcphub_<noun>_<verb>_<unit>`` (``mcphub_tool_call_duration_seconds``;
counters get prometheus-client's ``_total``). Labels have bounded cardinality: server names
come from the config, every other label value from an enum below (or from a handler class,
an HTTP method and a status code), and the series of an enum are created before anything
happens, so that ``rate()`` and alerts work from the first scrape, not the first failure.

Everything is registered in :data:`REGISTRY`, ours rather than prometheus-client's global one,
which ``/metrics`` serves together with the process and platform collectors.

How values arrive:

* upstream status, restarts, connect failures, hub state and SSE clients: :func:`bind_hub`,
  from the hub's change listeners and event bus; nothing else needs to call in;
* tool calls: :func:`measure_tool_call` (or :func:`observe_tool_call`) around each call, from
  the REST path and from ``/mcp``;
* ``/mcp`` sessions: :func:`mcp_session_opened` / :func:`mcp_session_closed`;
* HTTP requests: :func:`log_request`, installed as Tornado's ``log_function``;
* inbound auth: :func:`bind_auth`, :func:`auth_accepted`, :func:`auth_rejected`.

Why this module is long: the house rule is that every metric lives in this one module, so
that names, labels and their bounded values can be reviewed in one place.
"""

from __future__ import annotations

import enum
import logging
import platform
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar

from prometheus_client import (
    GC_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)

from tornadohub import CONTRACT_VERSION, __version__
from tornadohub.events import HUB_STATE, Event
from tornadohub.hub import Hub
from tornadohub.hub_core import unmeasured
from tornadohub.log import access_log_level
from tornadohub.state import HubState, UpstreamStatus
from tornadohub.upstreams import Upstream

if TYPE_CHECKING:
    from tornado.httputil import HTTPServerRequest
    from tornado.web import RequestHandler

NAMESPACE = "mcphub"

_Result = TypeVar("_Result", bound=Mapping[str, Any])
_Metric = TypeVar("_Metric", Counter, Gauge, Histogram)

access_log = logging.getLogger("tornado.access")


class ToolCallOutcome(enum.StrEnum):
    """How a tool call ended (the ``outcome`` label)."""

    success = "success"  # the tool returned a result
    tool_error = "tool_error"  # the tool returned a result with ``isError: true``
    error = "error"  # the hub or the upstream failed it (not connected, unknown tool, MCP error)
    timeout = "timeout"  # no answer within the request's timeout


class McpEra(enum.StrEnum):
    """Protocol era of a ``/mcp`` session (the ``era`` label)."""

    handshake = "handshake"  # 2024-11-05 .. 2025-11-25: initialize, Mcp-Session-Id
    modern = "modern"  # 2026-07-28: stateless, server/discover


class AuthRejection(enum.StrEnum):
    """Why a request was refused with 401 (the ``reason`` label)."""

    missing = "missing"  # no credentials at all
    invalid = "invalid"  # credentials that match no key


#: The JSON-RPC error code of a request that timed out (the SDK's ``REQUEST_TIMEOUT``).
_REQUEST_TIMEOUT_CODE = -32001
#: A tool call for a server that is not (or no longer) in the config.
UNKNOWN_SERVER = "_unknown"
#: Methods outside this set are counted as ``OTHER`` (a client chooses the method string).
_HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "DELETE", "PATCH", "PUT", "OPTIONS"})
#: Handlers whose successful requests are logged at debug: probes must not flood the log.
QUIET_HANDLERS = frozenset({"HealthHandler", "HealthzHandler", "ReadyzHandler", "MetricsHandler"})

#: Tool calls take milliseconds to minutes (the default request timeout is 60 s).
TOOL_CALL_BUCKETS = (0.005, 0.025, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
HTTP_REQUEST_BUCKETS = (0.001, 0.005, 0.025, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 60.0)

# No ``*_created`` series: they double the output and nobody graphs them.
disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped in prometheus-client
REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)
REGISTRY.register(GC_COLLECTOR)

BUILD_INFO = Info(
    "build",
    "tornadohub's version, the mcp-hub API version it implements, and the Python it runs on",
    namespace=NAMESPACE,
    registry=REGISTRY,
)
BUILD_INFO.info(
    {
        "version": __version__,
        "api_version": CONTRACT_VERSION,
        "python": platform.python_version(),
    }
)

HUB_STATE_GAUGE = Gauge(
    "hub_state",
    "1 for the hub's current state (starting, ready, restarting, ...), 0 for the others",
    ["state"],
    namespace=NAMESPACE,
    registry=REGISTRY,
)

UPSTREAM_STATUS = Gauge(
    "upstream_status",
    "1 for each configured server's current connection status, 0 for the others",
    ["server", "status"],
    namespace=NAMESPACE,
    registry=REGISTRY,
)

UPSTREAM_RESTARTS = Counter(
    "upstream_restarts",
    "Times a server was connected again after having been connected"
    " (reconnect after a crash, start after stop, hub restart)",
    ["server"],
    namespace=NAMESPACE,
    registry=REGISTRY,
)

UPSTREAM_CONNECT_FAILURES = Counter(
    "upstream_connect_failures",
    "Connection attempts to a server that failed",
    ["server"],
    namespace=NAMESPACE,
    registry=REGISTRY,
)

TOOL_CALL_DURATION = Histogram(
    "tool_call_duration_seconds",
    "Tool calls through the hub (REST and /mcp) by server and outcome, and their duration",
    ["server", "outcome"],
    namespace=NAMESPACE,
    registry=REGISTRY,
    buckets=TOOL_CALL_BUCKETS,
)

MCP_SESSIONS = Gauge(
    "mcp_sessions_active",
    "Open /mcp sessions by protocol era",
    ["era"],
    namespace=NAMESPACE,
    registry=REGISTRY,
)

SSE_CLIENTS = Gauge(
    "sse_clients_connected",
    "Clients connected to /api/events",
    namespace=NAMESPACE,
    registry=REGISTRY,
)

HTTP_REQUEST_DURATION = Histogram(
    "http_request_duration_seconds",
    "HTTP requests by handler class, method and status code, and their duration",
    ["handler", "method", "code"],
    namespace=NAMESPACE,
    registry=REGISTRY,
    buckets=HTTP_REQUEST_BUCKETS,
)

AUTH_ACCEPTED = Counter(
    "auth_requests_accepted",
    "Requests that presented a valid API key, by the key's name",
    ["key"],
    namespace=NAMESPACE,
    registry=REGISTRY,
)

AUTH_REJECTED = Counter(
    "auth_requests_rejected",
    "Requests refused with 401, by reason",
    ["reason"],
    namespace=NAMESPACE,
    registry=REGISTRY,
)


class _Children(Generic[_Metric]):
    """A labelled metric's children, kept once made: ``children(*values)`` is ``labels()``.

    ``labels()`` checks and converts the values and takes a lock on every call (about 2 µs);
    tool calls and requests would pay that per call. Children of a server that left the
    config are dropped with :meth:`forget` (the series themselves stay, as before).
    """

    def __init__(self, metric: _Metric) -> None:
        self._metric: _Metric = metric
        self._children: dict[tuple[str, ...], _Metric] = {}

    def __call__(self, *values: str) -> _Metric:
        """The child for *values*, positional in the metric's label order."""
        child = self._children.get(values)
        if child is None:
            child = self._children[values] = self._metric.labels(*values)
        return child

    def forget(self, first: str) -> None:
        """Drop the kept children whose first label value is *first* (a server's name)."""
        for values in [values for values in self._children if values[0] == first]:
            del self._children[values]


_upstream_status = _Children(UPSTREAM_STATUS)
_upstream_restarts = _Children(UPSTREAM_RESTARTS)
_upstream_connect_failures = _Children(UPSTREAM_CONNECT_FAILURES)
_tool_calls = _Children(TOOL_CALL_DURATION)
_http_requests = _Children(HTTP_REQUEST_DURATION)
_auth_accepted = _Children(AUTH_ACCEPTED)
_PER_SERVER = (_upstream_status, _upstream_restarts, _upstream_connect_failures, _tool_calls)

for _era in McpEra:
    MCP_SESSIONS.labels(era=_era.value)
for _reason in AuthRejection:
    AUTH_REJECTED.labels(reason=_reason.value)

# Servers currently configured; tool calls for other names count as UNKNOWN_SERVER.
_known_servers: frozenset[str] | None = None
# The hub bound by bind_hub(), if any.
_binding: _HubBinding | None = None


# ------------------------------------------------------------------------------ tool calls
def tool_call_outcome(
    result: Mapping[str, Any] | None = None, error: BaseException | None = None
) -> ToolCallOutcome:
    """Classify a finished tool call from its result or the exception it raised."""
    if error is not None:
        if isinstance(error, TimeoutError) or getattr(error, "code", None) == _REQUEST_TIMEOUT_CODE:
            return ToolCallOutcome.timeout
        return ToolCallOutcome.error
    if result is not None and result.get("isError") is True:
        return ToolCallOutcome.tool_error
    return ToolCallOutcome.success


_SUCCESS: Final = ToolCallOutcome.success.value
_TOOL_ERROR: Final = ToolCallOutcome.tool_error.value


def observe_tool_call(server: str, outcome: ToolCallOutcome | str, seconds: float) -> None:
    """Count one tool call to *server* and record how long it took."""
    if not isinstance(outcome, ToolCallOutcome):
        outcome = ToolCallOutcome(outcome)
    _observe_tool_call(server, outcome.value, seconds)


def _observe_tool_call(server: str, outcome: str, seconds: float) -> None:
    """Observe one call; a server not configured counts as :data:`UNKNOWN_SERVER`."""
    if _known_servers is not None and server not in _known_servers:
        server = UNKNOWN_SERVER
    _tool_calls(server, outcome).observe(seconds)


async def measure_tool_call(server: str, call: Awaitable[_Result]) -> _Result:
    """Await *call* (a ``tools/call`` to *server*) and observe its outcome and duration.

    ``return await metrics.measure_tool_call(name, self._call_tool(upstream, ...))``
    """
    start = time.perf_counter()
    try:
        result = await call
    except Exception as exc:
        tool_call_failed(server, start, exc)
        raise
    tool_call_answered(server, start, result)
    return result


def tool_call_answered(server: str, start: float, result: Mapping[str, Any]) -> None:
    """Observe a tool call to *server* started at *start* (``perf_counter``) that answered
    *result*: what :func:`measure_tool_call` does on success, without a coroutine around the
    call (the transport's fast path calls it inline)."""
    outcome = _TOOL_ERROR if result.get("isError") is True else _SUCCESS
    _observe_tool_call(server, outcome, time.perf_counter() - start)


def tool_call_failed(server: str, start: float, error: BaseException) -> None:
    """Observe a tool call to *server* started at *start* that raised *error* (what
    :func:`measure_tool_call` does on failure)."""
    observe_tool_call(server, tool_call_outcome(error=error), time.perf_counter() - start)


#: The quantiles the dashboard shows.
QUANTILES = (0.5, 0.95)


def histogram_quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """The *q* quantile of a histogram as Prometheus' ``histogram_quantile()`` estimates it.

    *buckets* are ``(upper bound, cumulative count)`` in ascending order, ``+Inf`` last. The
    value is interpolated linearly inside the bucket the rank falls in; a rank in the ``+Inf``
    bucket gives the highest finite bound. None when nothing was observed.
    """
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    lower, below = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if bound == float("inf"):
                return lower
            if count == below:
                return bound
            return lower + (bound - lower) * (rank - below) / (count - below)
        lower, below = bound, count
    return lower


def tool_call_stats(servers: Iterable[str]) -> list[dict[str, Any]]:
    """Each of *servers*' tool calls so far, read from :data:`TOOL_CALL_DURATION`: counts by
    outcome, error rate, p50/p95 and the histogram itself (``le`` as in Prometheus' text).

    Nothing is counted twice: this is the histogram ``/metrics`` exports, summed over outcomes.
    """
    wanted = list(servers)
    outcomes = {name: dict.fromkeys((o.value for o in ToolCallOutcome), 0.0) for name in wanted}
    sums = dict.fromkeys(wanted, 0.0)
    bounds = (*TOOL_CALL_BUCKETS, float("inf"))
    buckets = {name: dict.fromkeys(bounds, 0.0) for name in wanted}
    for family in TOOL_CALL_DURATION.collect():
        for sample in family.samples:
            server = sample.labels.get("server", "")
            if server not in outcomes:
                continue
            if sample.name.endswith("_bucket"):
                bound = float(sample.labels["le"])
                buckets[server][bound] += sample.value
            elif sample.name.endswith("_count"):
                outcomes[server][sample.labels["outcome"]] += sample.value
            elif sample.name.endswith("_sum"):
                sums[server] += sample.value
    stats = []
    for name in wanted:
        counts = {outcome: int(value) for outcome, value in outcomes[name].items()}
        calls = sum(counts.values())
        errors = calls - counts[ToolCallOutcome.success.value]
        histogram = sorted(buckets[name].items())
        stats.append(
            {
                "server": name,
                "calls": calls,
                "errors": errors,
                "errorRate": errors / calls if calls else 0.0,
                "outcomes": counts,
                "seconds": sums[name],
                "p50": histogram_quantile(QUANTILES[0], histogram),
                "p95": histogram_quantile(QUANTILES[1], histogram),
                "buckets": [
                    {"le": "+Inf" if bound == float("inf") else repr(bound), "count": int(count)}
                    for bound, count in histogram
                ],
            }
        )
    return stats


def process_start_time() -> float | None:
    """When this process started (Unix time), from the process collector; None off Linux."""
    return REGISTRY.get_sample_value("process_start_time_seconds")


# ------------------------------------------------------------------------------- /mcp, auth
def mcp_session_opened(era: McpEra | str) -> None:
    MCP_SESSIONS.labels(era=McpEra(era).value).inc()


def mcp_session_closed(era: McpEra | str) -> None:
    MCP_SESSIONS.labels(era=McpEra(era).value).dec()


def bind_auth(key_names: Iterable[str]) -> None:
    """Create the accepted-requests series of every configured key (names, never tokens)."""
    for name in key_names:
        AUTH_ACCEPTED.labels(key=name)


def auth_accepted(key_name: str) -> None:
    _auth_accepted(key_name).inc()


def auth_rejected(reason: AuthRejection) -> None:
    AUTH_REJECTED.labels(reason=reason.value).inc()


# ----------------------------------------------------------------------------- HTTP requests
def log_request(handler: RequestHandler) -> None:
    """Tornado's ``log_function``: record the request's metrics, then its access-log line.

    The line has the path without the query string. Successful probes, health checks and
    scrapes are logged at debug; otherwise the level follows the status, as in Tornado,
    unless :func:`~tornadohub.log.setup_logging` demotes every access line to debug. The
    final level is decided before logging: a line no handler takes costs no record.
    """
    observe_request(type(handler).__name__, handler.get_status(), handler.request)


def observe_request(name: str, status: int, request: HTTPServerRequest) -> None:
    """:func:`log_request` for a request served without a handler (``handlers/hot.py``),
    counted and logged under the name of the handler that would have served it."""
    seconds = request.request_time()
    method = request.method if request.method in _HTTP_METHODS else "OTHER"
    _http_requests(name, method, str(status)).observe(seconds)

    if status < 400 and name in QUIET_HANDLERS:
        level = logging.DEBUG
    elif status < 400:
        level = logging.INFO
    elif status < 500:
        level = logging.WARNING
    else:
        level = logging.ERROR
    level = access_log_level(level)
    if access_log.isEnabledFor(level):
        millis = seconds * 1000
        access_log.log(
            level,
            "%d %s %s (%s) %.2fms",
            status,
            method,
            request.path,
            request.remote_ip,
            millis,
            extra={"data": {"status": status, "method": method, "path": request.path}},
        )


# ------------------------------------------------------------------------------- hub gauges
class _HubBinding:
    """Follows one hub's upstreams and state into the gauges and counters above."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.servers: frozenset[str] = frozenset()
        self.last_status: dict[str, UpstreamStatus] = {}
        self.ever_connected: set[str] = set()

    def on_upstream_change(self, upstream: Upstream, what: str) -> None:
        if what != "status":
            return
        name, status = upstream.name, upstream.status
        previous = self.last_status.get(name)
        failed = status in (UpstreamStatus.disconnected, UpstreamStatus.unauthorized)
        if previous is UpstreamStatus.connecting and failed and upstream.error is not None:
            _upstream_connect_failures(name).inc()
        if status is UpstreamStatus.connected:
            if name in self.ever_connected:
                _upstream_restarts(name).inc()
            self.ever_connected.add(name)
        self.last_status[name] = status
        self.sync()

    def on_event(self, event: Event) -> None:
        if event.name == HUB_STATE:
            _set_hub_state(self.hub.state.value)
            self.sync()

    def sync(self) -> None:
        """Match the per-server series to the configured servers and their statuses."""
        global _known_servers
        upstreams = dict(self.hub.upstreams)
        names = frozenset(upstreams)
        for gone in self.servers - names:
            for status in UpstreamStatus:
                UPSTREAM_STATUS.remove(gone, status.value)
            for children in _PER_SERVER:
                children.forget(gone)
        for name in names - self.servers:
            _upstream_restarts(name)
            _upstream_connect_failures(name)
            for outcome in ToolCallOutcome:
                _tool_calls(name, outcome.value)
        for name, upstream in upstreams.items():
            for status in UpstreamStatus:
                value = 1 if upstream.status is status else 0
                _upstream_status(name, status.value).set(value)
        self.servers = names
        _known_servers = names


def _set_hub_state(current: str) -> None:
    for state in HubState:
        HUB_STATE_GAUGE.labels(state=state.value).set(1 if state.value == current else 0)


def bind_hub(hub: Hub) -> Callable[[], None]:
    """Feed the hub's state, upstreams and SSE clients into the metrics; returns an unbind."""
    global _binding
    binding = _binding = _HubBinding(hub)
    hub.measure_tool_call = measure_tool_call
    remove_listener = hub.add_change_listener(binding.on_upstream_change)
    remove_event_listener = hub.events.add_listener(binding.on_event)
    SSE_CLIENTS.set_function(lambda: len(hub.events.subscribers))
    _set_hub_state(hub.state.value)
    binding.sync()

    def unbind() -> None:
        global _known_servers, _binding
        remove_listener()
        remove_event_listener()
        SSE_CLIENTS.set_function(lambda: 0)
        hub.measure_tool_call = unmeasured
        _known_servers = _binding = None

    return unbind


def refresh() -> None:
    """Re-read the bound hub's servers and statuses; ``/metrics`` calls it before each scrape.

    Listeners keep the values current, but a config reload can add or remove servers between
    two status changes; this makes every scrape exact.
    """
    if _binding is not None:
        _binding.sync()


# =============================================================================== cluster mode
# Cluster state (tornadohub.cluster). These series live in their own registry, which
# joins REGISTRY only when the hub runs in cluster mode (enable_cluster_metrics()), so an
# embedded hub's /metrics stays exactly as it was. Gauges that describe the cluster as a
# whole (members, config revision) are read with max() across nodes, not sum().
class RedisOp(enum.StrEnum):
    """The Redis operation of ``mcphub_redis_op_duration_seconds`` (the ``op`` label)."""

    ping = "ping"
    heartbeat = "heartbeat"
    lease = "lease"
    xadd = "xadd"
    xread = "xread"
    xrange = "xrange"
    config = "config"
    cas = "cas"
    adopt = "adopt"
    tokens = "tokens"
    lock = "lock"


class ForwardReason(enum.StrEnum):
    misrouted = "misrouted"  # a session request that reached a node other than its owner
    node_param = "node_param"  # a REST call for one named node (?node=h2)


class ConfigApplyOutcome(enum.StrEnum):
    ok = "ok"
    error = "error"
    timeout = "timeout"


CLUSTER_REGISTRY = CollectorRegistry(auto_describe=True)
REDIS_OP_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.25, 1.0, 2.5)


def _cluster_gauge(name: str, documentation: str, labels: Iterable[str] = ()) -> Gauge:
    return Gauge(name, documentation, labels, namespace=NAMESPACE, registry=CLUSTER_REGISTRY)


def _cluster_counter(name: str, documentation: str, labels: Iterable[str] = ()) -> Counter:
    return Counter(name, documentation, labels, namespace=NAMESPACE, registry=CLUSTER_REGISTRY)


CLUSTER_NODE_INFO = _cluster_gauge(
    "cluster_node_info",
    "1, labelled with this node's id, cluster and boot epoch",
    ["node_id", "cluster", "epoch"],
)
CLUSTER_MODE = _cluster_gauge("cluster_mode", "1 in cluster mode, 0 while degraded (no Redis)")
REDIS_UP = _cluster_gauge("redis_up", "1 while Redis answers, 0 while the breaker is not closed")
REDIS_BREAKER_STATE = _cluster_gauge(
    "redis_breaker_state", "The Redis circuit breaker: 0 closed, 1 half-open, 2 open"
)
REDIS_OP_DURATION = Histogram(
    "redis_op_duration_seconds",
    "Redis operations of the control plane that succeeded, by operation, and their duration",
    ["op"],
    namespace=NAMESPACE,
    registry=CLUSTER_REGISTRY,
    buckets=REDIS_OP_BUCKETS,
)
REDIS_OP_FAILURES = _cluster_counter(
    "redis_op_failures", "Redis operations that failed or timed out, by operation", ["op"]
)
CLUSTER_NODES = _cluster_gauge("cluster_nodes", "Live cluster members this node sees (itself too)")
CLUSTER_LEADER = _cluster_gauge("cluster_leader", "1 on the node holding the leader lease")
FORWARDED_REQUESTS = _cluster_counter(
    "cluster_forwarded_requests", "Requests forwarded to another node, by reason", ["reason"]
)
FORWARD_DURATION = Histogram(
    "cluster_forward_duration_seconds",
    "Forwarded requests, until the owner's reply started",
    namespace=NAMESPACE,
    registry=CLUSTER_REGISTRY,
    buckets=HTTP_REQUEST_BUCKETS,
)
HOP_REJECTED = _cluster_counter(
    "cluster_hop_rejected", "Internal hops refused, by reason", ["reason"]
)
SESSIONS_ADOPTED = _cluster_counter(
    "cluster_sessions_adopted", "Sessions of a dead node this node adopted"
)
SESSION_IDS_REJECTED = _cluster_counter(
    "session_ids_rejected", "Session ids answered 404 before any lookup, by reason", ["reason"]
)
EVENTS_FANOUT_LAG = Histogram(
    "cluster_events_fanout_lag_seconds",
    "From an event's XADD (Redis clock) to its delivery on this node",
    namespace=NAMESPACE,
    registry=CLUSTER_REGISTRY,
    buckets=REDIS_OP_BUCKETS,
)
CONFIG_REVISION = _cluster_gauge("cluster_config_revision", "The config revision this node runs")
CONFIG_APPLY = _cluster_counter(
    "cluster_config_apply", "Config revisions this node applied, by outcome", ["outcome"]
)

for _op in RedisOp:
    REDIS_OP_DURATION.labels(op=_op.value)
    REDIS_OP_FAILURES.labels(op=_op.value)
for _forward in ForwardReason:
    FORWARDED_REQUESTS.labels(reason=_forward.value)
for _outcome in ConfigApplyOutcome:
    CONFIG_APPLY.labels(outcome=_outcome.value)
_cluster_enabled = False


def enable_cluster_metrics(node_id: str, cluster: str, epoch: str) -> None:
    """Serve the cluster series on ``/metrics`` from now on (cluster mode only)."""
    global _cluster_enabled
    from tornadohub.cluster.hop import HopRejection  # pure modules: no redis import
    from tornadohub.cluster.session_ids import Rejection

    for hop_reason in HopRejection:
        HOP_REJECTED.labels(reason=hop_reason.value)
    for sid_reason in Rejection:
        SESSION_IDS_REJECTED.labels(reason=sid_reason.value)
    CLUSTER_NODE_INFO.clear()
    CLUSTER_NODE_INFO.labels(node_id=node_id, cluster=cluster, epoch=epoch).set(1)
    if not _cluster_enabled:
        REGISTRY.register(CLUSTER_REGISTRY)
        _cluster_enabled = True


def disable_cluster_metrics() -> None:
    """Stop serving the cluster series (tests; a hub leaving cluster mode)."""
    global _cluster_enabled
    if _cluster_enabled:
        REGISTRY.unregister(CLUSTER_REGISTRY)
        _cluster_enabled = False


def redis_op(op: RedisOp, seconds: float | None) -> None:
    """One control-plane Redis operation: its duration, or None when it failed."""
    if seconds is None:
        REDIS_OP_FAILURES.labels(op=op.value).inc()
    else:
        REDIS_OP_DURATION.labels(op=op.value).observe(seconds)


def redis_breaker(state: int) -> None:
    """The breaker moved to *state* (0 closed, 1 half-open, 2 open)."""
    REDIS_BREAKER_STATE.set(state)
    REDIS_UP.set(1 if state == 0 else 0)
    CLUSTER_MODE.set(1 if state == 0 else 0)
