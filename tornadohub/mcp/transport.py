"""The HTTP side of the MCP endpoint: both Streamable HTTP eras and mcp-hub's legacy SSE.

Protocol logic stays in the SDK kernel; this module owns what the spec says
about HTTP, independent of Tornado (the handler implements :class:`ResponseWriter`):

* Era routing, exactly as the SDK's session manager does it: a POST whose
  ``MCP-Protocol-Version`` header is present and not a handshake-era version
  (2024-11-05 .. 2025-11-25) is a stateless 2026-07-28 exchange; anything else
  is the handshake era, which has sessions.
* Handshake era: ``initialize`` opens a session (``Mcp-Session-Id``, random from
  :mod:`secrets`); later requests without the header get 400, with an unknown or
  ended one 404; ``GET`` opens the session's stream for server-initiated
  messages (one at a time, else 409); ``DELETE`` ends the session.
* 2026-07-28: envelope and ``Mcp-Method``/``Mcp-Name``/``Mcp-Param-*`` headers
  are validated with ``mcp.shared.inbound``; ``GET``/``DELETE`` are 405; the
  request runs in the HTTP exchange and closing the response stream cancels it.
* Legacy HTTP+SSE (mcp-hub 4.2.1): ``GET /mcp`` without a session header opens
  a stream announcing ``/messages?sessionId=<id>``; ``POST /messages`` answers
  ``202 Accepted`` and the replies arrive on the stream.
* Every route: a body limit (413), Accept (406) and Content-Type (415) checks,
  JSON-RPC error bodies. Host (421) and Origin (403) are checked before any of this,
  for every route of the hub, by :mod:`tornadohub.policy` (see ``handlers/mcp.py``).

A request's reply is held back until it is known: a response that arrives
first is sent as ``application/json``; a notification or request first (or
nothing within the keep-alive interval) switches the reply to an SSE stream,
which then carries ``: ping`` comments while idle.

List requests of an initialized session or a 2026-07-28 exchange are answered from
the view's :class:`~tornadohub.mcp.pages.ListPages` (the kernel's own result, kept per
catalog) without a pass through the kernel.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

import anyio
from mcp.server.connection import Connection
from mcp.server.runner import modern_error_data, serve_one
from mcp.shared.dispatcher import CallOptions
from mcp.shared.exceptions import NoBackChannelError
from mcp.shared.inbound import (
    ERROR_CODE_HTTP_STATUS,
    MCP_PARAM_HEADER_PREFIX,
    MCP_PROTOCOL_VERSION_HEADER,
    InboundLadderRejection,
    classify_inbound_request,
    find_duplicated_routing_header,
    unsupported_protocol_version_rejection,
    validate_mcp_param_headers,
)
from mcp.shared.jsonrpc_dispatcher import progress_token_from_params
from mcp.shared.message import MessageMetadata, ServerMessageMetadata
from mcp.shared.transport_context import TransportContext
from mcp_types import (
    HEADER_MISMATCH,
    INTERNAL_ERROR,
    INVALID_REQUEST,
    PARSE_ERROR,
    JSONRPCError,
    JSONRPCMessage,
    JSONRPCNotification,
    JSONRPCRequest,
    JSONRPCResponse,
    ProgressToken,
    RequestId,
    jsonrpc_message_adapter,
)
from mcp_types.version import (
    HANDSHAKE_PROTOCOL_VERSIONS,
    LATEST_HANDSHAKE_VERSION,
    is_version_at_least,
)
from pydantic import ValidationError as PydanticValidationError

from tornadohub.mcp.pages import LIST_METHODS, EncodedResponse, ListPages
from tornadohub.mcp.relay import RequestOrigin
from tornadohub.mcp.server import McpView
from tornadohub.mcp.sessions import (
    STANDALONE,
    Closed,
    Event,
    Idle,
    Mailbox,
    McpService,
    Session,
    SessionBusyError,
    SessionLimitError,
    UnknownEventError,
)

log = logging.getLogger("tornadohub.mcp")

SESSION_HEADER: Final = "mcp-session-id"
LEGACY_ERROR: Final = -32000  # what mcp-hub (the TS SDK) answers on /messages
PING: Final = b": ping\n\n"
JSON_TYPE: Final = "application/json"
SSE_TYPE: Final = "text/event-stream"
SSE_HEADERS: Final = {
    "Content-Type": SSE_TYPE,
    "Cache-Control": "no-cache, no-transform",
    "Connection": "keep-alive",
    "X-Accel-Buffering": "no",
}


class McpRequestError(Exception):
    """A request the endpoint refuses: HTTP status plus a JSON-RPC error body."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: int = INVALID_REQUEST,
        request_id: RequestId | None = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.request_id = request_id
        self.data = data
        self.headers = dict(headers or {})

    @classmethod
    def rejection(
        cls, rejection: InboundLadderRejection, request_id: RequestId | None
    ) -> McpRequestError:
        """A 2026-07-28 ladder rejection with the spec's status for its code."""
        return cls(
            ERROR_CODE_HTTP_STATUS.get(rejection.code, 400),
            rejection.message,
            code=rejection.code,
            request_id=request_id,
            data=rejection.data,
        )

    def body(self) -> bytes:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return json.dumps({"jsonrpc": "2.0", "error": error, "id": self.request_id}).encode()


