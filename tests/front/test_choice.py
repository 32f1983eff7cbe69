"""``serve --http-server`` and ``--loop``: each wire layer and event loop serves a real hub.

The smoke set of the fallbacks (Tornado's wire layer, asyncio's loop where uvloop is not
built) and of the defaults, in a real hub process with a STDIO server:
a REST tool call, an MCP handshake and a ``tools/call`` over the SDK's own client, the
event stream; and a bad choice is refused at the command line.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import httpx
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from tests.conftest import stdio_entry
from tests.helpers import HubProcess


@pytest.mark.parametrize(
    ("wire", "loop"), [("httptools", "uvloop"), ("httptools", "asyncio"), ("tornado", "asyncio")]
)
async def test_each_layer_serves_the_hub(
    start_hub: Callable[..., HubProcess], write_config: Callable[..., str], wire: str, loop: str
) -> None:
    config = write_config({"everything": stdio_entry("everything_stdio.py")})
    args = ("--http-server", wire, "--loop", loop, "--log-level", "debug")
    hub = start_hub(config, extra_args=args)
    assert f"HTTP/1.1 wire layer: {wire}" in hub.log_text()
    assert f"event loop: {loop}" in hub.log_text()
    base = f"http://127.0.0.1:{hub.port}"
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        call = {"server_name": "everything", "tool": "echo", "arguments": {"message": "hi"}}
        response = await client.post("/api/servers/tools", json=call)
        assert response.json()["result"]["content"] == [{"type": "text", "text": "Echo: hi"}]
        async with client.stream("GET", "/api/events") as events:
            assert events.headers["content-type"].startswith("text/event-stream")
            async for line in events.aiter_lines():
                assert line == "event: hub_state"
                break
    async with (
        streamable_http_client(f"{base}/mcp") as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        result = await session.call_tool("everything__echo", {"message": "over mcp"})
        assert result.content[0].model_dump()["text"] == "Echo: over mcp"


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--http-server", "nginx", "httptools or tornado, not 'nginx'"),
        ("--loop", "trio", "uvloop or asyncio, not 'trio'"),
    ],
)
def test_an_unknown_choice_is_refused(option: str, value: str, message: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tornadohub", "serve", "-p", "1", option, value],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert message in done.stderr
