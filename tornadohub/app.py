"""The Tornado application and the process lifecycle around the hub.

Startup order follows mcp-hub: listen first (fail fast on a busy port), register
the workspace, then connect every server while ``/api/health`` already answers
``starting``.

Shutdown (SIGTERM/SIGINT, ``/api/hard-restart``, ``--auto-shutdown``) is graceful:
``/readyz`` fails and new ``/api`` and MCP requests get 503 ``HUB_STOPPING`` at once;
calls in flight (:class:`~tornadohub.drain.WorkGate`) get ``--shutdown-timeout`` seconds to
finish (then they are cancelled and answer ``HUB_STOPPING``); then MCP sessions and SSE
streams end, every upstream is stopped (reaping their process groups), the HTTP server
closes and our workspace entry is removed. A second signal exits at once.

Cluster mode (``--redis-url``, :mod:`tornadohub.cluster.runtime`): the node joins the
cluster and takes the cluster's config revision before the servers start; ``SIGHUP``
re-reads this node's config files as the cluster's next revision; a second HTTP server
serves the internal hop (``--internal-listen``); on SIGTERM, once the calls in flight are
done, the node leaves the cluster and stops listening before the servers stop, so that
peers adopt its sessions and the load balancer moves on at once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from tornado import httpserver, httputil, routing, web

from tornadohub import metrics, processes
from tornadohub.appstate import APP_STATE, AppState
from tornadohub.config import HubConfig, load_config
from tornadohub.errors import HubError
from tornadohub.events import LOG
from tornadohub.handlers import NotFoundHandler, default_handlers
from tornadohub.handlers.base import WORK_PATHS, HubHandler, StoppingHandler
from tornadohub.handlers.hop import hop_handlers
from tornadohub.handlers.hot import HubApplication
from tornadohub.hub import Hub
from tornadohub.keys import Keyring
from tornadohub.listener import (
    ConnectionGate,
    FatalError,
    GatedServer,
    HubHTTPServer,
    raise_fd_limit,
)
from tornadohub.log import add_log_listener
from tornadohub.marketplace import marketplace_for
from tornadohub.mcp.service import McpService
from tornadohub.mcp.transport import McpTransport
from tornadohub.options import ConnectionLimits
from tornadohub.policy import MAX_BODY_BYTES, EdgePolicy, policy_from
from tornadohub.recent_logs import RecentLogs
from tornadohub.state import HubState

if TYPE_CHECKING:
    from tornadohub.cluster.runtime import ClusterRuntime

log = logging.getLogger("tornadohub.app")


class StoppingGate(routing.Matcher):
    """Matches work requests once the hub stopped taking work (see :data:`WORK_PATHS`)."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    def match(self, request: httputil.HTTPServerRequest) -> dict[str, Any] | None:
        if self.hub.accepting_work or not WORK_PATHS.fullmatch(request.path):
            return None
        return {}


def make_app(
    hub: Hub,
    *,
    keys: Keyring | None = None,
    policy: EdgePolicy | None = None,
    routes: Sequence[tuple[str, Any]] = default_handlers,
    cluster: ClusterRuntime | None = None,
) -> web.Application:
    """The application over *hub*: its :class:`AppState` and *routes*.

    Every route's handler must be a :class:`HubHandler`: that is what puts the edge policy
    (Host, Origin, body) and the API keys in front of every route, including routes added
    later; a handler that is not one is a bug, refused here rather than served unguarded.
    *keys*: the API keys (None: none needed); *policy*: the edge policy (None: loopback
    names and the bound host); *cluster*: this node's side of the cluster (None: embedded).
    """
    rules: list[Any] = [routing.Rule(StoppingGate(hub), StoppingHandler), *routes]
    unguarded = [
        rule[1] for rule in rules if isinstance(rule, tuple) and not issubclass(rule[1], HubHandler)
    ]
    if unguarded:
        raise TypeError(f"handlers must derive from HubHandler: {unguarded}")
    recent_logs = RecentLogs(lambda: hub.upstreams)
    recent_logs.follow(hub.events)
    options = hub.options
    # The /mcp service exists before any upstream connects, so every upstream
    # advertises (and routes) sampling, elicitation and roots from its first session.
    service = McpService(
        hub, options.mcp, session_ids=None if cluster is None else cluster.session_ids
    )
    transport = McpTransport(service)
    if cluster is not None:
        cluster.attach(transport)
    state = AppState(
        hub=hub,
        mcp=service,
        transport=transport,
        marketplace=marketplace_for(
            marketplace_url=options.marketplace_url,
            registry_url=options.registry_url,
            environ=options.environ,
        ),
        keys=keys,
        policy=policy or policy_from(options.host),
        recent_logs=recent_logs,
        routes=tuple(routes),
        cluster=cluster,
    )
    return HubApplication(
        rules,
        default_handler_class=NotFoundHandler,
        log_function=metrics.log_request,
        app_state=state,  # settings[APP_STATE]
    )


def _quiet(handler: web.RequestHandler) -> None:
    """The hop listener's access log: none (the node that forwarded logs the request)."""


def make_hop_app(app: web.Application) -> web.Application:
    """The internal hop listener's application, over *app*'s state (cluster mode)."""
    return web.Application(
        hop_handlers,
        default_handler_class=NotFoundHandler,
        log_function=_quiet,
        app_state=app.settings[APP_STATE],
    )