@dataclass(frozen=True)
class HttpRequest:
    """What the endpoint needs from one HTTP request."""

    method: str
    header_lines: Sequence[tuple[str, str]]
    body: bytes = b""
    query: Mapping[str, str] = field(default_factory=dict)
    principal: str | None = None  # the API key's name when inbound auth is on
    client_address: str | None = None  # whose session quota applies when auth is off

    @property
    def headers(self) -> dict[str, str]:
        """Lower-cased header names; the last line wins."""
        return {name.lower(): value for name, value in self.header_lines}

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


class ResponseWriter(Protocol):
    """The HTTP response, as the web framework provides it."""

    def reply(self, status: int, body: bytes | None, headers: Mapping[str, str]) -> None:
        """Send a complete response."""

    async def open_stream(self, headers: Mapping[str, str]) -> None:
        """Send status 200 and *headers*, then keep the response open."""

    async def send(self, chunk: bytes) -> None:
        """Write and flush one chunk of an open stream."""

    def end_stream(self) -> None:
        """Finish an open stream."""


def encode(message: JSONRPCMessage) -> bytes:
    """The wire form of every JSON-RPC message ``/mcp`` sends, in JSON bodies and SSE alike.

    A request or notification without params leaves the member out: JSON-RPC has no
    ``"params": null``, and the TypeScript SDK drops such a message (reporting it only to
    ``onerror``), so its clients would never see e.g. ``tools/list_changed``. Nothing else
    changes: unset fields stay out, explicit values (``result: {}``, nulls inside results
    and error data) go out as they are.
    """
    if isinstance(message, EncodedResponse):  # a cached list page: already encoded
        return message.wire
    bare = isinstance(message, JSONRPCRequest | JSONRPCNotification) and message.params is None
    return message.model_dump_json(
        by_alias=True, exclude_unset=True, exclude={"params"} if bare else None
    ).encode()


def sse_frame(event: Event) -> bytes:
    head = f"id: {event.id}\n".encode() if event.id else b""
    return head + b"event: message\ndata: " + encode(event.message) + b"\n\n"


def _accepts(request: HttpRequest) -> tuple[bool, bool]:
    """(JSON, SSE) acceptable per the Accept header, wildcards included."""
    types = {
        part.split(";")[0].strip().lower() for part in (request.header("accept") or "").split(",")
    }
    wildcard = "*/*" in types
    return (
        wildcard or bool(types & {JSON_TYPE, "application/*"}),
        wildcard or bool(types & {SSE_TYPE, "text/*"}),
    )


