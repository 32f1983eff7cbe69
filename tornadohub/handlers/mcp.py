"""MCP endpoint routes: ``/mcp``, ``/servers/<id>/mcp``, ``/profiles/<name>/mcp`` and
``/messages``.

The handlers only adapt Tornado to :class:`~tornadohub.mcp.transport.McpTransport`,
which holds the HTTP rules of both protocol eras. Three things live here
because they are Tornado's business:

* the transport's ``ResponseWriter`` (complete replies and flushed SSE chunks);
* errors: every refusal is a JSON-RPC error body (:meth:`McpBaseHandler.error_body`, which
  the one ``write_error`` of ``handlers/base.py`` calls); a missing API key gets the
  envelope 401 of every route;
* cancellation: Tornado does not cancel a handler whose client went away, so
  ``on_connection_close`` cancels the request's scope (on the 2026-07-28 wire
  that cancels the request; on older wires it just detaches the stream).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Mapping
from typing import NoReturn

import anyio
from mcp_types import INTERNAL_ERROR
from tornado import web
from tornado.iostream import StreamClosedError

from tornadohub import schemas as s
from tornadohub.cluster.hop import NODE_HEADER
from tornadohub.errors import HubError
from tornadohub.handlers.base import HubHandler
from tornadohub.handlers.docs import JSON_TYPE, MCP_REFUSALS, SSE_TYPE, STREAM, RouteDoc, rpc
from tornadohub.mcp.http import HttpRequest, McpRequestError
from tornadohub.mcp.transport import McpTransport
from tornadohub.openapi import Operation, PathParameter, Response
from tornadohub.policy import Refusal

log = logging.getLogger("tornadohub.mcp")


def _retrieved(future: asyncio.Future[None]) -> None:
    """A direct write's failure is the next write's or the close callback's to report."""
    if not future.cancelled():
        future.exception()


class McpBaseHandler(HubHandler):
    """Tornado side of the MCP transport: writer, JSON-RPC errors, disconnects.

    The edge policy and API keys (``HubHandler.prepare``) guard ``/mcp`` exactly like
    ``/api``; refusals are JSON-RPC error bodies here.
    """

    def initialize(self) -> None:
        super().initialize()
        self._scope: anyio.CancelScope | None = None
        #: The flush of the last chunk :meth:`send_now` wrote.
        self._flushing: asyncio.Future[None] | None = None

    def set_default_headers(self) -> None:
        node = self.app_state.node_id
        if node is not None:  # cluster mode: which node answered
            self.set_header(NODE_HEADER, node)

    def refuse(self, refusal: Refusal) -> NoReturn:
        raise McpRequestError(refusal.status, refusal.message)

    @property
    def transport(self) -> McpTransport:
        return self.app_state.transport

    def http_request(self) -> HttpRequest:
        return HttpRequest(
            method=self.request.method or "",
            header_lines=list(self.request.headers.get_all()),
            body=self.body,
            query={name: self.get_query_argument(name) for name in self.request.query_arguments},
            principal=self.current_user if isinstance(self.current_user, str) else None,
            client_address=self.request.remote_ip,
            uri=self.request.uri or "",
        )

    async def serve(self, work: Awaitable[None]) -> None:
        """Serve one request; a client that disconnects cancels it."""
        with anyio.CancelScope() as self._scope:
            try:
                await work
            except StreamClosedError:
                log.debug("%s %s: client went away", self.request.method, self.request.path)

    def on_connection_close(self) -> None:
        if self._scope is not None:
            self._scope.cancel()

    # ------------------------------------------------------- ResponseWriter
    def reply(self, status: int, body: bytes | None, headers: Mapping[str, str]) -> None:
        self.set_status(status)
        self.clear_header("Content-Type")
        for name, value in headers.items():
            self.set_header(name, value)
        self.finish(body)

    async def open_stream(self, headers: Mapping[str, str]) -> None:
        self.set_status(200)
        for name, value in headers.items():
            self.set_header(name, value)
        await self.flush()

    async def send(self, chunk: bytes) -> None:
        self.write(chunk)
        await self.flush()

    def can_send_now(self) -> bool:
        return not self._finished and (self._flushing is None or self._flushing.done())

    def send_now(self, chunk: bytes) -> None:
        self.write(chunk)
        flushing = self._flushing = self.flush()
        flushing.add_done_callback(_retrieved)

    def end_stream(self) -> None:
        self.finish()

    # --------------------------------------------------------------- errors
    def error_body(self, status_code: int, exc: BaseException | None) -> tuple[str, bytes]:
        """A JSON-RPC error body (with the refusal's own headers, e.g. ``Allow``); a
        missing or wrong API key keeps the envelope every route answers it with."""
        if isinstance(exc, HubError):
            return super().error_body(status_code, exc)
        if isinstance(exc, McpRequestError):
            error = exc
        elif isinstance(exc, web.HTTPError):
            error = McpRequestError(status_code, exc.log_message or self._reason)
        else:
            error = McpRequestError(status_code, "Internal server error", code=INTERNAL_ERROR)
        for name, value in error.headers.items():
            self.set_header(name, value)
        return error.content_type, error.body()


