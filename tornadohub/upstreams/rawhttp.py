"""Plain-JSON requests to a Streamable HTTP upstream: one POST on a pooled connection.

Why this module is long: it is one small HTTP/1.1 client (response framing, chunked bodies,
SSE events, the connection pool and its drains) and the reading of one MCP answer on it;
split, each half would only make sense with the other.

The :class:`~tornadohub.upstreams.base.RawChannel` of an HTTP upstream. ``tools/call`` and
the other forwarded requests of a handshake-era session need no pydantic model on the way
and no task of the SDK's HTTP client: :class:`HttpRawChannel` writes the POST (head and
body in one write) on a keep-alive connection of its own small pool, and reads the answer
directly, a JSON body or an SSE stream, without httpx. On such a stream what comes before
the response is handled in the order the server sent it: progress for the request goes to
the caller's callback (awaited, so it reaches the client before the result), the log
entries and resource updates clients get go to the relay
(:func:`~tornadohub.upstreams.ordering.relay_in_order`), and everything else (the
server's requests of its client, other notifications) is handed to the SDK session, as if
its own transport had read it. Once the response is in, the rest of the stream (usually
just its last chunk) is read before the connection goes back to the pool. A stream that
ends or breaks before its response, after an event with an id (the priming event of
2025-11-25; SSE polling: the server closes the stream and answers later), is resumed as
the SDK's client resumes it: ``GET`` with ``Last-Event-ID`` after the server's ``retry``
delay.

Failures read as the SDK's client reports them: a 404 on a session is "Session
terminated" (so the upstream reconnects and re-sends), another error status is the
server's JSON-RPC error when its body has one, else "Server returned an error response".
What the channel does not handle (a redirect, a 401 that OAuth may answer) raises
:class:`RawUnavailable` before the server did anything with the request, and the
request goes through the SDK session instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final
from urllib.parse import urlsplit

import anyio
import mcp_types as types
from mcp import MCPError
from mcp.shared.dispatcher import ProgressFnT

from tornadohub import jsontext
from tornadohub.upstreams.raw import RawChannel, cancel_note, reply_result

log = logging.getLogger("tornadohub.upstream")

#: The SDK client's bound on one SSE event (``max_sse_event_size``), kept alike.
MAX_EVENT_BYTES: Final = 1024 * 1024
#: A JSON body or a chunk larger than this is refused (the server is misbehaving).
MAX_BODY_BYTES: Final = 64 * 1024 * 1024
#: Idle connections kept per upstream; more are closed after use.
MAX_IDLE: Final = 64
#: How long the end of a stream may take, after its response, to save the connection.
DRAIN_SECONDS: Final = 2.0
#: Bound on connecting and on the courtesy ``notifications/cancelled``.
CONNECT_SECONDS: Final = 30.0
CANCEL_SECONDS: Final = 1.0
#: The SDK client's resumption: its delay when the server named none, and how many
#: failed attempts in a row end the request.
RESUME_DELAY_MS: Final = 1000
RESUME_ATTEMPTS: Final = 2

JSON_TYPE: Final = b"application/json"
SSE_TYPE: Final = b"text/event-stream"

Deliver = Callable[[dict[str, Any]], Awaitable[None]]
"""Hands a message the channel does not handle itself to the SDK session."""

Relay = Callable[[str, Mapping[str, Any] | None], bool]
"""Relays a notification clients get at once; False when it is not one of those."""

Fallback = Callable[[str, dict[str, Any], float, ProgressFnT | None], Awaitable[dict[str, Any]]]
"""Sends a request through the SDK session (method, params, timeout, progress callback)."""


class RawUnavailable(Exception):
    """The server did not take the request on this path; send it through the SDK session."""


class _Closed(Exception):
    """The connection ended before a complete answer."""


class _Connection:
    """One HTTP/1.1 connection; reused while both sides keep it alive."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.reusable = True

    @property
    def alive(self) -> bool:
        return not self.reader.at_eof() and not self.writer.is_closing()

    def close(self) -> None:
        self.reusable = False
        self.writer.close()


