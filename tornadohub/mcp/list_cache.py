"""List pages answered from their wire form, without a pass through the SDK kernel.

``tools/list``, ``resources/list``, ``resources/templates/list`` and ``prompts/list``
went through the SDK kernel on every request, which validates the whole page against
the protocol version's schema and serializes it again (about 14 ms per 1,000 tools),
although the catalog already validated every definition and a page only changes when
the catalog does. :class:`ListPages` keeps, for the view's current catalog, the result
of each page per protocol version, and its JSON; the transport answers from it.

A page is computed by the kernel itself the first time (:func:`mcp.server.runner.serve_one`,
the same call that serves a 2026-07-28 request), so the bytes on the wire are the
kernel's: cache hints, the per-version sieve, ``resultType`` and the ``serverInfo``
stamp included. Anything this module does not recognise (other params, a cursor it
did not hand out for this catalog, a request the kernel would refuse) is left to the
kernel, which answers it as before.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import pydantic_core
from mcp.server.connection import Connection
from mcp.server.runner import serve_one
from mcp.shared.dispatcher import CallOptions
from mcp.shared.message import MessageMetadata
from mcp.shared.transport_context import TransportContext
from mcp_types import JSONRPCResponse, RequestId
from mcp_types.methods import validate_client_request
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import PrivateAttr

from tornadohub.mcp.aggregate import Catalog
from tornadohub.mcp.dispatch import StatelessContext
from tornadohub.mcp.server import McpView

log = logging.getLogger("tornadohub.mcp")

LIST_METHODS: Final = frozenset(
    {"tools/list", "resources/list", "resources/templates/list", "prompts/list"}
)


def response_wire(request_id: RequestId, result_json: bytes) -> bytes:
    """A response's wire form from its result's JSON, members in mcp-hub 4.2.1's order
    (``result``, ``jsonrpc``, ``id``; :func:`tornadohub.mcp.streams.encode`)."""
    tail = b',"jsonrpc":"2.0","id":' + pydantic_core.to_json(request_id) + b"}"
    return b'{"result":' + result_json + tail


class EncodedResponse(JSONRPCResponse):
    """A response that carries its own wire form (a cached page); it dumps like any other."""

    _wire: bytes = PrivateAttr(default=b"")

    @classmethod
    def of(
        cls, request_id: RequestId, result: dict[str, Any], result_json: bytes
    ) -> EncodedResponse:
        """The response to *request_id*; *result_json* must be *result* as pydantic dumps it."""
        response = cls.model_construct(jsonrpc="2.0", id=request_id, result=result)
        response._wire = response_wire(request_id, result_json)
        return response

    @property
    def wire(self) -> bytes:
        """What :func:`tornadohub.mcp.streams.encode` makes of it, computed once per page."""
        return self._wire


@dataclass(frozen=True)
class _Page:
    result: dict[str, Any]
    json: bytes


@dataclass
class _PageContext(StatelessContext):
    """The SDK ``DispatchContext`` of a page computed for the cache: nobody to talk back to."""

    request_id: RequestId
    transport: TransportContext = field(
        default_factory=lambda: TransportContext(
            kind="tornadohub-list-pages", can_send_request=False
        )
    )
    message_metadata: MessageMetadata = None

    async def notify(
        self, method: str, params: Mapping[str, Any] | None, opts: CallOptions | None = None
    ) -> None:
        """Dropped: listing a page notifies nobody."""

    async def progress(
        self, progress: float, total: float | None = None, message: str | None = None
    ) -> None:
        """Dropped: a page is computed at once."""


class ListPages:
    """The list pages of one view's current catalog, as the kernel answers them.

    Keyed by (method, cursor, protocol version). Only the first page and the cursors
    handed out with cached pages are kept, so the cache holds at most one copy of the
    catalog per protocol version in use (as dicts and as JSON: about 25 MB for 10,000
    tools); a version's pages are dropped as soon as the view publishes a new catalog
    for it.
    """

    def __init__(self, view: McpView) -> None:
        self.view = view
        #: The catalog each protocol version's pages were computed from (the view's
        #: 2026-07-28 catalog may differ from the handshake era's).
        self._catalogs: dict[str, Catalog] = {}
        self._pages: dict[tuple[str, str | None, str], _Page] = {}
        self._cursors: set[tuple[str, str, str]] = set()  # (version, method, cursor) handed out

    def _drop(self, version: str) -> None:
        """Forget the pages of *version*: its catalog was replaced."""
        self._catalogs.pop(version, None)
        self._pages = {key: page for key, page in self._pages.items() if key[2] != version}
        self._cursors = {entry for entry in self._cursors if entry[0] != version}

    async def response(
        self, request_id: RequestId, method: str, params: Any, version: str
    ) -> EncodedResponse | None:
        """The kernel's response to this list request, or None: the kernel must answer it.

        *version* is the protocol version the request is served at (the session's, or
        the 2026-07-28 envelope's); *params* are the request's raw params.
        """
        if not _servable(method, params, version):
            return None
        if version in MODERN_PROTOCOL_VERSIONS:
            await self.view.open_channels()
        cursor: str | None = (params or {}).get("cursor")
        catalog = self.view.catalog_for(version)
        if catalog is not self._catalogs.get(version):
            self._drop(version)
            self._catalogs[version] = catalog
        if cursor is not None and (version, method, cursor) not in self._cursors:
            return None  # not one of ours for this catalog: the kernel checks it
        key = (method, cursor, version)
        page = self._pages.get(key)
        if page is None:
            page = await self._compute(request_id, method, params, version)
            if page is None:
                return None
            if self.view.catalog_for(version) is catalog:  # else it may be the next one's page
                self._pages[key] = page
                next_cursor = page.result.get("nextCursor")
                if isinstance(next_cursor, str):
                    self._cursors.add((version, method, next_cursor))
        return EncodedResponse.of(request_id, page.result, page.json)

    async def _compute(
        self, request_id: RequestId, method: str, params: Any, version: str
    ) -> _Page | None:
        """One page through the kernel, exactly as it serves a request at *version*."""
        try:
            result = await serve_one(
                self.view.server,
                _PageContext(request_id),
                method,
                params,
                connection=Connection.from_envelope(version, None, None),
                lifespan_state={},
            )
        except Exception as exc:  # an error: the kernel answers it again, to the client
            log.debug("%s page not cached: %s", method, exc)
            return None
        return _Page(result, pydantic_core.to_json(result))


def _servable(method: str, params: Any, version: str) -> bool:
    """Whether this is a list request the kernel would accept at *version*."""
    if method not in LIST_METHODS or not (params is None or isinstance(params, dict)):
        return False
    try:
        validate_client_request(method, version, params)
    except (KeyError, ValueError):  # unknown at this version, or malformed (ValidationError)
        return False
    cursor = (params or {}).get("cursor")
    return cursor is None or isinstance(cursor, str)
