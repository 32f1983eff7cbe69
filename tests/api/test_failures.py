"""Upstreams that fail: missing commands, crashes, hangs, garbage, SIGKILL, grandchildren.

Each test starts its own hub (state is the point here) and ends with
``HubProcess.stop()``, which fails if any process the hub started survives.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import stdio_entry
from tests.helpers import (
    HubProcess,
    alive,
    fixture_server,
    wait_until,
)
from tests.mcp.clients import ACCEPT, raw_session

StartHub = Callable[..., HubProcess]
WriteConfig = Callable[..., str]


def call(hub: HubProcess, server: str, tool: str, **arguments: Any) -> Any:
    return hub.api(
        "POST",
        "/api/servers/tools",
        {"server_name": server, "tool": tool, "arguments": arguments},
    )


def text(response: Any) -> str:
    assert response.status_code == 200, response.text
    return str(response.json()["result"]["content"][0]["text"])


def test_bad_servers_do_not_take_the_others_down(
    start_hub: StartHub, write_config: WriteConfig
) -> None:
    config = write_config(
        {
            "good": stdio_entry("everything_stdio.py"),
            "missing": {"command": "/nonexistent/bin/server"},
            "dies": stdio_entry("crash_on_init.py"),
            "unresolved": stdio_entry("everything_stdio.py", env={"TOKEN": "${NOT_SET_ANYWHERE}"}),
            "invalid": {"command": "x", "url": "http://127.0.0.1:1/mcp"},
        }
    )
    hub = start_hub(config)
    assert hub.server("good")["status"] == "connected"
    assert text(call(hub, "good", "echo", message="still here")) == "Echo: still here"

    missing = hub.server("missing")
    assert missing["status"] in ("disconnected", "connecting")
    assert missing["error"] == "spawn /nonexistent/bin/server ENOENT"

    dies = hub.server("dies")
    assert dies["error"], dies
    assert "dying during initialize" in hub.log_text()

    unresolved = hub.server("unresolved")
    assert unresolved["status"] == "disconnected"
    assert unresolved["error"] == "Variable 'NOT_SET_ANYWHERE' not found"

    invalid = hub.server("invalid")
    assert invalid["status"] == "disconnected"
    assert invalid["error"] == "Server 'invalid' cannot mix stdio and sse fields"

    response = hub.api("POST", "/api/servers/start", {"server_name": "missing"})
    assert response.status_code == 500
    body = response.json()
    assert body["code"] == "CONNECTION_ERROR"
    assert (
        body["error"]
        == 'Failed to connect to "missing" MCP server: spawn /nonexistent/bin/server ENOENT'
    )
    assert body["data"] == {"server": "missing", "error": "spawn /nonexistent/bin/server ENOENT"}
    assert hub.stop() == 0


def test_sigkilled_server_flips_status_fails_fast_and_comes_back(
    start_hub: StartHub, write_config: WriteConfig
) -> None:
    hub = start_hub(write_config({"victim": stdio_entry("everything_stdio.py")}))
    first_pid = int(text(call(hub, "victim", "pid")))
    os.kill(first_pid, signal.SIGKILL)
    down = wait_until(
        lambda: (info := hub.server("victim"))["status"] != "connected" and info, timeout=5
    )
    assert down["status"] in ("disconnected", "connecting")
    started = time.monotonic()
    failed = call(hub, "victim", "echo", message="x")
    assert time.monotonic() - started < 5
    if failed.status_code != 200:  # unless the reconnect already won the race
        assert failed.json()["code"] == "TOOL_ERROR"
        assert failed.json()["error"] in ("Server not connected", "Server not initialized")
    back = hub.wait_status("victim", "connected", timeout=20)
    assert back["error"] is None
    second_pid = int(text(call(hub, "victim", "pid")))
    assert second_pid != first_pid
    assert hub.stop() == 0
    assert not alive(second_pid)


def test_server_dying_mid_call_fails_the_call_quickly(
    start_hub: StartHub, write_config: WriteConfig
) -> None:
    hub = start_hub(write_config({"crashy": stdio_entry("everything_stdio.py")}))
    started = time.monotonic()
    response = call(hub, "crashy", "crash")
    assert time.monotonic() - started < 10
    assert response.status_code == 500
    body = response.json()
    assert body["error"].startswith("MCP error") or body["error"] == "Not connected"
    assert body["data"]["server"] == "crashy"
    hub.wait_status("crashy", "connected", timeout=20)
    assert hub.stop() == 0


def test_server_hanging_in_initialize_times_out(
    start_hub: StartHub, write_config: WriteConfig
) -> None:
    hub = start_hub(
        write_config({"hangs": stdio_entry("hang_on_init.py")}),
        extra_args=("--connect-timeout", "1"),
    )
    info = hub.server("hangs")
    assert info["status"] in ("disconnected", "connecting")
    assert info["error"] == "Connection timed out"
    assert hub.stop() == 0


def test_garbage_on_stdout_is_skipped(start_hub: StartHub, write_config: WriteConfig) -> None:
    hub = start_hub(write_config({"noisy": stdio_entry("garbage_stdio.py")}))
    assert text(call(hub, "noisy", "echo", message="ok")) == "Echo: ok"
    assert "noisy wrote non-JSON-RPC output to stdout" in hub.log_text()
    assert hub.stop() == 0


def test_lone_surrogates_from_an_upstream_reach_clients_as_replacement_characters(
    start_hub: StartHub, write_config: WriteConfig
) -> None:
    """A lone ``\\ud83d`` in an upstream's JSON (a Node server's cut emoji) used to break
    every writer of the hub: ``/mcp`` tools/list was a 500 for all servers, a fast call
    dropped the connection, a legacy SSE call never got its answer. Now it is U+FFFD."""
    hub = start_hub(write_config({"cut": stdio_entry("odd_json_stdio.py")}))
    assert text(call(hub, "cut", "cut")) == "half an emoji: \ufffd"
    url = f"http://127.0.0.1:{hub.port}/mcp"
    headers = {"Accept": ACCEPT, "Mcp-Session-Id": raw_session(url)}
    tools_list = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
    listed = httpx.post(url, json=tools_list, headers=headers)
    assert listed.status_code == 200, listed.text
    assert listed.json()["result"]["tools"][0]["description"] == "cuts \ufffd"
    params = {"name": "cut__cut", "arguments": {}}
    for meta in ({}, {"_meta": {"kernel": True}}):  # the fast path, then the SDK kernel's
        request = {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": params | meta}
        called = httpx.post(url, json=request, headers=headers, timeout=10)
        assert called.status_code == 200, called.text
        assert called.json()["result"]["content"][0]["text"] == "half an emoji: \ufffd"
    assert "Traceback" not in hub.log_text()
    assert hub.stop() == 0


def test_an_upstreams_nan_and_infinities_reach_clients_as_null(
    start_hub: StartHub, write_config: WriteConfig
) -> None:
    """Python's ``json.dumps`` writes ``NaN``; the hub's REST answer carried it on, which
    no JSON client can read. Now null, as ``JSON.stringify`` writes it."""
    hub = start_hub(write_config({"odd": stdio_entry("odd_json_stdio.py")}))
    response = call(hub, "odd", "measure")
    assert response.status_code == 200, response.text

    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} in {response.text}")

    body = json.loads(response.text, parse_constant=refuse)
    assert body["result"]["structuredContent"] == {"x": None, "y": None, "z": None, "ok": 1.5}
    assert hub.stop() == 0


def test_an_upstream_answer_too_deep_to_write_on_is_an_error_answer(
    start_hub: StartHub, write_config: WriteConfig
) -> None:
    """A result nested 300 levels: the hub's writers stop at 255, so a fast ``/mcp`` call
    lost its connection, the kernel answered code 0, a legacy call got no answer. Now the
    answer is an error (-32603) everywhere."""
    hub = start_hub(write_config({"odd": stdio_entry("odd_json_stdio.py")}))
    response = call(hub, "odd", "deep")
    assert response.status_code == 500 and response.json()["code"] == -32603, response.text
    url = f"http://127.0.0.1:{hub.port}/mcp"
    headers = {"Accept": ACCEPT, "Mcp-Session-Id": raw_session(url)}
    request = {"jsonrpc": "2.0", "id": 3, "method": "tools/call"}
    request["params"] = {"name": "odd__deep", "arguments": {}}
    called = httpx.post(url, json=request, headers=headers, timeout=10)  # the fast path
    assert called.status_code == 200, called.text
    result = called.json()["result"]
    assert result["isError"] and "nested deeper than 200" in result["content"][0]["text"]
    assert "Traceback" not in hub.log_text()
    assert hub.stop() == 0


def test_a_list_too_deep_to_write_on_is_the_servers_error(
    start_hub: StartHub, write_config: WriteConfig
) -> None:
    """A ``tools/list`` nested 300 levels became an error answer, which the hub served as
    an empty list of a "connected" server; now the server's error says why."""
    entry = stdio_entry("odd_json_stdio.py", env={"FIXTURE_DEEP_LIST": "1"})
    hub = start_hub(write_config({"odd": entry}))
    info = hub.wait_status("odd", "disconnected")
    assert info["error"] == "Could not read tools/list: Answer nested deeper than 200 levels"
    assert hub.stop() == 0


