"""Three promises of the README, each against a real hub, each shown to fail when broken:

* the servers die when the hub itself is SIGKILLed (``PR_SET_PDEATHSIG`` in the child);
* a server that cannot connect is retried after 1 s, then 2, 4, 8 ... up to 60 s;
* a second SIGTERM while the hub shuts down exits at once, with code 1.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.conftest import stdio_entry
from tests.helpers import HubProcess, alive, descendants, wait_until

StartHub = Callable[..., HubProcess]
WriteConfig = Callable[..., str]

#: What a reconnect may take beyond its backoff: noticing the exit, spawning the fixture
#: and its interpreter's start, on a busy machine. Below every step the tests tell apart.
RECONNECT_SLACK = 2.0


def test_servers_die_when_the_hub_is_sigkilled(
    start_hub: StartHub, write_config: WriteConfig
) -> None:
    """The server outlives its stdin by a minute: only the parent-death signal (SIGTERM from
    the kernel when the hub dies) ends it within the bound."""
    hub = start_hub(write_config({"a": stdio_entry("lingering_stdio.py")}))
    hub.wait_status("a", "connected")
    servers = descendants(hub.pid)
    assert servers, "the hub runs no server process"
    try:
        os.kill(hub.pid, signal.SIGKILL)
        assert hub.proc is not None
        hub.proc.wait(10)
        # Nobody is left to stop them: each must go by itself, the parent-death signal.
        wait_until(lambda: not any(alive(pid) for pid in servers), timeout=20)
    finally:
        for pid in servers:  # a broken promise must not leave orphans behind
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def attempts(path: Path) -> list[float]:
    """The monotonic start times the crash-looping fixture recorded."""
    if not path.exists():
        return []
    return [float(line) for line in path.read_text().split()]


def intervals(
    start_hub: StartHub,
    write_config: WriteConfig,
    tmp_path: Path,
    expected: tuple[float, ...],
    **env: str,
) -> list[float]:
    """The first pauses between a crash-looping server's attempts, as many as *expected*."""
    starts_file = tmp_path / "starts.txt"
    entry = stdio_entry("crash_loop_stdio.py")
    entry["args"].append(str(starts_file))
    start_hub(write_config({"looping": entry}), **env)
    bound = sum(expected) + RECONNECT_SLACK * len(expected) + 30
    wait_until(lambda: len(attempts(starts_file)) > len(expected), timeout=bound, interval=0.2)
    starts = attempts(starts_file)
    return [b - a for a, b in zip(starts, starts[1:], strict=False)][: len(expected)]


def test_reconnects_back_off_doubling_from_one_second(
    start_hub: StartHub, write_config: WriteConfig, tmp_path: Path
) -> None:
    """The defaults: 1, 2, 4, 8 s between attempts (about 15 s in all)."""
    expected = (1.0, 2.0, 4.0, 8.0)
    waited = intervals(start_hub, write_config, tmp_path, expected)
    for pause, seen in zip(expected, waited, strict=True):
        assert pause <= seen <= pause + RECONNECT_SLACK, waited


def test_reconnect_backoff_stops_doubling_at_its_maximum(
    start_hub: StartHub, write_config: WriteConfig, tmp_path: Path
) -> None:
    """The cap (60 s by default), scaled down: from 0.5 s doubling to at most 1 s."""
    expected = (0.5, 1.0, 1.0, 1.0, 1.0)  # uncapped: 0.5, 1, 2, 4, 8
    waited = intervals(
        start_hub,
        write_config,
        tmp_path,
        expected,
        TORNADOHUB_BACKOFF_INITIAL="0.5",
        TORNADOHUB_BACKOFF_MAX="1",
    )
    for pause, seen in zip(expected, waited, strict=True):
        assert pause <= seen <= pause + RECONNECT_SLACK, waited


def test_a_second_signal_during_shutdown_exits_at_once(
    start_hub: StartHub, write_config: WriteConfig
) -> None:
    """A call in flight holds the shutdown for up to a minute; the second SIGTERM does not
    wait for it: the hub exits within seconds, with code 1."""
    hub = start_hub(
        write_config({"a": stdio_entry("everything_stdio.py")}),
        extra_args=("--shutdown-timeout", "60"),
    )
    base_url = str(hub.client.base_url)

    def slow_call() -> None:
        body = {"server_name": "a", "tool": "slow", "arguments": {"seconds": 60}}
        with httpx.Client(base_url=base_url, timeout=90) as client:
            try:
                client.post("/api/servers/tools", json=body)
            except httpx.TransportError:
                pass  # the hub went away under it: what this test does

    caller = threading.Thread(target=slow_call, daemon=True)
    caller.start()
    wait_until(lambda: hub.api("GET", "/api/stats").json()["hub"]["callsInFlight"] == 1)
    assert hub.proc is not None
    hub.proc.send_signal(signal.SIGTERM)
    wait_until(lambda: hub.client.get("/readyz", timeout=2).status_code == 503, timeout=10)
    hub.children_seen |= descendants(hub.pid)  # hub.stop() checks that none survives
    hub.proc.send_signal(signal.SIGTERM)
    try:
        assert hub.proc.wait(10) == 1
    except subprocess.TimeoutExpired:
        pytest.fail("the second signal did not end the hub")
    caller.join(30)
    assert not caller.is_alive()
    assert "Second signal SIGTERM: exiting now" in [e["message"] for e in hub.log_entries()]


def test_reconnect_defaults() -> None:
    """What the README promises, as the options say it (the tests above observe it)."""
    from tornadohub.options import ConnectPolicy

    assert (ConnectPolicy().backoff_initial, ConnectPolicy().backoff_max) == (1.0, 60.0)
