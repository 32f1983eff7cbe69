"""The HTTP side of the MCP endpoint: both Streamable HTTP eras and mcp-hub's legacy SSE.

Protocol logic stays in the SDK kernel; this module routes what the spec says about
HTTP, independent of Tornado (the handler implements
:class:`~tornadohub.mcp.http.ResponseWriter`), and serves the handshake era and legacy
SSE itself; 2026-07-28 exchanges are :mod:`tornadohub.mcp.modern`'s, replies and streams
are written by :mod:`tornadohub.mcp.streams`:

* Era routing, exactly as the SDK's session manager does it: a POST whose
  ``MCP-Protocol-Version`` header is present and not a handshake-era version
  (2024-11-05 .. 2025-11-25) is a stateless 2026-07-28 exchange; anything else
  is the handshake era, which has sessions.
* Handshake era: ``initialize`` opens a session (``Mcp-Session-Id``, minted by
  :class:`~tornadohub.mcp.service.McpService`); later requests without the header
  get 400, with an unknown or ended one 404; ``GET`` opens the session's stream for server-initiated
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

List requests of an initialized session or a 2026-07-28 exchange are answered from
the view's :class:`~tornadohub.mcp.list_cache.ListPages` (the kernel's own result, kept per
catalog) without a pass through the kernel.

Cluster mode sets :attr:`McpTransport.elsewhere`: a handshake-era request whose session this
node does not hold goes there (forwarded to the node that owns it, or adopted here through
:meth:`McpTransport.adopt` when that node is gone). A session this node holds costs one
dictionary lookup more, nothing else.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Mapping
from typing import Any, Protocol

import anyio
from mcp.shared.inbound import (
    MCP_PROTOCOL_VERSION_HEADER,
)
from mcp.shared.message import MessageMetadata
from mcp_types import (
    INTERNAL_ERROR,
    JSONRPCMessage,
    JSONRPCNotification,
    JSONRPCRequest,
    JSONRPCResponse,
)
from mcp_types.version import (
    HANDSHAKE_PROTOCOL_VERSIONS,
    LATEST_HANDSHAKE_VERSION,
    is_version_at_least,
)

from tornadohub.mcp.http import (
    SESSION_HEADER,
    SSE_HEADERS,
    HttpRequest,
    McpRequestError,
    ResponseWriter,
    accepts,
    check_post_headers,
    check_size,
    jsonrpc_message,
    parse_json,
)
from tornadohub.mcp.list_cache import LIST_METHODS, ListPages
from tornadohub.mcp.mailbox import Closed, Idle, StreamEvent
from tornadohub.mcp.modern import ModernRequests
from tornadohub.mcp.server import McpView
from tornadohub.mcp.service import McpService, SessionLimitError
from tornadohub.mcp.sessions import STANDALONE, Session, SessionBusyError, UnknownEventError
from tornadohub.mcp.streams import pump, relay, sse_frame

log = logging.getLogger("tornadohub.mcp")

#: The request id of the ``initialize`` replayed to adopt a session.
ADOPT_REQUEST_ID = "tornadohub-adopt"


class SessionsElsewhere(Protocol):
    """Cluster mode: where requests for sessions this node does not hold go."""

    async def route(
        self,
        server: str | None,
        session_id: str,
        request: HttpRequest,
        writer: ResponseWriter,
    ) -> bool:
        """True once the request was answered (forwarded, or refused by raising
        :class:`McpRequestError`); False when this node now holds the session (adopted)
        or should answer it itself."""


class McpTransport:
    """Serves ``/mcp``, ``/servers/<id>/mcp``, ``/profiles/<name>/mcp`` and ``/messages``
    for one service."""

    def __init__(self, service: McpService) -> None:
        self.service = service
        self.config = service.config
        self._pages: dict[McpView, ListPages] = {}
        self.modern = ModernRequests(self.config, self._list_pages)
        #: Cluster mode: requests for sessions this node does not hold (None: embedded).
        self.elsewhere: SessionsElsewhere | None = None

    # ------------------------------------------------------------ entry points
    async def handle(
        self,
        server: str | None,
        request: HttpRequest,
        writer: ResponseWriter,
        *,
        profile: str | None = None,
    ) -> None:
        """``/mcp`` (server None), ``/servers/<server>/mcp`` or ``/profiles/<profile>/mcp``:
        any method."""
        if profile is not None:
            view = self.service.profile_view(profile)
            if view is None:
                raise McpRequestError(404, f"Profile not found: {profile}")
        else:
            view = self.service.view(server)
        if view is None:
            raise McpRequestError(404, f"Server not found: {server}")
        version = request.header(MCP_PROTOCOL_VERSION_HEADER)
        modern = version is not None and version not in HANDSHAKE_PROTOCOL_VERSIONS
        if not modern and self.elsewhere is not None:
            session_id = request.header(SESSION_HEADER)
            if session_id and await self._served_elsewhere(server, session_id, request, writer):
                return
        if request.method == "POST":
            check_size(request, self.config.max_body)
            if modern:
                await self.modern.post(view, request, writer)
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
            raise McpRequestError.legacy(400, "Missing sessionId parameter")
        if self.elsewhere is not None and await self._served_elsewhere(
            None, session_id, request, writer
        ):
            return
        session = self.service.session(session_id)
        if session is None or not session.legacy or session.owner != request.principal:
            raise McpRequestError.legacy(404, f"Session not found: {session_id}")
        check_size(request, self.config.max_body)
        message = jsonrpc_message(parse_json(request.body))
        metadata = (
            session.request_metadata(message.id, request)
            if isinstance(message, JSONRPCRequest)
            else None
        )
        await self._deliver(session, message, metadata)
        writer.reply(202, b"Accepted", {})

    # ------------------------------------------------------------ cluster mode
    async def _served_elsewhere(
        self, server: str | None, session_id: str, request: HttpRequest, writer: ResponseWriter
    ) -> bool:
        session = self.service.session(session_id)
        if session is not None and session.owner == request.principal:
            return False
        assert self.elsewhere is not None
        return await self.elsewhere.route(server, session_id, request, writer)

    async def adopt(
        self,
        server: str | None,
        session_id: str,
        initialize: Mapping[str, Any],
        request: HttpRequest,
    ) -> None:
        """Serve *session_id* (a dead node's session) here from now on.

        A new session under that id is fed the client's ``initialize`` (*initialize*: its
        params, rebuilt from the id) and ``notifications/initialized``; the reply is
        dropped, the client never sees it. 404 if the kernel does not answer it.
        """
        view = self.service.view(server)
        if view is None:
            raise McpRequestError(404, f"Server not found: {server}")
        session = await self._open(view, request, legacy=False, session_id=session_id)
        opening = JSONRPCRequest(
            jsonrpc="2.0", id=ADOPT_REQUEST_ID, method="initialize", params=dict(initialize)
        )
        answered = False
        try:
            with session.request_stream(opening.id) as mailbox:
                await self._deliver(session, opening)
                deadline = time.monotonic() + self.config.request_timeout
                while (left := deadline - time.monotonic()) > 0:
                    event = await mailbox.get(left)
                    if isinstance(event, Closed | Idle):
                        break
                    if event.final:
                        answered = isinstance(event.message, JSONRPCResponse)
                        break
            if answered:
                initialized = JSONRPCNotification(
                    jsonrpc="2.0", method="notifications/initialized", params=None
                )
                await self._deliver(session, initialized)
        finally:
            if not answered:
                self.service.discard(session)
        if not answered:
            raise McpRequestError(404, "Session not found")

    # --------------------------------------------------------- handshake era
    async def _post_handshake(
        self, view: McpView, request: HttpRequest, writer: ResponseWriter
    ) -> None:
        check_post_headers(request)
        message = jsonrpc_message(parse_json(request.body))
        # Only an initialize without a session id opens one; sent in a session, it is that
        # session's request, and failing must not end the session it did not open.
        opening = (
            isinstance(message, JSONRPCRequest)
            and message.method == "initialize"
            and request.header(SESSION_HEADER) is None
        )
        if opening:
            assert isinstance(message, JSONRPCRequest)
            session = await self._open(view, request, legacy=False, initialize=message.params)
        else:
            session = self._session(view, request)
        headers = {"Mcp-Session-Id": session.id}
        if not isinstance(message, JSONRPCRequest):
            await self._deliver(session, message)
            writer.reply(202, None, headers)
            return
        final: StreamEvent | None = None
        try:
            with session.request_stream(message.id) as mailbox:
                metadata = session.request_metadata(message.id, request)
                await self._deliver(session, message, metadata)
                final = await relay(
                    mailbox, writer, headers, keepalive=self.config.keepalive, session=session
                )
        except SessionBusyError as exc:
            raise McpRequestError(400, str(exc), request_id=message.id) from None
        finally:
            if opening and not (final and isinstance(final.message, JSONRPCResponse)):
                self.service.discard(session)  # nothing was established

    async def _get_stream(
        self, view: McpView, request: HttpRequest, writer: ResponseWriter
    ) -> None:
        if not accepts(request)[1]:
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
                await pump(mailbox, writer, self.config.keepalive)
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
                await pump(mailbox, writer, self.config.keepalive)
            else:
                await relay(
                    mailbox,
                    writer,
                    {},
                    keepalive=self.config.keepalive,
                    session=session,
                    streaming=True,
                )

    async def _legacy_stream(
        self, view: McpView, request: HttpRequest, writer: ResponseWriter
    ) -> None:
        session = await self._open(view, request, legacy=True)
        try:
            with session.standalone_stream() as mailbox:
                await writer.open_stream(SSE_HEADERS)
                endpoint = f"/messages?sessionId={session.id}"
                await writer.send(f"event: endpoint\ndata: {endpoint}\n\n".encode())
                await pump(mailbox, writer, self.config.keepalive)
        finally:
            self.service.discard(session)

    async def _open(
        self,
        view: McpView,
        request: HttpRequest,
        *,
        legacy: bool,
        initialize: Mapping[str, Any] | None = None,
        session_id: str | None = None,
    ) -> Session:
        try:
            return await self.service.open_session(
                view,
                legacy=legacy,
                owner=request.principal,
                client=request.client_address,
                initialize=initialize,
                session_id=session_id,
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
        if isinstance(message, JSONRPCNotification) and message.method == "notifications/cancelled":
            self.service.fast.cancel(session, message.params)  # a call answered here
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
