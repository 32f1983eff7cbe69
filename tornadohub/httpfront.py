"""The hub's HTTP/1.1 wire layer on an asyncio protocol and ``httptools``.

Why this module is long: it is one state machine, a server connection's (parsed events
delivered in order, the response framing, timers, flow control, the few places llhttp
and Tornado read a request differently); split, each half would need the other's state.

Tornado's own layer (``IOStream`` + ``HTTP1Connection``) parses headers in Python and runs
one coroutine and several futures per request; on the hot routes that is about half of a
call's CPU. :class:`FrontProtocol` parses with ``httptools`` (the llhttp parser, in C) in
the protocol's ``data_received`` and feeds **the same Tornado application** through
Tornado's own interfaces: the application is the
:class:`~tornado.httputil.HTTPServerConnectionDelegate`, each request gets an
:class:`Exchange` (an :class:`~tornado.httputil.HTTPConnection`), so every route, handler
and error runs unchanged on top. What Tornado's layer guarantees, this one keeps:

* one request in flight per connection: pipelined requests wait, parsed, until the
  response before them is finished, and are answered in order;
* the header timeout (from connection open or the previous response; also ends idle
  keep-alive connections), the body timeout, the hard header limit (the connection ends
  unanswered), the body limit (400 and close, as Tornado), keep-alive as Tornado decides
  it (HTTP/1.0, ``Connection: close``), ``Expect: 100-continue``, chunked request bodies,
  chunked responses when no ``Content-Length`` is given;
* a malformed request gets ``400 Bad Request`` and the connection closes;
* writes are flow controlled: a write's future resolves at once while the transport's
  buffer is below its high-water mark, else when it drains (``resume_writing``);
* a client that goes away reaches the delegate's ``on_connection_close`` (body not all
  read) or the exchange's close callback (response not finished), as with Tornado.

``serve --http-server tornado`` keeps Tornado's layer (:class:`~.listener.HubHTTPServer`).
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Final, cast

import httptools
from tornado import httputil
from tornado.escape import native_str
from tornado.iostream import StreamClosedError

from tornadohub.listener import HARD_HEADER_LIMIT
from tornadohub.options import ConnectionLimits
from tornadohub.policy import MAX_BODY_BYTES

gen_log = logging.getLogger("tornado.general")
app_log = logging.getLogger("tornado.application")

#: Parsed but not yet delivered body bytes above which the socket is not read further.
READ_AHEAD_BYTES: Final = 256 * 1024
#: Parsed but not yet delivered events (pipelined requests) above which likewise.
READ_AHEAD_EVENTS: Final = 1024
_BAD_REQUEST: Final = b"HTTP/1.1 400 Bad Request\r\n\r\n"
_CONTINUE: Final = b"HTTP/1.1 100 (Continue)\r\n\r\n"
_ILLEGAL: Final = frozenset("\r\n")
#: A chunk this large is written as size line, chunk, CRLF rather than copied into one
#: frame: copying a big list page per event costs more (fresh heap pages) than two writes.
_UNCOPIED_CHUNK: Final = 64 * 1024
_HEAD_END: Final = re.compile(rb"\r?\n\r?\n")

# Parsed events, delivered in order by FrontProtocol._pump.
_HEADERS: Final = 0
_BODY: Final = 1
_END: Final = 2
_ERROR: Final = 3


class RequestContext:
    """What :class:`~tornado.httputil.HTTPServerRequest` reads from a connection's context."""

    def __init__(self, address: Any, family: int) -> None:
        self.address = address
        self.address_family = family
        inet = family in (socket.AF_INET, socket.AF_INET6) and address is not None
        self.remote_ip = address[0] if inet else "0.0.0.0"
        self.protocol = "http"
        self.trusted_downstream: set[str] = set()

    def __str__(self) -> str:
        return str(self.remote_ip)


