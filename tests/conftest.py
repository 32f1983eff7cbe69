"""Shared fixtures: real hubs on real loopback ports, real fixture servers.

- ``hub_home``: a private HOME / XDG tree, so tests never touch the user's files.
- ``write_config``: writes a config file into tmp_path and returns its path.
- ``start_hub``: starts ``python -m tornadohub`` as a subprocess on a free port and
  returns a :class:`tests.helpers.HubProcess` (stopped by pid at teardown; the test
  fails if the hub leaves a child process behind).
- ``http_upstream``: the Streamable-HTTP fixture server on a free port.
- ``app_hub``: the application in this process (:mod:`tests.inprocess`), a hub without
  servers: for fast handler tests that need no process.
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import SERVERS, HubProcess, ServerProcess, fixture_server
from tests.inprocess import InProcessHub, in_process_hub


@pytest.fixture
def hub_home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    for sub in (".config", ".local/share", ".local/state"):
        (home / sub).mkdir(parents=True)
    return home


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., str]:
    counter = iter(range(1000))

    def write(servers: dict[str, Any], *, name: str | None = None, key: str = "mcpServers") -> str:
        path = tmp_path / (name or f"config-{next(counter)}.json")
        path.write_text(json.dumps({key: servers}, indent=2))
        return str(path)

    return write


@pytest.fixture
def start_hub(hub_home: Path, tmp_path: Path) -> Iterator[Callable[..., HubProcess]]:
    hubs: list[HubProcess] = []

    def start(
        *configs: str,
        extra_args: tuple[str, ...] = (),
        wait: bool = True,
        port: int | None = None,
        **env: str,
    ) -> HubProcess:
        hub = HubProcess(
            list(configs), home=hub_home, cwd=tmp_path, extra_args=extra_args, env=env, port=port
        )
        hubs.append(hub)
        hub.start()
        if wait:
            hub.wait_ready()
        return hub

    yield start
    for hub in hubs:
        hub.stop()


@pytest.fixture
def http_upstream() -> Iterator[ServerProcess]:
    with fixture_server("http_server.py") as server:
        yield server


def stdio_entry(script: str, **extra: Any) -> dict[str, Any]:
    """A config entry running one of tests/servers/*.py with this interpreter."""
    return {"command": sys.executable, "args": [str(SERVERS / script)], **extra}


@pytest.fixture
async def app_hub(tmp_path: Path) -> AsyncIterator[InProcessHub]:
    async with in_process_hub(tmp_path) as served:
        yield served
