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
import time
from collections.abc import Collection
from typing import Any

from tornadohub import CONTRACT_VERSION, __version__, processes
from tornadohub.clock import iso_now
from tornadohub.config import HubConfig, ServerEntry, load_config
from tornadohub.errors import (
    HubError,
    UpstreamConnectionError,
    UpstreamError,
    ValidationError,
)
from tornadohub.hub_core import SERVER_ID
from tornadohub.oauth_session import open_browser
from tornadohub.presence import Presence
from tornadohub.reload import ConfigReload
from tornadohub.state import HubState, UpstreamStatus
from tornadohub.upstreams import Upstream
from tornadohub.upstreams.supervisor import CLOSE_SECONDS, Supervisor, Want, connect_failure

log = logging.getLogger("tornadohub.hub")


DEFAULT_REQUEST_TIMEOUT_MS = 60_000


#: The longest ``request_options.timeout`` a REST call may ask for: one hour.
MAX_REQUEST_TIMEOUT_MS = 3_600_000


class Hub(ConfigReload, Presence):
    """The hub: what every handler calls, one call per request.

    State and the registry are in :mod:`tornadohub.hub_core`, reloads in
    :mod:`tornadohub.reload`, SSE presence in :mod:`tornadohub.presence`, the drain gate in
    :mod:`tornadohub.drain`.
    """

    # -------------------------------------------------------------- lifecycle
    async def initialize(
        self, config: HubConfig | None = None, *, stopped: Collection[str] = ()
    ) -> None:
        """Load the config (raises ConfigError), start every enabled server and the watchers.

        *stopped*: servers not to start (cluster mode: stopped on every node).
        """
        config = config or load_config(self.options.config_paths)
        self.take_config(config)
        self._build_upstreams(config)
        self._start_workspace_watcher()
        try:
            await self._start_all(stopped)
        finally:
            await self.close_early_children()
        await self._start_watchers()
        self._spawn(self._heartbeat(), "heartbeat")
        self.set_state(HubState.ready)

    async def _start_all(self, stopped: Collection[str] = ()) -> None:
        enabled = [
            s
            for s in self._supervisors.values()
            if not s.upstream.disabled and s.name not in stopped
        ]
        results = await self._each(enabled, Supervisor.start)
        failed: list[str] = []
        for supervisor, result in zip(enabled, results, strict=True):
            if not isinstance(result, Exception):
                continue
            failed.append(supervisor.name)
            # mcp-hub logs each server that fails to start (an invalid entry was already),
            # as an error a client shows; not a REST start or a reload, which it does not
            if isinstance(result, HubError) and supervisor.upstream.entry.error is None:
                log.error("%s", result.message, extra={"code": result.code, "data": result.data})
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
        await self.close_early_children()
        processes.kill_all_spawned()  # a ${cmd:} shell must not hold the exit
        self.set_state(HubState.stopped)
        self.events.close_all()

    async def drain(self) -> None:
        """Refuse new work, then let the calls in flight finish (see
        :class:`~tornadohub.drain.WorkGate`)."""
        self.stop_accepting()
        await self.calls.drain()

    # --------------------------------------------------------------- commands
    async def start_server(self, name: str, *, node: str | None = None) -> dict[str, Any]:
        """Enable (in memory only, like mcp-hub) and connect one server.

        Returns once this start (or a later intent for the server) has been carried out;
        a start superseded by a stop reports the current state instead of an error. In
        cluster mode every node starts it, unless *node* names this one.
        """
        if self.shared is not None:
            if node is None:
                return await self.shared.start_server(name)
            self.shared.require_this_node(node)
        return await self.start_here(name)

    async def start_here(self, name: str) -> dict[str, Any]:
        """:meth:`start_server` in this process only."""
        self._busy.add(str(name))  # any JSON value may arrive; get() answers 404
        try:
            supervisor = self._supervisor(name)
            upstream = supervisor.upstream
            if upstream.entry.disabled:
                upstream.entry = _with_config(upstream.entry, disabled=False)
            await supervisor.start()
            self._sync_dev_watchers()
            return supervisor.upstream.info()
        finally:
            self._busy.discard(str(name))
            self.events.subscription_event("servers_updated", changes={"modified": [name]})

    async def stop_server(
        self, name: str, *, disable: bool = False, node: str | None = None
    ) -> dict[str, Any]:
        """Stop one server (``disable``: and mark it disabled, in memory); cancels a start.

        In cluster mode every node stops it, unless *node* names this one.
        """
        if self.shared is not None:
            if node is None:
                return await self.shared.stop_server(name, disable=disable)
            self.shared.require_this_node(node)
        return await self.stop_here(name, disable=disable)

    async def stop_here(self, name: str, *, disable: bool = False) -> dict[str, Any]:
        """:meth:`stop_server` in this process only."""
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
        with self.calls.in_flight(server=name, tool=tool):
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
        with self.calls.in_flight(server=name, uri=uri):
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
        with self.calls.in_flight(server=name, prompt=prompt):
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
