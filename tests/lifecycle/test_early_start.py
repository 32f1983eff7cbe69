"""``serve`` starts the config's STDIO servers before it imports the MCP SDK, and the hub
adopts those processes instead of starting them again (:mod:`tornadohub.spawn`)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import stdio_entry
from tests.helpers import ROOT, HubProcess, free_port, wait_until
from tornadohub.config import load_config
from tornadohub.placeholders import resolve_server
from tornadohub.processes import watch_children
from tornadohub.spawn import EarlyChildren

#: Runs ``mcp-hub serve`` in this process, stops it once ready, and prints, for every
#: process asyncio started, whether the MCP SDK was imported by then, and which of
#: :data:`NOT_BEFORE_READY` were imported when ``/api/health`` first said ``ready``.
DRIVER = r"""
import asyncio, json, os, signal, sys, threading, time, urllib.request

from tornadohub import cli

sdk_loaded_at_spawn = []
loaded_when_ready = []
spawn = asyncio.create_subprocess_exec


async def recording_spawn(*args, **kwargs):
    sdk_loaded_at_spawn.append("mcp" in sys.modules)
    return await spawn(*args, **kwargs)


asyncio.create_subprocess_exec = recording_spawn
port, config = sys.argv[1], sys.argv[2]
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def stop_when_ready():
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with opener.open(f"http://127.0.0.1:{port}/api/health", timeout=2) as answer:
                if json.load(answer)["state"] == "ready":
                    loaded_when_ready.extend(sorted(set(sys.modules) & set(sys.argv[3:])))
                    break
        except OSError:
            pass
        time.sleep(0.05)
    os.kill(os.getpid(), signal.SIGTERM)


threading.Thread(target=stop_when_ready, daemon=True).start()
code = cli.main(["serve", "--port", port, "--config", config])
print(json.dumps({"sdk_loaded_at_spawn": sdk_loaded_at_spawn, "ready": loaded_when_ready}))
sys.exit(code)
"""

#: Modules the hub must not import on its way to ``ready``: what runs before ready
#: competes for the CPU with the servers starting (``tornadohub.spawn``), and these serve
#: only later requests (the marketplace's HTTP client) or an option not given (dotenv).
NOT_BEFORE_READY = ("httpx", "dotenv")


def run_until_ready(
    config: str, hub_home: Path, tmp_path: Path, modules: tuple[str, ...] = ()
) -> dict[str, list[Any]]:
    """Run the DRIVER on *config*; whether the SDK was loaded at each spawn, and which of
    *modules* were loaded when the hub turned ready."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "MCP_HUB"))}
    env.update(HOME=str(hub_home), PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-c", DRIVER, str(free_port()), config, *modules],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, list[Any]] = json.loads(done.stdout.splitlines()[-1])
    return report


def test_stdio_servers_start_before_the_sdk_is_imported(
    write_config: Callable[..., str], hub_home: Path, tmp_path: Path
) -> None:
    ran = tmp_path / "cmd-ran"
    config = write_config(
        {
            "first": stdio_entry("everything_stdio.py"),
            "second": stdio_entry("everything_stdio.py"),
            # A ${cmd: ...} is run once, by the upstream: this one is not started early.
            "third": stdio_entry(
                "everything_stdio.py", env={"X": f"${{cmd: echo ran >> {ran}; echo x}}"}
            ),
        }
    )
    sdk_loaded_at_spawn = run_until_ready(config, hub_home, tmp_path)["sdk_loaded_at_spawn"]
    # One process per server (the early ones adopted, not started twice), the first two
    # before the SDK was imported, the one with a command after it.
    assert sdk_loaded_at_spawn == [False, False, True]
    assert ran.read_text().splitlines() == ["ran"]


def test_ready_without_what_only_later_requests_need(
    write_config: Callable[..., str], hub_home: Path, tmp_path: Path
) -> None:
    config = write_config({"one": stdio_entry("everything_stdio.py")})
    control = "tornado.web"  # the probe sees what the hub did import
    report = run_until_ready(config, hub_home, tmp_path, (*NOT_BEFORE_READY, control))
    assert report["ready"] == [control]


def test_a_server_that_can_start_only_once_connects(
    start_hub: Callable[..., HubProcess], write_config: Callable[..., str], tmp_path: Path
) -> None:
    """An early child not adopted would make the upstream start a second one, which fails."""
    once = stdio_entry("one_life_stdio.py")
    config = write_config({"once": {**once, "args": [*once["args"], str(tmp_path / "lived")]}})
    hub = start_hub(config)
    wait_until(lambda: hub.api("GET", "/api/servers").json()["servers"][0]["status"] == "connected")


async def test_a_child_started_differently_is_not_adopted_and_is_stopped(
    write_config: Callable[..., str], tmp_path: Path
) -> None:
    config = load_config([write_config({"one": stdio_entry("everything_stdio.py")})])
    restore = watch_children()
    early = EarlyChildren()
    try:
        await early.start(config, environ=dict(os.environ), hub_env={}, cwd=str(tmp_path))
        entry = config.servers["one"].config
        changed = resolve_server(
            entry, environ=dict(os.environ), hub_env={"CHANGED": "1"}, cwd=str(tmp_path)
        )
        pids = early.pids()
        assert len(pids) == 1
        assert early.take("one", changed) is None
        assert early.take("one", changed) is None  # taken once, whatever the answer
        async with asyncio.timeout(10):
            await early.close()
        assert not is_alive(pids[0])
    finally:
        await early.close()
        restore()


async def test_a_child_started_as_resolved_is_adopted(
    write_config: Callable[..., str], tmp_path: Path
) -> None:
    config = load_config([write_config({"one": stdio_entry("everything_stdio.py")})])
    restore = watch_children()
    early = EarlyChildren()
    environ = dict(os.environ)
    try:
        await early.start(config, environ=environ, hub_env={}, cwd=str(tmp_path))
        entry = config.servers["one"].config
        same = resolve_server(entry, environ=environ, hub_env={}, cwd=str(tmp_path))
        process = early.take("one", same)
        assert process is not None and process.returncode is None
        await early.close()  # an adopted child is not the early starter's to stop
        assert process.returncode is None
        process.kill()
        async with asyncio.timeout(10):
            await process.wait()
    finally:
        await early.close()
        restore()


def is_alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


@pytest.mark.parametrize(
    "entry",
    [
        pytest.param({"disabled": True}, id="disabled"),
        pytest.param({"env": {"X": "${MISSING_VARIABLE_FOR_THIS_TEST}"}}, id="unresolvable"),
        pytest.param({"command": "/nonexistent/program"}, id="missing program"),
    ],
)
async def test_what_the_upstream_must_report_is_not_started_early(
    entry: dict[str, object], write_config: Callable[..., str], tmp_path: Path
) -> None:
    config = load_config([write_config({"one": {**stdio_entry("everything_stdio.py"), **entry}})])
    restore = watch_children()
    early = EarlyChildren()
    try:
        await early.start(config, environ=dict(os.environ), hub_env={}, cwd=str(tmp_path))
        assert early.pids() == []
    finally:
        await early.close()
        restore()
