"""RawChannel: plain-JSON requests beside the SDK session (the transport side is a list)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import mcp_types as types
import pytest
from mcp import MCPError

from tornadohub.upstreams.raw import RawChannel


class Wire:
    """What the channel wrote, and a way to answer it."""

    def __init__(self) -> None:
        self.lines: list[dict[str, Any]] = []
        self.written = asyncio.Event()

    async def write(self, data: bytes) -> None:
        assert data.endswith(b"\n") and data.count(b"\n") == 1
        self.lines.append(json.loads(data))
        self.written.set()

    async def next_line(self) -> dict[str, Any]:
        async with asyncio.timeout(5):
            while not self.lines:
                self.written.clear()
                await self.written.wait()
        return self.lines.pop(0)


async def test_a_request_goes_out_as_one_line_and_its_reply_comes_back() -> None:
    wire = Wire()
    channel = RawChannel(wire.write)
    call = asyncio.ensure_future(
        channel.request("tools/call", {"name": "echo", "arguments": {"a": 1}}, timeout=5)
    )
    sent = await wire.next_line()
    assert sent["method"] == "tools/call" and sent["params"]["arguments"] == {"a": 1}
    assert sent["id"].startswith(RawChannel.PREFIX)
    assert "_meta" not in sent["params"]  # no progress asked for
    assert not channel.take({"jsonrpc": "2.0", "id": 1, "result": {}})  # the SDK's own id
    assert channel.take({"jsonrpc": "2.0", "id": sent["id"], "result": {"content": []}})
    assert await call == {"content": []}


async def test_errors_timeouts_and_closing_fail_as_the_sdk_fails() -> None:
    wire = Wire()
    channel = RawChannel(wire.write)
    call = asyncio.ensure_future(channel.request("prompts/get", {"name": "p"}, timeout=5))
    sent = await wire.next_line()
    error = {"code": -32602, "message": "Unknown prompt", "data": {"name": "p"}}
    channel.take({"jsonrpc": "2.0", "id": sent["id"], "error": error})
    with pytest.raises(MCPError) as raised:
        await call
    assert (raised.value.error.code, raised.value.error.data) == (-32602, {"name": "p"})

    with pytest.raises(MCPError) as timed_out:
        await channel.request("tools/call", {"name": "slow"}, timeout=0.05)
    assert timed_out.value.error.code == types.REQUEST_TIMEOUT
    assert timed_out.value.error.message == "Request 'tools/call' timed out"
    request, cancel = await wire.next_line(), await wire.next_line()
    assert cancel["method"] == "notifications/cancelled"
    assert cancel["params"]["requestId"] == request["id"]

    pending = asyncio.ensure_future(channel.request("tools/call", {"name": "x"}, timeout=5))
    await wire.next_line()
    channel.close()
    with pytest.raises(MCPError) as closed:
        await pending
    assert closed.value.error.code == types.CONNECTION_CLOSED
    with pytest.raises(MCPError):
        await channel.request("tools/call", {"name": "x"}, timeout=5)


async def test_progress_reaches_the_callback_of_its_request() -> None:
    wire = Wire()
    channel = RawChannel(wire.write)
    seen: list[tuple[float, float | None, str | None]] = []
    reported = asyncio.Event()

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))
        reported.set()

    call = asyncio.ensure_future(
        channel.request("tools/call", {"name": "p"}, timeout=5, on_progress=on_progress)
    )
    sent = await wire.next_line()
    token = sent["params"]["_meta"]["progressToken"]
    assert token == sent["id"]
    params = {"progressToken": token, "progress": 1, "total": 2, "message": "half"}
    assert channel.take({"jsonrpc": "2.0", "method": "notifications/progress", "params": params})
    other = {**params, "progressToken": 7}
    assert not channel.take({"method": "notifications/progress", "params": other})
    # a request of the server's own is never taken, whatever its id
    assert not channel.take({"jsonrpc": "2.0", "id": sent["id"], "method": "roots/list"})
    async with asyncio.timeout(5):
        await reported.wait()
    assert seen == [(1, 2, "half")]
    channel.take({"jsonrpc": "2.0", "id": sent["id"], "result": {"content": []}})
    await call
