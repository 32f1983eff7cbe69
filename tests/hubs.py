"""Module-scoped real hubs: the set-up the suites that share one hub all need."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import httpx

from tests.helpers import HubProcess


@contextlib.contextmanager
def running_hub(
    root: Path,
    servers: dict[str, Any],
    *,
    env: dict[str, str] | None = None,
    late: Iterable[str] = (),
    settings: dict[str, Any] | None = None,
    extra_args: tuple[str, ...] = (),
) -> Iterator[HubProcess]:
    """A ready hub on *servers*, run in *root* (config, cwd and ``home`` live there).

    The *late* servers (configured ``disabled``) are started once ``/mcp`` exists, so
    that they connect with the sampling, elicitation and roots the endpoint serves;
    *settings* are further top-level keys of the config file; *extra_args* go to the hub's
    command line; the hub is stopped on exit.
    """
    (root / "home").mkdir(exist_ok=True)
    config = root / "servers.json"
    config.write_text(json.dumps({"mcpServers": servers, **(settings or {})}))
    process = HubProcess(
        [str(config)], home=root / "home", cwd=root, env=env, extra_args=extra_args
    )
    process.start()
    try:
        process.wait_ready()
        late = list(late)
        if late:
            accept = {"Accept": "application/json, text/event-stream"}
            endpoint = f"http://127.0.0.1:{process.port}/mcp"
            assert httpx.post(endpoint, json={}, headers=accept, timeout=10).status_code == 400
        for name in late:
            started = process.api("POST", "/api/servers/start", {"server_name": name})
            assert started.status_code == 200, started.text
            process.wait_status(name, "connected")
        yield process
    finally:
        process.stop()


async def set_upstream(hub: HubProcess, name: str, status: str) -> None:
    """Stop (``disconnected``) or start (``connected``) upstream *name* through the REST API."""
    action = "stop" if status == "disconnected" else "start"

    def act() -> None:
        response = hub.api("POST", f"/api/servers/{action}", {"server_name": name})
        assert response.status_code == 200, response.text
        hub.wait_status(name, status)

    await asyncio.to_thread(act)
