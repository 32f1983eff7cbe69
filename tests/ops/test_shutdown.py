"""Graceful shutdown on SIGTERM against real hubs: calls in flight finish (or are cancelled at
``--shutdown-timeout`` with a clear error), new work gets 503, streams end, every child is
reaped, the workspace entry goes, and the exit code is 0."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import stdio_entry
from tests.faults import Background
from tests.helpers import EventStream, HubProcess, initialize_request, wait_until
from tornadohub.paths import workspaces_file_path

StartHub = Callable[..., HubProcess]
WriteConfig = Callable[..., str]

#: How long a tool call needs to be under way in the upstream before the test signals the hub
#: (nothing observable marks "in flight"; the log check afterwards proves it was).
IN_FLIGHT_SECONDS = 1.0

INITIALIZE = initialize_request("shutdown-test")


def stopping(hub: HubProcess) -> bool:
    try:
        return hub.client.get("/readyz", timeout=2).status_code == 503
    except httpx.TransportError:
        return False


def assert_stopping_envelope(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 503, response.text
    body: dict[str, Any] = response.json()
    assert list(body) == ["error", "code", "data", "timestamp"]
    assert body["code"] == "HUB_STOPPING"
    return body


def workspace_entries(home: Path) -> dict[str, Any]:
    path = workspaces_file_path(home=home, environ={})
    entries: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    return entries


def test_sigterm_lets_the_call_in_flight_finish(
    start_hub: StartHub, write_config: WriteConfig, hub_home: Path
) -> None:
    hub = start_hub(write_config({"a": stdio_entry("everything_stdio.py")}))
    assert str(hub.port) in workspace_entries(hub_home)
    events = EventStream(str(hub.client.base_url))
    events.wait_for("hub_state", state="ready")
    call = Background(hub, "a", "slow", seconds=3)
    time.sleep(IN_FLIGHT_SECONDS)
    assert hub.proc is not None
    hub.proc.send_signal(signal.SIGTERM)

    wait_until(lambda: stopping(hub), timeout=5)
    refused = hub.api(
        "POST",
        "/api/servers/tools",
        {"server_name": "a", "tool": "echo", "arguments": {"message": "too late"}},
    )
    body = assert_stopping_envelope(refused)
    assert body["error"] == "Hub is shutting down" and body["data"] == {}
    assert_stopping_envelope(hub.api("GET", "/api/servers"))
    for endpoint in ("/mcp", "/MCP/", "/servers/a/mcp", "/profiles/any/mcp", "/messages/"):
        new_session = hub.client.post(
            endpoint,
            json=INITIALIZE,
            headers={"Accept": "application/json, text/event-stream"},
        )
        assert_stopping_envelope(new_session)
    assert hub.client.get("/healthz").status_code == 200  # liveness holds to the end

    done = call.result()
    assert done.status_code == 200, done.text
    assert done.json()["result"]["content"] == [{"type": "text", "text": "slept 3"}]
    assert hub.proc.wait(30) == 0
    events.wait_for("hub_state", state="stopping")
    events.wait_eof()
    events.close()
    assert hub.stop() == 0  # no child survives
    assert str(hub.port) not in workspace_entries(hub_home)
    messages = [entry["message"] for entry in hub.log_entries()]
    assert "Waiting up to 10 s for 1 call(s) in flight" in messages


@pytest.mark.parametrize("wire", ["httptools", "tornado"])
def test_a_stopping_hub_drops_a_request_for_an_mcp_event_stream(
    wire: str, start_hub: StartHub, write_config: WriteConfig
) -> None:
    """An EventSource gives up for good on a 503 but retries after a network error: a
    stream's reconnect must find the hub gone, not refusing (mcp-remote's legacy SSE). Every
    MCP endpoint, a profile's too, opens no new session."""
    config = write_config({"a": stdio_entry("everything_stdio.py")})
    profiled = json.loads(Path(config).read_text()) | {"profiles": {"p": {"servers": ["a"]}}}
    Path(config).write_text(json.dumps(profiled))
    hub = start_hub(config, extra_args=("--http-server", wire))
    call = Background(hub, "a", "slow", seconds=3)
    time.sleep(IN_FLIGHT_SECONDS)
    assert hub.proc is not None
    hub.proc.send_signal(signal.SIGTERM)

    wait_until(lambda: stopping(hub), timeout=5)
    for path in ("/mcp", "/servers/a/mcp", "/profiles/p/mcp"):
        with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
            hub.client.get(path, headers={"Accept": "text/event-stream"})
        new_session = hub.client.post(
            path, json=INITIALIZE, headers={"Accept": "application/json, text/event-stream"}
        )
        assert_stopping_envelope(new_session)
    assert_stopping_envelope(hub.client.get("/mcp", headers={"Accept": "application/json"}))
    events = hub.client.get("/api/events", headers={"Accept": "text/event-stream"})
    assert_stopping_envelope(events)  # mcphub.nvim's stream: the envelope, as ever
    assert call.result().status_code == 200
    assert hub.proc.wait(30) == 0


def test_a_call_past_the_deadline_is_cancelled_with_a_clear_error(
    start_hub: StartHub, write_config: WriteConfig, hub_home: Path
) -> None:
    hub = start_hub(
        write_config({"a": stdio_entry("everything_stdio.py")}),
        extra_args=("--shutdown-timeout", "1"),
    )
    call = Background(hub, "a", "slow", seconds=60)
    time.sleep(IN_FLIGHT_SECONDS)
    assert hub.proc is not None
    signalled = time.monotonic()
    hub.proc.send_signal(signal.SIGTERM)

    body = assert_stopping_envelope(call.result())
    assert body["error"] == "Hub is shutting down: the call did not finish within 1 s"
    assert body["data"] == {"server": "a", "tool": "slow", "shutdownTimeout": 1}
    assert hub.proc.wait(30) == 0
    assert time.monotonic() - signalled < 1 + 10, "the hub did not exit soon after the deadline"
    assert hub.stop() == 0
    assert str(hub.port) not in workspace_entries(hub_home)
    assert any(
        entry["message"] == "Cancelling 1 call(s) still running after the 1 s shutdown timeout"
        and entry["type"] == "warn"
        for entry in hub.log_entries()
    )


def test_shutdown_timeout_must_not_be_negative(
    start_hub: StartHub, write_config: WriteConfig
) -> None:
    hub = start_hub(write_config({}), extra_args=("--shutdown-timeout", "-1"), wait=False)
    assert hub.proc is not None and hub.proc.wait(30) == 2
    assert "--shutdown-timeout: must be 0 or more" in hub.stderr_path.read_text()
