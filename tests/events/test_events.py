"""``/api/events`` end to end: real hub, real stream, real config edits and upstreams."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import stdio_entry
from tests.helpers import EventStream, HubProcess, wait_until

StartHub = Callable[..., HubProcess]
WriteConfig = Callable[..., str]


@pytest.fixture
def streams() -> Iterator[Callable[[HubProcess], EventStream]]:
    opened: list[EventStream] = []

    def open_stream(hub: HubProcess) -> EventStream:
        stream = EventStream(f"http://127.0.0.1:{hub.port}")
        opened.append(stream)
        return stream

    yield open_stream
    for stream in opened:
        stream.close()


def rewrite(path: str, servers: dict[str, Any]) -> None:
    """Save like an editor that writes a temp file and renames it over the original."""
    temp = Path(path).with_suffix(".tmp")
    temp.write_text(json.dumps({"mcpServers": servers}, indent=2))
    os.replace(temp, path)


def test_connect_sends_hub_state_with_mcp_hub_framing(
    start_hub: StartHub, write_config: WriteConfig, streams: Callable[[HubProcess], EventStream]
) -> None:
    hub = start_hub(write_config({"a": stdio_entry("everything_stdio.py")}))
    stream = streams(hub)
    assert stream.headers["content-type"] == "text/event-stream"
    assert stream.headers["cache-control"] == "no-cache"
    assert stream.headers["x-accel-buffering"] == "no"
    state = stream.wait_for("hub_state")
    assert list(state) == ["state", "server_id", "pid", "port", "timestamp"]
    assert (state["state"], state["server_id"], state["pid"], state["port"]) == (
        "ready",
        "mcp-hub",
        hub.pid,
        hub.port,
    )
    health = hub.api("GET", "/api/health").json()
    assert health["activeClients"] == 1
    connection = health["connections"]["connections"][0]
    assert set(connection) == {"id", "state", "connectedAt", "lastEventAt"}
    assert connection["state"] == "connected"


def test_rest_stop_start_and_list_changed(
    start_hub: StartHub, write_config: WriteConfig, streams: Callable[[HubProcess], EventStream]
) -> None:
    hub = start_hub(write_config({"a": stdio_entry("everything_stdio.py")}))
    stream = streams(hub)
    stream.wait_for("hub_state", state="ready")
    hub.api("POST", "/api/servers/stop", {"server_name": "a"})
    stopped = stream.wait_for("subscription_event", type="servers_updated")
    assert stopped["changes"] == {"modified": ["a"]}
    hub.api("POST", "/api/servers/start", {"server_name": "a"})
    started = stream.wait_for("subscription_event", type="servers_updated")
    assert started["changes"] == {"modified": ["a"]}
    hub.api(
        "POST",
        "/api/servers/tools",
        {"server_name": "a", "tool": "add_tool", "arguments": {"name": "brand_new"}},
    )
    changed = stream.wait_for("subscription_event", type="tool_list_changed")
    assert changed["server"] == "a"
    assert "brand_new" in [t["name"] for t in changed["tools"]]
    assert "brand_new" in [t["name"] for t in hub.server("a")["capabilities"]["tools"]]


def test_spontaneous_disconnect_is_reported(
    start_hub: StartHub, write_config: WriteConfig, streams: Callable[[HubProcess], EventStream]
) -> None:
    hub = start_hub(write_config({"a": stdio_entry("everything_stdio.py")}))
    stream = streams(hub)
    stream.wait_for("hub_state")
    hub.api("POST", "/api/servers/tools", {"server_name": "a", "tool": "crash", "arguments": {}})
    down = stream.wait_for("subscription_event", type="servers_updated", status="disconnected")
    assert down["changes"] == {"modified": ["a"]}
    stream.wait_for("subscription_event", type="servers_updated", status="connected")


def test_config_edits_are_applied_as_a_diff(
    start_hub: StartHub, write_config: WriteConfig, streams: Callable[[HubProcess], EventStream]
) -> None:
    servers = {
        "keep": stdio_entry("everything_stdio.py"),
        "drop": stdio_entry("everything_stdio.py"),
        "change": stdio_entry("everything_stdio.py"),
        "toggle": stdio_entry("everything_stdio.py"),
    }
    config = write_config(servers)
    hub = start_hub(config, extra_args=("--watch",))
    keep_started = hub.server("keep")["lastStarted"]
    stream = streams(hub)
    stream.wait_for("hub_state")

    edited = {
        "keep": servers["keep"],
        "change": stdio_entry("everything_stdio.py", env={"NEW": "1"}),
        "toggle": stdio_entry("everything_stdio.py", disabled=True),
        "added": stdio_entry("paginated_stdio.py"),
    }
    rewrite(config, edited)
    events = stream.subscription_events(until="servers_updated")
    kinds = [e["type"] for e in events]
    assert kinds == ["config_changed", "servers_updating", "servers_updated"], kinds
    assert events[0]["isSignificant"] is True
    assert set(events[0]["newConfig"]["mcpServers"]) == set(edited)
    changes = events[1]["changes"]
    assert changes["added"] == ["added"]
    assert changes["removed"] == ["drop"]
    assert sorted(changes["modified"]) == ["change", "toggle"]
    assert changes["unchanged"] == ["keep"]
    assert changes["details"]["toggle"]["modifiedFields"] == ["disabled"]
    assert events[2]["changes"] == changes

    listed = {s["name"]: s for s in hub.api("GET", "/api/servers").json()["servers"]}
    assert list(listed) == ["keep", "change", "toggle", "added"]
    assert listed["keep"]["lastStarted"] == keep_started  # untouched servers keep running
    assert listed["toggle"]["status"] == "disabled"
    assert listed["added"]["status"] == "connected"
    assert listed["change"]["status"] == "connected"
    env = hub.api(
        "POST",
        "/api/servers/tools",
        {"server_name": "change", "tool": "env", "arguments": {"name": "NEW"}},
    ).json()["result"]["content"][0]["text"]
    assert env == "1"

    # Re-enable by editing the file, as mcphub.nvim does.
    rewrite(config, {**edited, "toggle": stdio_entry("everything_stdio.py")})
    events = stream.subscription_events(until="servers_updated")
    assert events[-1]["changes"]["modified"] == ["toggle"]
    assert hub.server("toggle")["status"] == "connected"


def test_insignificant_and_invalid_edits(
    start_hub: StartHub, write_config: WriteConfig, streams: Callable[[HubProcess], EventStream]
) -> None:
    servers = {"a": stdio_entry("everything_stdio.py")}
    config = write_config(servers)
    hub = start_hub(config, extra_args=("--watch",))
    started = hub.server("a")["lastStarted"]
    stream = streams(hub)
    stream.wait_for("hub_state")

    rewrite(config, {"a": {**servers["a"], "description": "now described"}})
    event = stream.wait_for("subscription_event", type="config_changed")
    assert event["isSignificant"] is False
    assert wait_until(lambda: hub.server("a")["description"] == "now described")

    Path(config).write_text('{"mcpServers": {oops')
    error_log = stream.wait_for("log", type="error")  # logged, then announced
    # (mcp-hub 4.2.1, observed) its words; the running config stays, as there
    assert error_log["message"].startswith("Error reloading config after change: Failed to load")
    assert error_log["code"] == "CONFIG_ERROR"
    event = stream.wait_for("subscription_event", type="config_changed")
    assert event["isSignificant"] is False
    assert event["error"].startswith("Failed to load config from")
    info = hub.server("a")
    assert (info["status"], info["lastStarted"]) == ("connected", started)


def test_config_file_created_after_start_is_picked_up(
    start_hub: StartHub,
    write_config: WriteConfig,
    streams: Callable[[HubProcess], EventStream],
    tmp_path: Path,
) -> None:
    later = tmp_path / "project.json"
    hub = start_hub(write_config({}), str(later), extra_args=("--watch",))
    stream = streams(hub)
    stream.wait_for("hub_state")
    rewrite(str(later), {"late": stdio_entry("everything_stdio.py")})
    events = stream.subscription_events(until="servers_updated")
    assert events[-1]["changes"]["added"] == ["late"]
    assert hub.server("late")["status"] == "connected"


@pytest.mark.parametrize(
    "globs",
    [["**/*.py"], ["{pkg,lib}/**/*.{js,py}"]],  # braces: the form mcp-hub's docs use
    ids=["stars", "braces"],
)
def test_dev_mode_restarts_on_file_change(
    start_hub: StartHub,
    write_config: WriteConfig,
    streams: Callable[[HubProcess], EventStream],
    tmp_path: Path,
    globs: list[str],
) -> None:
    src = tmp_path / "src"
    (src / "pkg").mkdir(parents=True)
    entry = stdio_entry("everything_stdio.py", dev={"cwd": str(src), "watch": globs})
    hub = start_hub(write_config({"dev": entry}))
    first_pid = hub.api(
        "POST", "/api/servers/tools", {"server_name": "dev", "tool": "pid", "arguments": {}}
    ).json()["result"]["content"][0]["text"]
    stream = streams(hub)
    stream.wait_for("hub_state")
    (src / "notes.txt").write_text("ignored: does not match the globs")
    (src / "pkg" / "new_module.py").write_text("X = 1\n")  # created after start
    updating = stream.wait_for("subscription_event", type="servers_updating")
    assert updating["reason"] == "dev_file_change"
    assert updating["changes"] == {"modified": ["dev"]}
    assert updating["files"] == ["pkg/new_module.py"]
    updated = stream.wait_for("subscription_event", type="servers_updated")
    assert updated["reason"] == "dev_file_change"
    assert "echo" in [t["name"] for t in updated["newCapabilities"]["tools"]]
    second_pid = hub.api(
        "POST", "/api/servers/tools", {"server_name": "dev", "tool": "pid", "arguments": {}}
    ).json()["result"]["content"][0]["text"]
    assert second_pid != first_pid


def test_restart_and_hard_restart_sequences(
    start_hub: StartHub, write_config: WriteConfig, streams: Callable[[HubProcess], EventStream]
) -> None:
    hub = start_hub(write_config({"a": stdio_entry("everything_stdio.py")}))
    stream = streams(hub)
    stream.wait_for("hub_state", state="ready")
    assert hub.api("POST", "/api/restart").json()["status"] == "ok"
    stream.wait_for("hub_state", state="restarting")
    restarted = stream.wait_for("hub_state", state="restarted")
    assert restarted["has_restarted"] is True
    assert hub.api("GET", "/api/health").json()["state"] == "restarted"
    assert hub.server("a")["status"] == "connected"

    assert hub.api("POST", "/api/hard-restart").json()["status"] == "ok"
    stream.wait_for("hub_state", state="restarting")
    stream.wait_for("hub_state", state="stopping")
    stream.wait_eof()
    assert hub.proc is not None
    assert hub.proc.wait(30) == 0
    assert hub.stop() == 0


def test_auto_shutdown_after_last_client_and_cancel(
    start_hub: StartHub,
    write_config: WriteConfig,
    streams: Callable[[HubProcess], EventStream],
    hub_home: Path,
) -> None:
    delay_ms = 1500
    hub = start_hub(
        write_config({"a": stdio_entry("everything_stdio.py")}),
        extra_args=("--auto-shutdown", "--shutdown-delay", str(delay_ms)),
    )
    cache = hub_home / ".local" / "state" / "mcp-hub" / "workspaces.json"

    def entry() -> dict[str, Any]:
        data: dict[str, Any] = json.loads(cache.read_text())[str(hub.port)]
        return data

    first = streams(hub)
    first.wait_for("hub_state")
    wait_until(lambda: entry()["activeConnections"] == 1)
    first.close()
    shutting = wait_until(lambda: (e := entry())["state"] == "shutting_down" and e)
    assert shutting["shutdownDelay"] == delay_ms
    assert shutting["activeConnections"] == 0
    assert shutting["shutdownStartedAt"]

    second = streams(hub)  # a client comes back within the delay: cancelled
    second.wait_for("hub_state")
    wait_until(lambda: entry()["state"] == "active")
    deadline = time.monotonic() + delay_ms / 1000 + 1.0
    while time.monotonic() < deadline:  # outlive the cancelled timer, serving all along
        assert hub.health() is not None
        time.sleep(0.1)

    second.close()
    assert hub.proc is not None
    assert hub.proc.wait(delay_ms / 1000 + 20) == 0
    assert str(hub.port) not in json.loads(cache.read_text())
    assert hub.stop() == 0


def test_shutdown_ends_streams_after_stopping(
    start_hub: StartHub, write_config: WriteConfig, streams: Callable[[HubProcess], EventStream]
) -> None:
    hub = start_hub(write_config({}))
    stream = streams(hub)
    stream.wait_for("hub_state")
    assert hub.proc is not None
    hub.proc.terminate()
    stream.wait_for("hub_state", state="stopping")
    stream.wait_eof()
    assert hub.proc.wait(30) == 0
    assert hub.stop() == 0
