"""Writing replies and SSE streams: what arrives in a mailbox, onto the HTTP response.

A request's reply is held back until it is known: a response that arrives first is sent
as ``application/json``; a notification or request first (or nothing within the
keep-alive interval) switches the reply to an SSE stream, which then carries ``: ping``
comments while idle (:func:`relay`). A session's standalone stream is forwarded by
:func:`pump`. Every JSON-RPC message ``/mcp`` sends is encoded by :func:`encode`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Final

from mcp.shared.inbound import (
    ERROR_CODE_HTTP_STATUS,
)
from mcp_types import (
    INTERNAL_ERROR,
    JSONRPCError,
    JSONRPCMessage,
    JSONRPCNotification,
    JSONRPCRequest,
    JSONRPCResponse,
)

from tornadohub.mcp.http import (
    JSON_TYPE,
    SSE_HEADERS,
    DirectWriter,
    McpRequestError,
    ResponseWriter,
)
from tornadohub.mcp.list_cache import EncodedResponse, response_wire
from tornadohub.mcp.mailbox import Closed, Idle, Mailbox, StreamEvent
from tornadohub.mcp.sessions import Session

log = logging.getLogger("tornadohub.mcp")


PING: Final = b": ping\n\n"


def encode(message: JSONRPCMessage) -> bytes:
    """The wire form of every JSON-RPC message ``/mcp`` sends, in JSON bodies and SSE alike.

    A request or notification without params leaves the member out: JSON-RPC has no
    ``"params": null``, and the TypeScript SDK drops such a message (reporting it only to
    ``onerror``), so its clients would never see e.g. ``tools/list_changed``. Nothing else
    changes: unset fields stay out, explicit values (``result: {}``, nulls inside results
    and error data) go out as they are.

    Members come in mcp-hub 4.2.1's order (its SDK's, recorded in tests/golden/mcp):
    ``result``, ``jsonrpc``, ``id`` for a response; ``method``, ``params``, ``jsonrpc``
    for a notification; an error's ``jsonrpc``, ``id``, ``error`` and a request's are the
    models' own order, which is already mcp-hub's.
    """
    if isinstance(message, EncodedResponse):  # a cached list page: already encoded
        return message.wire
    bare = isinstance(message, JSONRPCRequest | JSONRPCNotification) and message.params is None
    if isinstance(message, JSONRPCResponse):
        dumped = message.model_dump_json(by_alias=True, exclude_unset=True, include={"result"})
        return response_wire(message.id, dumped[len('{"result":') : -1].encode())
    if isinstance(message, JSONRPCNotification):
        members = {"method"} if bare else {"method", "params"}
        dumped = message.model_dump_json(by_alias=True, exclude_unset=True, include=members)
        return (dumped[:-1] + ',"jsonrpc":"2.0"}').encode()
    return message.model_dump_json(
        by_alias=True, exclude_unset=True, exclude={"params"} if bare else None
    ).encode()


def sse_frame(event: StreamEvent) -> bytes:
    """One SSE event, copied once: a chain of ``+`` would copy a large page at each step."""
    head = f"id: {event.id}\n".encode() if event.id else b""
    return b"".join((head, b"event: message\ndata: ", encode(event.message), b"\n\n"))


def push(mailbox: Mailbox, event: StreamEvent) -> None:
    """Queue a notification for one exchange's stream (dropped once the stream closed)."""
    if not mailbox.put(event):
        log.debug("dropped %s: response stream closed", getattr(event.message, "method", "?"))


async def relay(
    mailbox: Mailbox,
    writer: ResponseWriter,
    headers: Mapping[str, str],
    *,
    keepalive: float,
    session: Session | None = None,
    streaming: bool = False,
    first: StreamEvent | Closed | Idle | None = None,
) -> StreamEvent | None:
    """Send what arrives for one request until its response; JSON if that comes first.

    A quiet stream gets ``: ping`` every *keepalive* seconds.

    *first*: an item already taken from the mailbox, sent before the next.

    *session* is None on the 2026 wire, whose error statuses follow the spec's
    table (404 for an unknown method, 400 for bad params); handshake-era
    errors are 200 with the JSON-RPC error, as the SDK answers them.
    """
    while True:
        item = first if first is not None else await mailbox.get(keepalive)
        first = None
        if isinstance(item, Closed):
            if not streaming:
                raise McpRequestError(
                    500, "Session ended before the request completed", code=INTERNAL_ERROR
                )
            writer.end_stream()
            return None
        if isinstance(item, StreamEvent) and item.final and not streaming:
            status = 200
            if session is None and isinstance(item.message, JSONRPCError):
                status = ERROR_CODE_HTTP_STATUS.get(item.message.error.code, 200)
            writer.reply(status, encode(item.message), {**headers, "Content-Type": JSON_TYPE})
            return item
        if not streaming:
            await writer.open_stream({**SSE_HEADERS, **headers})
            streaming = True
            priming = session.prime(mailbox.stream) if session is not None else None
            if priming is not None:  # a resume point before anything else is sent
                await writer.send(f"id: {priming}\ndata: \n\n".encode())
        if isinstance(item, Idle):
            await writer.send(PING)
            continue
        await writer.send(sse_frame(item))
        if item.final:
            writer.end_stream()
            return item


async def pump(mailbox: Mailbox, writer: ResponseWriter, keepalive: float) -> None:
    """Forward a standalone stream until the session or the client ends it.

    While the pump waits with nothing queued, an event put in is written by whoever puts
    it, in that step (:class:`DirectWriter`), without waking the pump's task: on legacy
    SSE each answer is such an event. ``: ping`` still goes after *keepalive* s of quiet.
    """
    direct = writer if isinstance(writer, DirectWriter) else None
    loop = asyncio.get_running_loop()
    last_sent = loop.time()

    def send_at_once() -> None:
        nonlocal last_sent
        assert direct is not None
        if mailbox.waiting and direct.can_send_now():
            item = mailbox.take_nowait()
            if isinstance(item, StreamEvent):
                direct.send_now(sse_frame(item))
                last_sent = loop.time()

    if direct is not None:
        mailbox.notify = send_at_once
    try:
        wait = keepalive
        while True:
            item = await mailbox.get(wait)
            wait = keepalive
            if isinstance(item, Closed):
                writer.end_stream()
                return
            if isinstance(item, Idle):
                quiet = loop.time() - last_sent
                if quiet < keepalive:  # events went out meanwhile: not quiet yet
                    wait = keepalive - quiet
                    continue
                await writer.send(PING)
            else:
                await writer.send(sse_frame(item))
            last_sent = loop.time()
    finally:
        mailbox.notify = None