@dataclass
class ExchangeContext:
    """The SDK ``DispatchContext`` of one 2026-07-28 exchange: no back-channel.

    Notifications the handler emits (progress, listen frames) go to the
    exchange's mailbox, i.e. onto this request's SSE stream.
    """

    transport: TransportContext
    request_id: RequestId
    message_metadata: MessageMetadata
    mailbox: Mailbox
    progress_token: ProgressToken | None = None
    cancel_requested: anyio.Event = field(default_factory=anyio.Event)
    can_send_request: bool = False

    async def send_raw_request(
        self, method: str, params: Mapping[str, Any] | None, opts: CallOptions | None = None
    ) -> dict[str, Any]:
        raise NoBackChannelError(method)

    async def notify(
        self, method: str, params: Mapping[str, Any] | None, opts: CallOptions | None = None
    ) -> None:
        body = dict(params) if params is not None else None
        _push(self.mailbox, Event(JSONRPCNotification(jsonrpc="2.0", method=method, params=body)))

    async def progress(
        self, progress: float, total: float | None = None, message: str | None = None
    ) -> None:
        if self.progress_token is None:
            return
        params: dict[str, Any] = {"progressToken": self.progress_token, "progress": progress}
        if total is not None:
            params["total"] = total
        if message is not None:
            params["message"] = message
        await self.notify("notifications/progress", params)