class _Response:
    """Status, the headers that matter, and how the body is framed."""

    __slots__ = ("status", "content_type", "length", "chunked", "keep_alive")

    def __init__(self, head: bytes) -> None:
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
            raise _Closed(f"bad status line {lines[0][:80]!r}")
        self.status = int(parts[1])
        self.content_type = b""
        self.length: int | None = None
        self.chunked = False
        self.keep_alive = parts[0] != b"HTTP/1.0"
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            key = name.strip().lower()
            if key == b"content-type":
                self.content_type = value.strip().lower()
            elif key == b"content-length":
                self.length = int(value)
            elif key == b"transfer-encoding":
                self.chunked = b"chunked" in value.lower()
            elif key == b"connection":
                token = value.strip().lower()
                if token == b"close":
                    self.keep_alive = False
                elif token == b"keep-alive":
                    self.keep_alive = True


class _Cursor:
    """Where a request's SSE stream can be resumed: its last event id, the server's delay."""

    __slots__ = ("event_id", "retry_ms")

    def __init__(self) -> None:
        self.event_id: bytes | None = None
        self.retry_ms: int | None = None


class _Body:
    """The body of one response, read piece by piece as it arrives."""

    def __init__(self, conn: _Connection, response: _Response) -> None:
        self._reader = conn.reader
        self._response = response
        self._left = response.length
        self.ended = response.length == 0 or response.status in (204, 304)

    async def read(self) -> bytes:
        """The next piece; b"" once the body ended."""
        if self.ended:
            return b""
        reader = self._reader
        if self._response.chunked:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
            if size > MAX_BODY_BYTES:
                raise _Closed("chunk too large")
            if size == 0:
                while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers
                    pass
                self.ended = True
                return b""
            data = await reader.readexactly(size + 2)
            return data[:-2]
        if self._left is not None:
            data = await reader.read(min(self._left, 256 * 1024))
            if not data:
                raise _Closed("connection closed mid-body")
            self._left -= len(data)
            self.ended = self._left == 0
            return data
        data = await reader.read(256 * 1024)  # until the server closes
        if not data:
            self.ended = True
        return data

    async def read_all(self, limit: int = MAX_BODY_BYTES) -> bytes:
        pieces: list[bytes] = []
        size = 0
        while piece := await self.read():
            size += len(piece)
            if size > limit:
                raise _Closed("body too large")
            pieces.append(piece)
        return b"".join(pieces)


