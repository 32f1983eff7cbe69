"""HTTP upstreams: calls reuse pooled connections, cancelling a call still reaches them, and
a call whose stream the upstream ends early is resumed.

The upstream is ``tests/servers/counting_http_server.py``, which counts the distinct TCP
connections its requests arrive on; it runs in both protocol eras (handshake, and
2026-07-28 only, where aborting a POST is how a client cancels). The SDK's client closes
each POST's SSE response before its end, which used to cost one new connection per call.
For resumption, ``tests/servers/resumable_http_server.py`` (SSE polling of 2025-11-25).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import anyio
import httpx
import pytest
from mcp import ClientSession, MCPError
from mcp.client.streamable_http import streamable_http_client

from tests.helpers import HubProcess, ServerProcess, fixture_server

StartHub = Callable[..., HubProcess]
WriteConfig = Callable[..., str]

CALLS = 30
#: Allowed new connections for CALLS sequential calls: one per call without pooling.
MAX_NEW_CONNECTIONS = 3


@pytest.fixture(params=["handshake", "modern"])
def upstream(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    extra = ("--modern",) if request.param == "modern" else ()
    with fixture_server("counting_http_server.py", *extra) as server:
        yield server


def stats(server: ServerProcess) -> dict[str, int]:
    response = httpx.get(f"http://127.0.0.1:{server.port}/stats", timeout=10)
    response.raise_for_status()
    result: dict[str, int] = response.json()
    return result


def echo(hub: HubProcess, message: str) -> str:
    body = {"server_name": "remote", "tool": "echo", "arguments": {"message": message}}
    response = hub.api("POST", "/api/servers/tools", body)
    assert response.status_code == 200, response.text
    return str(response.json()["result"]["content"][0]["text"])


def test_sequential_calls_reuse_the_upstream_connection(
    start_hub: StartHub, write_config: WriteConfig, upstream: ServerProcess
) -> None:
    hub = start_hub(write_config({"remote": {"url": upstream.url}}))
    assert echo(hub, "warm-up") == "Echo: warm-up"
    before = stats(upstream)
    for i in range(CALLS):
        assert echo(hub, str(i)) == f"Echo: {i}"
    after = stats(upstream)
    assert after["requests"] - before["requests"] >= CALLS
    assert after["connections"] - before["connections"] <= MAX_NEW_CONNECTIONS, (before, after)
    assert hub.stop() == 0


async def test_a_cancelled_call_is_cancelled_upstream(
    start_hub: StartHub, write_config: WriteConfig, upstream: ServerProcess
) -> None:
    """The client gives up on a long call: the upstream's handler is cancelled promptly
    (2026-07-28 upstream: the hub aborts the POST), and the next call still works."""
    hub = start_hub(write_config({"remote": {"url": upstream.url}}))
    async with streamable_http_client(f"http://127.0.0.1:{hub.port}/mcp") as (read, write):
        async with ClientSession(read, write) as session:
            with anyio.fail_after(10):
                await session.initialize()
            with pytest.raises(MCPError):  # the SDK times out and sends notifications/cancelled
                await session.call_tool("remote__wait", {"seconds": 60}, read_timeout_seconds=0.5)
            await cancelled_upstream(upstream)
            with anyio.fail_after(10):
                result = await session.call_tool("remote__echo", {"message": "after"})
    assert _text(result) == "Echo: after"
    assert hub.stop() == 0


async def cancelled_upstream(server: ServerProcess, timeout: float = 10) -> None:
    """Poll the upstream (another process) until it counted a cancelled call; bounded."""
    with anyio.fail_after(timeout):
        for _ in range(1000):
            if (await anyio.to_thread.run_sync(stats, server))["cancelled"]:
                return
            await anyio.sleep(0.05)
    raise AssertionError("the upstream never saw the call cancelled")


@pytest.mark.parametrize(
    "tool",
    [
        # The upstream ends the call's SSE stream after its priming event, answers later.
        "handoff",
        # The upstream's connection breaks after the priming event, mid-body.
        "cut",
    ],
)
def test_a_call_whose_stream_ends_early_is_resumed(
    start_hub: StartHub, write_config: WriteConfig, tool: str
) -> None:
    """The hub comes back (GET with Last-Event-ID) for the answer, as the SDK's client does,
    whether the stream ended or broke before the response."""
    with fixture_server("resumable_http_server.py") as upstream:
        hub = start_hub(write_config({"remote": {"url": upstream.url}}))
        body = {"server_name": "remote", "tool": tool, "arguments": {"message": "late"}}
        response = hub.api("POST", "/api/servers/tools", body)
        assert response.status_code == 200, response.text
        assert response.json()["result"]["content"][0]["text"] == "Echo: late"
        assert echo(hub, "after") == "Echo: after"
        assert hub.stop() == 0


async def test_progress_around_a_resumed_stream_reaches_the_client(
    start_hub: StartHub, write_config: WriteConfig
) -> None:
    """Through ``/mcp``: the progress sent before the upstream ended the stream and the one
    sent after (read on the resumed stream) both reach the client, before the result."""
    with fixture_server("resumable_http_server.py") as upstream:
        hub = start_hub(write_config({"remote": {"url": upstream.url}}))
        seen: list[float] = []

        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            seen.append(progress)

        async with streamable_http_client(f"http://127.0.0.1:{hub.port}/mcp") as (read, write):
            async with ClientSession(read, write) as session:
                with anyio.fail_after(10):
                    await session.initialize()
                    result = await session.call_tool(
                        "remote__handoff", {"message": "late"}, progress_callback=on_progress
                    )
        assert _text(result) == "Echo: late"
        assert seen == [1.0, 2.0]
        assert hub.stop() == 0


def _text(result: Any) -> str:
    return str(result.content[0].text)