class McpHandler(McpBaseHandler):
    """POST/GET/DELETE /mcp and /servers/<id>/mcp: Streamable HTTP (both eras), legacy SSE.

    ``GET`` without ``Mcp-Session-Id`` opens mcp-hub's legacy SSE stream.
    """

    openapi = RouteDoc(
        {
            "post": Operation(
                {
                    200: Response(
                        "The reply, as JSON or as an SSE stream",
                        {JSON_TYPE: s.JsonRpcMessageSchema, SSE_TYPE: None},
                    ),
                    202: Response("A notification or response, accepted"),
                    400: rpc("Not a valid JSON-RPC message, or a missing session id"),
                    404: rpc("Unknown session or server"),
                    **MCP_REFUSALS,
                },
                body=s.JsonRpcMessageSchema,
            ),
            "get": Operation(
                {
                    200: STREAM,
                    400: rpc("Missing session id"),
                    404: rpc("Unknown session or server"),
                    405: rpc("Not on the 2026-07-28 wire"),
                    409: rpc("The session already has its stream"),
                    **MCP_REFUSALS,
                }
            ),
            "delete": Operation(
                {
                    200: Response("The session ended"),
                    400: rpc("Missing session id"),
                    404: rpc("Unknown session or server"),
                    405: rpc("Not on the 2026-07-28 wire"),
                    **MCP_REFUSALS,
                },
                headers=s.McpSessionHeaderSchema,
            ),
        },
        path_parameters=[PathParameter("server", "A server's id or config key")],
    )

    async def post(self, server: str | None = None) -> None:
        await self.serve(self.transport.handle(server, self.http_request(), self))

    async def get(self, server: str | None = None) -> None:
        await self.serve(self.transport.handle(server, self.http_request(), self))

    async def delete(self, server: str | None = None) -> None:
        await self.serve(self.transport.handle(server, self.http_request(), self))


class ProfileMcpHandler(McpHandler):
    """POST/GET/DELETE /profiles/<name>/mcp: a profile's endpoint, as /mcp serves it.

    A profile (the config's ``profiles`` key) shows a subset of the servers and their
    tools, prompts and resources, named as on ``/mcp``; in search mode ``tools/list`` has
    two tools, ``search_tools`` and ``call_tool``. Both Streamable HTTP eras and legacy SSE
    (``GET`` without ``Mcp-Session-Id``; its messages go to ``/messages``). An unknown
    profile, or one the config cannot use (see ``check-config``), is 404.
    """

    openapi = RouteDoc(
        {
            method: dataclasses.replace(
                operation,
                responses={
                    **operation.responses,
                    404: rpc("Unknown profile or session"),
                },
            )
            for method, operation in McpHandler.openapi.operations.items()
        },
        path_parameters=[PathParameter("profile", "A profile's name (the config's profiles)")],
    )

    async def post(self, profile: str | None = None) -> None:
        await self.serve(self.transport.handle(None, self.http_request(), self, profile=profile))

    async def get(self, profile: str | None = None) -> None:
        await self.serve(self.transport.handle(None, self.http_request(), self, profile=profile))

    async def delete(self, profile: str | None = None) -> None:
        await self.serve(self.transport.handle(None, self.http_request(), self, profile=profile))


class LegacyMessagesHandler(McpBaseHandler):
    """POST /messages?sessionId=<id>: a message for a legacy SSE session (202 Accepted)."""

    openapi = RouteDoc(
        {
            "post": Operation(
                {
                    202: Response("Accepted; the reply comes on the session's stream"),
                    400: rpc("Missing sessionId, or not a JSON-RPC message"),
                    404: rpc("Unknown session"),
                    **{status: MCP_REFUSALS[status] for status in (403, 413, 421)},
                },
                body=s.JsonRpcMessageSchema,
                query=s.McpSessionQuerySchema,
            )
        }
    )

    async def post(self) -> None:
        await self.serve(self.transport.handle_legacy_post(self.http_request(), self))


default_handlers = [
    (r"/mcp", McpHandler),
    (r"/servers/([^/]+)/mcp", McpHandler),
    (r"/profiles/([^/]+)/mcp", ProfileMcpHandler),
    (r"/messages", LegacyMessagesHandler),
]
