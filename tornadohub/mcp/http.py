"""The HTTP face of ``/mcp``, independent of Tornado: requests, refusals, checks.

:class:`HttpRequest` is what the endpoint needs of a request, :class:`ResponseWriter` what
it needs of a response (``handlers/mcp.py`` implements it) and :class:`McpRequestError` a
refusal: an HTTP status with a JSON-RPC error body. The checks every route shares (body
size, Accept, Content-Type, one JSON-RPC message) are here too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol, runtime_checkable

from mcp.shared.inbound import (
    ERROR_CODE_HTTP_STATUS,
    InboundLadderRejection,
)
from mcp_types import (
    INVALID_REQUEST,
    PARSE_ERROR,
    JSONRPCMessage,
    RequestId,
    jsonrpc_message_adapter,
)
from pydantic import ValidationError as PydanticValidationError

from tornadohub import policy

SESSION_HEADER: Final = "mcp-session-id"


LEGACY_ERROR: Final = -32000  # what mcp-hub (the TS SDK) answers on /messages
#: and the type it answers with there (Express's ``res.json``)
LEGACY_JSON_TYPE: Final = "application/json; charset=utf-8"


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
        content_type: str = JSON_TYPE,
    ) -> None:
        super().__init__(message)
        self.content_type = content_type
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

    @classmethod
    def legacy(cls, status: int, message: str) -> McpRequestError:
        """A refusal on ``/messages`` (legacy SSE), as mcp-hub words and types it."""
        return cls(status, message, code=LEGACY_ERROR, content_type=LEGACY_JSON_TYPE)

    def body(self) -> bytes:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        body = {"jsonrpc": "2.0", "error": error, "id": self.request_id}
        # compact, as JSON.stringify writes it (mcp-hub's refusals, observed)
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class HttpRequest:
    """What the endpoint needs from one HTTP request."""

    method: str
    header_lines: Sequence[tuple[str, str]]
    body: bytes = b""
    query: Mapping[str, str] = field(default_factory=dict)
    principal: str | None = None  # the API key's name when inbound auth is on
    client_address: str | None = None  # whose session quota applies when auth is off
    #: The path and query as the client sent them (what a forwarding node forwards).
    uri: str = ""
    #: Cluster mode: the node that forwarded this request over the internal hop (a hopped
    #: request is never forwarded again).
    hopped_from: str | None = None

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


@runtime_checkable
class DirectWriter(ResponseWriter, Protocol):
    """A :class:`ResponseWriter` that can also write an open stream's chunk synchronously."""

    def can_send_now(self) -> bool:
        """Whether :meth:`send_now` may write (the stream is open and not held up)."""

    def send_now(self, chunk: bytes) -> None:
        """Write one chunk of an open stream without waiting for it to drain."""


def accepts(request: HttpRequest) -> tuple[bool, bool]:
    """(JSON, SSE) acceptable per the Accept header, wildcards included."""
    return accepted_types(request.header("accept"))


def accepted_types(accept: str | None) -> tuple[bool, bool]:
    """(JSON, SSE) acceptable per an Accept header value, wildcards included."""
    types = {part.split(";")[0].strip().lower() for part in (accept or "").split(",")}
    wildcard = "*/*" in types
    return (
        wildcard or bool(types & {JSON_TYPE, "application/*"}),
        wildcard or bool(types & {SSE_TYPE, "text/*"}),
    )


#: How deep a message may nest: what the fast path's parser (``pydantic_core.from_json``,
#: ``handlers/hot.py``) takes, so both paths take the same messages; the hub's writers
#: (``pydantic_core.to_json``) fail past 255 levels, with the envelope around the value.
MAX_MESSAGE_DEPTH: Final = 200


def parse_json(body: bytes) -> Any:
    """The body as strict JSON (:func:`tornadohub.policy.parse_json`), else -32700.

    What the hub could not write again (a lone surrogate, nesting past what its
    serializer takes, ``NaN``) is refused here rather than failing later, upstream-bound
    or on the way back, where it broke the call, the upstream's channel or the session.
    """
    try:
        return policy.parse_json(body, max_depth=MAX_MESSAGE_DEPTH)
    except policy.JsonBodyError as exc:
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


def check_size(request: HttpRequest, limit: int) -> None:
    """413 for a body above *limit* bytes (``--mcp-max-body``)."""
    if len(request.body) > limit:
        raise McpRequestError(413, f"Request body too large (limit {limit} bytes)")


def check_post_headers(request: HttpRequest) -> None:
    """406 unless both JSON and SSE are acceptable; 415 unless the body is JSON."""
    json_ok, sse_ok = accepts(request)
    if not (json_ok and sse_ok):
        raise McpRequestError(
            406,
            "Not Acceptable: Client must accept both application/json and text/event-stream",
        )
    content_type = (request.header("content-type") or "").split(";")[0].strip().lower()
    if content_type != JSON_TYPE:
        raise McpRequestError(415, "Unsupported Media Type: Content-Type must be application/json")
