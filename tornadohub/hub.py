"""Hub state: the loaded config, the upstreams, the hub state machine and its events.

Handlers make exactly one call on :class:`Hub`; everything the REST API does to
servers is implemented here, without any HTTP types.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any

from tornadohub import CONTRACT_VERSION, __version__, processes
from tornadohub.clock import iso_now
from tornadohub.config import HubConfig, ServerEntry, diff_configs, load_config
from tornadohub.errors import (
    ConfigError,
    HubError,
    NotReadyError,
    ServerNotFoundError,
    UpstreamConnectionError,
    UpstreamError,
    ValidationError,
)
from tornadohub.events import HEARTBEAT, HUB_STATE, EventBus, Subscriber
from tornadohub.oauth import OAuthStore, open_browser
from tornadohub.options import HubOptions
from tornadohub.state import HubState, UpstreamStatus
from tornadohub.upstreams import HubEnvironment, Upstream, create_upstream
from tornadohub.upstreams.supervisor import CLOSE_SECONDS, Supervisor, Want, connect_failure
from tornadohub.watch import (
    DEFAULT_DEV_GLOBS,
    Watcher,
    config_watcher,
    dev_watcher,
    file_watcher,
)
from tornadohub.workspace import WorkspaceCache

log = logging.getLogger("tornadohub.hub")

SERVER_ID = "mcp-hub"
DEFAULT_REQUEST_TIMEOUT_MS = 60_000
#: The longest ``request_options.timeout`` a REST call may ask for: one hour.
MAX_REQUEST_TIMEOUT_MS = 3_600_000
HEARTBEAT_SECONDS = 10.0
#: How long calls cancelled at the shutdown deadline get to write their error response.
CANCEL_GRACE_SECONDS = 5.0


#: Awaits one REST tool call to a server and observes it; ``metrics.bind_hub`` installs
#: the metrics' meter (the hub itself never imports the metrics).
ToolCallMeter = Callable[[str, Awaitable[dict[str, Any]]], Awaitable[dict[str, Any]]]


async def unmeasured(server: str, call: Awaitable[dict[str, Any]]) -> dict[str, Any]:
    """The :data:`ToolCallMeter` of a hub no metrics follow: the call, as it is."""
    return await call


def stopping_error() -> NotReadyError:
    """What new work gets once a shutdown started: 503 ``HUB_STOPPING``."""
    return NotReadyError("Hub is shutting down", code="HUB_STOPPING")


class Hub:
    """The upstream registry plus the hub-level state machine."""

    def __init__(
        self,
        options: HubOptions,
        *,
        events: EventBus | None = None,
        workspace: WorkspaceCache | None = None,
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
        self._change_listeners: list[Callable[[Upstream, str], None]] = []
        self._notification_listeners: list[Callable[[Upstream, Any], None]] = []
        #: Servers under an explicit operation (REST, reload): their status changes are
        #: reported by that operation, not as spontaneous ``servers_updated`` events.
        self._busy: set[str] = set()
        self._reload_lock = asyncio.Lock()
        self._watchers: list[Watcher] = []
        self._dev_watchers: dict[str, tuple[tuple[str, tuple[str, ...]], Watcher]] = {}
        self._background: set[asyncio.Task[Any]] = set()
        self._shutdown_timer: asyncio.TimerHandle | None = None
        #: Calls in flight (see :meth:`call_in_flight`): how many each task is running.
        self._calls: dict[asyncio.Task[Any], int] = {}
        self._no_calls = asyncio.Event()
        self._no_calls.set()
        #: Tasks whose calls :meth:`drain` cancelled at the deadline.
        self._abandoned: set[asyncio.Task[Any]] = set()
        self._shut_down = False
        self._env = HubEnvironment(
            environ=options.environ,
            hub_env=options.hub_env,
            cwd=options.cwd,
            port=options.port,
            oauth_store=OAuthStore(options.oauth_store_path) if options.oauth_store_path else None,
        )

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

    def add_notification_listener(
        self, listener: Callable[[Upstream, Any], None]
    ) -> Callable[[], None]:
        """Be given every notification any upstream sends (logging, resources/updated, ...),
        e.g. to relay it to /mcp clients. Returns a function that removes the listener."""
        self._notification_listeners.append(listener)
        return lambda: self._notification_listeners.remove(listener)

    def _on_upstream_notification(self, upstream: Upstream, message: Any) -> None:
        for listener in list(self._notification_listeners):
            try:
                listener(upstream, message)
            except Exception:
                log.exception("notification listener failed")

    def _on_upstream_change(self, upstream: Upstream, what: str) -> None:
        """Upstream status/capability changes become subscription events."""
        for listener in list(self._change_listeners):
            try:
                listener(upstream, what)
            except Exception:
                log.exception("change listener failed")
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

    # -------------------------------------------------------------- lifecycle
    async def initialize(self, config: HubConfig | None = None) -> None:
        """Load the config (raises ConfigError), start every enabled server and the watchers."""
        self.config = config or load_config(self.options.config_paths)
        self._build_upstreams(self.config)
        await self._start_all()
        await self._start_watchers()
        self._spawn(self._heartbeat(), "heartbeat")
        self.set_state(HubState.ready)

    def _build_upstreams(self, config: HubConfig) -> None:
        self._supervisors = {
            name: self._new_supervisor(entry) for name, entry in config.servers.items()
        }
        self._sync_upstreams()
        for error in config.errors:
            log.error("Invalid server config: %s", error, extra={"code": "CONFIG_ERROR"})

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
            policy=self.options.policy,
            on_change=self._on_upstream_change,
            on_notification=self._on_upstream_notification,
        )

    async def _start_all(self) -> None:
        enabled = [s for s in self._supervisors.values() if not s.upstream.disabled]
        results = await self._each(enabled, Supervisor.start)
        failed = [s.name for s, r in zip(enabled, results, strict=True) if isinstance(r, Exception)]
        total = len(self.upstreams)
        log.info(
            "%d/%d servers started successfully",
            len(enabled) - len(failed),
            total,
            extra={
                "data": {
                    "total": total,
                    "successful": len(enabled) - len(failed),
                    "failed": len(failed),
                    "disabled": total - len(enabled),
                    "failedServers": failed,
                }
            },
        )
        self._sync_dev_watchers()

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

    async def _close_all(self) -> None:
        """Stop every server for good, within :data:`CLOSE_SECONDS` whatever they do."""
        deadline = time.monotonic() + CLOSE_SECONDS
        await self._each(list(self._supervisors.values()), lambda s: s.close(deadline))

    async def shutdown(self) -> None:
        """Stop watchers and every server (reaping every child); safe to call twice.

        Calls still in flight fail: :meth:`drain` first to let them finish.
        """
        if self._shut_down:
            return
        self._shut_down = True
        self.stop_accepting()
        self._cancel_shutdown_timer()
        await self._stop_watchers()
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        await self._close_all()
        processes.kill_all_spawned()  # a ${cmd:} shell must not hold the exit
        self.set_state(HubState.stopped)
        self.events.close_all()

    async def restart(self) -> None:
        """``POST /api/restart``: reload config files, reconnect everything."""
        async with self._reload_lock:
            self.set_state(HubState.restarting)
            config = load_config(self.options.config_paths)
            old = set(self._supervisors)
            self.config = config
            pending = self._reconcile(
                config,
                added=[n for n in config.servers if n not in old],
                removed=[n for n in old if n not in config.servers],
                modified=[n for n in config.servers if n in old],
            )
            for error in config.errors:
                log.error("Invalid server config: %s", error, extra={"code": "CONFIG_ERROR"})
        await pending
        self.set_state(HubState.restarted, has_restarted=True)

    # ------------------------------------------------------ graceful stop
    @property
    def accepting_work(self) -> bool:
        """False from the moment a shutdown is requested: new calls get :func:`stopping_error`."""
        stopping = self.state in (HubState.stopping, HubState.stopped)
        return not (stopping or self.shutdown_requested.is_set())

    def stop_accepting(self) -> None:
        """First step of a graceful stop: refuse new work (``/readyz`` fails too) and tell
        ``/api/events`` clients ``hub_state stopping``."""
        self.shutdown_requested.set()
        if self.state not in (HubState.stopping, HubState.stopped):
            self.set_state(HubState.stopping)

    @contextlib.contextmanager
    def call_in_flight(self, **context: Any) -> Iterator[None]:
        """Run one call (tool, resource, prompt) as work a graceful stop waits for.

        Refused with :func:`stopping_error` once the hub is stopping. A call still running
        when :meth:`drain` gives up is cancelled and raises ``HUB_STOPPING`` saying so,
        with *context* (server, tool, ...) in its data.
        """
        if not self.accepting_work:
            raise stopping_error()
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("call_in_flight needs a running task")
        self._calls[task] = self._calls.get(task, 0) + 1
        self._no_calls.clear()
        try:
            yield
        except (Exception, asyncio.CancelledError):
            if task not in self._abandoned:
                raise
            if task.cancelling():
                task.uncancel()
            timeout = self.options.shutdown_timeout
            raise NotReadyError(
                f"Hub is shutting down: the call did not finish within {timeout:g} s",
                code="HUB_STOPPING",
                data={**context, "shutdownTimeout": timeout},
            ) from None
        finally:
            self._calls[task] -= 1
            if not self._calls[task]:
                del self._calls[task]
                self._abandoned.discard(task)
            if not self._calls:
                self._no_calls.set()

    @property
    def calls_in_flight(self) -> int:
        return sum(self._calls.values())

    async def drain(self) -> None:
        """Refuse new work, wait up to ``shutdown_timeout`` for the calls in flight, then
        cancel those left (each answers ``HUB_STOPPING``) and give them a moment to say so."""
        self.stop_accepting()
        timeout = self.options.shutdown_timeout
        if self._calls:
            log.info(
                "Waiting up to %g s for %d call(s) in flight",
                timeout,
                self.calls_in_flight,
                extra={"data": {"calls": self.calls_in_flight, "timeout": timeout}},
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._no_calls.wait(), timeout)
        if not self._calls:
            return
        left = list(self._calls)
        log.warning(
            "Cancelling %d call(s) still running after the %g s shutdown timeout",
            self.calls_in_flight,
            timeout,
            extra={"data": {"calls": self.calls_in_flight, "timeout": timeout}},
        )
        for task in left:
            self._abandoned.add(task)
            task.cancel()
        await asyncio.wait(left, timeout=CANCEL_GRACE_SECONDS)

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

    # ------------------------------------------------------------- watching
    async def _start_watchers(self) -> None:
        if self.options.watch and self.options.config_paths:
            self._watchers.append(
                config_watcher(self.options.config_paths, lambda _: self.reload_config())
            )
        if self.workspace is not None:
            self._watchers.append(file_watcher(self.workspace.path, self._workspace_changed))
        for watcher in self._watchers:
            watcher.start()
        await asyncio.gather(*(w.wait_ready() for w in self._watchers))

    async def _stop_watchers(self) -> None:
        watchers = self._watchers + [w for _, w in self._dev_watchers.values()]
        self._watchers, self._dev_watchers = [], {}
        await asyncio.gather(*(w.stop() for w in watchers))

    async def _workspace_changed(self, _: set[Any]) -> None:
        workspaces = await asyncio.to_thread(self.workspaces)
        self.events.subscription_event("workspaces_updated", workspaces=workspaces)

    async def reload_config(self) -> None:
        """Apply a config-file change: only the difference, never stopping the hub."""
        async with self._reload_lock:
            if self.state in (HubState.stopping, HubState.stopped):
                return
            try:
                new = await asyncio.to_thread(load_config, self.options.config_paths)
            except ConfigError as exc:
                log.error(
                    "Config reload failed, keeping the running config: %s",
                    exc.message,
                    extra={"code": "CONFIG_ERROR"},
                )
                self.events.subscription_event(
                    "config_changed", isSignificant=False, error=exc.message
                )
                return
            old = self.config
            diff = diff_configs(old, new) if old is not None else None
            significant = diff is None or diff.significant
            self.events.subscription_event(
                "config_changed", newConfig=new.data, isSignificant=significant
            )
            self.config = new
            if diff is None or not significant:
                for name, upstream in self.upstreams.items():
                    if name in new.servers:
                        upstream.entry = new.servers[name]
                return
            changes = diff.to_json()
            self.events.subscription_event("servers_updating", changes=changes)
            toggled = [
                name
                for name in diff.modified
                if diff.details.get(name, {}).get("modifiedFields") == ["disabled"]
            ]
            pending = self._reconcile(
                new, added=diff.added, removed=diff.removed, modified=diff.modified, toggled=toggled
            )
            for error in new.errors:
                log.error("Invalid server config: %s", error, extra={"code": "CONFIG_ERROR"})
        await pending  # outside the lock: a later edit may supersede these intents at once
        self.events.subscription_event("servers_updated", changes=changes)

    def _reconcile(
        self,
        new: HubConfig,
        *,
        added: list[str],
        removed: list[str],
        modified: list[str],
        toggled: Sequence[str] = (),
    ) -> asyncio.Future[Any]:
        """Give every server its intent from *new*; a future of all of them being reached.

        A server whose only change is ``disabled`` keeps its upstream and is started or
        stopped; other modified ones get a new upstream. Removed servers leave the
        registry at once and are stopped for good.
        """
        previous = self._supervisors
        supervisors: dict[str, Supervisor] = {}
        for name, entry in new.servers.items():
            if name in previous and name not in modified:
                previous[name].upstream.entry = entry
            supervisors[name] = previous.get(name) or self._new_supervisor(entry)
        self._supervisors = supervisors
        self._sync_upstreams()
        work: list[Any] = []
        for name in removed:
            if name in previous:
                work.append(self._busy_while(name, previous[name].close()))
        for name in modified:
            supervisor, entry = supervisors[name], new.servers[name]
            if name not in previous:
                continue
            if name in toggled:
                supervisor.upstream.entry = entry
                action = supervisor.stop(disable=True) if entry.disabled else supervisor.start()
            else:
                action = supervisor.apply(entry)
            work.append(self._busy_while(name, action))
        for name in added:
            if not new.servers[name].disabled:
                work.append(self._busy_while(name, supervisors[name].start()))

        async def finish() -> None:
            await asyncio.gather(*work, return_exceptions=True)
            self._sync_dev_watchers()

        return asyncio.ensure_future(finish())

    async def _busy_while(self, name: str, action: Awaitable[Any]) -> Any:
        """Await *action* with *name* marked busy (its status changes are not spontaneous)."""
        self._busy.add(name)
        try:
            return await action
        finally:
            self._busy.discard(name)

    def _sync_dev_watchers(self) -> None:
        """One dev watcher per enabled STDIO server with ``dev.enabled``."""
        wanted: dict[str, tuple[str, tuple[str, ...]]] = {}
        for name, upstream in self.upstreams.items():
            dev = upstream.entry.config.get("dev")
            if upstream.disabled or upstream.entry.error or not isinstance(dev, dict):
                continue
            if dev.get("enabled", True) is not True or not isinstance(dev.get("cwd"), str):
                continue
            wanted[name] = (dev["cwd"], tuple(dev.get("watch") or DEFAULT_DEV_GLOBS))
        for name in list(self._dev_watchers):
            if wanted.get(name) != self._dev_watchers[name][0]:
                self._spawn(self._dev_watchers.pop(name)[1].stop(), f"dev-stop:{name}")
        for name, spec in wanted.items():
            if name not in self._dev_watchers:
                watcher = dev_watcher(name, spec[0], spec[1], self._dev_callback(name))
                self._dev_watchers[name] = (spec, watcher)
                watcher.start()

    def _dev_callback(self, name: str) -> Callable[[set[Any]], Any]:
        return lambda files: self._dev_restart(name, files)

    async def _dev_restart(self, name: str, files: set[Any]) -> None:
        upstream = self.upstreams.get(name)
        dev = upstream.entry.config.get("dev") if upstream is not None else None
        if upstream is None or not isinstance(dev, dict):
            return
        relative = sorted(str(_relative(f, dev["cwd"])) for f in files)
        common = {"changes": {"modified": [name]}, "reason": "dev_file_change", "files": relative}
        self.events.subscription_event("servers_updating", **common)
        log.info("%s: files changed, restarting", name, extra={"data": {"files": relative}})
        supervisor = self._supervisors[name]
        try:
            await self._busy_while(name, supervisor.restart())
            if supervisor.upstream.status is not UpstreamStatus.connected:
                raise connect_failure(supervisor.upstream)
        except HubError as exc:
            self.events.subscription_event("servers_updated", **common, error=exc.message)
            return
        caps = supervisor.upstream.capabilities
        self.events.subscription_event(
            "servers_updated", **common, newCapabilities={k: list(v) for k, v in caps.items()}
        )

    # ------------------------------------------------------- SSE clients
    def client_connected(self, subscriber: Subscriber) -> None:
        """An ``/api/events`` client arrived: cancel a pending auto-shutdown."""
        self._cancel_shutdown_timer()
        log.debug(
            "SSE client connected",
            extra={
                "data": {
                    "clientId": subscriber.id,
                    "totalConnections": len(self.events.subscribers),
                }
            },
        )
        self._update_workspace(
            state="active",
            activeConnections=len(self.events.subscribers),
            shutdownStartedAt=None,
            shutdownDelay=None,
        )

    def client_disconnected(self, subscriber: Subscriber) -> None:
        """An ``/api/events`` client left; the last one arms ``--auto-shutdown``."""
        remaining = len(self.events.subscribers)
        log.debug(
            "SSE client disconnected",
            extra={"data": {"clientId": subscriber.id, "totalConnections": remaining}},
        )
        if remaining or not self.options.auto_shutdown:
            self._update_workspace(activeConnections=remaining)
            return
        if self.state in (HubState.stopping, HubState.stopped):
            return
        delay_ms = self.options.shutdown_delay_ms
        log.info(
            "No active SSE connections, shutting down in %d ms",
            delay_ms,
            extra={"data": {"delay": delay_ms}},
        )
        self._update_workspace(
            state="shutting_down",
            activeConnections=0,
            shutdownStartedAt=iso_now(),
            shutdownDelay=delay_ms,
        )
        self._cancel_shutdown_timer()
        self._shutdown_timer = asyncio.get_running_loop().call_later(
            delay_ms / 1000, self.shutdown_requested.set
        )

    def _cancel_shutdown_timer(self) -> None:
        if self._shutdown_timer is not None:
            self._shutdown_timer.cancel()
            self._shutdown_timer = None

    def _update_workspace(self, **fields: Any) -> None:
        if self.workspace is not None:
            self._spawn(asyncio.to_thread(self.workspace.update, **fields), "workspace-update")

    # ----------------------------------------------------------------- lookup
    def get(self, name: Any, **context: Any) -> Upstream:
        upstream = self.upstreams.get(name) if isinstance(name, str) else None
        if upstream is None:
            raise ServerNotFoundError(str(name), **context)
        return upstream

    def servers(self) -> list[dict[str, Any]]:
        return [u.info() for u in self.upstreams.values()]

    # --------------------------------------------------------------- commands
    def _supervisor(self, name: Any, **context: Any) -> Supervisor:
        supervisor = self._supervisors.get(name) if isinstance(name, str) else None
        if supervisor is None:
            raise ServerNotFoundError(str(name), **context)
        return supervisor

    async def start_server(self, name: str) -> dict[str, Any]:
        """Enable (in memory only, like mcp-hub) and connect one server.

        Returns once this start (or a later intent for the server) has been carried out;
        a start superseded by a stop reports the current state instead of an error.
        """
        self._busy.add(str(name))  # any JSON value may arrive; get() answers 404
        try:
            supervisor = self._supervisor(name)
            upstream = supervisor.upstream
            if upstream.entry.config.get("disabled") is True:
                upstream.entry = _with_config(upstream.entry, disabled=False)
            await supervisor.start()
            self._sync_dev_watchers()
            return supervisor.upstream.info()
        finally:
            self._busy.discard(str(name))
            self.events.subscription_event("servers_updated", changes={"modified": [name]})

    async def stop_server(self, name: str, *, disable: bool = False) -> dict[str, Any]:
        """Stop one server (``disable``: and mark it disabled, in memory); cancels a start."""
        self._busy.add(str(name))  # any JSON value may arrive; get() answers 404
        try:
            supervisor = self._supervisor(name)
            if disable:
                upstream = supervisor.upstream
                upstream.entry = _with_config(upstream.entry, disabled=True)
            await supervisor.stop(disable=disable)
            self._sync_dev_watchers()
            return supervisor.upstream.info()
        finally:
            self._busy.discard(str(name))
            self.events.subscription_event("servers_updated", changes={"modified": [name]})

    async def authorize(self, name: str) -> str:
        """``POST /api/servers/authorize``: the URL the user must open for this server.

        A flow that ended (a bad callback, a restart) is started afresh.
        """
        supervisor = self._supervisor(name)
        upstream = supervisor.upstream
        if upstream.authorization_url is None and upstream.status is UpstreamStatus.unauthorized:
            with contextlib.suppress(UpstreamConnectionError):
                await supervisor.start()
        url = supervisor.upstream.authorization_url
        if not url:
            raise HubError(
                f"No authorization URL available for server '{name}'",
                code="OPEN_REQUEST_ERROR",
                data={"originalError": {}},
            )
        await asyncio.to_thread(open_browser, url)
        return url

    async def complete_oauth(
        self, name: str, code: str | None, state: str | None, iss: str | None = None
    ) -> dict[str, Any]:
        """The user's redirect came back: resume that server's flow and wait for it."""
        self._busy.add(name)
        try:
            supervisor = self._supervisor(name)
            oauth = getattr(supervisor.upstream, "oauth", None)
            if oauth is None or oauth.pending is None:
                raise HubError(
                    f"No authorization in progress for server '{name}'",
                    code="OAUTH_ERROR",
                    data={"server": name},
                    status=409,
                )
            await supervisor.resume(lambda: oauth.complete(code, state, iss), timeout=60)
            upstream = supervisor.upstream
            if supervisor.want is Want.running and upstream.status is not UpstreamStatus.connected:
                raise connect_failure(upstream)
            return upstream.info()
        finally:
            self._busy.discard(name)
            self.events.subscription_event("servers_updated", changes={"modified": [name]})

    async def refresh_server(self, name: str) -> dict[str, Any]:
        upstream = self.get(name)
        await upstream.refresh()
        return upstream.info()

    async def refresh_all(self) -> list[dict[str, Any]]:
        async def one(upstream: Upstream) -> dict[str, Any]:
            try:
                await upstream.refresh()
                return upstream.info()
            except Exception as exc:
                return {"name": upstream.name, "status": "error", "error": str(exc)}

        return list(await asyncio.gather(*(one(u) for u in self.upstreams.values())))

    async def call_tool(self, name: str, tool: str, arguments: Any, options: Any) -> dict[str, Any]:
        with self.call_in_flight(server=name, tool=tool):
            upstream = self.get(name, operation="tool_call", tool=tool)
            return await self.measure_tool_call(
                name, self._call_tool(upstream, tool, arguments, options)
            )

    async def _call_tool(
        self, upstream: Upstream, tool: str, arguments: Any, options: Any
    ) -> dict[str, Any]:
        upstream.require_session("TOOL_ERROR", {"tool": tool})
        _require_listed(upstream, "tool", tool, arguments)
        return await upstream.request(
            "tools/call",
            {"name": tool, "arguments": arguments},
            timeout=request_timeout(options),
            error_code="TOOL_ERROR",
            context={"tool": tool, "args": arguments},
        )

    async def read_resource(self, name: str, uri: str, options: Any) -> dict[str, Any]:
        with self.call_in_flight(server=name, uri=uri):
            upstream = self.get(name, operation="resource_read", uri=uri)
            upstream.require_session("RESOURCE_ERROR", {"uri": uri})
            return await upstream.request(
                "resources/read",
                {"uri": uri},
                timeout=request_timeout(options),
                error_code="RESOURCE_ERROR",
                context={"uri": uri},
            )

    async def get_prompt(
        self, name: str, prompt: str, arguments: Any, options: Any
    ) -> dict[str, Any]:
        with self.call_in_flight(server=name, prompt=prompt):
            return await self._get_prompt(name, prompt, arguments, options)

    async def _get_prompt(
        self, name: str, prompt: str, arguments: Any, options: Any
    ) -> dict[str, Any]:
        upstream = self.get(name, operation="get_prompt", prompt=prompt)
        upstream.require_session("TOOL_ERROR", {"prompt": prompt})
        _require_listed(upstream, "prompt", prompt, arguments)
        return await upstream.request(
            "prompts/get",
            {"name": prompt, "arguments": {k: _as_prompt_arg(v) for k, v in arguments.items()}},
            timeout=request_timeout(options),
            error_code="TOOL_ERROR",
            context={"prompt": prompt, "args": arguments},
        )

    # ------------------------------------------------------------------ views
    def workspaces(self) -> dict[str, Any]:
        return self.workspace.read_all() if self.workspace is not None else {}

    def health(self) -> dict[str, Any]:
        """``GET /api/health``: a cheap snapshot, no upstream I/O."""
        servers = self.servers()
        counts = {"tools": 0, "resources": 0, "resourceTemplates": 0, "prompts": 0}
        for upstream in self.upstreams.values():
            if upstream.status is UpstreamStatus.connected:
                for key in counts:
                    counts[key] += len(upstream.capabilities[key])
        subscribers = self.events.subscribers
        return {
            "status": "ok",
            "state": self.state.value,
            "server_id": SERVER_ID,
            "version": CONTRACT_VERSION,
            "implementation": {"name": "tornadohub", "version": __version__},
            "activeClients": len(subscribers),
            "timestamp": iso_now(),
            "servers": servers,
            "connections": {
                "totalConnections": len(subscribers),
                "connections": [s.describe() for s in subscribers],
            },
            "mcpEndpoint": {
                "activeClients": 0,
                "registeredCapabilities": counts,
                "totalCapabilities": sum(counts.values()),
            },
            "workspaces": {"current": str(self.options.port), "allActive": self.workspaces()},
        }


def _require_listed(upstream: Upstream, kind: str, name: str, arguments: Any) -> None:
    """mcp-hub's checks before a tool call or prompt get: listed, and object arguments."""
    key, listing = (
        ("tools", "availableTools") if kind == "tool" else ("prompts", "availablePrompts")
    )
    if name not in upstream.names(key):
        names = [item.get("name") for item in upstream.capabilities[key]]
        raise UpstreamError(
            f"{kind.capitalize()} not found",
            code="TOOL_ERROR",
            data={"server": upstream.name, kind: name, listing: names},
        )
    if not isinstance(arguments, dict):
        raise UpstreamError(
            "Invalid arguments",
            code="TOOL_ERROR",
            data={"server": upstream.name, kind: name, "args": arguments},
        )


