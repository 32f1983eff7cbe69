"""Hub state: the loaded config, the upstreams, the hub state machine and its events.

Handlers make exactly one call on :class:`Hub`; everything the REST API does to
servers is implemented here, without any HTTP types.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tornadohub import CONTRACT_VERSION, __version__
from tornadohub.config import HubConfig, ServerEntry, load_config
from tornadohub.errors import ServerNotFoundError, UpstreamError, ValidationError
from tornadohub.events import HUB_STATE, EventBus
from tornadohub.upstreams import (
    ConnectPolicy,
    HubEnvironment,
    Upstream,
    UpstreamStatus,
    create_upstream,
)
from tornadohub.upstreams.base import iso_now
from tornadohub.workspace import WorkspaceCache

log = logging.getLogger("tornadohub.hub")

SERVER_ID = "mcp-hub"
DEFAULT_REQUEST_TIMEOUT_MS = 60_000


class HubState(enum.StrEnum):
    """Hub states exactly as mcp-hub broadcasts them."""

    starting = "starting"
    ready = "ready"
    restarting = "restarting"
    restarted = "restarted"
    stopping = "stopping"
    stopped = "stopped"
    error = "error"


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
    policy: ConnectPolicy = field(default_factory=ConnectPolicy)


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
        self.config: HubConfig | None = None
        self.upstreams: dict[str, Upstream] = {}
        self.shutdown_requested = asyncio.Event()
        self._change_listeners: list[Callable[[Upstream, str], None]] = []
        self._env = HubEnvironment(
            environ=options.environ, hub_env=options.hub_env, cwd=options.cwd
        )

    # ------------------------------------------------------------------ state
    def set_state(self, state: HubState, **extra: Any) -> None:
        self.state = state
        self.events.publish(
            HUB_STATE,
            {
                "state": state.value,
                "server_id": SERVER_ID,
                "pid": os.getpid(),
                "port": self.options.port,
                **extra,
            },
        )

    def add_change_listener(self, listener: Callable[[Upstream, str], None]) -> Callable[[], None]:
        """Be told of every upstream status or capability change (e.g. to re-sync /mcp).

        *what* is "status", "capabilities" (all lists), or one of "tools",
        "resources", "prompts". Returns a function that removes the listener.
        """
        self._change_listeners.append(listener)
        return lambda: self._change_listeners.remove(listener)

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

    # -------------------------------------------------------------- lifecycle
    async def initialize(self) -> None:
        """Load the config (raises ConfigError) and start every enabled server."""
        self.config = load_config(self.options.config_paths)
        self._build_upstreams(self.config)
        await self._start_all()
        self.set_state(HubState.ready)

    def _build_upstreams(self, config: HubConfig) -> None:
        self.upstreams = {
            name: create_upstream(
                entry, self._env, policy=self.options.policy, on_change=self._on_upstream_change
            )
            for name, entry in config.servers.items()
        }
        for error in config.errors:
            log.error("Invalid server config: %s", error, extra={"code": "CONFIG_ERROR"})

    async def _start_all(self) -> None:
        enabled = [u for u in self.upstreams.values() if not u.disabled]
        results = await asyncio.gather(*(u.start() for u in enabled), return_exceptions=True)
        failed = [u.name for u, r in zip(enabled, results, strict=True) if isinstance(r, Exception)]
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, Exception):
                raise result
        total = len(self.upstreams)
        disabled = total - len(enabled)
        log.info(
            "%d/%d servers started successfully",
            len(enabled) - len(failed),
            total,
            extra={
                "data": {
                    "total": total,
                    "successful": len(enabled) - len(failed),
                    "failed": len(failed),
                    "disabled": disabled,
                    "failedServers": failed,
                }
            },
        )

    async def _stop_all(self) -> None:
        await asyncio.gather(
            *(u.stop(disable=u.disabled) for u in self.upstreams.values()), return_exceptions=True
        )

    async def shutdown(self) -> None:
        """Stop every server and reap every child; safe to call twice."""
        if self.state in (HubState.stopping, HubState.stopped):
            return
        self.set_state(HubState.stopping)
        await self._stop_all()
        self.set_state(HubState.stopped)

    async def restart(self) -> None:
        """``POST /api/restart``: reload config files, reconnect everything."""
        self.set_state(HubState.restarting)
        config = load_config(self.options.config_paths)
        await self._stop_all()
        self.config = config
        self._build_upstreams(config)
        await self._start_all()
        self.set_state(HubState.restarted, has_restarted=True)

    def request_hard_restart(self) -> None:
        """``POST /api/hard-restart``: announce, then let the process shut down."""
        self.set_state(HubState.restarting)
        self.shutdown_requested.set()

    # ----------------------------------------------------------------- lookup
    def get(self, name: Any, **context: Any) -> Upstream:
        upstream = self.upstreams.get(name) if isinstance(name, str) else None
        if upstream is None:
            raise ServerNotFoundError(str(name), **context)
        return upstream

    def servers(self) -> list[dict[str, Any]]:
        return [u.info() for u in self.upstreams.values()]

    # --------------------------------------------------------------- commands
    async def start_server(self, name: str) -> dict[str, Any]:
        """Enable (in memory only, like mcp-hub) and connect one server."""
        try:
            upstream = self.get(name)
            if upstream.entry.config.get("disabled") is True:
                upstream.entry = _with_config(upstream.entry, disabled=False)
            await upstream.start()
            return upstream.info()
        finally:
            self.events.subscription_event("servers_updated", changes={"modified": [name]})

    async def stop_server(self, name: str, *, disable: bool = False) -> dict[str, Any]:
        try:
            upstream = self.get(name)
            if disable:
                upstream.entry = _with_config(upstream.entry, disabled=True)
            await upstream.stop(disable=disable)
            return upstream.info()
        finally:
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
        upstream = self.get(name, operation="tool_call", tool=tool)
        context: dict[str, Any] = {"tool": tool}
        self._require_session(upstream, "TOOL_ERROR", context)
        names = [t.get("name") for t in upstream.capabilities["tools"]]
        if tool not in names:
            raise UpstreamError(
                "Tool not found",
                code="TOOL_ERROR",
                data={"server": name, "tool": tool, "availableTools": names},
            )
        if not isinstance(arguments, dict):
            raise UpstreamError(
                "Invalid arguments",
                code="TOOL_ERROR",
                data={"server": name, "tool": tool, "args": arguments},
            )
        return await upstream.request(
            "tools/call",
            {"name": tool, "arguments": arguments},
            timeout=request_timeout(options),
            error_code="TOOL_ERROR",
            context={"tool": tool, "args": arguments},
        )

    async def read_resource(self, name: str, uri: str, options: Any) -> dict[str, Any]:
        upstream = self.get(name, operation="resource_read", uri=uri)
        self._require_session(upstream, "RESOURCE_ERROR", {"uri": uri})
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
        upstream = self.get(name, operation="get_prompt", prompt=prompt)
        self._require_session(upstream, "TOOL_ERROR", {"prompt": prompt})
        names = [p.get("name") for p in upstream.capabilities["prompts"]]
        if prompt not in names:
            raise UpstreamError(
                "Prompt not found",
                code="TOOL_ERROR",
                data={"server": name, "prompt": prompt, "availablePrompts": names},
            )
        if not isinstance(arguments, dict):
            raise UpstreamError(
                "Invalid arguments",
                code="TOOL_ERROR",
                data={"server": name, "prompt": prompt, "args": arguments},
            )
        return await upstream.request(
            "prompts/get",
            {"name": prompt, "arguments": {k: _as_prompt_arg(v) for k, v in arguments.items()}},
            timeout=request_timeout(options),
            error_code="TOOL_ERROR",
            context={"prompt": prompt, "args": arguments},
        )

    @staticmethod
    def _require_session(upstream: Upstream, code: str, context: dict[str, Any]) -> None:
        if upstream.status is UpstreamStatus.connected:
            return
        if upstream.disabled or not upstream.running:
            raise UpstreamError(
                "Server not initialized", code=code, data={"server": upstream.name, **context}
            )
        raise UpstreamError(
            "Server not connected",
            code=code,
            data={"server": upstream.name, **context, "status": upstream.status.value},
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


def _with_config(entry: ServerEntry, **changes: Any) -> ServerEntry:
    return dataclasses.replace(entry, config={**entry.config, **changes})


def _as_prompt_arg(value: Any) -> str:
    """Prompt arguments are strings in MCP; JSON scalars are converted, not rejected."""
    return value if isinstance(value, str) else json.dumps(value)


def request_timeout(options: Any) -> float:
    """``request_options.timeout`` in ms (default 60 s) as seconds; bad values are a 400."""
    if options is None:
        return DEFAULT_REQUEST_TIMEOUT_MS / 1000
    if not isinstance(options, dict):
        raise ValidationError("Invalid request_options", data={"field": "request_options"})
    timeout = options.get("timeout", DEFAULT_REQUEST_TIMEOUT_MS)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise ValidationError(
            "request_options.timeout must be a positive number of milliseconds",
            data={"field": "request_options.timeout"},
        )
    return float(timeout) / 1000