class McpTransport:
    """Serves ``/mcp``, ``/servers/<id>/mcp`` and ``/messages`` for one service."""

    def __init__(self, service: McpService) -> None:
        self.service = service
        self.config = service.config
        self._pages: dict[McpView, ListPages] = {}

    # ------------------------------------------------------------ entry points
    async def handle(
        self, server: str | None, request: HttpRequest, writer: ResponseWriter
    ) -> None:
        """``/mcp`` (server None) or ``/servers/<server>/mcp``: any method."""
        view = self.service.view(server)
        if view is None:
            raise McpRequestError(404, f"Server not found: {server}")
        version = request.header(MCP_PROTOCOL_VERSION_HEADER)
        modern = version is not None and version not in HANDSHAKE_PROTOCOL_VERSIONS
        if request.method == "POST":
            self._check_size(request)
            if modern:
                await self._post_modern(view, request, writer)
            else:
                await self._post_handshake(view, request, writer)
        elif modern:
            raise McpRequestError(405, "Method Not Allowed", headers={"Allow": "POST"})
        elif request.method == "GET" and request.header(SESSION_HEADER) is None:
            await self._legacy_stream(view, request, writer)
        elif request.method == "GET":
            await self._get_stream(view, request, writer)
        elif request.method == "DELETE":
            session = self._session(view, request)
            self.service.discard(session)
            writer.reply(200, None, {"Mcp-Session-Id": session.id})
        else:
            raise McpRequestError(405, "Method Not Allowed", headers={"Allow": "GET, POST, DELETE"})

    async def handle_legacy_post(self, request: HttpRequest, writer: ResponseWriter) -> None:
        """``POST /messages?sessionId=``: one message into a legacy session, 202."""
        session_id = request.query.get("sessionId") or request.query.get("session_id")
        if not session_id:
            raise McpRequestError(400, "Missing sessionId parameter", code=LEGACY_ERROR)
        session = self.service.session(session_id)
        if session is None or not session.legacy or session.owner != request.principal:
            raise McpRequestError(404, f"Session not found: {session_id}", code=LEGACY_ERROR)
        self._check_size(request)
        message = jsonrpc_message(_parse_json(request.body))
        metadata = (
            session.request_metadata(message.id, request)
            if isinstance(message, JSONRPCRequest)
            else None
        )
        await self._deliver(session, message, metadata)
        writer.reply(202, b"Accepted", {})

    # --------------------------------------------------------- handshake era
    async def _post_handshake(
        self, view: McpView, request: HttpRequest, writer: ResponseWriter
    ) -> None:
        self._check_post_headers(request)
        message = jsonrpc_message(_parse_json(request.body))
        opening = isinstance(message, JSONRPCRequest) and message.method == "initialize"
        if opening and request.header(SESSION_HEADER) is None:
            session = await self._open(view, request, legacy=False)
        else:
            session = self._session(view, request)
        headers = {"Mcp-Session-Id": session.id}
        if not isinstance(message, JSONRPCRequest):
            await self._deliver(session, message)
            writer.reply(202, None, headers)
            return
        final: Event | None = None
        try:
            with session.request_stream(message.id) as mailbox:
                metadata = session.request_metadata(message.id, request)
                await self._deliver(session, message, metadata)
                final = await self._relay(mailbox, writer, headers, session=session)
        except SessionBusyError as exc:
            raise McpRequestError(400, str(exc), request_id=message.id) from None
        finally:
            if opening and not (final and isinstance(final.message, JSONRPCResponse)):
                self.service.discard(session)  # nothing was established

    async def _get_stream(
        self, view: McpView, request: HttpRequest, writer: ResponseWriter
    ) -> None:
        if not _accepts(request)[1]:
            raise McpRequestError(406, "Not Acceptable: Client must accept text/event-stream")
        session = self._session(view, request)
        headers = {**SSE_HEADERS, "Mcp-Session-Id": session.id}
        last_event_id = request.header("last-event-id")
        try:
            if last_event_id:
                await self._resume(session, last_event_id, writer, headers)
                return
            with session.standalone_stream() as mailbox:
                await writer.open_stream(headers)
                await self._pump(mailbox, writer)
        except SessionBusyError as exc:
            raise McpRequestError(409, f"Conflict: {exc}") from None

    async def _resume(
        self, session: Session, last_event_id: str, writer: ResponseWriter, headers: dict[str, str]
    ) -> None:
        """GET + ``Last-Event-ID``: replay one stream's missed events, then carry on with it."""
        with contextlib.ExitStack() as stack:
            try:
                backlog, mailbox = stack.enter_context(session.resumed_stream(last_event_id))
            except UnknownEventError:
                if not last_event_id.startswith(f"{STANDALONE}-"):
                    raise McpRequestError(404, f"Unknown Last-Event-ID: {last_event_id}") from None
                # A GET stream whose events are too old to replay: start it afresh.
                backlog, mailbox = [], stack.enter_context(session.standalone_stream(takeover=True))
            await writer.open_stream(headers)
            for event in backlog:
                await writer.send(sse_frame(event))
            if mailbox is None or any(event.final for event in backlog):
                writer.end_stream()
            elif mailbox.stream == STANDALONE:
                await self._pump(mailbox, writer)
            else:
                await self._relay(mailbox, writer, {}, session=session, streaming=True)

    async def _legacy_stream(
        self, view: McpView, request: HttpRequest, writer: ResponseWriter
    ) -> None:
        session = await self._open(view, request, legacy=True)
        try:
            with session.standalone_stream() as mailbox:
                await writer.open_stream(SSE_HEADERS)
                endpoint = f"/messages?sessionId={session.id}"
                await writer.send(f"event: endpoint\ndata: {endpoint}\n\n".encode())
                await self._pump(mailbox, writer)
        finally:
            self.service.discard(session)

    async def _open(self, view: McpView, request: HttpRequest, *, legacy: bool) -> Session:
        try:
            return await self.service.open_session(
                view, legacy=legacy, owner=request.principal, client=request.client_address
            )
        except SessionLimitError as exc:
            raise McpRequestError(503, str(exc), code=INTERNAL_ERROR) from None

    def _session(self, view: McpView, request: HttpRequest) -> Session:
        session_id = request.header(SESSION_HEADER)
        if not session_id:
            raise McpRequestError(400, "Bad Request: Missing session ID")
        session = self.service.session(session_id)
        if session is None or session.view is not view or session.legacy:
            raise McpRequestError(404, "Session not found")
        if session.owner != request.principal:  # a session belongs to the key that opened it
            raise McpRequestError(404, "Session not found")
        return session

    async def _deliver(
        self, session: Session, message: JSONRPCMessage, metadata: MessageMetadata = None
    ) -> None:
        if isinstance(message, JSONRPCRequest) and message.method == "initialize":
            session.client_name = _client_name(message)
            session.resumable = not session.legacy and _negotiates_resumability(message)
        initialized = isinstance(message, JSONRPCNotification) and (
            message.method == "notifications/initialized"
        )
        if initialized and not session.initialized:
            session.initialized = True
            log.info("'%s' client connected to MCP HUB", session.client_name)  # as mcp-hub logs
        try:
            if not await self._answer_list(session, message):
                await session.deliver(message, metadata)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            raise McpRequestError(404, "Session not found") from None

    async def _answer_list(self, session: Session, message: JSONRPCMessage) -> bool:
        """Answer an initialized session's list request from its cached page, if there is one."""
        version = session.protocol_version
        if not isinstance(message, JSONRPCRequest) or version is None:
            return False
        if message.method not in LIST_METHODS:
            return False
        pages = self._list_pages(session.view)
        response = await pages.response(message.id, message.method, message.params, version)
        if response is None:
            return False
        session.respond(response)
        return True

    def _list_pages(self, view: McpView) -> ListPages:
        pages = self._pages.get(view)
        if pages is None:
            pages = self._pages[view] = ListPages(view)
        return pages

    # ------------------------------------------------------------------ 2026
    async def _post_modern(
        self, view: McpView, request: HttpRequest, writer: ResponseWriter
    ) -> None:
        self._check_post_headers(request)
        decoded = _parse_json(request.body)
        if isinstance(decoded, dict) and "id" not in decoded:
            self._acknowledge(decoded, request, writer)
            return
        try:
            req = JSONRPCRequest.model_validate(decoded)
        except PydanticValidationError:
            raise McpRequestError(400, "Body must be a single JSON-RPC request object") from None
        duplicated = find_duplicated_routing_header(request.header_lines) or _duplicated_param(
            request.header_lines
        )
        if duplicated is not None:
            message = f"{duplicated} header appears more than once"
            raise McpRequestError(400, message, code=HEADER_MISMATCH, request_id=req.id)
        verdict = classify_inbound_request(decoded, headers=request.headers)
        if isinstance(verdict, InboundLadderRejection):
            raise McpRequestError.rejection(verdict, req.id)
        rejection = self._param_rejection(view, request, req)
        if rejection is not None:
            raise McpRequestError.rejection(rejection, req.id)
        if req.method in LIST_METHODS:
            pages = self._list_pages(view)
            page = await pages.response(req.id, req.method, req.params, verdict.protocol_version)
            if page is not None:
                writer.reply(200, page.wire, {"Content-Type": JSON_TYPE})
                return
        connection = Connection.from_envelope(
            verdict.protocol_version, verdict.client_info, verdict.client_capabilities
        )
        mailbox = Mailbox()
        origin = RequestOrigin(
            http=request, client=None, send=lambda message: _push(mailbox, Event(message))
        )
        dctx = ExchangeContext(
            transport=TransportContext(
                kind="streamable-http", can_send_request=False, headers=request.headers
            ),
            request_id=req.id,
            message_metadata=ServerMessageMetadata(request_context=origin),
            mailbox=mailbox,
            progress_token=progress_token_from_params(req.params),
        )

        async def run() -> None:
            reply: JSONRPCResponse | JSONRPCError
            try:
                result = await serve_one(
                    view.server,
                    dctx,
                    req.method,
                    req.params,
                    connection=connection,
                    lifespan_state={},
                )
                reply = JSONRPCResponse(jsonrpc="2.0", id=req.id, result=result)
            except Exception as exc:
                reply = JSONRPCError(jsonrpc="2.0", id=req.id, error=modern_error_data(exc))
            mailbox.put(Event(reply), force=True)
            mailbox.close()

        completed = False
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(run)
                await self._relay(mailbox, writer, {})
                completed = True
                tg.cancel_scope.cancel()
        finally:
            if not completed:  # closing the stream is how 2026 clients cancel (and end listens)
                level = logging.DEBUG if req.method == "subscriptions/listen" else logging.INFO
                log.log(
                    level, "MCP %s %r cancelled: the client closed the stream", req.method, req.id
                )

    def _acknowledge(
        self, decoded: dict[str, Any], request: HttpRequest, writer: ResponseWriter
    ) -> None:
        """A notification on the 2026 wire: accepted and dropped (as the SDK does)."""
        try:
            JSONRPCNotification.model_validate(decoded)
        except PydanticValidationError:
            raise McpRequestError(400, "Body must be a single JSON-RPC request object") from None
        version = request.header(MCP_PROTOCOL_VERSION_HEADER) or ""
        rejection = unsupported_protocol_version_rejection(version)
        if rejection is not None:
            raise McpRequestError.rejection(rejection, None)
        writer.reply(202, None, {})

    def _param_rejection(
        self, view: McpView, request: HttpRequest, req: JSONRPCRequest
    ) -> InboundLadderRejection | None:
        """``Mcp-Param-*`` headers of a ``tools/call`` against its ``x-mcp-header`` schema."""
        params = req.params or {}
        name, arguments = params.get("name"), params.get("arguments") or {}
        if req.method != "tools/call" or not isinstance(name, str):
            return None
        schema = view.tool_input_schema(name)
        if schema is None or not isinstance(arguments, dict):
            return None
        return validate_mcp_param_headers(schema, arguments, request.headers)

    # ----------------------------------------------------------------- shared
    def _check_size(self, request: HttpRequest) -> None:
        if len(request.body) > self.config.max_body:
            raise McpRequestError(
                413, f"Request body too large (limit {self.config.max_body} bytes)"
            )

    def _check_post_headers(self, request: HttpRequest) -> None:
        json_ok, sse_ok = _accepts(request)
        if not (json_ok and sse_ok):
            raise McpRequestError(
                406,
                "Not Acceptable: Client must accept both application/json and text/event-stream",
            )
        content_type = (request.header("content-type") or "").split(";")[0].strip().lower()
        if content_type != JSON_TYPE:
            raise McpRequestError(
                415, "Unsupported Media Type: Content-Type must be application/json"
            )

    async def _relay(
        self,
        mailbox: Mailbox,
        writer: ResponseWriter,
        headers: Mapping[str, str],
        *,
        session: Session | None = None,
        streaming: bool = False,
    ) -> Event | None:
        """Send what arrives for one request until its response; JSON if that comes first.

        *session* is None on the 2026 wire, whose error statuses follow the spec's
        table (404 for an unknown method, 400 for bad params); handshake-era
        errors are 200 with the JSON-RPC error, as the SDK answers them.
        """
        while True:
            item = await mailbox.get(self.config.keepalive)
            if isinstance(item, Closed):
                if not streaming:
                    raise McpRequestError(
                        500, "Session ended before the request completed", code=INTERNAL_ERROR
                    )
                writer.end_stream()
                return None
            if isinstance(item, Event) and item.final and not streaming:
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

    async def _pump(self, mailbox: Mailbox, writer: ResponseWriter) -> None:
        """Forward a standalone stream until the session or the client ends it."""
        while True:
            item = await mailbox.get(self.config.keepalive)
            if isinstance(item, Closed):
                writer.end_stream()
                return
            await writer.send(PING if isinstance(item, Idle) else sse_frame(item))


