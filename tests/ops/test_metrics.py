"""``/metrics`` against real hubs, parsed with prometheus-client's parser: names, then values."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import stdio_entry
from tests.helpers import HubProcess, wait_until
from tests.ops.conftest import scrape
from tornadohub import metrics

StartHub = Callable[..., HubProcess]
WriteConfig = Callable[..., str]

NAME = re.compile(r"mcphub_[a-z]+(_[a-z]+)*")

#: Every family the hub exports (prometheus-client drops ``_total`` from counter families).
FAMILIES = {
    "mcphub_build_info": "gauge",  # an Info: a gauge in the text format
    "mcphub_hub_state": "gauge",
    "mcphub_upstream_status": "gauge",
    "mcphub_upstream_restarts": "counter",
    "mcphub_upstream_connect_failures": "counter",
    "mcphub_tool_call_duration_seconds": "histogram",
    "mcphub_mcp_sessions_active": "gauge",
    "mcphub_sse_clients_connected": "gauge",
    "mcphub_http_request_duration_seconds": "histogram",
    "mcphub_auth_requests_accepted": "counter",
    "mcphub_auth_requests_rejected": "counter",
}


def call(hub: HubProcess, server: str, tool: str, **arguments: Any) -> httpx.Response:
    body = {"server_name": server, "tool": tool, "arguments": arguments}
    return hub.api("POST", "/api/servers/tools", body)


def status_of(hub: HubProcess, server: str) -> str | None:
    """The one status whose gauge is 1 for *server* (and check the others are 0)."""
    samples = scrape(hub)
    statuses = {
        labels["status"]: samples.value("mcphub_upstream_status", **labels)
        for labels in samples.label_sets("mcphub_upstream_status")
        if labels["server"] == server
    }
    if not statuses:
        return None
    assert set(statuses) == {"connected", "connecting", "disconnected", "unauthorized", "disabled"}
    current = [status for status, value in statuses.items() if value == 1]
    assert len(current) == 1 and sum(v or 0 for v in statuses.values()) == 1, statuses
    return current[0]


def test_metric_names_and_types(start_hub: StartHub, write_config: WriteConfig) -> None:
    hub = start_hub(write_config({"a": stdio_entry("everything_stdio.py")}))
    samples = scrape(hub)
    types = {name: family.type for name, family in samples.families.items()}
    for name, kind in FAMILIES.items():
        assert types.get(name) == kind, name
    ours = [name for name in types if name.startswith("mcphub")]
    assert set(ours) == set(FAMILIES), "every metric is listed here and defined in metrics.py"
    assert all(NAME.fullmatch(name) for name in ours), ours
    assert "process_resident_memory_bytes" in types and "python_info" in types
    assert not [s.name for s in samples.samples if s.name.endswith("_created")]

    build = samples.label_sets("mcphub_build_info")
    assert build == [{"version": "0.1.0", "api_version": "4.2.1", "python": build[0]["python"]}]


def test_values_follow_the_hub(start_hub: StartHub, write_config: WriteConfig) -> None:
    config = write_config(
        {
            "a": stdio_entry("everything_stdio.py"),
            "dies": stdio_entry("crash_on_init.py"),
            "off": stdio_entry("everything_stdio.py", disabled=True),
        }
    )
    hub = start_hub(config)
    first = scrape(hub)
    assert first.value("mcphub_hub_state", state="ready") == 1
    assert first.value("mcphub_hub_state", state="starting") == 0
    assert status_of(hub, "a") == "connected"
    assert status_of(hub, "off") == "disabled"
    assert first.value("mcphub_upstream_connect_failures_total", server="a") == 0
    assert (first.value("mcphub_upstream_connect_failures_total", server="dies") or 0) >= 1
    # Pre-created: every outcome of every server exists before the first call.
    for outcome in metrics.ToolCallOutcome:
        labels = {"server": "off", "outcome": outcome.value}
        assert first.value("mcphub_tool_call_duration_seconds_count", **labels) == 0
    for era in ("handshake", "modern"):
        assert first.value("mcphub_mcp_sessions_active", era=era) == 0
    assert first.value("mcphub_auth_requests_rejected_total", reason="missing") == 0

    # A server stopped and started again: one restart, its status follows.
    assert hub.api("POST", "/api/servers/stop", {"server_name": "a"}).status_code == 200
    assert status_of(hub, "a") == "disconnected"
    assert hub.api("POST", "/api/servers/start", {"server_name": "a"}).status_code == 200
    assert status_of(hub, "a") == "connected"
    assert scrape(hub).value("mcphub_upstream_restarts_total", server="a") == 1

    # A crash mid-call: the hub reconnects by itself, counted as a second restart.
    call(hub, "a", "crash")
    wait_until(lambda: scrape(hub).value("mcphub_upstream_restarts_total", server="a") == 2)
    hub.wait_status("a", "connected")
    assert status_of(hub, "a") == "connected"


def test_restart_drops_removed_servers(
    start_hub: StartHub, write_config: WriteConfig, tmp_path: Path
) -> None:
    config = write_config(
        {"a": stdio_entry("everything_stdio.py"), "b": stdio_entry("everything_stdio.py")},
        name="hub.json",
    )
    hub = start_hub(config)
    assert status_of(hub, "b") == "connected"
    write_config({"a": stdio_entry("everything_stdio.py")}, name="hub.json")
    assert hub.api("POST", "/api/restart").status_code == 200
    samples = scrape(hub)
    assert samples.value("mcphub_hub_state", state="restarted") == 1
    assert samples.value("mcphub_hub_state", state="ready") == 0
    assert status_of(hub, "b") is None
    assert status_of(hub, "a") == "connected"
    assert samples.value("mcphub_upstream_restarts_total", server="a") == 1


def test_config_reload_adds_and_drops_servers(
    start_hub: StartHub, write_config: WriteConfig
) -> None:
    config = write_config({"a": stdio_entry("everything_stdio.py")}, name="hub.json")
    hub = start_hub(config, extra_args=("--watch",))
    write_config({"b": stdio_entry("everything_stdio.py")}, name="hub.json")
    wait_until(
        lambda: [s["name"] for s in hub.api("GET", "/api/servers").json()["servers"]] == ["b"]
    )
    hub.wait_status("b", "connected")
    assert status_of(hub, "a") is None
    assert status_of(hub, "b") == "connected"


def test_http_requests_by_handler_method_and_code(
    start_hub: StartHub, write_config: WriteConfig
) -> None:
    hub = start_hub(write_config({"a": stdio_entry("everything_stdio.py")}))
    for _ in range(3):
        assert hub.api("GET", "/api/servers").status_code == 200
    assert hub.api("POST", "/api/servers/info", {"server_name": "nope"}).status_code == 404
    assert hub.client.request("BREW", "/api/servers").status_code == 405
    samples = scrape(hub)
    count = "mcphub_http_request_duration_seconds_count"
    assert samples.value(count, handler="ServersHandler", method="GET", code="200") == 3
    assert samples.value(count, handler="ServerInfoHandler", method="POST", code="404") == 1
    assert samples.value(count, handler="ServersHandler", method="OTHER", code="405") == 1
    # The first scrape is counted by the second.
    assert scrape(hub).value(count, handler="MetricsHandler", method="GET", code="200") == 1
    # Successful probes and scrapes stay out of the log at info level.
    assert "/metrics" not in hub.log_text()


def test_sse_clients(start_hub: StartHub, write_config: WriteConfig) -> None:
    hub = start_hub(write_config({"a": stdio_entry("everything_stdio.py")}))
    assert scrape(hub).value("mcphub_sse_clients_connected") == 0
    with httpx.Client(base_url=str(hub.client.base_url), timeout=10) as client:
        with client.stream("GET", "/api/events") as response:
            assert response.status_code == 200
            wait_until(lambda: scrape(hub).value("mcphub_sse_clients_connected") == 1)
    wait_until(lambda: scrape(hub).value("mcphub_sse_clients_connected") == 0)


def test_tool_calls_by_outcome(start_hub: StartHub, write_config: WriteConfig) -> None:
    hub = start_hub(write_config({"a": stdio_entry("everything_stdio.py")}))
    assert call(hub, "a", "echo", message="hi").status_code == 200
    assert call(hub, "a", "echo", message="again").status_code == 200
    assert call(hub, "a", "fail", message="broken").status_code == 200
    timed_out = hub.api(
        "POST",
        "/api/servers/tools",
        {
            "server_name": "a",
            "tool": "slow",
            "arguments": {"seconds": 5},
            "request_options": {"timeout": 200},
        },
    )
    assert timed_out.status_code >= 400
    assert call(hub, "a", "no_such_tool").status_code >= 400
    samples = scrape(hub)
    count = "mcphub_tool_call_duration_seconds_count"
    assert samples.value(count, server="a", outcome="success") == 2
    assert samples.value(count, server="a", outcome="tool_error") == 1
    assert samples.value(count, server="a", outcome="timeout") == 1
    assert samples.value(count, server="a", outcome="error") == 1
    total = samples.value("mcphub_tool_call_duration_seconds_sum", server="a", outcome="timeout")
    # uvloop's clock counts whole milliseconds, so the 200 ms timer may fire up to 1 ms
    # before perf_counter() (what the metric measures) says 200 ms have passed.
    assert total is not None and 0.199 <= total < 5