def _log_forwarder(hub: Hub, loop: asyncio.AbstractEventLoop) -> Callable[[dict[str, Any]], None]:
    """Every hub log line becomes a ``log`` event; lines from worker threads hop to the loop."""
    loop_thread = threading.get_ident()

    def forward(entry: dict[str, Any]) -> None:
        if threading.get_ident() == loop_thread:
            hub.events.publish(LOG, entry)
        else:
            loop.call_soon_threadsafe(hub.events.publish, LOG, entry)

    return forward


async def serve(
    hub: Hub,
    sockets: list[socket.socket],
    *,
    keys: Keyring | None = None,
    policy: EdgePolicy | None = None,
    hop_sockets: Sequence[socket.socket] = (),
    config: HubConfig | None = None,
) -> None:
    """Run the hub until a signal or ``/api/hard-restart`` asks it to stop.

    *keys*: the API keys (None: none needed); *policy*: the edge policy (None: loopback
    names and the bound host); *hop_sockets*: the internal hop listener's (cluster mode);
    *config*: the config files as already loaded (None: loaded here). Everything else
    comes from ``hub.options``.
    """
    unbind_metrics = metrics.bind_hub(hub)
    restore_child_watcher = processes.watch_children()  # before any server starts
    cluster: ClusterRuntime | None = None
    if hub.options.cluster is not None:
        from tornadohub.cluster.runtime import ClusterRuntime

        cluster = ClusterRuntime(hub, hub.options.cluster)
    app = make_app(hub, keys=keys, policy=policy, cluster=cluster)
    state: AppState = app.settings[APP_STATE]
    raise_fd_limit()
    server = http_server_for(app, hub.options.limits)
    gate = ConnectionGate(server, sockets)
    gate.start()
    hop_server: httpserver.HTTPServer | None = None
    if hop_sockets:
        hop_server = httpserver.HTTPServer(make_hop_app(app), max_body_size=MAX_BODY_BYTES)
        hop_server.add_sockets(list(hop_sockets))
    loop = asyncio.get_running_loop()
    signals_seen = 0

    def on_signal(signum: int) -> None:
        nonlocal signals_seen
        signals_seen += 1
        if signals_seen > 1:
            log.error("Second signal %s: exiting now", signal.Signals(signum).name)
            os._exit(1)
        log.info("Received %s, shutting down", signal.Signals(signum).name)
        hub.shutdown_requested.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal, signum)
    reloads: set[asyncio.Task[None]] = set()
    if cluster is not None:  # SIGHUP: this node's files become the cluster's next revision

        def on_hangup() -> None:
            task = loop.create_task(hub.reload_config())
            reloads.add(task)
            task.add_done_callback(reloads.discard)

        loop.add_signal_handler(signal.SIGHUP, on_hangup)
    remove_log_listener = add_log_listener(_log_forwarder(hub, loop))
    options = hub.options
    log.info(
        "MCP Hub listening on http://%s:%d",
        options.host,
        options.port,
        extra={"data": {"port": options.port, "host": options.host}},
    )
    try:
        if hub.workspace is not None:
            await asyncio.to_thread(
                hub.workspace.register, cwd=options.cwd, config_files=options.config_paths
            )
        initializing = asyncio.create_task(_start(hub, cluster, config))
        stop_waiter = asyncio.create_task(hub.shutdown_requested.wait())
        await asyncio.wait({initializing, stop_waiter}, return_when=asyncio.FIRST_COMPLETED)
        if initializing.done():
            initializing.result()  # a fatal config error surfaces here
            await stop_waiter
        else:
            initializing.cancel()
            await asyncio.gather(initializing, return_exceptions=True)
    finally:
        signals_seen = max(signals_seen, 1)  # from now on, a signal means "exit now"
        await hub.drain()  # new work refused; calls in flight finish (or are cancelled)
        if cluster is not None:  # peers adopt our sessions now; the balancer moves on
            await cluster.drain()
            gate.stop()
        await state.close()
        if hub.state is not HubState.stopped:
            await hub.shutdown()
        gate.stop()
        await server.close_all_connections()
        if hop_server is not None:
            hop_server.stop()
            await hop_server.close_all_connections()
        if hub.workspace is not None:
            try:
                await asyncio.to_thread(hub.workspace.deregister)
            except Exception as exc:
                log.warning("Could not remove workspace entry: %s", exc)
        remove_log_listener()
        if cluster is not None:
            await cluster.stop()
            loop.remove_signal_handler(signal.SIGHUP)
        for task in reloads:
            task.cancel()
        unbind_metrics()
        restore_child_watcher()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)


def http_server_for(app: web.Application, limits: ConnectionLimits) -> GatedServer:
    """The wire layer ``--http-server`` chose."""
    if limits.http_server == "tornado":
        log.debug("HTTP/1.1 wire layer: tornado")
        return HubHTTPServer(app, limits=limits)
    from tornadohub.httpfront import FrontServer

    log.debug("HTTP/1.1 wire layer: httptools")
    return FrontServer(app, limits)


async def _start(hub: Hub, cluster: ClusterRuntime | None, local: HubConfig | None) -> None:
    """Start the hub from *local* (None: the config files, loaded now); in cluster mode,
    join first and start from the cluster's revision."""
    if cluster is None:
        await hub.initialize(local)
        return
    if local is None:
        local = await asyncio.to_thread(load_config, hub.options.config_paths)
    try:
        config, stopped = await cluster.start(local)
    except HubError as exc:  # another live node has this id
        raise FatalError(exc.message) from None
    await hub.initialize(config, stopped=stopped)
    cluster.running()