def _push(mailbox: Mailbox, event: Event) -> None:
    """Queue a notification for one exchange's stream (dropped once the stream closed)."""
    if not mailbox.put(event):
        log.debug("dropped %s: response stream closed", getattr(event.message, "method", "?"))


def _parse_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise McpRequestError(400, f"Parse error: {exc}", code=PARSE_ERROR) from None


def jsonrpc_message(decoded: Any) -> JSONRPCMessage:
    """One JSON-RPC message (batches were removed from MCP in 2025-06-18)."""
    if isinstance(decoded, list):
        raise McpRequestError(400, "Batch requests are not supported")
    if isinstance(decoded, dict) and "method" in decoded and "id" in decoded:
        request_id = decoded["id"]
        if isinstance(request_id, bool) or not isinstance(request_id, str | int):
            # MCP: a request id is a string or an integer, never null; without this check a
            # null, 1.5 or object id would pass as a notification and get no answer at all.
            raise McpRequestError(400, "Invalid Request: id must be a string or an integer")
    try:
        message: JSONRPCMessage = jsonrpc_message_adapter.validate_python(decoded, by_name=False)
    except PydanticValidationError:
        raise McpRequestError(400, "Invalid JSON-RPC message") from None
    return message


def _negotiates_resumability(message: JSONRPCRequest) -> bool:
    """Whether the version this initialize negotiates has priming events (2025-11-25 on)."""
    requested = (message.params or {}).get("protocolVersion")
    version = requested if requested in HANDSHAKE_PROTOCOL_VERSIONS else LATEST_HANDSHAKE_VERSION
    return is_version_at_least(version, "2025-11-25")


def _client_name(message: JSONRPCMessage) -> str:
    params = message.params if isinstance(message, JSONRPCRequest) else None
    info = (params or {}).get("clientInfo")
    name = info.get("name") if isinstance(info, dict) else None
    return name if isinstance(name, str) else "unknown"


def _duplicated_param(lines: Sequence[tuple[str, str]]) -> str | None:
    prefix = MCP_PARAM_HEADER_PREFIX.lower()
    seen: set[str] = set()
    for name, _ in lines:
        key = name.lower()
        if key.startswith(prefix):
            if key in seen:
                return key
            seen.add(key)
    return None
