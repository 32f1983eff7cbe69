"""The README's nginx block, run for real in front of a real hub (issue: /mcp answered 421).

nginx passes the public name (``Host: hub.example.com``); the hub answers it once that name
is in ``--allowed-hosts``, and refuses it (421) otherwise. REST, ``/api/events``, the
Streamable HTTP ``/mcp`` (through the SDK's own client) and the legacy SSE ``/mcp`` all work
through the proxy, streams unbuffered.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import anyio
import httpx
import httpx2
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from tests.helpers import HubProcess
from tests.nginx import Nginx, readme_block, running_nginx
from tests.security.conftest import SECRET, everything

NAME = "hub.example.com"
README_PORT = "127.0.0.1:37373"


@pytest.fixture
def proxied(
    start_hub: Callable[..., HubProcess], write_config: Callable[..., str], tmp_path: Path
) -> Iterator[tuple[HubProcess, Nginx]]:
    hub = start_hub(
        write_config({"everything": everything()}), extra_args=("--allowed-hosts", NAME)
    )
    block = readme_block("## Behind a reverse proxy")
    assert README_PORT in block
    body = block.replace(README_PORT, f"127.0.0.1:{hub.port}")
    with running_nginx(tmp_path / "nginx", body, server_name=NAME) as nginx:
        yield hub, nginx


def test_rest_and_events_through_nginx(proxied: tuple[HubProcess, Nginx]) -> None:
    hub, nginx = proxied
    headers = {"Host": NAME}
    with httpx.Client(base_url=nginx.url, headers=headers, timeout=10) as client:
        health = client.get("/api/health")
        assert health.status_code == 200 and health.json()["state"] == "ready", health.text
        call = client.post(
            "/api/servers/tools",
            json={
                "server_name": "everything",
                "tool": "env",
                "arguments": {"name": "PLANTED_SECRET"},
            },
            headers={"Origin": f"https://{NAME}"},  # the hub's own page behind TLS
        )
        assert call.status_code == 200 and SECRET in call.text
        evil = client.post("/api/restart", headers={"Origin": "https://evil.example"})
        assert evil.status_code == 403
        with client.stream("GET", "/api/events", timeout=httpx.Timeout(10, read=10)) as events:
            assert events.status_code == 200
            lines = events.iter_lines()
            assert next(lines) == "event: hub_state"  # arrives at once: nothing buffers it
            assert json.loads(next(lines).removeprefix("data: "))["state"] == "ready"


async def test_mcp_through_nginx(proxied: tuple[HubProcess, Nginx]) -> None:
    _, nginx = proxied
    async with httpx2.AsyncClient(headers={"Host": NAME}, timeout=10) as sdk_http:
        async with streamable_http_client(f"{nginx.url}/mcp", http_client=sdk_http) as (
            read,
            write,
        ):
            async with ClientSession(read, write) as session:
                with anyio.fail_after(20):
                    await session.initialize()
                    tools = await session.list_tools()
                    assert "everything__echo" in {tool.name for tool in tools.tools}
                    result = await session.call_tool("everything__echo", {"message": "proxied"})
        assert result.content[0].text == "Echo: proxied"  # type: ignore[union-attr]
    async with httpx.AsyncClient(headers={"Host": NAME}, timeout=10) as http:
        async with http.stream("GET", f"{nginx.url}/mcp") as legacy:  # mcp-hub's SSE transport
            assert legacy.status_code == 200
            lines = legacy.aiter_lines()
            with anyio.fail_after(10):
                assert await anext(lines) == "event: endpoint"
                assert (await anext(lines)).startswith("data: /messages?sessionId=")


def test_a_proxied_name_is_refused_until_allowed(
    start_hub: Callable[..., HubProcess], write_config: Callable[..., str], tmp_path: Path
) -> None:
    hub = start_hub(write_config({}))
    body = readme_block("## Behind a reverse proxy").replace(README_PORT, f"127.0.0.1:{hub.port}")
    with running_nginx(tmp_path / "nginx", body, server_name=NAME) as nginx:
        with httpx.Client(base_url=nginx.url, headers={"Host": NAME}, timeout=10) as client:
            assert client.get("/api/health").status_code == 421
            init = client.post(
                "/mcp",
                json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
                headers={"Accept": "application/json, text/event-stream"},
            )
            assert init.status_code == 421 and init.json()["error"]["message"].startswith("Invalid")
