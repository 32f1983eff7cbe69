"""Route metadata for the OpenAPI document, kept on the handler classes themselves.

Each handler class says what each of its methods takes and answers with a class attribute
``openapi = RouteDoc({...})`` next to its code, so ``default_handlers`` is the only route
table and a route without one fails the document's build (and the tests), never silently.
Summaries and descriptions come from the handlers' docstrings. The helpers below are the
responses many routes share.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from marshmallow import Schema

from tornadohub import schemas as s
from tornadohub.openapi import Operation, PathParameter, Response

JSON_TYPE = "application/json"
SSE_TYPE = "text/event-stream"


def ok(schema: type[Schema], description: str = "OK") -> Response:
    return Response(description, {JSON_TYPE: schema})


def error(description: str) -> Response:
    return Response(description, {JSON_TYPE: s.ErrorSchema})


def rpc(description: str) -> Response:
    return Response(description, {JSON_TYPE: s.JsonRpcMessageSchema})


BAD_BODY = error("Missing or invalid field (VALIDATION_ERROR), or malformed JSON (INVALID_JSON)")
NO_SERVER = error("No server of that name (SERVER_NOT_FOUND)")
CALL_FAILED = error(
    "The call failed: TOOL_ERROR (not found, not connected, invalid arguments), the"
    " upstream's JSON-RPC error code, or -32001 on timeout (mcp-hub answers these with 500)"
)
STREAM = Response("Server-Sent Events", {SSE_TYPE: None})
#: What the MCP transport refuses on every route, as JSON-RPC error bodies.
MCP_REFUSALS: dict[int | str, Response] = {
    403: rpc("Origin not allowed (DNS-rebinding protection)"),
    406: rpc("The Accept header rules out the reply's media types"),
    413: rpc("Request body too large"),
    415: rpc("Content-Type is not application/json"),
    421: rpc("Host not allowed (DNS-rebinding protection)"),
}


@dataclass(frozen=True)
class RouteDoc:
    """How one handler class is described: its operations by method, its path parameters."""

    operations: Mapping[str, Operation]
    path_parameters: Sequence[PathParameter] = ()
    tag: str | None = None  # default: the handler's module


SERVER_CALL: dict[int | str, Response] = {400: BAD_BODY, 404: NO_SERVER, 500: CALL_FAILED}
DASHBOARD_PAGE = Operation({200: Response("The page", {"text/html": None})}, public=True)
