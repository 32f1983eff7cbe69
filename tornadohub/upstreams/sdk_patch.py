"""The one patch of an SDK private: a 2026-07-28 session speaks for the hub's caller.

``mcp`` is pinned exactly (``mcp==2.3.0``), which is what makes patching
``ClientSession._stamp`` acceptable; this module is the only place that does it, so an SDK
upgrade checks one function. :data:`CALLER_CAPABILITIES` carries, per request, the client
capabilities the request declares on behalf of the client behind the hub.
"""

from __future__ import annotations

import contextvars
import enum
from collections.abc import Callable, Mapping
from typing import Any, Final

import mcp_types as types
from mcp import ClientSession


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
