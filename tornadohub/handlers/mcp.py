"""MCP endpoint routes: ``/mcp``, ``/servers/<id>/mcp`` and ``/messages``.

The handlers only adapt Tornado to :class:`~tornadohub.mcp.transport.McpTransport`,
which holds the HTTP rules of both protocol eras. Three things live here
because they are Tornado's business:

* the transport's ``ResponseWriter`` (complete replies and flushed SSE chunks);
* errors: every refusal is a JSON-RPC error body, written in ``write_error`` only;
* cancellation: Tornado does not cancel a handler whose client went away, so
  ``on_connection_close`` cancels the exchange's scope (on the 2026-07-28 wire
  that cancels the request; on older wires it just detaches the stream).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Mapping
from typing import Any, NoReturn

import anyio
from mcp_types import INTERNAL_ERROR
from tornado import web
from tornado.iostream import StreamClosedError

from tornadohub.handlers.base import HubHandler
from tornadohub.mcp.transport import HttpError, HttpRequest, McpTransport, mcp_transport
from tornadohub.policy import Refusal

log = logging.getLogger("tornadohub.mcp")


class McpBaseHandler(HubHandler):
    """Tornado side of the MCP transport: writer, JSON-RPC errors, disconnects.

    The edge policy and API keys (``HubHandler.prepare``) guard ``/mcp`` exactly like
    ``/api``; refusals are JSON-RPC error bodies here.
    """

    allowed_methods = "GET, POST, DELETE"

    def initialize(self) -> None:
        super().initialize()
        self._scope: anyio.CancelScope | None = None

    def refuse(self, refusal: Refusal) -> NoReturn:
        raise HttpError(refusal.status, refusal.message)

    @property
    def transport(self) -> McpTransport:
        return mcp_transport(self.settings)

    def http_request(self) -> HttpRequest:
        return HttpRequest(
            method=self.request.method or "",
            header_lines=list(self.request.headers.get_all()),
            body=self.body,
            query={name: self.get_query_argument(name) for name in self.request.query_arguments},
            principal=self.current_user if isinstance(self.current_user, str) else None,
            client_address=self.request.remote_ip,
        )

    async def serve(self, exchange: Awaitable[None]) -> None:
        """Run one exchange; a client that disconnects cancels it."""
        with anyio.CancelScope() as self._scope:
            try:
                await exchange
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

    def end_stream(self) -> None:
        self.finish()

    # --------------------------------------------------------------- errors
    def send_error(self, status_code: int = 500, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, HttpError):
            status_code = exc.status
        super().send_error(status_code, **kwargs)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, HttpError):
            error = exc
        elif isinstance(exc, web.HTTPError):
            error = HttpError(status_code, exc.log_message or self._reason)
        else:
            error = HttpError(status_code, "Internal server error", code=INTERNAL_ERROR)
        if status_code == 405 and "Allow" not in error.headers:
            error.headers["Allow"] = self.allowed_methods
        for name, value in error.headers.items():
            self.set_header(name, value)
        self.set_header("Content-Type", "application/json")
        self.finish(error.body())

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, HttpError):
            log.debug("%s %s -> %d %s", self.request.method, self.request.path, value.status, value)
            return
        super().log_exception(typ, value, tb)


class McpHandler(McpBaseHandler):
    """POST/GET/DELETE /mcp and /servers/<id>/mcp: Streamable HTTP (both eras), legacy SSE.

    ``GET`` without ``Mcp-Session-Id`` opens mcp-hub's legacy SSE stream.
    """

    async def post(self, server: str | None = None) -> None:
        await self.serve(self.transport.handle(server, self.http_request(), self))

    async def get(self, server: str | None = None) -> None:
        await self.serve(self.transport.handle(server, self.http_request(), self))

    async def delete(self, server: str | None = None) -> None:
        await self.serve(self.transport.handle(server, self.http_request(), self))


class LegacyMessagesHandler(McpBaseHandler):
    """POST /messages?sessionId=<id>: a message for a legacy SSE session (202 Accepted)."""

    allowed_methods = "POST"

    async def post(self) -> None:
        await self.serve(self.transport.handle_legacy_post(self.http_request(), self))


default_handlers = [
    (r"/mcp", McpHandler),
    (r"/servers/([^/]+)/mcp", McpHandler),
    (r"/messages", LegacyMessagesHandler),
]