class HttpRawChannel(RawChannel):
    """Plain-JSON POSTs of one Streamable HTTP upstream's session (see the module doc)."""

    def __init__(
        self,
        url: str,
        headers: Mapping[str, str],
        *,
        session_id: Callable[[], str | None],
        protocol_version: Callable[[], str | None],
        deliver: Deliver,
        relay: Relay,
        fallback: Fallback,
        ssl_context: Callable[[], ssl.SSLContext] | None = None,
    ) -> None:
        super().__init__(self._unused_write)
        parts = urlsplit(url)
        self._tls = parts.scheme == "https"
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or (443 if self._tls else 80)
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        default_port = self._port == (443 if self._tls else 80)
        host = parts.netloc.rpartition("@")[2]
        self._host_header = host if not default_port or ":" not in host else self._host
        self._static = "".join(
            f"{name}: {value}\r\n"
            for name, value in headers.items()
            if name.lower() not in _OWN_HEADERS
        )
        self._session_id = session_id
        self._protocol_version = protocol_version
        self._deliver = deliver
        self._relay = relay
        self._fallback = fallback
        #: Set once the server answered on a path this channel does not take (a redirect,
        #: a 401): from then on every request goes through the SDK session.
        self.bypassed = False
        self._ssl_factory = ssl_context
        self._ssl: ssl.SSLContext | None = None
        self._idle: list[_Connection] = []
        self._busy: set[_Connection] = set()
        self._drains: set[asyncio.Task[None]] = set()

    @staticmethod
    async def _unused_write(data: bytes) -> None:  # pragma: no cover - never called
        raise RuntimeError("HttpRawChannel writes POSTs, not lines")

    # ------------------------------------------------------------- requests
    async def request(
        self,
        method: str,
        params: dict[str, Any],
        *,
        timeout: float,
        on_progress: ProgressFnT | None = None,
    ) -> dict[str, Any]:
        """Send one request; its result, or :class:`MCPError` as the SDK raises them."""
        if self._closed:
            raise MCPError(types.CONNECTION_CLOSED, "Connection closed")
        if not self.bypassed:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            try:
                return await self._post(method, params, timeout=timeout, on_progress=on_progress)
            except RawUnavailable as exc:
                log.info("%s: %s; calls go through the SDK's client", self._host_header, exc)
                self.bypassed = True
            timeout = max(0.001, deadline - loop.time())
        return await self._fallback(method, params, timeout, on_progress)

    async def _post(
        self,
        method: str,
        params: dict[str, Any],
        *,
        timeout: float,
        on_progress: ProgressFnT | None,
    ) -> dict[str, Any]:
        request_id, message = self._new_request(method, params, on_progress)
        body = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()
        conn: _Connection | None = None
        try:
            async with asyncio.timeout(timeout):
                conn, response = await self._send(self._head(len(body)) + body)
                return await self._answer(conn, response, request_id, on_progress)
        except TimeoutError:
            await self._cancel(request_id, f"timed out after {timeout}s")
            raise MCPError(types.REQUEST_TIMEOUT, f"Request {method!r} timed out") from None
        except asyncio.CancelledError:
            await self._cancel(request_id, "caller cancelled")
            raise
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, _Closed) as exc:
            log.debug("raw POST failed: %s", exc)
            raise MCPError(types.CONNECTION_CLOSED, "Connection closed") from None
        except ValueError as exc:  # a body or an event that is not JSON
            raise MCPError(types.PARSE_ERROR, f"Failed to parse JSON response: {exc}") from None
        finally:
            if conn is not None:
                self._release(conn)

    async def _send(self, request: bytes) -> tuple[_Connection, _Response]:
        """Write the request and read its response head; once more on a fresh connection
        when a pooled one turns out closed before any byte of an answer."""
        for attempt in (1, 2):
            conn = await self._acquire(fresh=attempt == 2)
            try:
                conn.writer.write(request)
                raw = await conn.reader.readuntil(b"\r\n\r\n")
                return conn, _Response(raw)
            except (OSError, asyncio.IncompleteReadError) as exc:
                conn.close()
                self._busy.discard(conn)
                if attempt == 2 or isinstance(exc, asyncio.IncompleteReadError) and exc.partial:
                    raise
            except BaseException:  # cancelled or timed out waiting: the answer is abandoned
                conn.close()
                self._busy.discard(conn)
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _head(self, length: int) -> bytes:
        return self._request_head(
            f"POST {self._path} HTTP/1.1\r\n"
            f"Host: {self._host_header}\r\n"
            "Content-Type: application/json\r\n"
            "Accept: application/json, text/event-stream\r\n"
            f"Content-Length: {length}\r\n"
        )

    def _resume_head(self, last_event_id: bytes) -> bytes:
        head = self._request_head(
            f"GET {self._path} HTTP/1.1\r\n"
            f"Host: {self._host_header}\r\n"
            "Accept: text/event-stream\r\n"
        )
        return head[:-2] + b"Last-Event-ID: " + last_event_id + b"\r\n\r\n"

    def _request_head(self, start: str) -> bytes:
        lines = [start]
        session_id = self._session_id()
        if session_id is not None:
            lines.append(f"Mcp-Session-Id: {session_id}\r\n")
        version = self._protocol_version()
        if version is not None:
            lines.append(f"Mcp-Protocol-Version: {version}\r\n")
        lines.append(self._static)
        lines.append("\r\n")
        return "".join(lines).encode("latin-1")

    async def _answer(
        self,
        conn: _Connection,
        response: _Response,
        request_id: str,
        on_progress: ProgressFnT | None,
    ) -> dict[str, Any]:
        body = _Body(conn, response)
        conn.reusable = False  # until the whole body is read
        status = response.status
        if 300 <= status < 400 or status == 401:
            raise RawUnavailable(f"HTTP {status}")  # the body is not worth reading
        if status == 202:
            await body.read_all()
            conn.reusable = response.keep_alive
            raise MCPError(types.INVALID_REQUEST, "server answered a request with 202 Accepted")
        if status >= 400:
            text = await body.read_all()
            conn.reusable = response.keep_alive
            raise self._status_error(status, response, text)
        if response.content_type.startswith(JSON_TYPE):
            text = await body.read_all()
            conn.reusable = response.keep_alive
            return reply_result(jsontext.loads(text))
        if response.content_type.startswith(SSE_TYPE):
            cursor = _Cursor()
            try:
                reply = await self._events(body, request_id, on_progress, cursor)
            except (OSError, asyncio.IncompleteReadError, _Closed):
                if cursor.event_id is None:
                    raise
                reply = None  # the connection broke: resumed like an ended stream
            else:
                conn.reusable = response.keep_alive
            if reply is None:
                return await self._resume(request_id, on_progress, cursor)
            if not body.ended:
                self._drain(conn, body)
            return reply
        content_type = response.content_type.decode("latin-1")
        raise MCPError(types.INVALID_REQUEST, f"Unexpected content type: {content_type}")

    def _status_error(self, status: int, response: _Response, text: bytes) -> MCPError:
        if response.content_type.startswith(JSON_TYPE):
            with contextlib.suppress(ValueError):
                message = jsontext.loads(text)
                error = message.get("error") if isinstance(message, dict) else None
                if isinstance(error, dict) and "result" not in message:
                    code = error.get("code")
                    return MCPError(
                        code if isinstance(code, int) else types.INTERNAL_ERROR,
                        str(error.get("message", "")),
                        error.get("data"),
                    )
        if status == 404:
            if self._session_id() is None:
                return MCPError(types.METHOD_NOT_FOUND, "Not Found")
            return MCPError(types.INVALID_REQUEST, "Session terminated")
        return MCPError(types.INTERNAL_ERROR, "Server returned an error response")

    async def _resume(
        self, request_id: str, on_progress: ProgressFnT | None, cursor: _Cursor
    ) -> dict[str, Any]:
        """The stream ended before the response: fetch the rest (``GET`` with
        ``Last-Event-ID``) after the server's delay, as often as a resumed stream ends
        early too; :data:`RESUME_ATTEMPTS` failed attempts in a row end the request."""
        if cursor.event_id is None:
            raise MCPError(types.CONNECTION_CLOSED, "SSE stream ended without a response")
        failures = 0
        while failures < RESUME_ATTEMPTS:
            delay = cursor.retry_ms if cursor.retry_ms is not None else RESUME_DELAY_MS
            await asyncio.sleep(delay / 1000)
            conn: _Connection | None = None
            try:
                conn, response = await self._send(self._resume_head(cursor.event_id))
                body = _Body(conn, response)
                conn.reusable = False  # until the whole body is read
                if response.status == 200 and response.content_type.startswith(SSE_TYPE):
                    reply = await self._events(body, request_id, on_progress, cursor)
                    conn.reusable = response.keep_alive
                    if reply is not None:
                        if not body.ended:
                            self._drain(conn, body)
                        return reply
                    failures = 0
                    continue
                await body.read_all()
                conn.reusable = response.keep_alive
                log.debug("resuming a stream: HTTP %s", response.status)
            except (OSError, asyncio.IncompleteReadError, _Closed) as exc:
                log.debug("resuming a stream failed: %s", exc)
            finally:
                if conn is not None:
                    self._release(conn)
            failures += 1
        raise MCPError(
            types.CONNECTION_CLOSED, "SSE stream ended and reconnection attempts were exhausted"
        )

    async def _events(
        self, body: _Body, request_id: str, on_progress: ProgressFnT | None, cursor: _Cursor
    ) -> dict[str, Any] | None:
        """Read SSE events up to the response to *request_id*; handle what comes before.
        None when the stream ends first (*cursor* says where it can be resumed)."""
        pending = b""
        while True:
            piece = await body.read()
            if not piece:
                return None
            pending += piece.replace(b"\r\n", b"\n") if b"\r" in piece else piece
            while (end := pending.find(b"\n\n")) != -1:
                event, pending = pending[:end], pending[end + 2 :]
                data = _event_data(event, cursor)
                if data is None:
                    continue
                message = jsontext.loads(data)
                if not isinstance(message, dict):
                    continue
                if message.get("id") == request_id and "method" not in message:
                    return reply_result(message)
                await self._other(message, request_id, on_progress)
            if len(pending) > MAX_EVENT_BYTES:
                raise MCPError(
                    types.CONNECTION_CLOSED,
                    f"SSE stream failed: event larger than {MAX_EVENT_BYTES} bytes",
                )

    async def _other(
        self, message: dict[str, Any], request_id: str, on_progress: ProgressFnT | None
    ) -> None:
        """A message before the response: progress, a relayed notification, or the SDK's."""
        method = message.get("method")
        params = message.get("params")
        if "id" not in message and isinstance(method, str):
            if method == "notifications/progress" and isinstance(params, dict):
                if params.get("progressToken") == request_id:
                    if on_progress is not None:
                        await _report(on_progress, params)
                    return
            if self._relay(method, params if isinstance(params, dict) else None):
                return
        await self._deliver(message)

    # ---------------------------------------------------------- connections
    async def _acquire(self, *, fresh: bool = False) -> _Connection:
        while self._idle and not fresh:
            conn = self._idle.pop()
            if conn.alive:
                self._busy.add(conn)
                return conn
            conn.close()
        if self._tls and self._ssl is None and self._ssl_factory is not None:
            self._ssl = self._ssl_factory()
        async with asyncio.timeout(CONNECT_SECONDS):
            reader, writer = await asyncio.open_connection(
                self._host,
                self._port,
                ssl=self._ssl if self._tls else None,
                limit=MAX_EVENT_BYTES + 64 * 1024,
            )
        conn = _Connection(reader, writer)
        self._busy.add(conn)
        return conn

    def _release(self, conn: _Connection) -> None:
        if conn not in self._busy:
            return  # handed to a drain task
        self._busy.discard(conn)
        if conn.reusable and not self._closed and conn.alive and len(self._idle) < MAX_IDLE:
            self._idle.append(conn)
        else:
            conn.close()

    def _drain(self, conn: _Connection, body: _Body) -> None:
        """Read the end of a stream in the background, then pool the connection."""
        self._busy.discard(conn)

        async def drain() -> None:
            try:
                async with asyncio.timeout(DRAIN_SECONDS):
                    while await body.read():
                        pass
            except (TimeoutError, OSError, asyncio.IncompleteReadError, _Closed, ValueError):
                conn.reusable = False
            self._busy.add(conn)
            self._release(conn)

        task = asyncio.ensure_future(drain())
        self._drains.add(task)
        task.add_done_callback(self._drains.discard)

    async def _cancel(self, request_id: str, reason: str) -> None:
        """The courtesy ``notifications/cancelled`` (its own POST), bounded."""
        if self._closed:
            return
        body = cancel_note(request_id, reason)
        conn: _Connection | None = None
        with contextlib.suppress(Exception), anyio.CancelScope(shield=True):
            with anyio.move_on_after(CANCEL_SECONDS):
                conn, response = await self._send(self._head(len(body)) + body)
                await _Body(conn, response).read_all()
                conn.reusable = response.keep_alive
        if conn is not None:
            self._release(conn)

    def close(self) -> None:
        """The session ended: waiting requests fail; every connection is closed."""
        super().close()
        for conn in [*self._idle, *self._busy]:
            conn.close()
        self._idle.clear()
        self._busy.clear()
        for task in list(self._drains):
            task.cancel()


