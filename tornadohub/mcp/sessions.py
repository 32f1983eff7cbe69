"""Stateful MCP sessions on the SDK kernel: one :class:`Session` per handshake-era client.

A :class:`Session` is one handshake-era client (Streamable HTTP with an
``Mcp-Session-Id``, or mcp-hub's legacy HTTP+SSE). It runs the SDK's
kernel (``serve_loop``'s recipe) over two memory streams and routes what the kernel writes:
a response, or a message related to a request, goes to that request's
:class:`~tornadohub.mcp.mailbox.Mailbox` (its POST stream); everything else goes to the
standalone mailbox (the GET stream; for legacy sessions, the one SSE stream). The
sessions themselves are kept by :class:`~tornadohub.mcp.service.McpService`.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import logging
import math
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import anyio
import anyio.abc
from mcp.server.connection import Connection
from mcp.server.context import ServerRequestContext
from mcp.server.runner import serve_connection
from mcp.server.session import ServerSession
from mcp.shared.dispatcher import CallOptions, coerce_request_id
from mcp.shared.jsonrpc_dispatcher import JSONRPCDispatcher
from mcp.shared.message import MessageMetadata, ServerMessageMetadata, SessionMessage
from mcp.shared.transport_context import TransportContext
from mcp_types import (
    ErrorData,
    JSONRPCError,
    JSONRPCMessage,
    JSONRPCNotification,
    JSONRPCRequest,
    JSONRPCResponse,
    RequestId,
)

from tornadohub.mcp.mailbox import Mailbox, StreamEvent
from tornadohub.mcp.relay import Context, RequestOrigin
from tornadohub.mcp.server import McpView

log = logging.getLogger("tornadohub.mcp")

#: Answer for a request the client cancelled: the 2025 wire ends a request's
#: stream only with a response for its id (the SDK's transport does the same).
REQUEST_CANCELLED: Final = -32800

HISTORY_LIMIT: Final = 256  # events kept per resumable session
KERNEL_INBOX: Final = 64


class SessionBusyError(Exception):
    """The stream asked for is already open (a second GET, a repeated request id)."""


class UnknownEventError(Exception):
    """A ``Last-Event-ID`` this session no longer (or never) had."""


STANDALONE: Final = "s"


class Session:
    """One handshake-era client session served by the SDK kernel.

    Resumability (clients at 2025-11-25, which understand priming events): once a
    stream has given the client an event id (the GET stream, or a request's reply
    that became an SSE stream and was primed), every event routed to it gets an id
    ``<stream>-<seq>`` (``s`` is the GET stream, ``r<n>`` the n-th request's) and
    is kept in a bounded history, delivered or not, so a client whose stream broke
    can resume it with ``GET`` + ``Last-Event-ID``. A stream never replays another
    stream's events; replies sent as plain JSON are never kept.
    """

    def __init__(
        self,
        view: McpView,
        *,
        session_id: str,
        legacy: bool,
        idle_timeout: float,
        owner: str | None = None,
        client: str | None = None,
    ) -> None:
        self.id = session_id
        self.view = view
        self.legacy = legacy
        self.owner = owner  # the API key that opened it: no other key may use it
        #: Whose quota the session counts against: the key, else the client's address.
        self.client = quota_holder(owner, client)
        self.client_name = "unknown"
        self.log_level: str | None = None  # set by logging/setLevel: relay upstream logs
        self.initialized = False
        self.resumable = False
        #: The version the kernel negotiated, once it answered ``initialize`` (None before).
        self.protocol_version: str | None = None
        self._initialize_id: RequestId | None = None
        self._closed = False
        self.last_used = time.monotonic()
        self._idle_timeout = idle_timeout
        self._busy = 0
        self._idle_scope = anyio.CancelScope(deadline=anyio.current_time() + idle_timeout)
        self._inbox_send, self._inbox = anyio.create_memory_object_stream[
            SessionMessage | Exception
        ](KERNEL_INBOX)
        self._outbox_send, self._outbox = anyio.create_memory_object_stream[SessionMessage](
            KERNEL_INBOX
        )
        self._requests: dict[RequestId, Mailbox] = {}
        self._streams: dict[RequestId, str] = {}  # request -> stream name, until answered
        self._stream_numbers = itertools.count(1)
        self._event_numbers = itertools.count(1)
        self._history: collections.deque[tuple[str, str, JSONRPCMessage | None]] = (
            collections.deque(maxlen=HISTORY_LIMIT)
        )
        self._primed: set[str] = set()  # streams the client holds event ids of
        self._standalone: Mailbox | None = None
        self.ended = anyio.Event()
        self._dispatcher: JSONRPCDispatcher[TransportContext] | None = None
        self._connection: Connection | None = None

    @property
    def short_id(self) -> str:
        """The id's last characters, for logs (sealed ids share their first ones)."""
        return self.id[-8:]

    @property
    def busy(self) -> bool:
        return self._busy > 0

    async def run(self) -> None:
        """Serve until closed, idle for too long, or the service stops."""
        try:
            with self._idle_scope:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(self._route_outbox)
                    # serve_loop's recipe, keeping the dispatcher and connection: the
                    # transport's own answers (fastpath) ask the client through them.
                    dispatcher: JSONRPCDispatcher[TransportContext] = JSONRPCDispatcher(
                        self._inbox, self._outbox_send, inline_methods=frozenset({"initialize"})
                    )
                    self._dispatcher = dispatcher
                    self._connection = Connection.for_loop(dispatcher, session_id=self.id)
                    if self.legacy:
                        # mcp-hub 4.2.1's legacy endpoint answers requests sent before
                        # the handshake (its SDK has no gate); the kernel's gate would
                        # refuse them "Invalid request parameters". Open it at once.
                        self._connection.initialized.set()
                    await serve_connection(
                        self.view.server,
                        dispatcher,
                        connection=self._connection,
                        lifespan_state={},
                        init_options=self.view.init_options,
                    )
            if self._idle_scope.cancelled_caught:
                log.info("MCP session %s closed after %g s idle", self.short_id, self._idle_timeout)
        finally:
            self.close()
            self.ended.set()

    def close(self) -> None:
        """End the session: the kernel sees EOF, every open stream ends."""
        self._closed = True
        self._inbox_send.close()
        for mailbox in self._requests.values():
            mailbox.close()
        if self._standalone is not None:
            self._standalone.close()

    async def deliver(self, message: JSONRPCMessage, metadata: MessageMetadata = None) -> None:
        """Hand one client message to the kernel (raises ClosedResourceError once closed)."""
        self.last_used = time.monotonic()
        if isinstance(message, JSONRPCRequest) and message.method == "initialize":
            self.protocol_version = None  # until the kernel has answered this one
            self._initialize_id = coerce_request_id(message.id)
        await self._inbox_send.send(SessionMessage(message, metadata=metadata))

    def answer(self, message: JSONRPCResponse | JSONRPCError) -> None:
        """Route the transport's own answer to a request (fastpath), as the kernel's."""
        if self._closed:
            return
        self.last_used = time.monotonic()
        self._route(message, None)

    def in_flight(self, request_id: RequestId) -> bool:
        """Whether a request with this id is still open (its stream, or its answer due)."""
        key = coerce_request_id(request_id)
        return key in self._requests or key in self._streams

    def request_context(self, call: Any) -> Context:
        """A kernel request context for a request the transport answers itself (fastpath):
        what the relay needs to ask this session's client on the request's stream."""
        dispatcher, connection = self._dispatcher, self._connection
        if dispatcher is None or connection is None:
            raise anyio.ClosedResourceError
        outbound = _RequestOutbound(dispatcher, call.request_id)
        return ServerRequestContext(
            session=ServerSession(outbound, connection),
            lifespan_context={},
            protocol_version=connection.protocol_version,
            method=call.method,
            params=call.params,
            request_id=call.request_id,
            request=RequestOrigin(
                http=call.http,
                client=self,
                send=lambda message: self.send_related(call.request_id, message),
            ),
        )

    def respond(self, response: JSONRPCResponse) -> None:
        """Route a response the hub made without the kernel exactly as the kernel's own.

        Raises ``anyio.ClosedResourceError`` once the session is closed, as :meth:`deliver`.
        """
        if self._closed:
            raise anyio.ClosedResourceError
        self.last_used = time.monotonic()
        self._route(response, None)

    def notify(self, method: str) -> None:
        """Send a server notification on the standalone stream (e.g. list_changed)."""
        self.send_notification(method, None)

    def send_notification(self, method: str, params: dict[str, Any] | None) -> None:
        """Send a notification with *params* on the standalone stream (on a legacy SSE
        stream even before ``notifications/initialized``, as mcp-hub 4.2.1 does)."""
        if (self.initialized or self.legacy) and not self.ended.is_set():
            self._route(JSONRPCNotification(jsonrpc="2.0", method=method, params=params), None)

    def resource_updated(self, uri: str) -> None:
        """``notifications/resources/updated`` for a resource this session subscribed."""
        self.send_notification("notifications/resources/updated", {"uri": uri})

    def public_prefix(self, upstream: str) -> str | None:
        return self.view.public_prefix(upstream)

    def send_related(self, request_id: RequestId, message: JSONRPCNotification) -> None:
        """A notification about one request: onto that request's stream while it is open."""
        if not self.ended.is_set():
            self._route(message, ServerMessageMetadata(related_request_id=request_id))

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Keep the session from being reaped while an HTTP exchange is in flight."""
        self._busy += 1
        self._idle_scope.deadline = math.inf
        try:
            yield
        finally:
            self._busy -= 1
            self.last_used = time.monotonic()
            if not self._busy:
                self._idle_scope.deadline = anyio.current_time() + self._idle_timeout

    @contextlib.contextmanager
    def request_stream(self, request_id: RequestId) -> Iterator[Mailbox]:
        """The mailbox receiving the response to *request_id* (and related messages)."""
        key = coerce_request_id(request_id)
        if key in self._requests or key in self._streams:
            raise SessionBusyError(f"Request id {request_id!r} is already in flight")
        self._streams[key] = stream = f"r{next(self._stream_numbers)}"
        with self._attached(key, Mailbox(stream=stream)) as mailbox:
            yield mailbox

    @contextlib.contextmanager
    def standalone_stream(self, *, takeover: bool = False) -> Iterator[Mailbox]:
        """The mailbox for messages unrelated to a request (GET or legacy SSE stream).

        *takeover* (a resuming client) ends a stream that is still attached: its
        connection broke but the hub has not noticed yet.
        """
        if self._standalone is not None and not self._standalone.closed:
            if not takeover:
                raise SessionBusyError("Only one SSE stream is allowed per session")
            self._standalone.close()
        mailbox = self._standalone = Mailbox(stream=STANDALONE)
        if self.resumable:
            self._primed.add(STANDALONE)
        try:
            with self.hold():
                yield mailbox
        finally:
            if self._standalone is mailbox:
                self._standalone = None
            mailbox.close()

    @contextlib.contextmanager
    def resumed_stream(
        self, last_event_id: str
    ) -> Iterator[tuple[list[StreamEvent], Mailbox | None]]:
        """The events of one stream after *last_event_id*, and the stream reattached.

        The mailbox is None when that stream is already complete (its response is
        in the replayed events). A copy of the stream still attached is ended: its
        connection broke but the hub has not noticed yet, and whatever it had not
        sent is in the replayed events. Raises :class:`UnknownEventError` when the
        id is not in the history (never issued, or too old).
        """
        stream = last_event_id.partition("-")[0]
        known = [entry[0] for entry in self._history]
        if last_event_id not in known:
            raise UnknownEventError(last_event_id)
        after = list(self._history)[known.index(last_event_id) + 1 :]
        backlog = [StreamEvent(msg, eid) for eid, name, msg in after if name == stream and msg]
        if stream == STANDALONE:
            with self.standalone_stream(takeover=True) as mailbox:
                yield backlog, mailbox
            return
        key = next((k for k, name in self._streams.items() if name == stream), None)
        if key is None:
            with self.hold():
                yield backlog, None
            return
        stale = self._requests.get(key)
        if stale is not None:
            stale.close()
        with self._attached(key, Mailbox(stream=stream)) as mailbox:
            yield backlog, mailbox

    @contextlib.contextmanager
    def _attached(self, key: RequestId, mailbox: Mailbox) -> Iterator[Mailbox]:
        self._requests[key] = mailbox
        try:
            with self.hold():
                yield mailbox
        finally:
            if self._requests.get(key) is mailbox:
                del self._requests[key]
            mailbox.close()

    def prime(self, stream: str | None) -> str | None:
        """A priming event id for *stream* (resumable sessions only): a resume point."""
        if not self.resumable or stream is None:
            return None
        self._primed.add(stream)
        return self._record(stream, None)

    def _record(self, stream: str, message: JSONRPCMessage | None) -> str:
        event_id = f"{stream}-{next(self._event_numbers)}"
        self._history.append((event_id, stream, message))
        return event_id

    def request_metadata(self, request_id: RequestId, request: Any) -> ServerMessageMetadata:
        """Metadata for a POSTed request: answer it even if the client cancels it."""

        async def answer_cancelled() -> None:
            error = ErrorData(code=REQUEST_CANCELLED, message="Request cancelled")
            self._route(JSONRPCError(jsonrpc="2.0", id=request_id, error=error), None)

        origin = RequestOrigin(
            http=request, client=self, send=lambda message: self.send_related(request_id, message)
        )
        return ServerMessageMetadata(request_context=origin, on_request_unanswered=answer_cancelled)

    async def _route_outbox(self) -> None:
        async with self._outbox:
            async for item in self._outbox:
                self._route(item.message, item.metadata)

    def _route(self, message: JSONRPCMessage, metadata: MessageMetadata) -> None:
        """Put one kernel message on its stream; record it if the session is resumable."""
        if self._initialize_id is not None and isinstance(message, JSONRPCResponse | JSONRPCError):
            if message.id is not None and coerce_request_id(message.id) == self._initialize_id:
                self._initialized_as(message)
        if self.legacy:
            self._put(self._standalone, StreamEvent(message))
            return
        key: RequestId | None = None
        if isinstance(message, JSONRPCResponse | JSONRPCError) and message.id is not None:
            key = coerce_request_id(message.id)
        elif (
            isinstance(metadata, ServerMessageMetadata) and metadata.related_request_id is not None
        ):
            key = coerce_request_id(metadata.related_request_id)
        if key is None:
            stream: str | None = STANDALONE
            target = self._standalone
        else:
            stream = self._streams.get(key)
            target = self._requests.get(key)
        event = StreamEvent(message)
        if stream in self._primed:
            event = StreamEvent(message, self._record(stream, message))
        if key is not None and event.final:
            self._streams.pop(key, None)
            self._primed.discard(stream or "")
        self._put(target, event)

    def _initialized_as(self, answer: JSONRPCMessage) -> None:
        """The kernel answered ``initialize``: remember the version it agreed to."""
        self._initialize_id = None
        if isinstance(answer, JSONRPCResponse):
            version = answer.result.get("protocolVersion")
            self.protocol_version = version if isinstance(version, str) else None

    def _put(self, target: Mailbox | None, event: StreamEvent) -> None:
        if target is None or not target.put(event, force=event.final):
            log.debug("MCP session %s: no open stream for %s", self.short_id, event.id)


def quota_holder(owner: str | None, client: str | None) -> str:
    """Whose session quota a new session counts against: its API key, else its address."""
    return f"key {owner}" if owner is not None else f"address {client}"


@dataclass
class _RequestOutbound:
    """The SDK ``DispatchContext`` side of one request the transport answers itself: what
    it sends goes through the session's dispatcher, related to that request."""

    dispatcher: JSONRPCDispatcher[TransportContext]
    request_id: RequestId
    transport: TransportContext = field(
        default_factory=lambda: TransportContext(kind="jsonrpc", can_send_request=True)
    )
    message_metadata: MessageMetadata = None
    cancel_requested: anyio.Event = field(default_factory=anyio.Event)

    @property
    def can_send_request(self) -> bool:
        return True

    async def send_raw_request(
        self, method: str, params: Mapping[str, Any] | None, opts: CallOptions | None = None
    ) -> dict[str, Any]:
        return await self.dispatcher.send_raw_request(
            method, params, opts, _related_request_id=self.request_id
        )

    async def notify(
        self, method: str, params: Mapping[str, Any] | None, opts: CallOptions | None = None
    ) -> None:
        await self.dispatcher.notify(method, params, opts, _related_request_id=self.request_id)

    async def progress(
        self, progress: float, total: float | None = None, message: str | None = None
    ) -> None:
        return None
