"""The patches of SDK privates: a 2026-07-28 session speaks for the hub's caller, and the
SDK's HTTP clients read an upstream's JSON as the hub's own transports do.

``mcp`` is pinned exactly (``mcp==2.3.0``), which is what makes patching
``ClientSession._stamp`` and the parser of ``mcp.client.streamable_http`` and
``mcp.client.sse`` acceptable; this module is the only place that does it, so an SDK
upgrade checks two functions. :data:`CALLER_CAPABILITIES` carries, per request, the client
capabilities the request declares on behalf of the client behind the hub.
"""

from __future__ import annotations

import contextvars
import enum
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any, Final

import mcp_types as types
from mcp import ClientSession
from mcp.client import sse, streamable_http

from tornadohub import jsontext
from tornadohub.upstreams.wire import invalid_answer


class Unset(enum.Enum):
    """The type of :data:`UNSET`: "not given", where ``None`` means something."""

    UNSET = enum.auto()


UNSET: Final = Unset.UNSET


#: The client capabilities the request being sent declares (2026-07-28 upstreams).
CALLER_CAPABILITIES: contextvars.ContextVar[dict[str, Any] | None | Unset] = contextvars.ContextVar(
    "caller_capabilities", default=UNSET
)


def speak_for_the_caller(
    session: ClientSession, param_headers: Callable[[str, Mapping[str, Any]], dict[str, str]]
) -> None:
    """Make a 2026-07-28 session declare the caller's capabilities, when a request gives them,
    and send a ``tools/call``'s ``Mcp-Param-*`` headers.

    The SDK stamps the session's own capabilities into every request's ``_meta``
    (there is no per-request override), while a 2026-07-28 server decides per
    request which input to ask for. The stamp runs synchronously inside
    ``send_request``, so a context variable set around that call reaches it. The
    SDK would mirror annotated arguments into headers only for tools listed through
    its own ``list_tools``; the hub lists them as plain JSON, so *param_headers*
    computes them from the hub's copy of the list.
    """
    stamp = session._stamp  # no public hook; mcp is pinned exactly

    def caller_stamp(data: dict[str, Any], opts: Any) -> None:
        stamp(data, opts)
        params = data.setdefault("params", {})
        if data.get("method") == "tools/call" and isinstance(params.get("name"), str):
            arguments = params.get("arguments")
            arguments = arguments if isinstance(arguments, dict) else {}
            headers = param_headers(params["name"], arguments)
            if headers:
                opts.setdefault("headers", {}).update(headers)
        declared = CALLER_CAPABILITIES.get()
        if declared is UNSET:
            return
        # None: the caller declared nothing, which the envelope says with an empty object.
        meta = params.setdefault("_meta", {})
        meta[types.CLIENT_CAPABILITIES_META_KEY] = {} if declared is None else declared

    session._stamp = caller_stamp


class _UpstreamMessages:
    """The ``jsonrpc_message_adapter`` the SDK's HTTP clients parse an upstream's messages
    with, made to read them as :func:`tornadohub.jsontext.loads` does (a STDIO line, the
    raw channel's answers): a lone surrogate escape is U+FFFD instead of a parse error (a
    list lost, a legacy answer never delivered), ``NaN`` and the infinities are null
    instead of reaching the hub's answers, an answer too deep to write on is an error answer,
    and so is an answer of the wrong shape (the SDK dropped it: its request waited).

    Measured against the SDK's ``validate_json``: +2.5 µs on a 100-byte message, 40% less
    on a 450 KB ``tools/list`` page (pydantic's JSON mode tries each member of the message
    union). Calls on the raw channel never come here: it parses with :mod:`jsontext` once.
    """

    def validate_json(self, data: str | bytes, /, **_: Any) -> types.JSONRPCMessage:
        try:
            value = jsontext.loads(data)
        except (ValueError, RecursionError):
            return self.not_json(data)
        try:
            return types.jsonrpc_message_adapter.validate_python(value, by_name=False)
        except ValueError:
            answer = invalid_answer(value)  # the wrong shape: its request fails at once
            if answer is None:
                raise
            return types.jsonrpc_message_adapter.validate_python(answer, by_name=False)

    def not_json(self, data: str | bytes) -> types.JSONRPCMessage:
        """A message that is not JSON: the SDK's own error, as before."""
        return types.jsonrpc_message_adapter.validate_json(data, by_name=False)

    def __getattr__(self, name: str) -> Any:
        return getattr(types.jsonrpc_message_adapter, name)


class _LegacyMessages(_UpstreamMessages):
    """The legacy transport's reader: an answer that is not JSON is a parse error for its
    request. The SDK's Streamable HTTP client does that itself (it knows which request a
    body answers); on the legacy event stream the SDK drops the message, and its request
    waited for the timeout (a minute for a list, then an empty one)."""

    def not_json(self, data: str | bytes) -> types.JSONRPCMessage:
        try:
            return super().not_json(data)
        except ValueError as exc:
            answer_id = jsontext.broken_answer_id(data)
            if answer_id is None:
                raise
            message = f"Failed to parse SSE message: {exc}"
            answer = jsontext.error_answer(answer_id, jsontext.PARSE_ERROR, message)
            return types.jsonrpc_message_adapter.validate_python(answer, by_name=False)


class _Types(ModuleType):
    """``mcp_types`` as ``mcp.client.sse`` sees it: its adapter is :class:`_LegacyMessages`."""

    jsonrpc_message_adapter = _LegacyMessages()

    def __getattr__(self, name: str) -> Any:
        return getattr(types, name)


def read_upstream_json() -> None:
    """Make the SDK's Streamable HTTP and legacy SSE clients parse with :mod:`jsontext`
    (idempotent). Both look the adapter up at each message, so replacing the name their
    module sees is enough; the SDK's server side (the hub's own endpoints) keeps its
    strict parser, so a client's lone surrogate is still refused there."""
    setattr(streamable_http, "jsonrpc_message_adapter", _UpstreamMessages())  # noqa: B010
    setattr(sse, "types", _Types(types.__name__))  # noqa: B010
