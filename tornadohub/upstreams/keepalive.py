"""Keep upstream HTTP connections pooled although the SDK closes responses early.

The SDK's Streamable HTTP client closes a POST's response as soon as it has what it
needs: an SSE body right after the event that carries the JSON-RPC response, a
``202 Accepted`` without reading its empty body. The end of the body (the last chunk
of a chunked SSE stream usually arrives a moment later) is then still unread, and
httpcore only pools a connection whose response was read to its end: it closes the
socket instead, so every call to an HTTP upstream paid a new TCP connection.

:class:`DrainingTransport` reads what is left of a POST's body when the response is
closed, bounded in time and size, so the connection goes back to the pool. A close
that is part of a cancellation is not drained: aborting a POST is how a 2026-07-28
client cancels its request, and the server must see the disconnect at once. A server
that keeps a stream open after its answer (the spec only says it SHOULD close it)
would hold pooled connections for the whole bound, so the first drain that does not
reach the end turns draining off for that transport: its responses are closed as
before.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import AsyncIterator

import anyio
import httpx2

log = logging.getLogger("tornadohub.upstream")

#: How long a closed response may take to end by itself before its connection is dropped.
DRAIN_SECONDS = 2.0
#: How much of an unread body is worth reading to save a connection.
DRAIN_BYTES = 64 * 1024


class DrainingTransport(httpx2.AsyncBaseTransport):
    """An httpx2 transport whose POST responses finish their body when closed early."""

    def __init__(self, inner: httpx2.AsyncBaseTransport | None = None) -> None:
        self._inner = inner if inner is not None else httpx2.AsyncHTTPTransport()
        #: False once a response did not end within the bounds: stop trying.
        self.draining = True

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self._inner.handle_async_request(request)
        # Only POSTs: their bodies end once answered. A GET is an open-ended event stream.
        if (
            self.draining
            and request.method == "POST"
            and isinstance(response.stream, httpx2.AsyncByteStream)
        ):
            response.stream = _DrainOnClose(response.stream, self, str(request.url))
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()

    def stop_draining(self, url: str) -> None:
        if self.draining:
            self.draining = False
            log.info("%s keeps response streams open; its connections are not reused", url)


class _DrainOnClose(httpx2.AsyncByteStream):
    """A body stream that, closed before its end, reads the rest first (bounded)."""

    def __init__(self, stream: httpx2.AsyncByteStream, owner: DrainingTransport, url: str) -> None:
        self._stream = stream
        self._owner = owner
        self._url = url
        # One iterator for the whole body: the drain continues where the reader stopped.
        self._chunks: AsyncIterator[bytes] | None = None
        self._ended = False

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        if self._chunks is None:
            self._chunks = aiter(self._stream)
        try:
            return await anext(self._chunks)
        except StopAsyncIteration:
            self._ended = True
            raise

    async def aclose(self) -> None:
        try:
            if not self._ended and self._owner.draining and not _cancelling():
                await self._drain()
        finally:
            await self._stream.aclose()

    async def _drain(self) -> None:
        drained = 0
        with anyio.move_on_after(DRAIN_SECONDS):
            try:
                async for chunk in self:
                    drained += len(chunk)
                    if drained > DRAIN_BYTES:
                        break
            except httpx2.HTTPError as exc:  # the caller has its answer; only the socket is lost
                log.debug("draining a closed response failed: %s", exc)
                return
        if not self._ended:  # too slow or too long: closing at once is cheaper from now on
            self._owner.stop_draining(self._url)


def _cancelling() -> bool:
    """Whether the current task is being cancelled (by anyio or by asyncio)."""
    if anyio.current_effective_deadline() == -math.inf:
        return True
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