def _relative(path: Any, root: str) -> Any:
    try:
        return path.relative_to(root)
    except ValueError:
        return path


def _with_config(entry: ServerEntry, **changes: Any) -> ServerEntry:
    return dataclasses.replace(entry, config={**entry.config, **changes})


def _as_prompt_arg(value: Any) -> str:
    """Prompt arguments are strings in MCP; JSON scalars are converted, not rejected."""
    return value if isinstance(value, str) else json.dumps(value)


def request_timeout(options: Any) -> float:
    """``request_options.timeout`` in ms (default 60 s) as seconds; bad values are a 400.

    The timeout must be a finite number of milliseconds above 0 and at most one hour
    (:data:`MAX_REQUEST_TIMEOUT_MS`): ``NaN`` would time out at once, ``Infinity`` never.
    """
    if options is None:
        return DEFAULT_REQUEST_TIMEOUT_MS / 1000
    if not isinstance(options, dict):
        raise ValidationError("Invalid request_options", data={"field": "request_options"})
    timeout = options.get("timeout", DEFAULT_REQUEST_TIMEOUT_MS)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
        raise ValidationError(
            "request_options.timeout must be a positive number of milliseconds",
            data={"field": "request_options.timeout"},
        )
    if not timeout <= MAX_REQUEST_TIMEOUT_MS:  # also NaN, and ints too big for a float
        raise ValidationError(
            f"request_options.timeout must be at most {MAX_REQUEST_TIMEOUT_MS} ms (one hour)",
            data={"field": "request_options.timeout", "max": MAX_REQUEST_TIMEOUT_MS},
        )
    return float(timeout) / 1000
