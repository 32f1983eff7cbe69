"""DrainingTransport's rules, over a mock transport whose bodies record how they are read.

(Pooling itself, against a real server and httpcore, is tested in
``tests/api/test_http_upstream_connections.py``.)
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import httpx2
import pytest

from tornadohub.upstreams import keepalive
from tornadohub.upstreams.keepalive import DrainingTransport


class Body(httpx2.AsyncByteStream):
    """Chunks, then the end of the body, or nothing more ever (*endless*)."""

    def __init__(self, *chunks: bytes, endless: bool = False) -> None:
        self.chunks = list(chunks)
        self.endless = endless
        self.sent = 0
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            self.sent += 1
            yield chunk
        if self.endless:
            await anyio.Event().wait()

    async def aclose(self) -> None:
        self.closed = True


async def read_first_chunk_and_close(transport: DrainingTransport, method: str) -> None:
    """What the SDK does with an SSE answer: read up to the response event, then close."""
    async with httpx2.AsyncClient(transport=transport) as client:
        async with client.stream(method, "http://upstream.test/mcp") as response:
            async for _ in response.aiter_raw():
                break
            await response.aclose()


async def test_a_post_body_closed_early_is_read_to_its_end_first() -> None:
    body = Body(b"event: message\n", b"data: {}\n\n", b"")
    transport = DrainingTransport(
        httpx2.MockTransport(lambda request: httpx2.Response(200, stream=body))
    )
    await read_first_chunk_and_close(transport, "POST")
    assert body.sent == 3 and body.closed
    assert transport.draining


async def test_a_get_stream_is_closed_as_it_is() -> None:
    body = Body(b"a", b"b")
    transport = DrainingTransport(
        httpx2.MockTransport(lambda request: httpx2.Response(200, stream=body))
    )
    await read_first_chunk_and_close(transport, "GET")
    assert body.sent == 1 and body.closed


async def test_a_cancelled_post_is_closed_at_once() -> None:
    """Aborting the POST is how a 2026-07-28 client cancels: no draining then."""
    body = Body(b"a", b"b")
    transport = DrainingTransport(
        httpx2.MockTransport(lambda request: httpx2.Response(200, stream=body))
    )
    async with httpx2.AsyncClient(transport=transport) as client:
        with anyio.CancelScope() as scope:
            async with client.stream("POST", "http://upstream.test/mcp") as response:
                async for _ in response.aiter_raw():
                    break
                scope.cancel()
                await anyio.lowlevel.checkpoint()
    assert scope.cancelled_caught
    assert body.sent == 1 and body.closed
    assert transport.draining


async def test_a_server_that_keeps_streams_open_turns_draining_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(keepalive, "DRAIN_SECONDS", 0.05)
    bodies = [Body(b"a", b"b", endless=True), Body(b"a", b"b")]
    transport = DrainingTransport(
        httpx2.MockTransport(lambda request: httpx2.Response(200, stream=bodies.pop(0)))
    )
    first, second = bodies
    await read_first_chunk_and_close(transport, "POST")
    assert first.sent == 2 and first.closed
    assert not transport.draining
    await read_first_chunk_and_close(transport, "POST")
    assert second.sent == 1 and second.closed  # closed as the SDK left it


async def test_a_long_remainder_is_not_read_past_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keepalive, "DRAIN_BYTES", 10)
    body = Body(b"a", b"x" * 8, b"y" * 8, b"z" * 8)
    transport = DrainingTransport(
        httpx2.MockTransport(lambda request: httpx2.Response(200, stream=body))
    )
    await read_first_chunk_and_close(transport, "POST")
    assert body.sent == 3 and body.closed
    assert not transport.draining
