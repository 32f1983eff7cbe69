"""One node's whole control plane, started and stopped as one object.

:class:`ClusterNode` composes the building blocks for a hub in cluster mode: the Redis
door and its breaker, the heartbeat, the leader lease, the tail of the event and config
streams, and the stores (config revisions, adoption claims, shared tokens), plus the
session-id and hop keys. The hub (phase 2) creates it from :class:`ClusterOptions`,
gives it three callbacks and asks it three questions:

* ``on_event(event)``: a cluster event to deliver to this node's ``/api/events`` clients;
* ``on_config(entry)``: a config revision was published (fetch, diff-apply, report);
* ``on_rejoin()``: Redis is back after an outage (re-read the config; the heartbeat,
  lease and stream tail resume by themselves, the tail from the last id it delivered);
* :attr:`mode` (``cluster`` or ``degraded``) and :meth:`readiness` for ``/readyz``;
* :meth:`drain` on SIGTERM (leave the membership, give up the lease), :meth:`stop` last.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import time
from collections.abc import Callable
from typing import Any

from tornadohub import metrics
from tornadohub.cluster.adoption import AdoptionClaims
from tornadohub.cluster.breaker import BreakerState
from tornadohub.cluster.config_store import ConfigRevisions, LogEntry
from tornadohub.cluster.control import RedisControl
from tornadohub.cluster.errors import ClusterUnavailableError
from tornadohub.cluster.hop import HopSigner, HopVerifier
from tornadohub.cluster.keyspace import Keyspace
from tornadohub.cluster.leader import LeaderLease
from tornadohub.cluster.membership import Membership, NodeRecord
from tornadohub.cluster.options import ClusterOptions
from tornadohub.cluster.session_ids import SessionIds
from tornadohub.cluster.streams import ClusterEvent, ClusterEvents, Entry, StreamTail
from tornadohub.cluster.tokens import SharedTokens

log = logging.getLogger("tornadohub.cluster")

#: How long a blocking stream read waits for new entries (a short block costs one command).
STREAM_BLOCK_SECONDS = 2.0


def new_epoch() -> str:
    """A boot epoch: tells this process's session ids and records from its previous lives."""
    return base64.urlsafe_b64encode(os.urandom(6)).decode()


class ClusterNode:
    """The control plane of one hub node (see the module docstring)."""

    def __init__(
        self,
        options: ClusterOptions,
        *,
        version: str,
        on_event: Callable[[ClusterEvent], None],
        on_config: Callable[[LogEntry], None],
        on_rejoin: Callable[[], None] = lambda: None,
        epoch: str | None = None,
    ) -> None:
        self.options = options
        self.node_id = options.node_id
        self.epoch = epoch or new_epoch()
        self.keyspace = Keyspace(options.cluster)
        self.control = RedisControl(
            options.redis_url,
            timeout=options.redis_timeout,
            breaker_failures=options.breaker_failures,
            breaker_reset=options.breaker_reset,
            client_name=f"tornadohub-{options.node_id}",
        )
        record = NodeRecord(
            options.node_id, options.advertise_url, self.epoch, version, time.time()
        )
        self.membership = Membership(
            self.control,
            self.keyspace,
            record,
            interval=options.heartbeat_interval,
            ttl=options.node_ttl,
        )
        self.leader = LeaderLease(
            self.control, self.keyspace, self.node_id, self.epoch, ttl=options.leader_ttl
        )
        self.events = ClusterEvents(
            self.control, self.keyspace, self.node_id, maxlen=options.events_maxlen
        )
        self.config = ConfigRevisions(
            self.control, self.keyspace, self.node_id, events_maxlen=options.events_maxlen
        )
        self.adoption = AdoptionClaims(self.control, self.keyspace, self.node_id)
        self.tokens = SharedTokens(self.control, self.keyspace, options.keys, self.node_id)
        self.session_ids = SessionIds(options.keys, self.node_id, self.epoch)
        self.hop_signer = HopSigner(options.keys, self.node_id)
        self.hop_verifier = HopVerifier(options.keys, self.node_id)
        self._on_config = on_config
        self._on_rejoin = on_rejoin
        self.tail = StreamTail(
            self.control,
            {
                self.keyspace.events: self.events.deliver_with(on_event),
                self.keyspace.config_log: self._config_entry,
            },
            block=STREAM_BLOCK_SECONDS,
        )
        self._heartbeat: asyncio.Task[None] | None = None
        self._lease: asyncio.Task[None] | None = None
        self._tail: asyncio.Task[None] | None = None
        self._remove_breaker_listener = self.control.add_listener(self._on_breaker)
        self.draining = False

    # ---------------------------------------------------------------- state
    @property
    def mode(self) -> str:
        """``cluster`` while Redis answers, ``degraded`` while this node serves alone."""
        return "cluster" if self.control.available else "degraded"

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        """Whether the cluster side lets ``/readyz`` say ready, and what it adds to the body.

        Redis down does not make a node unready (the request path needs no Redis), unless
        ``--require-redis``; draining does.
        """
        body = {
            "mode": self.mode,
            "redis": "up" if self.control.available else "down",
            "node": self.node_id,
        }
        if self.draining:
            return False, {**body, "reason": "draining"}
        if self.options.require_redis and not self.control.available:
            return False, {**body, "reason": "Redis is down and --require-redis is set"}
        return True, body

    # ------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Join the cluster and start the loops; Redis down at start means degraded.

        Raises :class:`~tornadohub.cluster.errors.NodeIdConflictError` when another
        live node uses this id from another address: the hub must not start.
        """
        metrics.enable_cluster_metrics(self.node_id, self.options.cluster, self.epoch)
        try:
            await self.membership.join()
        except ClusterUnavailableError as exc:
            log.warning("starting degraded, as a single node: %s", exc.message)
        self._heartbeat = asyncio.create_task(self.membership.run(), name="cluster-heartbeat")
        self._lease = asyncio.create_task(self.leader.run(), name="cluster-lease")
        self._tail = asyncio.create_task(self.tail.run(), name="cluster-streams")

    async def drain(self) -> None:
        """SIGTERM: leave the membership now and give up the lease (peers take over)."""
        self.draining = True
        await _cancel(self._heartbeat, self._lease)  # no more heartbeats or renewals
        await self.membership.leave()
        await self.leader.release()

    async def stop(self) -> None:
        await _cancel(self._heartbeat, self._lease, self._tail)
        self._remove_breaker_listener()
        await self.control.close()
        metrics.disable_cluster_metrics()

    # ------------------------------------------------------------ callbacks
    def _config_entry(self, entry: Entry) -> None:
        self._on_config(LogEntry.from_entry(*entry))

    def _on_breaker(self, state: BreakerState) -> None:
        if state is BreakerState.closed and not self.draining:
            log.info("Redis is back: node %s rejoins the cluster", self.node_id)
            try:
                self._on_rejoin()
            except Exception:
                log.exception("rejoin callback failed")


async def _cancel(*tasks: asyncio.Task[None] | None) -> None:
    running = [task for task in tasks if task is not None]
    for task in running:
        task.cancel()
    await asyncio.gather(*running, return_exceptions=True)
