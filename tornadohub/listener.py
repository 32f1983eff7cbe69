"""The HTTP server and its accept loop: every connection bounded in time, number and size.

* A connection must deliver a request's complete headers within ``header_timeout``
  (default 30 s) of opening or of its previous response, so idle keep-alive connections
  are closed after that long too; a body must arrive within ``body_timeout`` (default
  60 s). Responses are not timed: SSE streams and streamed replies stay open.
* At most ``max_connections`` are open at once (``--max-connections``, default 1000); at
  the cap the hub stops accepting, and the kernel's backlog holds new clients until a
  connection closes.
* ``accept()`` failing for lack of file descriptors (``EMFILE``/``ENFILE``) pauses
  accepting for a moment with one warning, instead of a loop that spins and logs a
  traceback per attempt; :func:`raise_fd_limit` makes that rarer at start-up.
* Bodies above :data:`~tornadohub.policy.MAX_BODY_BYTES` are refused by the server itself
  (handlers refuse them with a JSON 413 first when ``Content-Length`` says so); headers
  above :data:`HARD_HEADER_LIMIT` end the connection (handlers answer 431 from 64 KiB).

The port is taken first of all (:func:`bind`), before the hub is built. The gate feeds
either wire layer (``--http-server``): :class:`~tornadohub.httpfront.FrontServer`
(``httptools``, the default) or :class:`HubHTTPServer` (Tornado's own), which keep the
limits above alike.
"""

from __future__ import annotations

import errno
import logging
import resource
import socket
from collections.abc import Callable
from typing import Any, Final, Protocol

from tornado import httpserver, httputil, iostream, netutil
from tornado.ioloop import IOLoop

from tornadohub.options import ConnectionLimits
from tornadohub.policy import MAX_BODY_BYTES, MAX_HEADER_BYTES

log = logging.getLogger("tornadohub.app")


class FatalError(Exception):
    """The hub cannot run; the CLI prints the message as one line and exits 1."""


def bind(host: str, port: int) -> list[socket.socket]:
    """Bind before doing anything else, with mcp-hub's EADDRINUSE wording."""
    try:
        return netutil.bind_sockets(port, address=host)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise FatalError(f"listen EADDRINUSE: address already in use {host}:{port}") from None
        raise FatalError(f"listen {errno.errorcode.get(exc.errno or 0, 'ERROR')}: {exc}") from None


#: Headers this large end the connection unanswered; from MAX_HEADER_BYTES up, a 431.
HARD_HEADER_LIMIT: Final = 4 * MAX_HEADER_BYTES
#: How long accepting pauses after ``accept()`` ran out of file descriptors.
FD_BACKOFF_SECONDS: Final = 0.5
_OUT_OF_FDS: Final = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
_ACCEPTS_PER_WAKEUP: Final = 128
#: A warning about the same condition at most this often (the rest go to debug).
WARNING_INTERVAL: Final = 60.0


class HubHTTPServer(httpserver.HTTPServer):
    """Tornado's HTTP server with the hub's limits, fed by a :class:`ConnectionGate`."""

    def initialize(  # type: ignore[override]
        self, application: httputil.HTTPServerConnectionDelegate, limits: ConnectionLimits
    ) -> None:
        super().initialize(
            application,
            max_body_size=MAX_BODY_BYTES,
            max_header_size=HARD_HEADER_LIMIT,
            idle_connection_timeout=limits.header_timeout,
            body_timeout=limits.body_timeout,
        )
        self.limits = limits
        self.open_connections = 0
        self.on_connection_closed: Callable[[], None] | None = None

    def accept(self, connection: socket.socket, address: Any) -> None:
        """Serve an accepted (non-blocking) socket."""
        stream = iostream.IOStream(connection, max_buffer_size=MAX_BODY_BYTES * 2)
        self.handle_stream(stream, address)

    def handle_stream(self, stream: iostream.IOStream, address: tuple[Any, ...]) -> None:
        self.open_connections += 1
        super().handle_stream(stream, address)

    def on_close(self, server_conn: object) -> None:
        super().on_close(server_conn)
        self.open_connections -= 1
        if self.on_connection_closed is not None:
            self.on_connection_closed()


