"""Clients that misbehave: streams cut mid-way (``/api/events``, ``/mcp`` Streamable HTTP
and legacy SSE), and a thousand ``/mcp`` sessions opened and abandoned.

Connections are cut with a TCP reset (``SO_LINGER`` 0) or a plain close, as a killed editor
or a laptop going to sleep would. ``tests/events/test_clients.py`` covers a client that
stops reading; ``tests/mcp/test_endpoint.py`` covers the session cap (5 sessions) and a
2026-07-28 stream closed to cancel; here the cuts happen mid-stream, repeatedly, at scale,
and the hub's descriptors, threads and children are checked afterwards.
"""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import time
from typing import Any

import httpx

from tests.faults import (
    INITIALIZE,
    MCP_HEADERS,
    Background,
    Bystander,
    McpHttp,
    Snapshot,
    StartHub,
    WriteConfig,
    assert_no_leaks,
    base_url,
    chaos_entry,
    status_kb,
    tool_text,
)
from tests.helpers import HubProcess, wait_until


def connect(
    hub: HubProcess, request: str, until: bytes, body: bytes = b""
) -> tuple[socket.socket, bytes]:
    """Send a raw HTTP request and read until *until* shows up in the stream (bounded)."""
    sock = socket.create_connection(("127.0.0.1", hub.port), timeout=10)
    sock.sendall(request.encode() + body)
    seen = b""
    deadline = time.monotonic() + 10
    while until not in seen:
        assert time.monotonic() < deadline, f"never saw {until!r}: {seen[:300]!r}"
        chunk = sock.recv(65536)
        assert chunk, f"stream ended before {until!r}: {seen[:300]!r}"
        seen += chunk
    return sock, seen


def cut(sock: socket.socket, reset: bool) -> None:
    if reset:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def head(hub: HubProcess, method: str, path: str, headers: dict[str, str], length: int) -> str:
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{hub.port}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if method == "POST":
        lines.append(f"Content-Length: {length}")
    return "\r\n".join(lines) + "\r\n\r\n"


def mcp_clients(hub: HubProcess) -> int:
    return int(hub.api("GET", "/api/health").json()["mcpEndpoint"]["activeClients"])


def test_event_streams_cut_mid_stream_are_forgotten(
    start_hub: StartHub, write_config: WriteConfig
) -> None:
    hub = start_hub(write_config({"bystander": chaos_entry()}))
    request = head(hub, "GET", "/api/events", {"Accept": "text/event-stream"}, 0)
    cut(connect(hub, request, b"hub_state")[0], reset=True)
    wait_until(lambda: hub.api("GET", "/api/health").json()["activeClients"] == 0)
    baseline = Snapshot.of(hub)
    with Bystander(hub, "bystander") as bystander:
        for round_ in range(3):
            socks = [connect(hub, request, b"hub_state")[0] for _ in range(40)]
            assert hub.api("GET", "/api/health").json()["activeClients"] == 40
            for i, sock in enumerate(socks):
                cut(sock, reset=(i + round_) % 2 == 0)
            # an event to deliver makes every dead stream visible even without a reset
            hub.api("POST", "/api/servers/start", {"server_name": "nonexistent"})
            wait_until(lambda: hub.api("GET", "/api/health").json()["activeClients"] == 0)
    bystander.check()
    assert_no_leaks(hub, baseline, children=1)