class Exchange(httputil.HTTPConnection):
    """One request and its response on a :class:`FrontProtocol` connection."""

    def __init__(
        self,
        front: FrontProtocol,
        start_line: httputil.RequestStartLine,
        headers: httputil.HTTPHeaders,
    ) -> None:
        self.front = front
        self.context = front.context
        self.start_line = start_line
        self.request_headers = headers
        self.keep_alive = _can_keep_alive(start_line, headers)
        self.max_body_size = front.server.max_body_size
        self.body_timeout = front.server.limits.body_timeout
        self.close_callback: Callable[[], None] | None = None
        self.delegate: httputil.HTTPMessageDelegate | None = None
        self.read_finished = False
        self.write_finished = False
        self.chunking = False
        self.remaining: int | None = None
        self.body_size = 0

    # ------------------------------------------------------------ HTTPConnection
    def set_close_callback(self, callback: Callable[[], None] | None) -> None:
        self.close_callback = callback

    def set_body_timeout(self, timeout: float) -> None:
        self.body_timeout = timeout

    def set_max_body_size(self, max_body_size: int) -> None:
        self.max_body_size = max_body_size

    def close(self) -> None:
        """End the connection without (the rest of) a response, as ``HTTP1Connection.close``."""
        self.front.close()

    def write_headers(
        self,
        start_line: httputil.RequestStartLine | httputil.ResponseStartLine,
        headers: httputil.HTTPHeaders,
        chunk: bytes | None = None,
    ) -> asyncio.Future[None]:
        assert isinstance(start_line, httputil.ResponseStartLine)
        request = self.start_line
        code = start_line.code
        self.chunking = (
            request.version == "HTTP/1.1"
            and request.method != "HEAD"
            and code not in (204, 304)
            and not 100 <= code < 200
            and "Content-Length" not in headers
        )
        if request.version == "HTTP/1.1" and not self.keep_alive:
            headers["Connection"] = "close"
        if (
            request.version == "HTTP/1.0"
            and self.request_headers.get("Connection", "").lower() == "keep-alive"
        ):
            headers["Connection"] = "Keep-Alive"
        if self.chunking:
            headers["Transfer-Encoding"] = "chunked"
        if request.method == "HEAD" or code == 304:
            self.remaining = 0
        elif "Content-Length" in headers:
            self.remaining = int(headers["Content-Length"])
        else:
            self.remaining = None
        lines = [f"HTTP/1.1 {code} {start_line.reason}"]
        lines.extend(f"{native_str(n)}: {native_str(v)}" for n, v in headers.get_all())
        for line in lines:
            if not _ILLEGAL.isdisjoint(line):
                raise ValueError(f"Illegal characters (CR or LF) in header: {line!r}")
        data = "\r\n".join(lines).encode("latin1") + b"\r\n\r\n"
        if chunk:
            data += self._frame(chunk)
        return self.front.send(data)

    def write(self, chunk: bytes) -> asyncio.Future[None]:
        if self.chunking and len(chunk) >= _UNCOPIED_CHUNK:
            self._count(chunk)
            return self.front.send(b"%x\r\n" % len(chunk), chunk, b"\r\n")
        return self.front.send(self._frame(chunk))

    def finish(self) -> None:
        if self.remaining is not None and self.remaining != 0 and not self.front.closed:
            self.front.close()
            raise httputil.HTTPOutputError(
                f"Tried to write {self.remaining} bytes less than Content-Length"
            )
        if self.chunking and not self.front.closed:
            self.front.send(b"0\r\n\r\n")
        self.write_finished = True
        if not self.read_finished:
            self.keep_alive = False  # the rest of the body is not read: close instead
        self.front.response_finished(self)

    def _frame(self, chunk: bytes) -> bytes:
        self._count(chunk)
        if self.chunking and chunk:
            return b"%x\r\n%b\r\n" % (len(chunk), chunk)
        return chunk

    def _count(self, chunk: bytes) -> None:
        if self.remaining is not None:
            self.remaining -= len(chunk)
            if self.remaining < 0:
                self.front.close()
                raise httputil.HTTPOutputError("Tried to write more data than Content-Length")


def _can_keep_alive(start_line: httputil.RequestStartLine, headers: httputil.HTTPHeaders) -> bool:
    """Tornado's rule: HTTP/1.1 unless ``Connection: close``; HTTP/1.0 only when asked."""
    connection = headers.get("Connection")
    if connection is not None:
        connection = connection.lower()
    if start_line.version == "HTTP/1.1":
        return connection != "close"
    if (
        "Content-Length" in headers
        or headers.get("Transfer-Encoding", "").lower() == "chunked"
        or start_line.method in ("HEAD", "GET")
    ):
        return connection == "keep-alive"
    return False


