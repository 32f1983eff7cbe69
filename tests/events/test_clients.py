"""Clients of the event stream: mcphub.nvim's whole loop, and 200 clients under churn."""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import stdio_entry
from tests.helpers import ROOT, EventStream, HubProcess, alive, wait_until

WriteConfig = Callable[..., str]


def test_drives_the_hub_like_mcphub_nvim(
    hub_home: Path, tmp_path: Path, write_config: WriteConfig
) -> None:
    """Launch flags, version and health checks, SSE parsing, a config toggle, a tool call."""
    version = subprocess.run(
        [sys.executable, "-m", "tornadohub", "--version"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
    )
    major, minor, _ = version.stdout.splitlines()[0].split(".")
    assert int(major) == 4 and int(minor) >= 2

    workspace = tmp_path / "project"
    workspace.mkdir()
    global_config = write_config({"echo": stdio_entry("everything_stdio.py")})
    project_config = str(workspace / ".mcphub.json")
    Path(project_config).write_text(
        json.dumps({"servers": {"proj": stdio_entry("paginated_stdio.py")}}, indent=2)
    )
    hub = HubProcess(
        [global_config, project_config],
        home=hub_home,
        cwd=workspace,
        extra_args=("--auto-shutdown", "--shutdown-delay", "500", "--watch"),
        env={"CWD": str(workspace)},
    )
    hub.start()
    try:
        health = hub.wait_ready()
        assert (health["status"], health["server_id"], health["version"]) == (
            "ok",
            "mcp-hub",
            "4.2.1",
        )
        cache = hub_home / ".local" / "state" / "mcp-hub" / "workspaces.json"
        entries = json.loads(cache.read_text())
        mine = [
            (port, e)
            for port, e in entries.items()
            if e["cwd"] == str(workspace) and e["config_files"] == [global_config, project_config]
        ]
        assert len(mine) == 1 and mine[0][0] == str(hub.port) and alive(mine[0][1]["pid"])

        stream = EventStream(f"http://127.0.0.1:{hub.port}")
        assert stream.wait_for("hub_state")["state"] in ("ready", "restarted")

        document = json.loads(Path(project_config).read_text())
        document["servers"]["proj"]["disabled"] = True
        Path(project_config).write_text(json.dumps(document, indent=2))
        updated = stream.subscription_events(until="servers_updated")[-1]
        assert updated["changes"]["modified"] == ["proj"]
        servers = {s["name"]: s for s in hub.api("GET", "/api/health").json()["servers"]}
        assert servers["proj"]["status"] == "disabled"

        result = hub.api(
            "POST",
            "/api/servers/tools",
            {
                "server_name": "echo",
                "tool": "echo",
                "arguments": {"message": "from nvim"},
                "request_options": {"timeout": 60000},
            },
            headers={"Accept": "application/json"},
        ).json()["result"]
        assert result["content"][0]["text"] == "Echo: from nvim"

        stream.close()  # the editor quits: the hub must stop, and every child with it
        assert hub.proc is not None
        assert hub.proc.wait(30) == 0
    finally:
        assert hub.stop() == 0


def test_two_hundred_clients_see_every_event_in_order(
    hub_home: Path, tmp_path: Path, write_config: WriteConfig
) -> None:
    clients, rounds = 200, 5
    hub = HubProcess(
        [
            write_config(
                {"a": stdio_entry("everything_stdio.py"), "b": stdio_entry("paginated_stdio.py")}
            )
        ],
        home=hub_home,
        cwd=tmp_path,
    )
    hub.start()
    try:
        hub.wait_ready()
        seen, latencies = asyncio.run(_churn(hub.port, clients, rounds))
    finally:
        assert hub.stop() == 0
    expected_len = 4 * rounds + 1  # stop+start for a and b each round, plus the marker
    assert all(len(sequence) == expected_len for sequence in seen), [len(s) for s in seen][:5]
    assert all(sequence == seen[0] for sequence in seen)  # same events, same order, everywhere
    assert [c["modified"][0] for c in seen[0][:4]] == ["a", "a", "b", "b"]
    p50 = statistics.median(latencies)
    p99 = statistics.quantiles(latencies, n=100)[98]
    print(
        f"\n{clients} SSE clients: event latency p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms"
    )


async def _churn(port: int, clients: int, rounds: int) -> tuple[list[list[Any]], list[float]]:
    base = f"http://127.0.0.1:{port}"
    limits = httpx.Limits(max_connections=clients + 10)
    timeout = httpx.Timeout(30, read=60)
    latencies: list[float] = []
    connected = 0
    all_connected = asyncio.Event()

    async def listen(client: httpx.AsyncClient) -> list[Any]:
        nonlocal connected
        changes: list[Any] = []
        async with client.stream("GET", "/api/events") as response:
            event = None
            async for line in response.aiter_lines():
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: ") and event:
                    payload = json.loads(line[6:])
                    if event == "hub_state" and not changes and connected < clients:
                        connected += 1
                        if connected == clients:
                            all_connected.set()
                    if event == "subscription_event" and payload["type"] == "servers_updated":
                        sent = datetime.fromisoformat(payload["timestamp"]).timestamp()
                        latencies.append(time.time() - sent)  # hub send -> client parse
                        changes.append(payload["changes"])
                        if payload["changes"].get("modified") == ["done"]:
                            return changes
                    event = None
        return changes

    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=timeout) as client:
        listeners = [asyncio.create_task(listen(client)) for _ in range(clients)]
        await asyncio.wait_for(all_connected.wait(), 60)
        for _ in range(rounds):
            for name in ("a", "b"):
                for action in ("stop", "start"):
                    response = await client.post(
                        f"/api/servers/{action}", json={"server_name": name}
                    )
                    assert response.status_code == 200, response.text
            health = await client.get("/api/health")  # responsive under churn
            assert health.status_code == 200
        marker = await client.post("/api/servers/start", json={"server_name": "done"})
        assert marker.status_code == 404  # unknown server, but the event still goes out
        seen = await asyncio.wait_for(asyncio.gather(*listeners), 120)
    return list(seen), latencies


def test_slow_client_is_dropped_without_hurting_others(
    hub_home: Path, tmp_path: Path, write_config: WriteConfig
) -> None:
    hub = HubProcess(
        [write_config({})], home=hub_home, cwd=tmp_path, extra_args=("--log-level", "debug")
    )
    hub.start()
    try:
        hub.wait_ready()
        wait_until(lambda: hub.health() is not None)
        healthy = EventStream(f"http://127.0.0.1:{hub.port}")
        healthy.wait_for("hub_state")
        # A client that connects and never reads: its queue fills and the bus drops it.
        import socket

        stuck = socket.create_connection(("127.0.0.1", hub.port))
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stuck.sendall(f"GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:{hub.port}\r\n\r\n".encode())
        wait_until(lambda: hub.api("GET", "/api/health").json()["activeClients"] == 2)
        big_name = "x" * 65536  # echoed in the servers_updated event: fills buffers fast
        for attempt in range(3000):
            hub.api("POST", "/api/servers/start", {"server_name": big_name})
            if attempt % 25 == 0 and hub.api("GET", "/api/health").json()["activeClients"] == 1:
                break
        else:
            raise AssertionError("the stuck client was never dropped")
        assert "dropping slow event subscriber" in hub.log_text()
        hub.api("POST", "/api/servers/start", {"server_name": "x"})
        healthy.wait_for("subscription_event", type="servers_updated")
        stuck.close()
        healthy.close()
    finally:
        assert hub.stop() == 0
