"""The hub's core: the upstream registry, the hub state machine and the change listeners.

:class:`HubCore` holds what the hub is at any moment; :mod:`tornadohub.reload` (config
revisions, watchers), :mod:`tornadohub.presence` (``/api/events`` clients, auto-shutdown)
and :mod:`tornadohub.hub` (the commands handlers call) build on it.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from tornadohub.config import HubConfig, ServerEntry
from tornadohub.drain import WorkGate
from tornadohub.errors import (
    ServerNotFoundError,
)
from tornadohub.events import HEARTBEAT, HUB_STATE, EventBus
from tornadohub.oauth import OAuthStore
from tornadohub.options import HubOptions
from tornadohub.spawn import EarlyChildren
from tornadohub.state import HubState
from tornadohub.upstreams import HubEnvironment, Upstream, create_upstream
from tornadohub.upstreams.supervisor import Supervisor
from tornadohub.watch import (
    Watcher,
)
from tornadohub.workspace import WorkspaceCache

log = logging.getLogger("tornadohub.hub")


def log_entry_errors(config: HubConfig, prefix: str = "") -> None:
    """Each invalid entry as mcp-hub logs it (its message alone, code CONFIG_ERROR, the
    server in ``data``); mcp-hub then gives up on the whole file, we run the others."""
    for name, entry in config.servers.items():
        for message in entry.errors:
            data = {"server": name}
            log.error("%s%s", prefix, message, extra={"code": "CONFIG_ERROR", "data": data})


SERVER_ID = "mcp-hub"


HEARTBEAT_SECONDS = 10.0


#: Awaits one REST tool call to a server and observes it; ``metrics.bind_hub`` installs
#: the metrics' meter (the hub itself never imports the metrics).
ToolCallMeter = Callable[[str, Awaitable[dict[str, Any]]], Awaitable[dict[str, Any]]]


async def unmeasured(server: str, call: Awaitable[dict[str, Any]]) -> dict[str, Any]:
    """The :data:`ToolCallMeter` of a hub no metrics follow: the call, as it is."""
    return await call


class SharedState(Protocol):
    """Cluster mode: the cluster's desired state, which server starts and stops and config
    reloads change for every node at once (a new config revision) instead of this process."""

    async def start_server(self, name: str) -> dict[str, Any]:
        """Start *name* on every node; this node's info once it applied the change."""

    async def stop_server(self, name: str, *, disable: bool) -> dict[str, Any]:
        """Stop (or disable) *name* on every node; this node's info once applied."""

    async def publish_config(self, config: HubConfig) -> None:
        """Make *config* (re-read from this node's files) the cluster's next revision."""

    def require_this_node(self, node: str) -> None:
        """A request for one node (``?node=``): refused unless *node* is this one."""


