"""Shutdown completes within its bound whatever the servers are doing (issue 11 §1).

One hub holds a server hanging in ``initialize`` (a REST start waiting on it), one whose
``${cmd: ...}`` placeholder is still running, one crash-looping with backoff, one waiting
for the user to finish OAuth and one connected.
SIGTERM, ``--auto-shutdown`` and ``/api/hard-restart`` must each end the process within
:data:`SHUTDOWN_BOUND` seconds with no child left.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import stdio_entry
from tests.faults import RestCall
from tests.helpers import EventStream, HubProcess, alive, descendants, wait_until
from tests.oauth.test_oauth import AuthServer

StartHub = Callable[..., HubProcess]
WriteConfig = Callable[..., str]

#: The README's bound (servers get 15 s to stop, then are killed) plus start-up slack.
SHUTDOWN_BOUND = 25.0
SHUTDOWN_DELAY_MS = 1000


@pytest.fixture(scope="module")
def auth_server() -> Iterator[AuthServer]:
    server = AuthServer()
    yield server
    server.stop()


def busy_hub(
    start_hub: StartHub, write_config: WriteConfig, auth: AuthServer, *extra_args: str
) -> tuple[HubProcess, RestCall]:
    """A hub whose servers hang, crash-loop, wait for OAuth and run; and the hung start."""
    loops = stdio_entry("dying_stdio.py")
    loops["args"] += ["1", "always dying"]
    servers = {
        "hangs": {**stdio_entry("hang_on_init.py"), "disabled": True},
        "resolves": {
            **stdio_entry("hang_on_init.py", env={"X": "${cmd: sleep 120}"}),
            "disabled": True,
        },
        "loops": loops,
        "oauth": {"url": auth.mcp_url},
        "fine": stdio_entry("everything_stdio.py"),
    }
    hub = start_hub(write_config(servers), extra_args=extra_args)
    hub.wait_status("oauth", "unauthorized")
    base = str(hub.client.base_url)
    hung = RestCall(base, "POST", "/api/servers/start", {"server_name": "hangs"})
    RestCall(base, "POST", "/api/servers/start", {"server_name": "resolves"})
    hub.wait_status("hangs", "connecting")
    hub.wait_status("resolves", "connecting")
    wait_until(lambda: hub.log_text().count("loops disconnected") >= 2, 30)
    hub.children_seen |= descendants(hub.pid)
    return hub, hung


def assert_exits(hub: HubProcess, bound: float) -> None:
    assert hub.proc is not None
    try:
        hub.proc.wait(bound)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"the hub did not exit within {bound:g} s") from None
    assert hub.proc.returncode == 0, hub.stderr_path.read_text()[-2000:]
    wait_until(lambda: not any(alive(pid) for pid in hub.children_seen), 20)


def test_sigterm(start_hub: StartHub, write_config: WriteConfig, auth_server: AuthServer) -> None:
    hub, hung = busy_hub(start_hub, write_config, auth_server)
    hub.proc.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
    assert_exits(hub, SHUTDOWN_BOUND)
    hung.join(10)


def test_auto_shutdown(
    start_hub: StartHub, write_config: WriteConfig, auth_server: AuthServer
) -> None:
    hub, hung = busy_hub(
        start_hub,
        write_config,
        auth_server,
        "--auto-shutdown",
        "--shutdown-delay",
        str(SHUTDOWN_DELAY_MS),
    )
    events = EventStream(str(hub.client.base_url))
    events.close()
    started = time.monotonic()
    assert_exits(hub, SHUTDOWN_DELAY_MS / 1000 + SHUTDOWN_BOUND)
    assert time.monotonic() - started >= SHUTDOWN_DELAY_MS / 1000 - 0.5
    hung.join(10)


def test_hard_restart(
    start_hub: StartHub, write_config: WriteConfig, auth_server: AuthServer, tmp_path: Path
) -> None:
    hub, hung = busy_hub(start_hub, write_config, auth_server)
    assert hub.api("POST", "/api/hard-restart").status_code == 200
    assert_exits(hub, SHUTDOWN_BOUND)
    hung.join(10)
