"""Fixture: a Streamable HTTP server with resumable streams, that ends a call's stream early.

Usage: ``python tests/servers/resumable_http_server.py PORT``

* the tools of ``http_server.py`` (``echo``, ``add``, ``fail``, ``slow``), served with an
  in-memory event store: at 2025-11-25 each POST's SSE stream starts with a priming event
  (an event id, ``retry: 20``);
* ``handoff(message)``: reports progress 1, closes the request's SSE stream (the SSE polling
  of 2025-11-25: the client is to come back with ``GET`` and ``Last-Event-ID``), reports
  progress 2, then answers ``Echo: <message>``; what follows the close reaches only a
  client that resumes;
* binds 127.0.0.1; prints ``READY <url>`` once listening.
"""

import sys
from itertools import count
from pathlib import Path
from typing import Any

import anyio
from mcp.server.mcpserver import Context
from mcp.server.streamable_http import EventCallback, EventMessage, EventStore
from mcp_types import JSONRPCMessage

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.servers.http_server import HOST, build_server, serve_asgi

USAGE = "usage: python tests/servers/resumable_http_server.py PORT"
RETRY_MS = 20


class MemoryEventStore(EventStore):
    """Every event of every stream, in order; ids are ``<n>``."""

    def __init__(self) -> None:
        self._events: list[tuple[str, str, JSONRPCMessage | None]] = []
        self._ids = count(1)

    async def store_event(self, stream_id: str, message: JSONRPCMessage | None) -> str:
        event_id = str(next(self._ids))
        self._events.append((event_id, stream_id, message))
        return event_id

    async def replay_events_after(
        self, last_event_id: str, send_callback: EventCallback
    ) -> str | None:
        ids = [event_id for event_id, _, _ in self._events]
        if last_event_id not in ids:
            return None
        start = ids.index(last_event_id)
        stream_id = self._events[start][1]
        for event_id, stream, message in self._events[start + 1 :]:
            if stream == stream_id and message is not None:
                await send_callback(EventMessage(message, event_id))
        return stream_id


class CutAfterPriming:
    """ASGI wrapper: a ``cut`` call's response stops after its first event, and the
    connection is closed without ending the body (the app fails once the stream is done)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        messages = []
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request" or not message.get("more_body"):
                break
        body = b"".join(m.get("body", b"") for m in messages)
        replay = iter(messages)

        async def replayed() -> Any:
            return next(replay, None) or await receive()

        if b'"name":"cut"' not in body.replace(b" ", b""):
            await self.app(scope, replayed, send)
            return
        events = 0

        async def first_event_only(message: Any) -> None:
            nonlocal events
            if message["type"] == "http.response.body" and message.get("body"):
                events += 1
                if events > 1:
                    return
            if message["type"] == "http.response.body" and not message.get("more_body"):
                return
            await send(message)

        await self.app(scope, replayed, first_event_only)
        raise ConnectionAbortedError("cut after the priming event")


async def serve(port: int) -> None:
    server = build_server()

    @server.tool(description="End the call's stream early, then answer.", structured_output=False)
    async def handoff(message: str, ctx: Context) -> str:
        await ctx.report_progress(1, 2)
        await ctx.close_sse_stream()
        await ctx.report_progress(2, 2)
        return f"Echo: {message}"

    @server.tool(description="Answer on a connection that breaks.", structured_output=False)
    async def cut(message: str) -> str:
        return f"Echo: {message}"

    app = server.streamable_http_app(
        streamable_http_path="/mcp",
        host=HOST,
        event_store=MemoryEventStore(),
        retry_interval=RETRY_MS,
    )
    await serve_asgi(CutAfterPriming(app), port)


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit(USAGE)
    anyio.run(serve, int(sys.argv[1]))


if __name__ == "__main__":
    main()
