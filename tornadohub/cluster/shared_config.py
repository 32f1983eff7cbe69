"""The cluster's desired state: one config revision that every node runs.

In cluster mode the config is not each node's file but a :class:`DesiredState` kept in Redis
as numbered revisions (:mod:`.config_store`): the merged config document and the servers
stopped through the REST API. Everything that changes what the hub runs for all clients
publishes a new revision with compare-and-set on the revision it saw:

* a config file re-read on one node (``--watch``, or ``SIGHUP`` in cluster mode): the
  same content from several nodes is one revision, not N;
* ``POST /api/servers/start|stop`` (``?node=<this node>`` keeps one to this process).

Every node (the writer too) diff-applies each revision through the hub's one seam for that,
:meth:`~tornadohub.reload.ConfigReload.apply_config`, then starts or stops the servers whose
stop changed, and reports ``config.applied`` (and ``server.started``/``server.stopped``) on
the cluster's event stream. Revisions are compared by content (SHA-256), so a Redis that
restarted empty is simply re-seeded with the running state when the node rejoins.

While Redis is unreachable these writes answer 503 (``CLUSTER_UNAVAILABLE``) rather than let
nodes diverge; ``?node=<this node>`` still works, and a re-read file is not applied (log).
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tornadohub import metrics
from tornadohub.cluster.config_store import ConfigRevision, LogEntry, config_digest
from tornadohub.cluster.errors import (
    ClusterCommandError,
    ClusterUnavailableError,
    ConfigConflictError,
)
from tornadohub.cluster.node import ClusterNode
from tornadohub.config import HubConfig, config_from_data, js_truthy
from tornadohub.errors import ConfigError, HubError, ValidationError
from tornadohub.hub import Hub
from tornadohub.metrics import ConfigApplyOutcome
from tornadohub.state import UpstreamStatus
from tornadohub.upstreams.supervisor import connect_failure

log = logging.getLogger("tornadohub.cluster")

#: How long a booting node waits for Redis before it starts degraded, on its own file.
BOOT_SYNC_SECONDS = 5.0
#: Compare-and-set attempts of one write racing other nodes' writes.
CAS_ATTEMPTS = 5

SERVER_STARTED = "server.started"
SERVER_STOPPED = "server.stopped"
CONFIG_APPLIED = "config.applied"
CLUSTER_REJOINED = "cluster.rejoined"


@dataclass(frozen=True)
class DesiredState:
    """What every node runs: the merged config document and the servers stopped by hand."""

    config: dict[str, Any]
    stopped: frozenset[str] = field(default_factory=frozenset)

    def to_json(self) -> str:
        document = {"config": self.config, "stopped": sorted(self.stopped)}
        return json.dumps(document, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> DesiredState:
        """Raises ValueError for anything but a document :meth:`to_json` wrote."""
        data = json.loads(text)
        if not isinstance(data, dict) or not isinstance(data.get("config"), dict):
            raise ValueError("not a desired state document")
        stopped = data.get("stopped") or []
        if not isinstance(stopped, list) or not all(isinstance(n, str) for n in stopped):
            raise ValueError("stopped must be a list of names")
        return cls(data["config"], frozenset(stopped))

    def _entries(self) -> Mapping[str, Any]:
        servers = self.config.get("mcpServers")
        return servers if isinstance(servers, dict) else {}

    def halted(self) -> dict[str, bool]:
        """Each server: whether it is stopped or disabled."""
        return {
            name: name in self.stopped or (isinstance(e, dict) and js_truthy(e.get("disabled")))
            for name, e in self._entries().items()
        }

    def with_server(self, name: str, *, run: bool, disable: bool = False) -> DesiredState:
        """The state with *name* running (and enabled), or stopped (``disable``: disabled)."""
        config = copy.deepcopy(self.config)
        entry = config.get("mcpServers", {}).get(name)
        stopped = set(self.stopped)
        if isinstance(entry, dict):
            if run and js_truthy(entry.get("disabled")):
                entry["disabled"] = False
            elif disable:
                entry["disabled"] = True
        if run or disable:
            stopped.discard(name)
        else:
            stopped.add(name)
        return DesiredState(config, frozenset(stopped))


class SharedConfig:
    """This node's side of the desired state (the hub's ``shared`` seam)."""

    def __init__(self, hub: Hub, node: ClusterNode, *, paths: Sequence[str] = ()) -> None:
        self.hub = hub
        self.node = node
        self.paths = tuple(paths)
        self.state = DesiredState({"mcpServers": {}})
        self.rev = 0  # the revision this node runs (0: none from the cluster yet)
        self.sha = ""
        self._applying = asyncio.Lock()  # revisions are applied one at a time, in order
        self._writing = asyncio.Lock()  # this node's own writes, one at a time
        self._running = False  # the hub is initialized: revisions may be applied
        self._tasks: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ boot
    async def boot(self, local: HubConfig) -> tuple[HubConfig, frozenset[str]]:
        """Before the hub starts: the cluster's revision (the first node publishes its own
        files as revision 1), or, when Redis is out, this node's files (degraded)."""
        self.state = DesiredState(local.data)
        try:
            if not self.node.control.available:
                raise ClusterUnavailableError("Redis is unavailable")
            async with asyncio.timeout(BOOT_SYNC_SECONDS):
                await self.node.tail.started.wait()  # from now on no revision is missed
                revision = await self.node.config.current()
                if revision is None:
                    revision = await self._seed()
        except (TimeoutError, ClusterUnavailableError, ClusterCommandError) as exc:
            log.warning("config: running this node's own files until Redis answers (%s)", exc)
            return local, frozenset()
        state = self._parse(revision)
        if revision is None or state is None:
            return local, frozenset()
        self.state, self.rev, self.sha = state, revision.rev, revision.sha256
        metrics.CONFIG_REVISION.set(revision.rev)
        return config_from_data(state.config, self.paths), state.stopped

    async def _seed(self) -> ConfigRevision | None:
        """Publish this node's state as the first revision (another node may win)."""
        try:
            await self.node.config.publish(self.state.to_json(), expected_rev=0)
        except ConfigConflictError:
            pass
        return await self.node.config.current()

    def _parse(self, revision: ConfigRevision | None) -> DesiredState | None:
        if revision is None:
            return None
        try:
            state = DesiredState.from_json(revision.config)
            config_from_data(state.config)
        except (ValueError, ConfigError) as exc:
            log.error("config revision %d is unusable, ignored: %s", revision.rev, exc)
            return None
        return state

    def running(self) -> None:
        """The hub is initialized: apply what was published meanwhile."""
        self._running = True
        self._spawn(self.sync())

    # --------------------------------------------------------------- reading
    def on_log_entry(self, entry: LogEntry) -> None:
        """The stream tail saw a new revision: fetch and apply it (unless it is ours)."""
        if self._running and entry.sha256 != self.sha:
            self._spawn(self.sync())

    def on_rejoin(self) -> None:
        self._spawn(self._rejoin())

    async def _rejoin(self) -> None:
        self.hub.events.publish(CLUSTER_REJOINED, {"node": self.node.node_id})
        if not self._running:
            return
        try:
            if await self.node.config.current() is None:  # Redis restarted empty
                await self.node.config.publish(self.state.to_json(), expected_rev=0)
        except (ClusterUnavailableError, ClusterCommandError, ConfigConflictError):
            pass
        await self.sync()

    async def sync(self) -> None:
        """Apply the cluster's current revision if it is not what this node runs."""
        async with self._applying:
            try:
                revision = await self.node.config.current()
            except (ClusterUnavailableError, ClusterCommandError) as exc:
                log.warning("config: cannot read the current revision: %s", exc)
                return
            if revision is None or revision.sha256 == self.sha:
                if revision is not None:
                    self.rev = revision.rev
                return
            state = self._parse(revision)
            if state is not None:
                await self._apply(state, revision.rev, revision.sha256)

    async def _apply(self, state: DesiredState, rev: int, sha: str) -> None:
        """Under :attr:`_applying`: diff-apply *state*, then report it."""
        before = self.state.halted()
        self.state, self.rev, self.sha = state, rev, sha
        after = state.halted()
        error: str | None = None
        try:
            await self.hub.apply_config(config_from_data(state.config, self.paths))
            for name in sorted(after):
                if name not in self.hub.upstreams or after[name] == before.get(name):
                    continue
                if name in state.stopped:
                    await self.hub.stop_here(name)
                elif not after[name] and name not in before:
                    continue  # a new server: apply_config started it
                elif not after[name]:
                    try:
                        await self.hub.start_here(name)
                    except HubError as exc:
                        log.warning("config revision %d: %s", rev, exc.message)
        except Exception as exc:  # report it: the other nodes show which node failed
            log.exception("config revision %d failed to apply", rev)
            error = str(exc) or type(exc).__name__
        outcome = ConfigApplyOutcome.ok if error is None else ConfigApplyOutcome.error
        metrics.CONFIG_APPLY.labels(outcome=outcome.value).inc()
        metrics.CONFIG_REVISION.set(rev)
        node = self.node.node_id
        for name in sorted(after):
            if name in before and after[name] != before[name]:
                kind = SERVER_STOPPED if after[name] else SERVER_STARTED
                self.hub.events.publish(kind, {"server": name, "node": node, "rev": rev})
        report: dict[str, Any] = {"node": node, "rev": rev, "ok": error is None}
        if error is not None:
            report["error"] = error
        self.hub.events.publish(CONFIG_APPLIED, report)

    # --------------------------------------------------------------- writing
    async def _change(self, edit: Callable[[DesiredState], DesiredState]) -> bool:
        """Publish ``edit(current state)`` as the next revision and apply it here.

        Returns whether it made a new revision (False: the cluster already runs it).
        Raises ClusterUnavailableError (503) when Redis is out.
        """
        async with self._writing:
            for _ in range(CAS_ATTEMPTS):
                new = edit(self.state)
                text = new.to_json()
                try:
                    published = await self.node.config.publish(text, expected_rev=self.rev)
                except ConfigConflictError:
                    await self.sync()  # another node wrote first: edit its revision
                    continue
                if not published.changed:
                    await self.sync()
                    return False
                sha = config_digest(text)
                async with self._applying:
                    if self.sha != sha:  # else the stream tail's sync applied it already
                        await self._apply(new, published.rev, sha)
                return True
            raise ClusterUnavailableError("Config revisions are changing too fast; try again")

    async def start_server(self, name: str) -> dict[str, Any]:
        self.hub.get(name)  # 404 before anything is published
        if not await self._change(lambda state: state.with_server(name, run=True)):
            return await self.hub.start_here(name)
        upstream = self.hub.get(name)
        if upstream.status not in (UpstreamStatus.connected, UpstreamStatus.unauthorized):
            raise connect_failure(upstream)
        return upstream.info()

    async def stop_server(self, name: str, *, disable: bool) -> dict[str, Any]:
        self.hub.get(name)
        if not await self._change(
            lambda state: state.with_server(name, run=False, disable=disable)
        ):
            return await self.hub.stop_here(name, disable=disable)
        return self.hub.get(name).info()

    async def publish_config(self, config: HubConfig) -> None:
        try:
            changed = await self._change(lambda state: DesiredState(config.data, state.stopped))
        except ClusterUnavailableError as exc:
            log.error(
                "The config files changed but Redis is unavailable: not applied (%s);"
                " re-read them (SIGHUP) once the cluster is back",
                exc.message,
                extra={"code": "CLUSTER_UNAVAILABLE"},
            )
            return
        if not changed:
            log.info(
                "The config files are unchanged: the cluster already runs revision %d", self.rev
            )

    def require_this_node(self, node: str) -> None:
        if node != self.node.node_id:
            raise ValidationError(
                f"This is node '{self.node.node_id}': send ?node={node} requests to that node",
                code="WRONG_NODE",
                data={"node": self.node.node_id, "requested": node},
            )

    # ------------------------------------------------------------------ tasks
    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
