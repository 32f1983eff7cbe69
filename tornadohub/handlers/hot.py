"""The hot routes: a tool call's request served on Tornado's HTTP/1.1 layer directly.

``POST /api/servers/tools``, ``POST /mcp`` and ``POST /messages`` carry almost every call a
client makes. Served by a :class:`~tornado.web.RequestHandler` each costs a handler object,
its default headers, the streamed-body handshake of :class:`~.base.HubHandler`, ``prepare``,
``finish`` and the log hook, about as much CPU as the rest of the call. :class:`HotRequest`
is the :class:`~tornado.httputil.HTTPMessageDelegate` the application gives these requests
instead (:class:`HubApplication`): it applies the same edge policy and API keys when the
headers are in, reads the body, and answers what it can itself:

* REST: a ``tools/call`` with a JSON body naming ``server_name`` and ``tool`` (the answer,
  or the error envelope, exactly as :class:`~.servers.ToolCallHandler` writes them);
* ``/mcp`` and ``/messages``: what :mod:`tornadohub.mcp.fastpath` takes (``tools/call`` of
  an initialized handshake-era session), on the transport's own stream logic.

Everything else (a refusal of the policy or of the keys, a stopping hub, a body the fast
path does not take, any other request) goes to the route's handler unchanged, which sees
the same headers and body: when the headers already decide it, at once; when only the
body does, replayed. Responses carry the headers the handlers send (``Server``, ``Date``,
``Content-Type``, CORS), and requests are counted and logged under the handler's name.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Iterator, Mapping
from http.client import responses as HTTP_REASONS
from typing import Any, Final, cast

import pydantic_core
import tornado
from tornado import httputil, web
from tornado.iostream import StreamClosedError

from tornadohub import jsontext, metrics
from tornadohub.appstate import APP_STATE, AppState
from tornadohub.clock import iso_now
from tornadohub.cluster.hop import NODE_HEADER
from tornadohub.errors import HubError
from tornadohub.handlers.base import HubHandler
from tornadohub.handlers.mcp import LegacyMessagesHandler, McpHandler
from tornadohub.handlers.servers import ToolCallHandler
from tornadohub.keys import presented_token
from tornadohub.mcp.fastpath import FastCall
from tornadohub.mcp.http import McpRequestError, accepted_types
from tornadohub.mcp.mailbox import IDLE, Closed, Idle, StreamEvent
from tornadohub.mcp.sessions import Session
from tornadohub.mcp.streams import encode, relay
from tornadohub.mcp.transport import McpTransport
from tornadohub.policy import JsonBodyError, parse_json

log = logging.getLogger("tornadohub.api")
app_log = logging.getLogger("tornado.application")

#: The routes served here, and the handler that serves whatever is not taken.
HOT_ROUTES: Final[dict[str, type[HubHandler]]] = {
    "/api/servers/tools": ToolCallHandler,
    "/mcp": McpHandler,
    "/messages": LegacyMessagesHandler,
}
SERVER_HEADER: Final = f"TornadoServer/{tornado.version}"
API_HEADERS: Final = {
    "Content-Type": "application/json; charset=utf-8",
    "Cache-Control": "no-store",
}
JSON_TYPE: Final = "application/json"

#: The current second and its HTTP date, reused by :func:`http_date`.
_date: tuple[int, str] = (-1, "")


def http_date() -> str:
    """``Date`` header value, formatted once per second."""
    global _date
    now = int(time.time())
    if _date[0] != now:
        _date = (now, httputil.format_timestamp(now))
    return _date[1]


class HubApplication(web.Application):
    """The hub's application: the hot routes' POSTs go to :class:`HotRequest`."""

    def find_handler(self, request: httputil.HTTPServerRequest, **kwargs: Any) -> Any:
        if request.method == "POST":
            handler = HOT_ROUTES.get(request.path)
            if handler is not None:
                return HotRequest(self, request, handler)
        return super().find_handler(request, **kwargs)


class HotRequest(httputil.HTTPMessageDelegate):
    """One POST of a hot route (see the module doc)."""

    def __init__(
        self,
        app: HubApplication,
        request: httputil.HTTPServerRequest,
        handler: type[HubHandler],
    ) -> None:
        self.app = app
        self.request = request
        self.connection = cast(Any, request.connection)
        self.handler = handler
        self.fallback: httputil.HTTPMessageDelegate | None = None
        self.start_line: httputil.RequestStartLine | None = None
        self.chunks: list[bytes] = []
        self.principal: str | None = None
        self.status = 200
        self.task: asyncio.Task[None] | None = None
        #: A fast ``/mcp`` call's response stream, while no task relays it.
        self.stream: _FastStream | None = None
        self.streaming = False
        self.finished = False

    # --------------------------------------------------- HTTPMessageDelegate
    def headers_received(
        self,
        start_line: httputil.RequestStartLine | httputil.ResponseStartLine,
        headers: httputil.HTTPHeaders,
    ) -> Awaitable[None] | None:
        assert isinstance(start_line, httputil.RequestStartLine)
        self.start_line = start_line
        if not self._admitted(headers):
            self.fallback = self._standard()
            return self.fallback.headers_received(start_line, headers)
        return None

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        if self.fallback is not None:
            return self.fallback.data_received(chunk)
        self.chunks.append(chunk)
        return None

    def finish(self) -> None:
        if self.fallback is not None:
            self.fallback.finish()
            return
        body = b"".join(self.chunks)
        if self.handler is ToolCallHandler:
            self.task = asyncio.ensure_future(self._serve(body))
            return
        # /mcp and /messages are decided here, in the read callback: a call the fast path
        # takes starts without a task of its own to get there (one loop turn less at C=1).
        started: bool | None = False  # stays False when the guard answered a failure
        with self._guarded():
            started = self._mcp_start(body)
        if started is None:
            self.task = asyncio.ensure_future(self._serve(body))

    def on_connection_close(self) -> None:
        if self.fallback is not None:
            self.fallback.on_connection_close()
        elif self.handler is not ToolCallHandler and self.task is not None:
            # As McpBaseHandler: the exchange ends (a handshake call itself runs on, as in
            # the kernel). A REST call runs to its end, as Tornado runs a handler.
            if not self.task.done():
                self.task.cancel()
        elif self.stream is not None:
            self.finished = True
            self.stream.close()

    # ------------------------------------------------------------- admission
    def _admitted(self, headers: httputil.HTTPHeaders) -> bool:
        """Whether the route's handler would let these headers through, and the hub works."""
        state = self.state
        if not state.hub.accepting_work:
            return False
        request = self.request
        header_bytes = len(request.method or "") + len(request.uri or "") + 12
        header_bytes += sum(len(name) + len(value) + 4 for name, value in headers.get_all())
        refusal = state.policy.refusal(
            "POST",
            headers,
            exempt=self.handler.exempt_from,
            header_bytes=header_bytes,
            check_body=True,
        )
        if refusal is not None:
            return False
        keys = state.keys
        if keys is not None and self.handler.auth_required:
            token = presented_token(headers.get("Authorization"), headers.get("X-API-Key"))
            key = keys.authenticate(token) if token is not None else None
            if key is None:
                return False  # the handler answers (and counts) the 401
            self.principal = key.name
            metrics.auth_accepted(key.name)
        return True

    @property
    def state(self) -> AppState:
        return cast(AppState, self.app.settings[APP_STATE])

    def _standard(self) -> httputil.HTTPMessageDelegate:
        return cast(
            httputil.HTTPMessageDelegate, web.Application.find_handler(self.app, self.request)
        )

    async def _replay(self, body: bytes) -> None:
        """Hand the request to its route's handler, as if it had come to it directly."""
        assert self.start_line is not None
        delegate = self.fallback = self._standard()
        ready = delegate.headers_received(self.start_line, self.request.headers)
        if ready is not None:
            await ready
        if body:
            pending = delegate.data_received(body)
            if pending is not None:
                await pending
        delegate.finish()

    # ---------------------------------------------------------------- serving
    @contextlib.contextmanager
    def _guarded(self) -> Iterator[None]:
        """What escapes a task serving this request: a client gone, or a 500 when nothing
        was sent yet."""
        try:
            yield
        except asyncio.CancelledError:
            self.finished = True  # the client went away
        except StreamClosedError:
            log.debug("%s %s: client went away", self.request.method, self.request.path)
        except Exception:
            app_log.error(
                "Uncaught exception %s %s", self.request.method, self.request.uri, exc_info=True
            )
            if not self.finished and not self.streaming:
                self._api_error(500, "Internal server error", "INTERNAL_ERROR", {})

    async def _serve(self, body: bytes) -> None:
        with self._guarded():
            served = self.handler is ToolCallHandler and await self._rest(body)
            if not served:
                await self._replay(body)

    # ------------------------------------------------------------------- REST
    async def _rest(self, body: bytes) -> bool:
        """``POST /api/servers/tools`` as :class:`~.servers.ToolCallHandler` answers it."""
        if not body.strip():
            return False
        try:
            decoded = parse_json(body)
        except JsonBodyError:
            return False
        if not isinstance(decoded, dict):
            return False
        name, tool = decoded.get("server_name"), decoded.get("tool")
        if not isinstance(name, str) or not name or not isinstance(tool, str) or not tool:
            return False
        hub = self.state.hub
        try:
            result = await hub.call_tool(
                name, tool, decoded.get("arguments", {}), decoded.get("request_options")
            )
        except HubError as exc:
            self._api_error(exc.status, exc.message, exc.code, exc.data)
            return True
        payload = {"result": result, "timestamp": iso_now()}
        self._reply(200, json.dumps(payload, separators=(",", ":")).encode(), API_HEADERS)
        return True

    def _api_error(self, status: int, message: str, code: str | int, data: Any) -> None:
        body = {"error": message, "code": code, "data": data, "timestamp": iso_now()}
        self._reply(status, json.dumps(body, separators=(",", ":")).encode(), API_HEADERS)

    # -------------------------------------------------------------------- MCP
    def _mcp_start(self, body: bytes) -> bool | None:
        """Start a ``tools/call`` the fast path takes: ``/mcp`` (handshake era) or
        ``/messages``; None when it does not take it. Legacy: the 202 is written and the
        call runs on; ``/mcp``: the request's task relays its stream."""
        transport = self.state.transport
        headers = self.request.headers
        try:
            # Refuses lone surrogates and nesting past ~200 levels itself; NaN too, here, and
            # 1e999 (read as infinity) below, so that what the fast path leaves is what the
            # handler's parser answers -32700.
            decoded = pydantic_core.from_json(body, allow_inf_nan=False)
        except ValueError:
            return None
        if not isinstance(decoded, dict) or not jsontext.finite(decoded):
            return None
        service = transport.service
        if self.handler is LegacyMessagesHandler:
            return self._legacy(transport, decoded) or None
        if headers.get("Mcp-Protocol-Version") not in (None, *_HANDSHAKE):
            return None
        json_ok, sse_ok = accepted_types(headers.get("Accept"))
        content_type = headers.get("Content-Type", "").split(";")[0].strip().lower()
        if not (json_ok and sse_ok) or content_type != JSON_TYPE:
            return None
        if len(body) > service.config.max_body:
            return None
        session = service.session(headers.get("Mcp-Session-Id") or "")
        if (
            not isinstance(session, Session)  # another node's session goes to the handler
            or session.legacy
            or session.view is not service.view(None)
            or session.owner != self.principal
        ):
            return None
        call = service.fast.prepare(session, decoded)
        if call is None:
            return None
        session.last_used = time.monotonic()
        # The request's mailbox opens here; its response is written in the step that routes
        # it, without a task of the request's own (two loop turns less at C=1). A relay task
        # starts only if the call streams (progress, a log, a request of the server's) or
        # stays quiet for a keep-alive. The call outlives a client that goes away, as in the
        # kernel: its answer may still be resumed (GET + Last-Event-ID) or is dropped.
        self.stream = _FastStream(self, session, call)
        _spawn(_quietly(service.fast.answer(call)))
        return True

    def _legacy(self, transport: McpTransport, decoded: dict[str, Any]) -> bool:
        service = transport.service
        session_id = self.request.query_arguments.get("sessionId")
        if not session_id or len(session_id) != 1:
            return False
        session = service.session(session_id[0].decode("latin-1"))
        if not isinstance(session, Session) or not session.legacy:
            return False
        if session.owner != self.principal:
            return False
        if len(b"".join(self.chunks)) > service.config.max_body:
            return False
        call = service.fast.prepare(session, decoded)
        if call is None:
            return False
        session.last_used = time.monotonic()
        self._reply(202, b"Accepted", {})
        _spawn(_legacy_call(service.fast.answer, session, call))
        return True

    def _mcp_error(self, error: McpRequestError) -> None:
        headers = {**error.headers, "Content-Type": error.content_type}
        self._reply(error.status, error.body(), headers)

    # --------------------------------------------------------- ResponseWriter
    def reply(self, status: int, body: bytes | None, headers: Mapping[str, str]) -> None:
        self._reply(status, body or b"", headers)

    async def open_stream(self, headers: Mapping[str, str]) -> None:
        self.streaming = True
        self.status = 200
        written = self.connection.write_headers(
            httputil.ResponseStartLine("HTTP/1.1", 200, "OK"), self._headers(headers)
        )
        await written

    async def send(self, chunk: bytes) -> None:
        await self.connection.write(chunk)

    def end_stream(self) -> None:
        self._end()

    def _reply(self, status: int, body: bytes, headers: Mapping[str, str]) -> None:
        if self.finished:
            return
        self.status = status
        response = self._headers(headers)
        response["Content-Length"] = str(len(body))
        start = httputil.ResponseStartLine("HTTP/1.1", status, HTTP_REASONS.get(status, "Unknown"))
        self.connection.write_headers(start, response, body)
        self._end()

    def _headers(self, extra: Mapping[str, str]) -> httputil.HTTPHeaders:
        headers = httputil.HTTPHeaders({"Server": SERVER_HEADER, "Date": http_date()})
        for name, value in self.state.policy.cors_headers(self.request.headers).items():
            headers[name] = value
        for name, value in extra.items():
            headers[name] = value
        if self.handler is not ToolCallHandler:  # as McpBaseHandler.set_default_headers
            node = self.state.node_id
            if node is not None:
                headers[NODE_HEADER] = node
        return headers

    def _end(self) -> None:
        if self.finished:
            return
        self.finished = True
        self.connection.finish()
        metrics.observe_request(self.handler.__name__, self.status, self.request)


