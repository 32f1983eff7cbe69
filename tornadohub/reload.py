"""Config revisions and the watchers that bring them: where a new config is applied.

:meth:`ConfigReload.apply_config` is the one place a config revision reaches the running
hub: only the difference is applied, never stopping the hub (cluster mode will apply the
revisions it reads from Redis here). ``--watch`` (:meth:`ConfigReload.reload_config`),
``POST /api/restart`` and the dev-mode file watchers of STDIO servers all end here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from tornadohub.config import HubConfig, diff_configs, load_config
from tornadohub.errors import (
    ConfigError,
    HubError,
)
from tornadohub.hub_core import HubCore, log_entry_errors
from tornadohub.state import HubState, UpstreamStatus
from tornadohub.upstreams.supervisor import Supervisor, connect_failure
from tornadohub.watch import (
    DEFAULT_DEV_GLOBS,
    Watcher,
    config_watcher,
    dev_watcher,
    file_watcher,
)

log = logging.getLogger("tornadohub.hub")


class ConfigReload(HubCore):
    """Reloads, config revisions and the file watchers of one hub."""

    async def restart(self) -> None:
        """``POST /api/restart``: reload config files, reconnect everything."""
        async with self._reload_lock:
            self.set_state(HubState.restarting)
            config = load_config(self.options.config_paths)
            old = set(self._supervisors)
            self.take_config(config)
            pending = self._reconcile(
                config,
                added=[n for n in config.servers if n not in old],
                removed=[n for n in old if n not in config.servers],
                modified=[n for n in config.servers if n in old],
            )
            log_entry_errors(config)
        await pending
        self.set_state(HubState.restarted, has_restarted=True)

    async def reload_config(self) -> None:
        """A config file changed (``--watch``): load the files and apply the revision.

        In cluster mode the files become the cluster's next revision instead, which every
        node (this one too) applies through :meth:`apply_config`.
        """
        async with self._reload_lock:
            if self.state in (HubState.stopping, HubState.stopped):
                return
            try:
                new = await asyncio.to_thread(load_config, self.options.config_paths)
            except ConfigError as exc:
                # mcp-hub's words; it keeps the running config too
                log.error(
                    "Error reloading config after change: %s",
                    exc.message,
                    extra={"code": "CONFIG_ERROR", "data": exc.data},
                )
                self.events.subscription_event(
                    "config_changed", isSignificant=False, error=exc.message
                )
                return
            if self.shared is None:
                applied = self._apply(new)
        if self.shared is not None:
            await self.shared.publish_config(new)
            return
        await applied

    async def apply_config(self, new: HubConfig) -> None:
        """Apply the config revision *new*: only the difference, never stopping the hub.

        Returns once every server reached its intent from *new* (a later revision may
        supersede them at once). The seam where cluster mode applies the revisions it reads.
        """
        async with self._reload_lock:
            if self.state in (HubState.stopping, HubState.stopped):
                return
            applied = self._apply(new)
        await applied

    def _apply(self, new: HubConfig) -> Coroutine[Any, Any, None]:
        """Under the reload lock: announce and take *new*, give every server its intent.

        Returns what is left to await, outside the lock: the servers reaching their
        intents (see :meth:`apply_config`).
        """
        old = self.config
        diff = diff_configs(old, new) if old is not None else None
        significant = diff is None or diff.significant
        self.events.subscription_event(
            "config_changed", newConfig=new.data, isSignificant=significant
        )
        self.take_config(new)  # the /mcp views re-read filters and profiles, even here
        if diff is None or not significant:
            for name, upstream in self.upstreams.items():
                if name in new.servers:
                    upstream.entry = new.servers[name]
            return _nothing()
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
        log_entry_errors(new, "Error reloading config after change: ")

        async def applied() -> None:
            await pending  # outside the lock: a later edit may supersede these intents at once
            self.events.subscription_event("servers_updated", changes=changes)

        return applied()

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

    def _start_workspace_watcher(self) -> None:
        """Watch the shared workspace file. Called before the servers start: a watcher is
        ready only after its first idle poll (~0.2 s), which then passes meanwhile."""
        if self.workspace is not None:
            watcher = file_watcher(self.workspace.path, self._workspace_changed)
            self._watchers.append(watcher)
            watcher.start()
            self._spawn(self._workspace_caught_up(watcher), "workspace-caught-up")

    async def _workspace_caught_up(self, watcher: Watcher) -> None:
        """Announce our own entry writes the watcher could not see (made before it
        watched: an ``/api/events`` client that connected while the hub was starting),
        as mcp-hub's watcher, started before any client can connect, sees them."""
        await watcher.settled()
        if self._workspace_writes and not self._workspace_announced:
            await self._workspace_changed(set())

    async def _start_watchers(self) -> None:
        """Start the config watcher (``--watch``), then wait until every watcher is ready."""
        if self.options.watch and self.options.config_paths:
            watcher = config_watcher(self.options.config_paths, lambda _: self.reload_config())
            self._watchers.append(watcher)
            watcher.start()
        await asyncio.gather(*(w.wait_ready() for w in self._watchers))

    async def _stop_watchers(self) -> None:
        watchers = self._watchers + [w for _, w in self._dev_watchers.values()]
        self._watchers, self._dev_watchers = [], {}
        await asyncio.gather(*(w.stop() for w in watchers))

    async def _workspace_changed(self, _: set[Any]) -> None:
        self._workspace_announced += 1
        workspaces = await asyncio.to_thread(self.workspaces)
        self.events.subscription_event("workspaces_updated", workspaces=workspaces)

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


def _relative(path: Any, root: str) -> Any:
    try:
        return path.relative_to(root)
    except ValueError:
        return path


async def _nothing() -> None:
    """Nothing left to wait for (a revision without significant changes)."""
