"""What the rest of the hub uses of the MCP service: active_clients, endpoint_health, close.

An in-process Tornado app with only the MCP routes and a hub without upstreams.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import anyio
import httpx
import pytest
from tornado import web

from tests.fakes import FakeHub
from tests.helpers import initialize_request
from tests.mcp.clients import app_state, mcp_app
from tornadohub.mcp import endpoint_health

INIT = initialize_request("t")


@pytest.fixture
async def app() -> AsyncIterator[tuple[web.Application, str]]:
    async with mcp_app(FakeHub()) as (application, base):
        yield application, f"{base}/mcp"


async def test_hooks_count_sessions_and_close_them(app: tuple[web.Application, str]) -> None:
    application, url = app
    service = app_state(application).mcp
    assert service.active_clients == 0
    headers = {"Accept": "application/json, text/event-stream"}
    async with httpx.AsyncClient(timeout=10) as client:
        opened = await client.post(url, json=INIT, headers=headers)
        assert opened.status_code == 200
        async with client.stream("GET", url) as legacy:
            lines = legacy.aiter_lines()
            with anyio.fail_after(10):
                assert await anext(lines) == "event: endpoint"
            assert service.active_clients == 2
            assert endpoint_health(service) == {
                "activeClients": 2,
                "registeredCapabilities": {
                    "tools": 0,
                    "resources": 0,
                    "resourceTemplates": 0,
                    "prompts": 0,
                },
                "totalCapabilities": 0,
                "profiles": [],
                "filterErrors": [],
            }
            with anyio.fail_after(10):
                await service.close()
                rest = [line async for line in lines]  # the stream ends
        assert all(not line.startswith("data: {") for line in rest)
        assert service.active_clients == 0
        gone = await client.post(
            url,
            json={"jsonrpc": "2.0", "id": 2, "method": "ping"},
            headers={**headers, "Mcp-Session-Id": opened.headers["mcp-session-id"]},
        )
        assert gone.status_code == 404
        assert json.loads(gone.text)["error"]["message"] == "Session not found"