class FrontProtocol(asyncio.Protocol):
    """One client connection: parse with ``httptools``, serve one request at a time."""

    def __init__(self, server: FrontServer, address: Any) -> None:
        self.server = server
        self.loop = server.loop
        self.address = address
        self.context: RequestContext = RequestContext(address, socket.AF_INET)
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.events: deque[tuple[int, Any]] = deque()
        self.queued_bytes = 0
        self.reading_paused = False
        self.parse_failed = False
        self.pumping = False
        self.closed = False
        self.writing_paused = False
        self.drain_waiters: list[asyncio.Future[None]] = []
        self.current: Exchange | None = None
        self.waiting: Awaitable[None] | None = None
        self.next_after_drain = False
        self.header_timer: asyncio.TimerHandle | None = None
        self.body_timer: asyncio.TimerHandle | None = None
        self.done: asyncio.Future[None] = self.loop.create_future()
        #: What a write returns while the transport takes more: one resolved future.
        self.written: asyncio.Future[None] = self.loop.create_future()
        self.written.set_result(None)
        # The request being parsed.
        self.url = b""
        self.header_list: list[tuple[bytes, bytes]] = []
        self.header_bytes = 0
        self.in_headers = False
        self.unparsed_header_bytes = 0
        self.last_headers = httputil.HTTPHeaders()
        self.body_left = 0
        self.in_message = False
        self.messages_begun = 0
        self.other_method_head: bytes | None = None

    # ----------------------------------------------------------- asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses; both have its methods.
        self.transport = cast(asyncio.Transport, transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            self.context = RequestContext(self.address, sock.family)
        self._start_header_timer()

    def data_received(self, data: bytes) -> None:
        if self.parse_failed:
            return
        self._feed(data)
        # Headers still incomplete count as they arrive (llhttp holds a header it has not
        # finished); complete ones as parsed.
        self.unparsed_header_bytes = (
            self.unparsed_header_bytes + len(data) if self.in_headers else 0
        )
        if max(self.header_bytes, self.unparsed_header_bytes) > HARD_HEADER_LIMIT:
            self.close()
            return
        self._pump()
        if self._too_much_queued() and not self.reading_paused and self.transport:
            self.reading_paused = True
            self.transport.pause_reading()

    def _feed(self, data: bytes) -> None:
        if self.other_method_head is not None:
            data = self._other_method(data)
        if self.body_left:
            body, data = data[: self.body_left], data[self.body_left :]
            self.body_left -= len(body)
            self.on_body(body)
            if self.body_left:
                return
            self.on_message_complete()
        if not data:
            return
        fresh, begun = not self.in_message, self.messages_begun
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            self._ignore_upgrade(data[exc.args[0] :])
        except httptools.HttpParserInvalidMethodError as exc:
            if fresh and self.messages_begun == begun + 1:  # the request starts *data*
                self.other_method_head = b""
                self._feed(data)
            else:
                self._parse_error(exc)
        except httptools.HttpParserError as exc:
            self._parse_error(exc)

    def _parse_error(self, error: Exception) -> None:
        self.parse_failed = True
        self.events.append((_ERROR, error))

    def _other_method(self, data: bytes) -> bytes:
        """A method llhttp does not know (Tornado takes any token; the application answers
        405): this request's head is parsed as Tornado parses it, then llhttp goes on."""
        assert self.other_method_head is not None
        head = self.other_method_head + data
        end = _HEAD_END.search(head)
        if end is None:
            self.other_method_head = head
            return b""
        self.other_method_head = None
        self.in_message = False
        self.parser = httptools.HttpRequestParser(self)
        text = head[: end.end()].decode("latin1").lstrip("\r\n")
        eol = text.find("\n")
        try:
            start = httputil.parse_request_start_line(text[:eol].rstrip("\r"))
            headers = httputil.HTTPHeaders.parse(text[eol:])
            length = int(headers.get("Content-Length") or 0)
        except (httputil.HTTPInputError, ValueError) as exc:
            self._parse_error(exc)
            return b""
        if headers.get("Transfer-Encoding") is not None:
            self._parse_error(httputil.HTTPInputError("chunked body with an unknown method"))
            return b""
        self.events.append((_HEADERS, (start, headers)))
        self._headers_in()
        if length:
            self.body_left = length
        else:
            self.on_message_complete()
        return head[end.end() :]

    def _ignore_upgrade(self, rest: bytes) -> None:
        """Tornado ignores ``Upgrade`` (an h2c offer, say): the request is an ordinary one.
        llhttp took it as bodiless and stopped; read its body here, then parse on."""
        headers = self.last_headers
        if headers.get("Transfer-Encoding") is not None:
            self._parse_error(httputil.HTTPInputError("chunked body with Upgrade"))
            return
        self.parser = httptools.HttpRequestParser(self)
        length = int(headers.get("Content-Length") or 0)
        if length:
            self.events.pop()  # its end: the body comes first
            self.body_left = length
        if rest:
            self._feed(rest)

    def eof_received(self) -> bool | None:
        return None  # close (Tornado's IOStream ends the connection on EOF too)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._cancel_timers()
        for waiter in self.drain_waiters:
            if not waiter.done():
                waiter.set_exception(StreamClosedError())
                waiter.exception()
        self.drain_waiters.clear()
        exchange, self.current = self.current, None
        self.events.clear()
        if exchange is not None and not exchange.write_finished:
            if not exchange.read_finished:
                if exchange.delegate is not None:
                    self._guard(exchange.delegate.on_connection_close)
            elif exchange.close_callback is not None:
                callback, exchange.close_callback = exchange.close_callback, None
                self._guard(callback)
        if not self.done.done():
            self.done.set_result(None)
        self.server.connection_closed(self)

    def pause_writing(self) -> None:
        self.writing_paused = True

    def resume_writing(self) -> None:
        self.writing_paused = False
        waiters, self.drain_waiters = self.drain_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)
        if self.next_after_drain:
            self.next_after_drain = False
            self._next_request()

    # --------------------------------------------------------- parser callbacks
    def on_message_begin(self) -> None:
        self.in_message = True
        self.messages_begun += 1
        self.url = b""
        self.header_list = []
        self.header_bytes = 0
        self.in_headers = True

    def on_url(self, url: bytes) -> None:
        self.url += url
        self.header_bytes += len(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self.header_list.append((name, value))
        self.header_bytes += len(name) + len(value) + 4

    def on_headers_complete(self) -> None:
        headers = httputil.HTTPHeaders()
        for name, value in self.header_list:  # llhttp keeps trailing whitespace
            headers.add(name.decode("latin1"), value.rstrip(b" \t").decode("latin1"))
        version = self.parser.get_http_version()
        method = self.parser.get_method().decode("latin1")
        start = httputil.RequestStartLine(method, self.url.decode("latin1"), f"HTTP/{version}")
        self.events.append((_HEADERS, (start, headers)))
        self.last_headers = headers
        self.header_list = []
        self._headers_in()

    def _headers_in(self) -> None:
        self.in_headers = False
        if self.header_timer is not None:
            self.header_timer.cancel()
            self.header_timer = None

    def on_body(self, body: bytes) -> None:
        self.events.append((_BODY, body))
        self.queued_bytes += len(body)

    def on_message_complete(self) -> None:
        self.in_message = False
        self.events.append((_END, None))

    # ------------------------------------------------------------------ serving
    def _pump(self) -> None:
        """Deliver parsed events in order while nothing waits (a delegate's future, or
        the response of the request in flight)."""
        if self.pumping:
            return  # called back from a delegate inside the loop below: it goes on
        self.pumping = True
        try:
            self._deliver()
        finally:
            self.pumping = False
        if self.reading_paused and not self._too_much_queued() and self.transport:
            self.reading_paused = False
            self.transport.resume_reading()

    def _too_much_queued(self) -> bool:
        return self.queued_bytes > READ_AHEAD_BYTES or len(self.events) > READ_AHEAD_EVENTS

    def _deliver(self) -> None:
        events = self.events
        while events and self.waiting is None and not self.closed:
            kind, payload = events[0]
            exchange = self.current
            if kind == _HEADERS:
                if exchange is not None:
                    return  # the request before it is not answered yet
                events.popleft()
                self._start(*payload)
            elif kind == _BODY:
                events.popleft()
                self.queued_bytes -= len(payload)
                if exchange is not None:
                    self._body(exchange, payload)
            elif kind == _END:
                if exchange is None:
                    events.popleft()
                    continue
                if exchange.read_finished:
                    return
                events.popleft()
                self._end(exchange)
            else:
                if exchange is not None and exchange.read_finished:
                    return  # a malformed request after this one: answer this one first
                events.popleft()
                self._bad_request(exchange, payload)

    def _start(self, start_line: httputil.RequestStartLine, headers: httputil.HTTPHeaders) -> None:
        if not start_line.version.startswith("HTTP/1."):
            self._bad_request(None, httputil.HTTPInputError("Malformed HTTP version"))
            return
        exchange = self.current = Exchange(self, start_line, headers)
        delegate = exchange.delegate = self.server.delegate.start_request(self.server, exchange)
        if not self._call(exchange, delegate.headers_received, start_line, headers):
            return
        if self.waiting is not None:
            self._then(self._after_headers, exchange)
        else:
            self._after_headers(exchange)

    def _after_headers(self, exchange: Exchange) -> None:
        if self.closed or exchange is not self.current:
            return
        headers = exchange.request_headers
        length = headers.get("Content-Length")
        if length is not None:
            try:
                size = int(length)
            except ValueError:
                size = -1
            if size > exchange.max_body_size:
                self._bad_request(exchange, httputil.HTTPInputError("Content-Length too long"))
                return
        if headers.get("Expect") == "100-continue" and not exchange.write_finished:
            self.send(_CONTINUE)
        if exchange.body_timeout and not exchange.read_finished:
            self.body_timer = self.loop.call_later(
                exchange.body_timeout, self._body_timed_out, exchange
            )

    def _body(self, exchange: Exchange, chunk: bytes) -> None:
        exchange.body_size += len(chunk)
        if exchange.body_size > exchange.max_body_size:
            self._bad_request(exchange, httputil.HTTPInputError("body too large"))
            return
        if exchange.write_finished or exchange.delegate is None:
            return
        self._call(exchange, exchange.delegate.data_received, chunk)

    def _end(self, exchange: Exchange) -> None:
        exchange.read_finished = True
        if self.body_timer is not None:
            self.body_timer.cancel()
            self.body_timer = None
        if not exchange.write_finished and exchange.delegate is not None:
            self._call(exchange, exchange.delegate.finish)
        elif exchange.write_finished:
            self._next_request()

    def _call(self, exchange: Exchange, method: Callable[..., Any], *args: Any) -> bool:
        """Call a delegate method as Tornado does: an exception is logged and ends the
        connection; an awaitable result holds further events until it resolves."""
        try:
            result = method(*args)
        except httputil.HTTPInputError as exc:  # e.g. no Host header: Tornado's 400
            self._bad_request(exchange, exc)
            return False
        except Exception:
            app_log.error("Uncaught exception", exc_info=True)
            self.close()
            return False
        if result is not None:
            future = asyncio.ensure_future(result)
            if not future.done():
                self.waiting = future
                future.add_done_callback(self._resume)
            elif future.exception() is not None:
                app_log.error("Uncaught exception", exc_info=future.exception())
                self.close()
                return False
        return True

    def _then(self, step: Callable[[Exchange], None], exchange: Exchange) -> None:
        waiting = self.waiting
        assert isinstance(waiting, asyncio.Future)
        waiting.add_done_callback(lambda _future: step(exchange))

    def _resume(self, future: asyncio.Future[Any]) -> None:
        self.waiting = None
        if not future.cancelled() and future.exception() is not None:
            app_log.error("Uncaught exception", exc_info=future.exception())
            self.close()
            return
        self.loop.call_soon(self._pump)

    def _bad_request(self, exchange: Exchange | None, error: Exception) -> None:
        """Tornado's answer to a malformed message: 400, then the connection ends."""
        gen_log.info("Malformed HTTP message from %s: %s", self.context, error)
        if exchange is not None and not exchange.read_finished and exchange.delegate:
            exchange.read_finished = True
            self._guard(exchange.delegate.on_connection_close)
        if self.transport is not None and not self.closed:
            self.transport.write(_BAD_REQUEST)
        self.close()

    def response_finished(self, exchange: Exchange) -> None:
        if exchange is not self.current:
            return
        if not exchange.keep_alive:
            self.close()
            return
        if not exchange.read_finished:
            return  # the body is still arriving; the next request follows its end
        if self.writing_paused:
            self.next_after_drain = True
            return
        self._next_request()

    def _next_request(self) -> None:
        self.current = None
        if self.closed:
            return
        if not any(kind == _HEADERS for kind, _payload in self.events):
            self._start_header_timer()
        self._pump()

    # ------------------------------------------------------------------ writing
    def send(self, data: bytes, *more: bytes) -> asyncio.Future[None]:
        """Write *data* (then *more*); the future resolves when the transport takes more (at
        once unless it paused writing), or fails with ``StreamClosedError``."""
        if self.closed or self.transport is None or self.transport.is_closing():
            failed: asyncio.Future[None] = self.loop.create_future()
            failed.set_exception(StreamClosedError())
            failed.exception()
            return failed
        self.transport.write(data)
        for piece in more:
            self.transport.write(piece)
        if not self.writing_paused:
            return self.written
        future: asyncio.Future[None] = self.loop.create_future()
        self.drain_waiters.append(future)
        return future

    def close(self) -> None:
        """End the connection (buffered output is still sent)."""
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()
        self._cancel_timers()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    # ------------------------------------------------------------------- timers
    def _start_header_timer(self) -> None:
        if self.header_timer is None and not self.closed:
            self.header_timer = self.loop.call_later(
                self.server.limits.header_timeout, self._header_timed_out
            )

    def _header_timed_out(self) -> None:
        self.header_timer = None
        self.abort()  # as Tornado: output a client never read does not hold the slot

    def _body_timed_out(self, exchange: Exchange) -> None:
        self.body_timer = None
        if exchange is self.current and not exchange.read_finished:
            gen_log.info("Timeout reading body from %s", self.context)
            self.abort()

    def _cancel_timers(self) -> None:
        for timer in (self.header_timer, self.body_timer):
            if timer is not None:
                timer.cancel()
        self.header_timer = self.body_timer = None

    def _guard(self, callback: Callable[[], Any]) -> None:
        try:
            callback()
        except Exception:
            app_log.error("Uncaught exception", exc_info=True)


class FrontServer:
    """The connections served by :class:`FrontProtocol`, fed by a
    :class:`~.listener.ConnectionGate` (same interface as :class:`~.listener.HubHTTPServer`)."""

    def __init__(
        self,
        delegate: httputil.HTTPServerConnectionDelegate,
        limits: ConnectionLimits,
        *,
        max_body_size: int = MAX_BODY_BYTES,
    ) -> None:
        self.delegate = delegate
        self.limits = limits
        self.max_body_size = max_body_size
        self.loop = asyncio.get_running_loop()
        self.connections: set[FrontProtocol] = set()
        self.on_connection_closed: Callable[[], None] | None = None
        self._starting: set[asyncio.Task[Any]] = set()

    def accept(self, sock: socket.socket, address: Any) -> None:
        """Serve an accepted (non-blocking) socket."""
        protocol = FrontProtocol(self, address)
        self.connections.add(protocol)
        task = self.loop.create_task(self.loop.connect_accepted_socket(lambda: protocol, sock))
        self._starting.add(task)
        task.add_done_callback(lambda done: self._started(done, protocol, sock))

    def _started(
        self, task: asyncio.Task[Any], protocol: FrontProtocol, sock: socket.socket
    ) -> None:
        self._starting.discard(task)
        if task.cancelled() or task.exception() is not None:
            sock.close()
            if not protocol.closed:
                protocol.closed = True
                self.connection_closed(protocol)

    @property
    def open_connections(self) -> int:
        return len(self.connections)

    def connection_closed(self, protocol: FrontProtocol) -> None:
        if protocol in self.connections:
            self.connections.discard(protocol)
            if self.on_connection_closed is not None:
                self.on_connection_closed()

    def on_close(self, server_conn: object) -> None:
        """Tornado's server-connection hook; unused here."""

    async def close_all_connections(self) -> None:
        """Close every connection and wait until each has closed."""
        for task in list(self._starting):
            await asyncio.gather(task, return_exceptions=True)
        waiting = [protocol.done for protocol in self.connections]
        for protocol in list(self.connections):
            protocol.abort()  # as Tornado's close: unsent output is dropped
        if waiting:
            await asyncio.gather(*waiting, return_exceptions=True)
