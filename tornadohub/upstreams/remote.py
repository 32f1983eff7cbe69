"""Remote upstreams: Streamable HTTP first, the legacy HTTP+SSE transport as fallback.

Each attempt owns its own ``httpx2`` client (the SDK's HTTP library), created and
closed in the owner task. A 401 on either transport makes the server
``unauthorized`` instead of falling back or retrying.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx2
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp import ClientSession
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.message import SessionMessage

from tornadohub.placeholders import ResolvedServer
from tornadohub.upstreams.base import UnauthorizedError, Upstream

log = logging.getLogger("tornadohub.upstream")

HTTP_TIMEOUT = httpx2.Timeout(30.0, read=300.0)


class _StatusWatch:
    """Remembers whether any response of this attempt was a 401."""

    def __init__(self) -> None:
        self.unauthorized = False

    async def __call__(self, response: httpx2.Response) -> None:
        if response.status_code == 401:
            self.unauthorized = True


class RemoteUpstream(Upstream):
    """An upstream reached over HTTP. ``transportType`` is "sse" as in mcp-hub."""

    transport_type = "sse"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: The transport that worked last: "streamable-http" or "sse".
        self.negotiated_transport: str | None = None
        self._transport_kind = "streamable-http"

    @contextlib.asynccontextmanager
    async def _open_session(
        self, resolved: ResolvedServer, lost: anyio.Event
    ) -> AsyncIterator[ClientSession]:
        """Try Streamable HTTP; on any failure but 401 try the legacy SSE transport."""
        async with contextlib.AsyncExitStack() as stack:
            self._transport_kind = "streamable-http"
            try:
                session = await stack.enter_async_context(super()._open_session(resolved, lost))
            except UnauthorizedError:
                raise
            except Exception as exc:  # includes anyio's exception groups
                log.debug("%s: Streamable HTTP failed (%s); trying SSE", self.name, exc)
                self._transport_kind = "sse"
                session = await stack.enter_async_context(super()._open_session(resolved, lost))
            self.negotiated_transport = self._transport_kind
            yield session

    @contextlib.asynccontextmanager
    async def _open_transport(
        self, resolved: ResolvedServer, lost: anyio.Event
    ) -> AsyncIterator[tuple[Any, Any]]:
        if not resolved.url:
            raise ValueError("missing url")
        watch = _StatusWatch()
        try:
            if self._transport_kind == "sse":
                transport: Any = sse_client(
                    resolved.url,
                    headers=resolved.headers,
                    httpx_client_factory=_factory(watch),
                )
                async with transport as (read, write), _relay(read, lost) as relayed:
                    yield relayed, write
            else:
                async with (
                    httpx2.AsyncClient(
                        headers=resolved.headers,
                        timeout=HTTP_TIMEOUT,
                        event_hooks={"response": [watch]},
                    ) as client,
                    streamable_http_client(resolved.url, http_client=client) as (read, write),
                    _relay(read, lost) as relayed,
                ):
                    yield relayed, write
        except BaseException:
            if watch.unauthorized:
                raise UnauthorizedError("Unauthorized: the server requires OAuth") from None
            raise


def _factory(watch: _StatusWatch) -> Any:
    def make(
        headers: dict[str, Any] | None = None,
        timeout: httpx2.Timeout | None = None,
        auth: httpx2.Auth | None = None,
    ) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(
            headers=headers,
            timeout=timeout or HTTP_TIMEOUT,
            auth=auth,
            event_hooks={"response": [watch]},
        )

    return make


@contextlib.asynccontextmanager
async def _relay(
    source: Any, lost: anyio.Event
) -> AsyncIterator[MemoryObjectReceiveStream[SessionMessage | Exception]]:
    """Forward the transport's read stream and set *lost* when it ends."""
    send: MemoryObjectSendStream[SessionMessage | Exception]
    send, receive = anyio.create_memory_object_stream[SessionMessage | Exception](16)

    async def pump() -> None:
        try:
            async with send:
                async for message in source:
                    await send.send(message)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            pass
        finally:
            lost.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(pump)
        try:
            yield receive
        finally:
            tg.cancel_scope.cancel()
            await receive.aclose()