class GatedServer(Protocol):
    """What a :class:`ConnectionGate` feeds: :class:`HubHTTPServer` (Tornado's HTTP layer)
    or :class:`~tornadohub.httpfront.FrontServer` (``httptools``)."""

    limits: ConnectionLimits
    on_connection_closed: Callable[[], None] | None

    @property
    def open_connections(self) -> int: ...

    def accept(self, connection: socket.socket, address: Any) -> None: ...

    async def close_all_connections(self) -> None: ...


class ConnectionGate:
    """Accepts connections on the listening sockets for *server*, within its limits."""

    def __init__(self, server: GatedServer, sockets: list[socket.socket]) -> None:
        self.server = server
        self.sockets = list(sockets)
        self.io_loop = IOLoop.current()
        self._listening = False
        self._stopped = False
        self._backoff: object | None = None
        self._warned: dict[str, float] = {}
        server.on_connection_closed = self._connection_closed

    def start(self) -> None:
        for sock in self.sockets:
            sock.setblocking(False)
        self._listen()

    def stop(self) -> None:
        """Stop accepting and close the listening sockets (open connections stay)."""
        self._stopped = True
        self._unlisten()
        if self._backoff is not None:
            self.io_loop.remove_timeout(self._backoff)
            self._backoff = None
        for sock in self.sockets:
            sock.close()

    def _listen(self) -> None:
        if self._listening or self._stopped:
            return
        for sock in self.sockets:
            self.io_loop.add_handler(sock, self._accept, IOLoop.READ)
        self._listening = True

    def _unlisten(self) -> None:
        if not self._listening:
            return
        for sock in self.sockets:
            self.io_loop.remove_handler(sock)
        self._listening = False

    @property
    def _full(self) -> bool:
        return self.server.open_connections >= self.server.limits.max_connections

    def _connection_closed(self) -> None:
        if not self._full and self._backoff is None:
            self._listen()

    def _accept(self, sock: socket.socket, _events: int) -> None:
        for _ in range(_ACCEPTS_PER_WAKEUP):
            if not self._listening:
                return
            if self._full:
                self._warn(
                    "full",
                    "%d connections open (--max-connections): not accepting more until one closes",
                    self.server.open_connections,
                )
                self._unlisten()
                return
            try:
                connection, address = sock.accept()
            except BlockingIOError:
                return
            except ConnectionAbortedError:
                continue
            except OSError as exc:
                if exc.errno not in _OUT_OF_FDS:
                    raise
                self._back_off(exc)
                return
            connection.setblocking(False)
            self.server.accept(connection, address)

    def _back_off(self, exc: OSError) -> None:
        self._warn(
            "fds",
            "Cannot accept connections: %s (%d open); pausing for %g s",
            exc.strerror or exc,
            self.server.open_connections,
            FD_BACKOFF_SECONDS,
        )
        self._unlisten()
        self._backoff = self.io_loop.call_later(FD_BACKOFF_SECONDS, self._resume)

    def _warn(self, condition: str, message: str, *args: Any) -> None:
        now = self.io_loop.time()
        if now - self._warned.get(condition, -WARNING_INTERVAL) >= WARNING_INTERVAL:
            self._warned[condition] = now
            log.warning(message, *args)
        else:
            log.debug(message, *args)

    def _resume(self) -> None:
        self._backoff = None
        if not self._full:
            self._listen()


def raise_fd_limit() -> int:
    """Raise the soft ``RLIMIT_NOFILE`` to the hard limit; the soft limit in force after."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError) as exc:
            log.debug("Could not raise the file descriptor limit: %s", exc)
            return soft
        return hard
    return soft
