"""The hub's threads do not grow with its STDIO servers (Linux: pidfds, no thread per child).

asyncio 3.11's default child watcher parks one thread in ``waitpid`` per child process;
:func:`tornadohub.processes.watch_children` replaces it with pidfds on the event loop.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

import pytest

from tests.conftest import stdio_entry
from tests.faults import thread_count
from tests.helpers import HubProcess, descendants

StartHub = Callable[..., HubProcess]
WriteConfig = Callable[..., str]

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or not hasattr(os, "pidfd_open"),
    reason="pidfds are Linux-only",
)


def test_threads_do_not_grow_with_stdio_servers(
    start_hub: StartHub, write_config: WriteConfig
) -> None:
    # One server running and nine disabled; the nine are started one at a time, so the
    # worker threads that resolve each entry are reused rather than added.
    servers = {"s0": stdio_entry("everything_stdio.py")}
    servers |= {f"s{i}": stdio_entry("everything_stdio.py", disabled=True) for i in range(1, 10)}
    hub = start_hub(write_config(servers))
    hub.wait_status("s0", "connected")
    with_one = thread_count(hub.pid)
    for i in range(1, 10):
        assert hub.api("POST", "/api/servers/start", {"server_name": f"s{i}"}).status_code == 200
        hub.wait_status(f"s{i}", "connected")
    with_ten = thread_count(hub.pid)
    assert len(descendants(hub.pid)) >= 10  # every server is a running process
    # A thread per child adds nine; a worker thread or two may come and stay.
    assert with_ten - with_one <= 3, f"{with_one} threads with 1 server, {with_ten} with 10"
