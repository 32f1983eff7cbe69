"""A raw client of the legacy HTTP+SSE transport (``GET /mcp``, ``POST /messages``).

It keeps the stream's exact bytes, so that tests can compare the framing as well as the
JSON-RPC messages with mcp-hub 4.2.1's; every wait is bounded.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream


@dataclass
class Frame:
    """One SSE event as sent: its raw text, its event name and its data."""

    raw: str
    event: str | None
    data: str


@dataclass
class LegacyWire:
    """An open legacy SSE session: the stream's response, its endpoint and its frames."""

    client: httpx.AsyncClient
    response: httpx.Response
    endpoint: str
    first: Frame
    frames: MemoryObjectReceiveStream[Frame | None]
    notifications: list[dict[str, Any]] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)  # SSE comments (keep-alives)
    next_id: int = 1

    async def post(self, message: dict[str, Any]) -> httpx.Response:
        return await self.client.post(self.endpoint, json=message)

    async def next_message(self, timeout: float = 30) -> dict[str, Any] | None:
        """The next ``message`` event's JSON, or None once the stream has ended."""
        with anyio.fail_after(timeout):
            frame = await self.frames.receive()
        while frame is not None and frame.event is None and not frame.data:
            self.comments.append(frame.raw)  # a keep-alive comment
            with anyio.fail_after(timeout):
                frame = await self.frames.receive()
        if frame is None:
            return None
        assert frame.event == "message", frame.raw
        reply: dict[str, Any] = json.loads(frame.data)
        return reply

    async def request(
        self, method: str, params: dict[str, Any] | None = None, timeout: float = 30
    ) -> dict[str, Any]:
        """Send one request; its response (notifications on the way are kept aside)."""
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": self.next_id, "method": method}
        if params is not None:
            message["params"] = params
        self.next_id += 1
        posted = await self.post(message)
        assert (posted.status_code, posted.text) == (202, "Accepted"), posted.text
        with anyio.fail_after(timeout):
            while True:
                reply = await self.next_message(timeout)
                assert reply is not None, f"stream ended before the answer to {method}"
                if reply.get("id") == message["id"] and "method" not in reply:
                    return reply
                self.notifications.append(reply)

    async def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        posted = await self.post(message)
        assert (posted.status_code, posted.text) == (202, "Accepted"), posted.text

    async def initialize(self, version: str = "2025-06-18") -> dict[str, Any]:
        reply = await self.request(
            "initialize",
            {
                "protocolVersion": version,
                "capabilities": {},
                "clientInfo": {"name": "legacy-wire", "version": "0"},
            },
        )
        await self.notify("notifications/initialized")
        return reply


def _frame(raw: str) -> Frame:
    event = None
    data: list[str] = []
    for line in raw.split("\n"):
        if line.startswith("event:"):
            event = line.removeprefix("event:").removeprefix(" ")
        elif line.startswith("data:"):
            data.append(line.removeprefix("data:").removeprefix(" "))
    return Frame(raw, event, "\n".join(data))


async def _pump(response: httpx.Response, send: MemoryObjectSendStream[Frame | None]) -> None:
    buffer = ""
    async with send:
        try:
            async for chunk in response.aiter_text():
                buffer += chunk.replace("\r\n", "\n")
                while "\n\n" in buffer:
                    raw, buffer = buffer.split("\n\n", 1)
                    if raw.strip():
                        await send.send(_frame(raw))
        except httpx.HTTPError:
            pass
        await send.send(None)


@contextlib.asynccontextmanager
async def legacy_wire(base: str, path: str = "/mcp") -> AsyncIterator[LegacyWire]:
    """``GET <path>`` on *base*; yields once the ``endpoint`` event has arrived."""
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        async with client.stream("GET", path) as response:
            send, receive = anyio.create_memory_object_stream[Frame | None](1000)
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(_pump, response, send)
                with anyio.fail_after(10):
                    first = await receive.receive()
                assert first is not None and first.event == "endpoint", first
                wire = LegacyWire(client, response, first.data, first, receive)
                try:
                    yield wire
                finally:
                    tasks.cancel_scope.cancel()