class HubCore:
    """The upstream registry plus the hub-level state machine."""

    def __init__(
        self,
        options: HubOptions,
        *,
        events: EventBus | None = None,
        workspace: WorkspaceCache | None = None,
        early_children: EarlyChildren | None = None,
    ) -> None:
        self.options = options
        self.events = events or EventBus()
        self.workspace = workspace
        self.state = HubState.starting
        self._state_payload: dict[str, Any] = {
            "state": self.state.value,
            "server_id": SERVER_ID,
            "pid": os.getpid(),
            "port": options.port,
        }
        self.config: HubConfig | None = None
        #: name -> the server's current Upstream (replaced on config changes; read it fresh).
        self.upstreams: dict[str, Upstream] = {}
        #: name -> the one object through which every lifecycle change of that server goes.
        self._supervisors: dict[str, Supervisor] = {}
        self.shutdown_requested = asyncio.Event()
        #: Around every REST tool call (see :data:`ToolCallMeter`).
        self.measure_tool_call: ToolCallMeter = unmeasured
        #: Cluster mode: where start, stop and config reloads go (None: embedded).
        self.shared: SharedState | None = None
        self._change_listeners: list[Callable[[Upstream, str], None]] = []
        self._config_listeners: list[Callable[[HubConfig], None]] = []
        self._notification_listeners: list[Callable[[Upstream, Any], None]] = []
        #: Servers under an explicit operation (REST, reload): their status changes are
        #: reported by that operation, not as spontaneous ``servers_updated`` events.
        self._busy: set[str] = set()
        self._reload_lock = asyncio.Lock()
        self._watchers: list[Watcher] = []
        self._dev_watchers: dict[str, tuple[tuple[str, tuple[str, ...]], Watcher]] = {}
        self._background: set[asyncio.Task[Any]] = set()
        self._shutdown_timer: asyncio.TimerHandle | None = None
        #: This hub's writes of its workspace entry, and the ``workspaces_updated`` sent:
        #: a write the workspace watcher missed (made before it watched) is announced
        #: once it has made its first pass (``ConfigReload._workspace_caught_up``).
        self._workspace_writes = 0
        self._workspace_announced = 0
        #: The calls in flight, which a graceful stop waits for.
        self.calls = WorkGate(lambda: self.accepting_work, options.shutdown_timeout)
        self._shut_down = False
        self._env = HubEnvironment(
            environ=options.environ,
            hub_env=options.hub_env,
            cwd=options.cwd,
            port=options.port,
            oauth_store=OAuthStore(options.oauth_store_path) if options.oauth_store_path else None,
            early_children=early_children,
        )

    async def close_early_children(self) -> None:
        """Stop the STDIO children started before the hub that no upstream adopted."""
        if self._env.early_children is not None:
            await self._env.early_children.close()

    @property
    def oauth_store(self) -> OAuthStore | None:
        """Where remote upstreams keep their OAuth tokens (None: OAuth off)."""
        return self._env.oauth_store

    # ------------------------------------------------------------------ state
    def state_payload(self) -> dict[str, Any]:
        """The last ``hub_state`` payload (sent to each new ``/api/events`` client)."""
        return dict(self._state_payload)

    def set_state(self, state: HubState, **extra: Any) -> None:
        self.state = state
        self._state_payload = self.events.publish(
            HUB_STATE,
            {
                "state": state.value,
                "server_id": SERVER_ID,
                "pid": os.getpid(),
                "port": self.options.port,
                "timestamp": None,  # filled in at publish; extras follow it, as in mcp-hub
                **extra,
            },
        ).payload

    def add_change_listener(self, listener: Callable[[Upstream, str], None]) -> Callable[[], None]:
        """Be told of every upstream status or capability change (e.g. to re-sync /mcp).

        *what* is "status", "capabilities" (all lists), or one of "tools",
        "resources", "prompts". Returns a function that removes the listener.
        """
        self._change_listeners.append(listener)
        return lambda: self._change_listeners.remove(listener)

    def add_config_listener(self, listener: Callable[[HubConfig], None]) -> Callable[[], None]:
        """Be told of every config revision the hub takes, significant or not (the /mcp
        views re-read their filters and profiles: an mcphub.nvim ``disabled_tools`` edit
        restarts no server). Returns a function that removes the listener."""
        self._config_listeners.append(listener)
        return lambda: self._config_listeners.remove(listener)

    def take_config(self, config: HubConfig) -> None:
        """Make *config* the current revision, log its filter and profile errors, and
        tell the config listeners."""
        self.config = config
        for error in config.surface.errors:
            log.error("Invalid tool filter or profile: %s", error, extra={"code": "CONFIG_ERROR"})
        _tell(self._config_listeners, "config", config)

    def add_notification_listener(
        self, listener: Callable[[Upstream, Any], None]
    ) -> Callable[[], None]:
        """Be given every notification any upstream sends (logging, resources/updated, ...),
        e.g. to relay it to /mcp clients. Returns a function that removes the listener."""
        self._notification_listeners.append(listener)
        return lambda: self._notification_listeners.remove(listener)

    def _on_upstream_notification(self, upstream: Upstream, message: Any) -> None:
        _tell(self._notification_listeners, "notification", upstream, message)

    def _on_upstream_change(self, upstream: Upstream, what: str) -> None:
        """Upstream status/capability changes become subscription events."""
        _tell(self._change_listeners, "change", upstream, what)
        if what in ("tools", "resources", "prompts"):
            caps = upstream.capabilities
            payload: dict[str, Any] = {"server": upstream.name}
            if what == "resources":
                payload.update(
                    resources=caps["resources"], resourceTemplates=caps["resourceTemplates"]
                )
            else:
                payload[what] = caps[what]
            self.events.subscription_event(f"{what[:-1]}_list_changed", **payload)
        elif what == "status":
            log.debug("%s is %s", upstream.name, upstream.status.value)
            supervisor = self._supervisors.get(upstream.name)
            spontaneous = (
                upstream.name not in self._busy
                and supervisor is not None
                and supervisor.upstream is upstream
                and not supervisor.busy
            )
            if spontaneous and self.state in (HubState.ready, HubState.restarted):
                self.events.subscription_event(
                    "servers_updated",
                    changes={"modified": [upstream.name]},
                    reason="status_changed",
                    status=upstream.status.value,
                )

    # --------------------------------------------------------------- registry
    def _build_upstreams(self, config: HubConfig) -> None:
        self._supervisors = {
            name: self._new_supervisor(entry) for name, entry in config.servers.items()
        }
        self._sync_upstreams()
        log_entry_errors(config)

    def _new_supervisor(self, entry: ServerEntry) -> Supervisor:
        return Supervisor(
            self._new_upstream(entry), self._new_upstream, lambda *_: self._sync_upstreams()
        )

    def _sync_upstreams(self) -> None:
        """Point :attr:`upstreams` at each supervisor's current upstream (a new dict)."""
        self.upstreams = {name: s.upstream for name, s in self._supervisors.items()}

    def _new_upstream(self, entry: ServerEntry) -> Upstream:
        return create_upstream(
            entry,
            self._env,
            policy=self.options.connect_policy,
            on_change=self._on_upstream_change,
            on_notification=self._on_upstream_notification,
        )

    async def _each(
        self, supervisors: list[Supervisor], action: Callable[[Supervisor], Any]
    ) -> list[Any]:
        """Run *action* on every server in parallel, reporting (not raising) failures."""
        names = {s.name for s in supervisors}
        self._busy |= names
        try:
            return list(
                await asyncio.gather(*(action(s) for s in supervisors), return_exceptions=True)
            )
        finally:
            self._busy -= names

    async def _busy_while(self, name: str, action: Awaitable[Any]) -> Any:
        """Await *action* with *name* marked busy (its status changes are not spontaneous)."""
        self._busy.add(name)
        try:
            return await action
        finally:
            self._busy.discard(name)

    def get(self, name: Any, **context: Any) -> Upstream:
        upstream = self.upstreams.get(name) if isinstance(name, str) else None
        if upstream is None:
            raise ServerNotFoundError(str(name), **context)
        return upstream

    def servers(self) -> list[dict[str, Any]]:
        return [u.info() for u in self.upstreams.values()]

    def _supervisor(self, name: Any, **context: Any) -> Supervisor:
        supervisor = self._supervisors.get(name) if isinstance(name, str) else None
        if supervisor is None:
            raise ServerNotFoundError(str(name), **context)
        return supervisor

    def workspaces(self) -> dict[str, Any]:
        return self.workspace.read_all() if self.workspace is not None else {}

    # ------------------------------------------------------------- stopping
    @property
    def accepting_work(self) -> bool:
        """False from the moment a shutdown is requested: new calls get
        :func:`~tornadohub.drain.stopping_error`."""
        stopping = self.state in (HubState.stopping, HubState.stopped)
        return not (stopping or self.shutdown_requested.is_set())

    def stop_accepting(self) -> None:
        """First step of a graceful stop: refuse new work (``/readyz`` fails too) and tell
        ``/api/events`` clients ``hub_state stopping``."""
        self.shutdown_requested.set()
        if self.state not in (HubState.stopping, HubState.stopped):
            self.set_state(HubState.stopping)

    def request_hard_restart(self) -> None:
        """``POST /api/hard-restart``: announce, then let the process shut down."""
        self.set_state(HubState.restarting)
        self.shutdown_requested.set()

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            self.events.publish(HEARTBEAT, {"connections": len(self.events.subscribers)})


def _tell(listeners: list[Callable[..., None]], kind: str, *args: Any) -> None:
    """Call every listener with *args*; one that fails is logged, the others still run."""
    for listener in list(listeners):
        try:
            listener(*args)
        except Exception:
            log.exception("%s listener failed", kind)
