"""A remote (Streamable HTTP) upstream that drops connections or answers 5xx, then recovers.

The upstream is ``tests/servers/http_server.py`` behind ``servers/flaky_proxy.py``; each
mode switch also cuts the live connections, as an upstream restart would. The existing
``test_restarted_http_upstream_is_reinitialized_and_the_call_retried`` covers a clean
restart; here the upstream is unreachable or failing for a while, repeatedly.
"""

from __future__ import annotations

import time

from tests.faults import (
    Bystander,
    Snapshot,
    StartHub,
    WriteConfig,
    assert_no_leaks,
    base_url,
    chaos_entry,
    rest_call,
    set_mode,
    tool_text,
)
from tests.helpers import HubProcess, ServerProcess, wait_until

#: What the caller gets while the upstream misbehaves (REST ``error``): a dropped connection
#: fails the call in flight, then the server is ``disconnected`` until it reconnects; a 5xx
#: is the upstream's error, the connection stays up.
EXPECTED = {
    "drop": ("MCP error -32000: Connection closed", "Server not connected"),
    "5xx": ("MCP error -32603: Server returned an error response",),
}


def remote_echo_works(hub: HubProcess, message: str) -> bool:
    response = rest_call(base_url(hub), "remote", "echo", {"message": message}, timeout_ms=5000)
    return response.status_code == 200 and tool_text(response) == f"Echo: {message}"


def test_dropped_connections_and_5xx_fail_calls_then_the_upstream_recovers(
    start_hub: StartHub,
    write_config: WriteConfig,
    flaky_http: tuple[ServerProcess, ServerProcess],
) -> None:
    _, proxy = flaky_http
    config = write_config(
        {"remote": {"url": f"http://127.0.0.1:{proxy.port}/mcp"}, "bystander": chaos_entry()}
    )
    hub = start_hub(config)
    base = base_url(hub)
    assert remote_echo_works(hub, "warm")
    baseline = Snapshot.of(hub)
    with Bystander(hub, "bystander") as bystander:
        for _ in range(2):
            for mode in ("drop", "5xx"):
                set_mode(proxy, mode)
                for _ in range(3):
                    started = time.monotonic()
                    response = rest_call(base, "remote", "echo", {"message": "x"}, timeout_ms=5000)
                    assert time.monotonic() - started < 8
                    assert response.status_code == 500, response.text
                    body = response.json()
                    assert body["data"]["server"] == "remote"
                    assert body["error"] in EXPECTED[mode], body
                set_mode(proxy, "pass")
                wait_until(lambda: remote_echo_works(hub, "back"), timeout=30, interval=0.5)
                hub.wait_status("remote", "connected", timeout=30)
    bystander.check()
    assert_no_leaks(hub, baseline, children=1)
