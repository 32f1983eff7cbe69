"""The 2026-07-28 wire of ``/mcp``: one stateless request per HTTP exchange.

The envelope and the ``Mcp-Method``/``Mcp-Name``/``Mcp-Param-*`` headers are validated with
``mcp.shared.inbound``; the request runs in the HTTP exchange, and closing the response
stream cancels it (that is how 2026-07-28 clients cancel, and end listens). List requests
are answered from the view's cached pages without a pass through the kernel.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import anyio
from mcp.server.connection import Connection
from mcp.server.runner import modern_error_data, serve_one
from mcp.shared.dispatcher import CallOptions
from mcp.shared.inbound import (
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
    JSONRPCError,
    JSONRPCNotification,
    JSONRPCRequest,
    JSONRPCResponse,
    ProgressToken,
    RequestId,
)
from pydantic import ValidationError as PydanticValidationError

from tornadohub.mcp.dispatch import StatelessContext
from tornadohub.mcp.http import (
    JSON_TYPE,
    HttpRequest,
    McpRequestError,
    ResponseWriter,
    check_post_headers,
    parse_json,
)
from tornadohub.mcp.list_cache import LIST_METHODS, ListPages
from tornadohub.mcp.mailbox import Mailbox, StreamEvent
from tornadohub.mcp.relay import RequestOrigin
from tornadohub.mcp.server import McpView
from tornadohub.mcp.streams import push, relay
from tornadohub.options import McpOptions

log = logging.getLogger("tornadohub.mcp")


@dataclass
class ModernDispatchContext(StatelessContext):
    """The SDK ``DispatchContext`` of one 2026-07-28 exchange: no back-channel.

    Notifications the handler emits (progress, listen frames) go to the
    exchange's mailbox, i.e. onto this request's SSE stream.
    """

    transport: TransportContext
    request_id: RequestId
    message_metadata: MessageMetadata
    mailbox: Mailbox
    progress_token: ProgressToken | None = None

    async def notify(
        self, method: str, params: Mapping[str, Any] | None, opts: CallOptions | None = None
    ) -> None:
        body = dict(params) if params is not None else None
        push(
            self.mailbox,
            StreamEvent(JSONRPCNotification(jsonrpc="2.0", method=method, params=body)),
        )

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


class ModernRequests:
    """Serves 2026-07-28 exchanges for one transport (``McpTransport.handle`` routes them)."""

    def __init__(self, config: McpOptions, list_pages: Callable[[McpView], ListPages]) -> None:
        self.config = config
        self._list_pages = list_pages

    async def post(self, view: McpView, request: HttpRequest, writer: ResponseWriter) -> None:
        check_post_headers(request)
        decoded = parse_json(request.body)
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
            http=request, client=None, send=lambda message: push(mailbox, StreamEvent(message))
        )
        dctx = ModernDispatchContext(
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
            mailbox.put(StreamEvent(reply), force=True)
            mailbox.close()

        completed = False
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(run)
                await relay(mailbox, writer, {}, keepalive=self.config.keepalive)
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