def test_mcp_streams_cut_mid_call(start_hub: StartHub, write_config: WriteConfig) -> None:
    hub = start_hub(
        write_config({"victim": chaos_entry(), "bystander": chaos_entry()}),
        TORNADOHUB_MCP_KEEPALIVE="0.3",  # a pending reply becomes an SSE stream of pings
    )
    mcp = McpHttp(hub).open()
    assert mcp.call_tool("victim__slow", {"seconds": 0.1})["content"][0]["text"] == "slept 0.1"
    baseline = Snapshot.of(hub)
    clients_before = mcp_clients(hub)
    with Bystander(hub, "bystander") as bystander:
        for round_ in range(3):
            # Streamable HTTP: the tools/call reply is an SSE stream; cut after the first ping
            call = {
                "jsonrpc": "2.0",
                "id": 100 + round_,
                "method": "tools/call",
                "params": {"name": "victim__slow", "arguments": {"seconds": 1.5}},
            }
            body = json.dumps(call).encode()
            headers = {**MCP_HEADERS, "Mcp-Session-Id": str(mcp.session_id)}
            request = head(hub, "POST", "/mcp", headers, len(body))
            stream, _ = connect(hub, request, b": ping", body)
            # legacy SSE: a session with a call in flight, its only stream cut
            legacy, seen = connect(hub, head(hub, "GET", "/mcp", {}, 0), b"sessionId=")
            endpoint = seen.split(b"data: ", 1)[1].split(b"\n", 1)[0].decode()
            post = _legacy_post(hub, endpoint, INITIALIZE)
            assert post.status_code == 202, post.text
            note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
            assert _legacy_post(hub, endpoint, note).status_code == 202
            slow = {**call, "id": 7}
            assert _legacy_post(hub, endpoint, slow).status_code == 202
            time.sleep(0.3)
            for sock in (stream, legacy):
                cut(sock, reset=round_ % 2 == 0)
            # the legacy session ends with its stream; the handshake session lives on

            def ended(at: str = endpoint) -> bool:
                return _legacy_post(hub, at, INITIALIZE).status_code == 404

            wait_until(ended)
            text = mcp.call_tool("victim__echo", {"message": round_})["content"][0]["text"]
            assert text == f"Echo: {round_}"
    bystander.check()
    wait_until(lambda: mcp_clients(hub) == clients_before, timeout=10)
    time.sleep(1.5)  # let the abandoned slow calls finish upstream
    assert tool_text(Background(hub, "victim", "echo", message="z").result()) == "Echo: z"
    mcp.close()
    assert_no_leaks(hub, baseline, children=2)


def _legacy_post(hub: HubProcess, endpoint: str, message: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{base_url(hub)}{endpoint}", json=message, timeout=10)


def test_a_thousand_abandoned_sessions_are_reaped(
    start_hub: StartHub, write_config: WriteConfig
) -> None:
    idle_timeout = 4.0
    hub = start_hub(
        write_config({"victim": chaos_entry(), "bystander": chaos_entry()}),
        TORNADOHUB_MCP_IDLE_TIMEOUT=str(idle_timeout),
    )
    warm = McpHttp(hub).open()
    warm.call_tool("victim__echo", {"message": "warm"})
    warm.close()
    wait_until(lambda: mcp_clients(hub) == 0)
    baseline = Snapshot.of(hub)
    rss_before = status_kb(hub.pid, "VmRSS")
    url = f"{base_url(hub)}/mcp"
    ids: set[str] = set()
    note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    with Bystander(hub, "bystander") as bystander, httpx.Client(timeout=10) as client:
        for i in range(1000):
            response = client.post(url, json=INITIALIZE, headers=MCP_HEADERS)
            assert response.status_code == 200, response.text
            session = response.headers["mcp-session-id"]
            ids.add(session)
            if i % 2:  # half complete the handshake; the other half stop half-way
                headers = {**MCP_HEADERS, "Mcp-Session-Id": session}
                assert client.post(url, json=note, headers=headers).status_code == 202
        # legacy sessions abandoned by cutting their only stream
        for i in range(100):
            sock, _ = connect(hub, head(hub, "GET", "/mcp", {}, 0), b"sessionId=")
            cut(sock, reset=i % 2 == 0)
        assert len(ids) == 1000
        assert mcp_clients(hub) <= 1000
        rss_growth_mib = (status_kb(hub.pid, "VmRSS") - rss_before) / 1024
        assert rss_growth_mib < 150, f"{rss_growth_mib:.0f} MiB for 1,000 idle sessions"
    bystander.check()
    wait_until(lambda: mcp_clients(hub) == 0, timeout=idle_timeout + 15, interval=0.5)
    with contextlib.closing(McpHttp(hub).open()) as fresh:
        assert fresh.call_tool("victim__echo", {"message": 1})["content"][0]["text"] == "Echo: 1"
    assert_no_leaks(hub, baseline, children=2)
