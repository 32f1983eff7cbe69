"""One hub node in cluster mode: the control plane (:class:`~.node.ClusterNode`) wired into
the hub, the ``/mcp`` transport, ``/api/events`` and the probes.

``app.serve`` creates a :class:`ClusterRuntime` when a Redis URL is configured (embedded mode
never imports this module, nor redis-py) and drives it:

* :meth:`start` before the hub starts: join the cluster (a node id taken by another live
  node is fatal), start the stream tail, and get the config revision to start with;
* :meth:`attach` once the application exists: session ids sealed with the cluster's key,
  requests for other nodes' sessions routed (:mod:`.routing`), shared events
  (:mod:`.shared_events`), cluster-wide start/stop/reload (:mod:`.shared_config`), upstream
  OAuth tokens shared and refreshed once for all (:mod:`.tokens`);
* :meth:`drain` on SIGTERM once the calls in flight are done: leave the membership and the
  leader lease at once, so peers adopt this node's sessions without waiting for its TTL;
* :meth:`stop` last.

None of it runs on a correctly routed request: the hub's hot path reads no Redis.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from tornadohub import __version__
from tornadohub.cluster.config_store import LogEntry
from tornadohub.cluster.forwarding import HopClient
from tornadohub.cluster.node import ClusterNode
from tornadohub.cluster.options import ClusterOptions
from tornadohub.cluster.routing import SessionRouter
from tornadohub.cluster.shared_config import SharedConfig
from tornadohub.cluster.shared_events import SharedEvents
from tornadohub.cluster.streams import ClusterEvent
from tornadohub.cluster.tokens import SharedUpstreamTokens
from tornadohub.config import HubConfig
from tornadohub.events import Event
from tornadohub.hub import Hub

if TYPE_CHECKING:
    from tornadohub.mcp.transport import McpTransport

log = logging.getLogger("tornadohub.cluster")

LEADER_CHANGED = "leader.changed"


class ClusterRuntime:
    """This node's side of the cluster (see the module docstring)."""

    def __init__(self, hub: Hub, options: ClusterOptions) -> None:
        self.hub = hub
        self.options = options
        self.node = ClusterNode(
            options,
            version=__version__,
            on_event=self._on_event,
            on_config=self._on_config,
            on_rejoin=self._on_rejoin,
        )
        self.node_id = options.node_id
        self.session_ids = self.node.session_ids
        self.events = SharedEvents(
            hub.events, self.node.events, self.node_id, self.node.tail.started
        )
        self.config = SharedConfig(hub, self.node, paths=hub.options.config_paths)
        self.hops = HopClient(self.node.hop_signer)
        self.router: SessionRouter | None = None
        self._remove_leader_listener = self.node.leader.add_listener(self._on_leader)
        self._tasks: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------- lifecycle
    async def start(self, local: HubConfig) -> tuple[HubConfig, frozenset[str]]:
        """Join (raises NodeIdConflictError) and return the config to start with, and the
        servers the cluster keeps stopped."""
        log.info(
            "cluster mode: node %s of cluster %s, Redis %s",
            self.node_id,
            self.options.cluster,
            self.options.redis_url_redacted,
        )
        await self.node.start()
        self.events.start()
        if self.hub.oauth_store is not None:  # before any upstream connects
            self.hub.oauth_store.shared = SharedUpstreamTokens(self.node.tokens)
        config, stopped = await self.config.boot(local)
        self.hub.shared = self.config
        return config, stopped

    def attach(self, transport: McpTransport) -> None:
        """Route this application's requests for other nodes' sessions."""
        self.router = SessionRouter(
            self.node,
            self.hops,
            transport,
            forward_misrouted=self.options.misrouted == "forward",
            claim_seconds=transport.config.idle_timeout,
        )
        transport.elsewhere = self.router

    def running(self) -> None:
        """The hub is initialized: config revisions may be applied from now on."""
        self.config.running()

    async def drain(self) -> None:
        await self.node.drain()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        self.hub.shared = None
        if self.hub.oauth_store is not None:
            self.hub.oauth_store.shared = None
        self._remove_leader_listener()
        await self.config.stop()
        await self.events.stop()
        await self.hops.close()
        await self.node.stop()

    # ---------------------------------------------------------------- state
    def readiness(self) -> tuple[bool, dict[str, Any]]:
        return self.node.readiness()

    async def events_after(self, last_event_id: str) -> list[Event]:
        return await self.events.after(last_event_id)

    # ------------------------------------------------------------ callbacks
    def _on_event(self, event: ClusterEvent) -> None:
        self.events.deliver(event)

    def _on_config(self, entry: LogEntry) -> None:
        self.config.on_log_entry(entry)

    def _on_rejoin(self) -> None:
        self.config.on_rejoin()
        if self.hub.oauth_store is not None and self.hub.oauth_store.unshared:
            task = asyncio.create_task(self.hub.oauth_store.share_unshared())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _on_leader(self, leading: bool) -> None:
        if leading:
            self.hub.events.publish(LEADER_CHANGED, {"leader": self.node_id})