_HANDSHAKE: Final = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")


class _FastStream:
    """The response stream of a fast ``/mcp`` call, open from its start to its end.

    While nothing but the response comes, no task waits on it: the mailbox calls
    :meth:`_mail` in the step that puts the response there, which writes it as JSON at once.
    Anything else first (progress, a log, a request of the server's, the session's end)
    or a quiet keep-alive hands the stream to a relay task, as the kernel path relays it.
    """

    def __init__(self, request: HotRequest, session: Session, call: FastCall) -> None:
        self.request = request
        self.session = session
        self.headers = {"Mcp-Session-Id": session.id}
        self.exits = contextlib.ExitStack()
        self.mailbox = self.exits.enter_context(session.request_stream(call.request_id))
        self.mailbox.notify = self._mail
        keepalive = request.state.transport.service.config.keepalive
        self.timer: asyncio.TimerHandle | None = asyncio.get_running_loop().call_later(
            keepalive, self._quiet
        )

    def _mail(self) -> None:
        item = self.mailbox.take_nowait()
        if item is None:
            return
        if isinstance(item, StreamEvent) and item.final:
            self._detach()
            request = self.request
            with request._guarded():
                body = encode(item.message)
                request.reply(200, body, {**self.headers, "Content-Type": JSON_TYPE})
            self.close()
        else:
            self._relay(item)

    def _quiet(self) -> None:
        self.timer = None
        self._relay(IDLE)

    def _relay(self, first: StreamEvent | Closed | Idle) -> None:
        """Hand the stream to a relay task, which sends *first* first."""
        self._detach()
        self.request.stream = None
        self.request.task = asyncio.ensure_future(self._relayed(first))

    async def _relayed(self, first: StreamEvent | Closed | Idle) -> None:
        request = self.request
        service = request.state.transport.service
        with request._guarded(), self.exits:
            try:
                keepalive = service.config.keepalive
                await relay(
                    self.mailbox,
                    request,
                    self.headers,
                    keepalive=keepalive,
                    session=self.session,
                    first=first,
                )
            except McpRequestError as exc:
                if not request.finished and not request.streaming:
                    request._mcp_error(exc)

    def _detach(self) -> None:
        self.mailbox.notify = None
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def close(self) -> None:
        """The response is written or the client went away: the stream ends."""
        self._detach()
        self.request.stream = None
        self.exits.close()


async def _legacy_call(answer: Any, session: Any, call: FastCall) -> None:
    with session.hold():
        await _quietly(answer(call))


async def _quietly(work: Awaitable[None]) -> None:
    """Await a fast call; its cancellation (``notifications/cancelled``) was answered."""
    try:
        await work
    except asyncio.CancelledError:
        pass


_BACKGROUND: set[asyncio.Future[None]] = set()


def _spawn(work: Awaitable[None]) -> None:
    future = asyncio.ensure_future(work)
    _BACKGROUND.add(future)
    future.add_done_callback(_BACKGROUND.discard)


__all__ = ["HOT_ROUTES", "HotRequest", "HubApplication"]