#: Headers the channel writes itself (a configured one of these would break the framing).
_OWN_HEADERS: Final = frozenset(
    {
        "host",
        "content-type",
        "content-length",
        "accept",
        "transfer-encoding",
        "connection",
        "mcp-session-id",
        "mcp-protocol-version",
    }
)


def _event_data(event: bytes, cursor: _Cursor) -> bytes | None:
    """The data of one SSE event (its ``data:`` lines joined), None when it has none; its
    ``id`` and ``retry`` fields go to *cursor*."""
    data: list[bytes] = []
    for line in event.split(b"\n"):
        if line.startswith(b"data:"):
            value = line[5:]
            data.append(value[1:] if value.startswith(b" ") else value)
        elif line.startswith(b"id:"):
            value = line[3:].removeprefix(b" ")
            if b"\0" not in value and b"\r" not in value:  # as EventSource ignores it
                cursor.event_id = value or None
        elif line.startswith(b"retry:"):
            value = line[6:].removeprefix(b" ")
            if value.isdigit():
                cursor.retry_ms = int(value)
    joined = b"\n".join(data)
    return joined if joined.strip() else None


async def _report(on_progress: ProgressFnT, params: dict[str, Any]) -> None:
    progress = params.get("progress")
    if isinstance(progress, bool) or not isinstance(progress, int | float):
        return
    total = params.get("total")
    message = params.get("message")
    try:
        await on_progress(
            float(progress),
            float(total) if isinstance(total, int | float) else None,
            message if isinstance(message, str) else None,
        )
    except Exception:
        log.exception("progress callback failed")
