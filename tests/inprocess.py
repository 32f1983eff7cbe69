"""The application in this process: ``make_app`` over a real :class:`Hub`, on a real socket.

For fast handler tests that need no server process: the socket is bound first
(``tornado.testing.bind_unused_port``) and handed to the hub's own HTTP server (its wire
layer, limits and accept loop, as ``app.serve`` runs them), so there is no race for the
port; the hub loads a real config file (no servers by default) and runs its real state machine, but
nothing is spawned. Tests that need servers, signals or the CLI use a real hub process
(``start_hub``, :mod:`tests.hubs`).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import httpx
from tornado import testing, web

from tornadohub.app import http_server_for, make_app
from tornadohub.appstate import APP_STATE, AppState
from tornadohub.hub import Hub
from tornadohub.keys import Keyring
from tornadohub.listener import ConnectionGate
from tornadohub.options import ConnectionLimits, HubOptions


@dataclass
class InProcessHub:
    """A served application: its hub, state, base URL and an HTTP client on it."""

    hub: Hub
    app: web.Application
    base_url: str
    client: httpx.AsyncClient

    @property
    def state(self) -> AppState:
        return cast(AppState, self.app.settings[APP_STATE])


@contextlib.asynccontextmanager
async def in_process_hub(
    root: Path,
    *,
    servers: dict[str, Any] | None = None,
    keys: Keyring | None = None,
    limits: ConnectionLimits | None = None,
) -> AsyncIterator[InProcessHub]:
    """A ready hub over *servers* (none by default) served in this process under *root*;
    *limits* (default: the defaults) also choose the wire layer (``http_server``)."""
    config = root / "servers.json"
    config.write_text(json.dumps({"mcpServers": servers or {}}))
    sock, port = testing.bind_unused_port()
    options = HubOptions(config_paths=[str(config)], port=port, cwd=str(root), environ={})
    if limits is not None:
        options.limits = limits
    hub = Hub(options)
    app = make_app(hub, keys=keys)
    server = http_server_for(app, options.limits)  # the hub's own server and limits
    gate = ConnectionGate(server, [sock])
    gate.start()
    base_url = f"http://127.0.0.1:{port}"
    try:
        await hub.initialize()
        async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
            yield InProcessHub(hub, app, base_url, client)
    finally:
        gate.stop()
        await cast(AppState, app.settings[APP_STATE]).close()
        await hub.shutdown()
        await server.close_all_connections()
