"""Config edits (``--watch``) while calls are in flight.

``tests/events/test_events.py`` checks which events an edit produces; here the edits land
while calls run on the servers being modified, removed and left alone, several times.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from tests.faults import (
    Background,
    Bystander,
    Snapshot,
    StartHub,
    WriteConfig,
    assert_no_leaks,
    base_url,
    chaos_entry,
    rest_call,
    tool_text,
)
from tests.helpers import HubProcess, wait_until

#: What a caller may see when its server is stopped under it by a config edit.
STOPPED_UNDER_CALL = (
    "MCP error -32000: Connection closed",
    "Not connected",
    "Server not connected",
    "Server not initialized",
    "Server not found",
)


def pid_of(hub: HubProcess, name: str) -> int:
    return int(tool_text(rest_call(base_url(hub), name, "pid")))


def wait_connected(hub: HubProcess, name: str, timeout: float = 20.0) -> None:
    """Until *name* is configured (the watcher may not have applied the edit yet) and up."""

    def up() -> bool:
        response = hub.api("POST", "/api/servers/info", {"server_name": name})
        return response.status_code == 200 and response.json()["server"]["status"] == "connected"

    wait_until(up, timeout=timeout)


def write(path: Path, servers: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"mcpServers": servers}))
    tmp.replace(path)  # as editors save: rename over the file


def test_edits_apply_while_calls_are_in_flight(
    start_hub: StartHub, write_config: WriteConfig
) -> None:
    servers = {"changed": chaos_entry(), "steady": chaos_entry(), "doomed": chaos_entry()}
    config = Path(write_config(servers))
    hub = start_hub(str(config), extra_args=("--watch",))
    base = base_url(hub)
    assert tool_text(rest_call(base, "steady", "slow", {"seconds": 0.1})) == "slept 0.1"
    baseline = Snapshot.of(hub)
    replaced: set[int] = set()
    with Bystander(hub, "steady") as bystander:
        for round_ in range(2):
            old_changed = pid_of(hub, "changed")
            old_doomed = pid_of(hub, "doomed")
            steady_pid = pid_of(hub, "steady")
            on_changed = Background(hub, "changed", "slow", seconds=20)
            on_doomed = Background(hub, "doomed", "slow", seconds=20)
            on_steady = Background(hub, "steady", "slow", seconds=1)
            time.sleep(0.5)  # the calls reach their servers
            edited = {
                "changed": chaos_entry(env={"ROUND": str(round_)}),  # significant: restart
                "steady": servers["steady"],
                f"added{round_}": chaos_entry(),
            }
            started = time.monotonic()
            write(config, edited)

            for call in (on_changed, on_doomed):
                response = call.result(timeout=20)
                assert response.status_code in (404, 500), response.text
                assert response.json()["error"] in STOPPED_UNDER_CALL, response.text
            assert time.monotonic() - started < 15
            assert tool_text(on_steady.result()) == "slept 1"  # never touched

            wait_connected(hub, "changed")
            wait_connected(hub, f"added{round_}")
            gone = rest_call(base, "doomed", "echo", {"message": "x"})
            assert gone.status_code == 404 and gone.json()["code"] == "SERVER_NOT_FOUND"
            assert pid_of(hub, "changed") != old_changed
            assert pid_of(hub, "steady") == steady_pid
            replaced |= {old_changed, old_doomed}
            # back to a config with a server to remove in the next round
            servers = {**edited, "doomed": chaos_entry()}
            servers.pop(f"added{round_}")
            write(config, servers)
            wait_connected(hub, "doomed")
            added = f"added{round_}"

            def removed(name: str = added) -> bool:
                return rest_call(base, name, "pid").status_code == 404

            wait_until(removed, timeout=20)
    bystander.check()
    assert_no_leaks(hub, baseline, children=3, gone=replaced)