def test_an_upstream_answer_that_is_not_json_is_a_parse_error_at_once(
    start_hub: StartHub, write_config: WriteConfig
) -> None:
    """``{"jsonrpc":"2.0","id":N,"result":{"content":[oops}`` on stdout: the line was junk,
    and the request waited for its timeout (a call five minutes, a list one and then an
    empty list). Its top level shows the id: the request gets a parse error (-32700)."""
    hub = start_hub(write_config({"odd": stdio_entry("odd_json_stdio.py")}))
    response = call(hub, "odd", "broken")
    assert response.status_code == 500, response.text
    assert response.json()["code"] == -32700, response.text
    parse_error = "Failed to parse JSON response: Expecting value: line 1 column "
    assert response.json()["error"].startswith(f"MCP error -32700: {parse_error}")
    url = f"http://127.0.0.1:{hub.port}/mcp"
    headers = {"Accept": ACCEPT, "Mcp-Session-Id": raw_session(url)}
    params = {"name": "odd__broken", "arguments": {}}
    for meta in ({}, {"_meta": {"kernel": True}}):  # the fast path, then the SDK kernel's
        request = {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": params | meta}
        called = httpx.post(url, json=request, headers=headers, timeout=10)
        assert called.status_code == 200, called.text
        result = called.json()["result"]
        assert result["isError"], result
        assert result["content"][0]["text"].startswith(f"MCP error -32700: {parse_error}")
    assert "odd wrote non-JSON-RPC output to stdout" in hub.log_text()
    assert text(call(hub, "odd", "cut")) == "half an emoji: \ufffd"  # the session lives on
    assert "Traceback" not in hub.log_text()
    assert hub.stop() == 0
    entry = stdio_entry("odd_json_stdio.py", env={"FIXTURE_BROKEN_LIST": "1"})
    hub = start_hub(write_config({"odd": entry}))
    info = hub.wait_status("odd", "disconnected")
    assert info["error"].startswith(f"Could not read tools/list: {parse_error}"), info
    assert hub.stop() == 0
    # "error": "boom" is no JSON-RPC answer: the SDK dropped it, the server waited a minute
    # for its list, then served it empty. Now the hub says at once that it cannot read it.
    entry = stdio_entry("odd_json_stdio.py", env={"FIXTURE_MISSHAPEN_LIST": "1"})
    hub = start_hub(write_config({"odd": entry}), wait=False)
    hub.wait_ready(timeout=20)  # the minute the list waited would fail this
    info = hub.wait_status("odd", "disconnected")
    misshapen = "Could not read tools/list: Invalid JSON-RPC response from the server"
    assert info["error"] == misshapen, info
    assert "odd wrote non-JSON-RPC output to stdout" in hub.log_text()
    assert hub.stop() == 0


def test_grandchildren_die_with_their_server(
    start_hub: StartHub, write_config: WriteConfig, tmp_path: Path
) -> None:
    pidfile = tmp_path / "grandchild.pid"
    config = write_config(
        {"forks": stdio_entry("forking_stdio.py", env={"FIXTURE_GRANDCHILD_PIDFILE": str(pidfile)})}
    )
    hub = start_hub(config)
    grandchild = int(wait_until(lambda: pidfile.exists() and pidfile.read_text().strip()))
    assert alive(grandchild)
    stopped = hub.api("POST", "/api/servers/stop", {"server_name": "forks"})
    assert stopped.json()["server"]["status"] == "disconnected"
    wait_until(lambda: not alive(grandchild), timeout=10)
    assert hub.stop() == 0


def test_hub_shutdown_reaps_every_child(start_hub: StartHub, write_config: WriteConfig) -> None:
    config = write_config(
        {f"s{i}": stdio_entry("everything_stdio.py") for i in range(3)}
        | {"p": stdio_entry("paginated_stdio.py")}
    )
    hub = start_hub(config)
    pids = [int(text(call(hub, f"s{i}", "pid"))) for i in range(3)]
    assert all(alive(pid) for pid in pids)
    assert hub.stop(signal.SIGINT) == 0  # stop() also checks every descendant is gone
    assert not any(alive(pid) for pid in pids)


def test_secrets_never_leave_the_hub(start_hub: StartHub, write_config: WriteConfig) -> None:
    secret = "s3cr3t-" + "value-planted-by-test"
    config = write_config(
        {
            "svc": stdio_entry(
                "everything_stdio.py",
                env={"API_TOKEN": "${cmd: printf %s " + secret + "}", "OTHER": "${PLANTED}"},
            ),
            "broken": stdio_entry("everything_stdio.py", env={"A": "${PLANTED}", "B": "${NOPE}"}),
        }
    )
    hub = start_hub(config, PLANTED=secret)
    assert text(call(hub, "svc", "env", name="API_TOKEN")) == secret  # it did reach the child
    payloads = [
        hub.api("GET", "/api/health").text,
        hub.api("GET", "/api/servers").text,
        hub.api("POST", "/api/servers/info", {"server_name": "broken"}).text,
        hub.api("POST", "/api/servers/start", {"server_name": "broken"}).text,
    ]
    assert hub.stop() == 0
    for payload in [*payloads, hub.log_text()]:
        assert secret not in payload


def test_restarted_http_upstream_is_reinitialized_and_the_call_retried(
    start_hub: StartHub, write_config: WriteConfig, http_upstream: Any
) -> None:
    hub = start_hub(write_config({"remote": {"url": http_upstream.url}}))
    assert text(call(hub, "remote", "echo", message="before")) == "Echo: before"
    http_upstream.stop()
    http_upstream.start()  # same port, new process: the hub's HTTP session is unknown there
    started = time.monotonic()
    assert text(call(hub, "remote", "echo", message="after")) == "Echo: after"
    assert time.monotonic() - started < 20
    assert "re-sending tools/call" in hub.log_text()
    assert hub.server("remote")["status"] == "connected"
    assert hub.stop() == 0


def test_legacy_sse_and_modern_only_upstreams(
    start_hub: StartHub, write_config: WriteConfig, http_upstream: Any
) -> None:
    """Streamable HTTP first, then legacy SSE; a 2026-07-28-only server via server/discover."""
    with fixture_server("modern_http_server.py") as modern:
        sse_url = http_upstream.url.replace("/mcp", "/sse")
        hub = start_hub(write_config({"legacy": {"url": sse_url}, "modern": {"url": modern.url}}))
        for name in ("legacy", "modern"):
            assert hub.server(name)["status"] == "connected", hub.server(name)
            assert text(call(hub, name, "echo", message=name)) == f"Echo: {name}"
        assert hub.server("legacy")["transportType"] == "sse"
        assert {t["name"] for t in hub.server("modern")["capabilities"]["tools"]} >= {"echo"}
        assert hub.stop() == 0
