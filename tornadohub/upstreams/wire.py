"""What the hub sends upstream and how failures read: request models, list kinds.

The hub forwards what upstreams return unchanged (:class:`RawResult`); requests are built
from plain JSON params with the SDK's models (:func:`build_request`). A leaf of the
``upstreams`` package: no upstream state here.
"""

from __future__ import annotations

import re
from typing import Any

import mcp_types as types
from mcp import MCPError
from pydantic import BaseModel, RootModel

from tornadohub import jsontext
from tornadohub.errors import HubError


class RawResult(RootModel[dict[str, Any]]):
    """A result kept as plain JSON: the hub forwards what upstreams return, unchanged."""


LIST_KINDS: tuple[tuple[str, str, str], ...] = (
    # (capability key in ServerInfo, list method, result field)
    ("tools", "tools/list", "tools"),
    ("resources", "resources/list", "resources"),
    ("resourceTemplates", "resources/templates/list", "resourceTemplates"),
    ("prompts", "prompts/list", "prompts"),
)


#: Guard against an upstream that hands out cursors forever.
MAX_LIST_PAGES = 1000


def empty_capabilities() -> dict[str, list[dict[str, Any]]]:
    return {key: [] for key, _, _ in LIST_KINDS}


#: How servers (and the SDK's client, for a 404) say an HTTP session no longer exists.
SESSION_GONE = re.compile(r"session (terminated|not found|expired|unknown)", re.IGNORECASE)


#: Requests that a 2026-07-28 upstream does not have: its listen stream does their work.
SUBSCRIPTION_METHODS = frozenset({"resources/subscribe", "resources/unsubscribe"})


#: Methods that may be re-sent after the connection dropped mid-request.
IDEMPOTENT_METHODS = frozenset(
    {
        "tools/list",
        "resources/list",
        "resources/templates/list",
        "prompts/list",
        "resources/read",
        "prompts/get",
        "completion/complete",
    }
)


#: The server-to-client requests a client request handler serves, and their result models.
CLIENT_REQUEST_RESULTS: dict[str, type[BaseModel]] = {
    "sampling/createMessage": types.CreateMessageResult,
    "elicitation/create": types.ElicitResult,
    "roots/list": types.ListRootsResult,
}


def supports_list(caps: types.ServerCapabilities | None, key: str) -> bool:
    if caps is None:
        return True
    if key in ("resources", "resourceTemplates"):
        return caps.resources is not None
    return getattr(caps, key, None) is not None


_REQUEST_TYPES: dict[str, tuple[type[Any], type[Any] | None]] = {
    "tools/list": (types.ListToolsRequest, types.PaginatedRequestParams),
    "resources/list": (types.ListResourcesRequest, types.PaginatedRequestParams),
    "resources/templates/list": (types.ListResourceTemplatesRequest, types.PaginatedRequestParams),
    "prompts/list": (types.ListPromptsRequest, types.PaginatedRequestParams),
    "tools/call": (types.CallToolRequest, types.CallToolRequestParams),
    "resources/read": (types.ReadResourceRequest, types.ReadResourceRequestParams),
    "prompts/get": (types.GetPromptRequest, types.GetPromptRequestParams),
    "completion/complete": (types.CompleteRequest, types.CompleteRequestParams),
    "resources/subscribe": (types.SubscribeRequest, types.SubscribeRequestParams),
    "resources/unsubscribe": (types.UnsubscribeRequest, types.UnsubscribeRequestParams),
}


def build_request(method: str, params: dict[str, Any]) -> Any:
    request_type, params_type = _REQUEST_TYPES[method]
    if params_type is None:
        return request_type()
    return request_type(params=params_type.model_validate(params))


def list_request(method: str, cursor: str | None) -> Any:
    return build_request(method, {"cursor": cursor} if cursor else {})


#: The message of the error answer that stands for an answer of the wrong shape.
INVALID_ANSWER = "Invalid JSON-RPC response from the server"


def invalid_answer(value: Any) -> dict[str, Any] | None:
    """The error answer (-32603) that stands for *value*, an answer the SDK's model refused
    (``{"id": 3, "result": 5}``): its request fails at once, where the SDK drops the
    message and the request waits for its timeout. None when *value* is not an answer."""
    answer_id = jsontext.answer_id(value)
    if answer_id is None:
        return None
    return jsontext.error_answer(answer_id, types.INTERNAL_ERROR, INVALID_ANSWER)


def innermost(exc: BaseException) -> BaseException:
    """The first exception inside anyio's exception groups (*exc* itself if none)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def describe_exception(exc: BaseException) -> str:
    """One readable line for an exception, unwrapping anyio's exception groups."""
    exc = innermost(exc)
    if isinstance(exc, TimeoutError):
        return "Connection timed out"
    if isinstance(exc, FileNotFoundError):
        return f"spawn {exc.filename} ENOENT" if exc.filename else str(exc)
    if isinstance(exc, HubError):
        return exc.message
    if isinstance(exc, MCPError):
        return f"MCP error {exc.code}: {exc.message}"
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
