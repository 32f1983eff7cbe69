"""Aggregated ``tools/call``, ``prompts/get`` and ``resources/read`` answered in the
transport, without the SDK kernel.

For an initialized handshake-era session, such a request whose name or URI the catalog
routes to a connected handshake-era upstream with a plain-JSON channel
(:class:`~tornadohub.upstreams.base.RawChannel`) is forwarded as raw JSON-RPC, as REST
forwards it: no pydantic model of the request, no task of the kernel's dispatcher, no
memory stream, no OpenTelemetry span. Everything the kernel path does that a client can
see is kept:

* the result is the upstream's, without a 2026 ``serverInfo`` stamp (a read resource's
  URIs as the client knows them), shaped by the kernel's own serializer (cache hints, the
  per-version sieve), so its bytes are the kernel's; an upstream failure is a tool error
  (``isError``) for ``tools/call`` and the upstream's JSON-RPC error otherwise, as
  :class:`~tornadohub.mcp.server.McpView` answers;
* progress for the caller's token goes on the request's stream, in order with the result;
* log entries and the upstream's own requests (sampling, elicitation, roots) reach this
  session through the relay, which sees the call in flight like any other;
* ``notifications/cancelled`` for the request cancels it upstream and answers -32800, as
  the kernel's unanswered-request hook does; a graceful stop waits for it (``hub.calls``).

Anything else (another method, unknown names, params the kernel would reject or that
carry more than the name or URI, ``arguments`` and a progress token, sessions not
initialized, 2026-07-28 exchanges) is not taken: :meth:`FastPath.prepare` returns None and
the request goes to the kernel as before.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, cast

import mcp_types as types
import pydantic_core
from mcp import MCPError
from mcp.server.connection import Connection
from mcp.server.runner import ServerRunner
from mcp.shared.dispatcher import coerce_request_id
from mcp_types import ErrorData, JSONRPCError, JSONRPCNotification, RequestId
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, MODERN_PROTOCOL_VERSIONS

from tornadohub import metrics
from tornadohub.errors import HubError, UpstreamError
from tornadohub.hub import Hub
from tornadohub.mcp.aggregate import PROMPTS, TOOLS
from tornadohub.mcp.forward import public_contents
from tornadohub.mcp.list_cache import EncodedResponse
from tornadohub.mcp.relay import Relay, RequestOrigin
from tornadohub.state import UpstreamStatus
from tornadohub.upstreams import Upstream

log = logging.getLogger("tornadohub.mcp")

#: Answer to a request the client cancelled (as :data:`tornadohub.mcp.sessions.REQUEST_CANCELLED`).
REQUEST_CANCELLED: Final = -32800
SERVER_INFO_META_KEY: Final = "io.modelcontextprotocol/serverInfo"
#: The methods answered here and the params each may carry.
_PARAM_KEYS: Final[dict[str, frozenset[str]]] = {
    "tools/call": frozenset({"name", "arguments", "_meta"}),
    "prompts/get": frozenset({"name", "arguments", "_meta"}),
    "resources/read": frozenset({"uri", "_meta"}),
}
_MCP_ERROR_PREFIX: Final = re.compile(r"^MCP error -?\d+: ")


@dataclass(eq=False)
class FastCall:
    """One request the transport answers itself."""

    session: Any  # tornadohub.mcp.sessions.Session
    request_id: RequestId
    method: str
    params: dict[str, Any]  # as the client sent them
    upstream: Upstream
    forwarded: dict[str, Any]  # the params the upstream gets
    context: dict[str, Any]  # what an error names (server added)
    prefix: str  # the server id the session sees the upstream under
    version: str  # the session's protocol version
    progress_token: types.ProgressToken | None
    namespace: str = ""  # resources/read: the URI namespace the client read under
    http: Any = None  # the HttpRequest it came in (not kept: nothing reads it)
    task: asyncio.Task[None] | None = field(default=None)
    cancelled: bool = False

    @property
    def key(self) -> tuple[str, RequestId]:
        return self.session.id, coerce_request_id(self.request_id)

    @property
    def name(self) -> str:
        """The tool or prompt as the client named it (the URI read, for resources)."""
        return str(self.params.get("name", self.params.get("uri")))

    @property
    def arguments(self) -> dict[str, Any]:
        arguments = self.params.get("arguments")
        return arguments if isinstance(arguments, dict) else {}


class FastPath:
    """Decides which requests the transport answers itself, and answers them."""

    def __init__(self, hub: Hub, relay: Relay, *, request_timeout: float) -> None:
        self.hub = hub
        self.relay = relay
        self.request_timeout = request_timeout
        #: Calls in flight by (session id, request id), for ``notifications/cancelled``.
        self.calls: dict[tuple[str, RequestId], FastCall] = {}
        self._serializers: dict[int, _Serializer] = {}

    # ------------------------------------------------------------------ choice
    def prepare(self, session: Any, message: Any) -> FastCall | None:
        """The fast call *message* is for *session*, or None when the kernel must answer."""
        if not isinstance(message, dict):
            return None
        method = message.get("method")
        if not isinstance(method, str) or (keys := _PARAM_KEYS.get(method)) is None:
            return None
        request_id = message.get("id")
        if isinstance(request_id, bool) or not isinstance(request_id, str | int):
            return None
        if message.get("jsonrpc") != "2.0" or len(message) != 4:
            return None
        params = message.get("params")
        if not isinstance(params, dict) or not params.keys() <= keys:
            return None
        token = _progress_token(params)
        if token is False:
            return None
        version = session.protocol_version
        if version is None or version in MODERN_PROTOCOL_VERSIONS or not session.initialized:
            return None
        if not session.legacy and session.in_flight(request_id):
            return None  # the kernel answers a repeated id as it does
        catalog = session.view.catalog_for(version)
        namespace = ""
        if method == "resources/read":
            uri = params.get("uri")
            if not isinstance(uri, str):
                return None
            route = catalog.route_resource(uri)
            if route is None:
                return None
            forwarded: dict[str, Any] = {"uri": route.original}
            context: dict[str, Any] = {"uri": route.original}
            namespace = route.namespace
        else:
            name, arguments = params.get("name"), params.get("arguments")
            if not isinstance(name, str) or not (arguments is None or isinstance(arguments, dict)):
                return None
            if method == "prompts/get":
                if arguments and not all(isinstance(v, str) for v in arguments.values()):
                    return None  # the kernel refuses it (prompt arguments are strings)
                route = catalog.route(PROMPTS, name)
                context = {"prompt": route.original} if route is not None else {}
            else:
                route = catalog.route(TOOLS, name)
                context = {"tool": route.original, "args": arguments or {}} if route else {}
            if route is None:
                return None
            forwarded = {"name": route.original, "arguments": arguments or {}}
        upstream = self.hub.upstreams.get(route.upstream)
        if (
            upstream is None
            or upstream.raw is None
            or upstream.status is not UpstreamStatus.connected
            or upstream.protocol_version in MODERN_PROTOCOL_VERSIONS
            or not self.hub.accepting_work
        ):
            return None
        call = FastCall(
            session=session,
            request_id=request_id,
            method=method,
            params=params,
            upstream=upstream,
            forwarded=forwarded,
            context=context,
            prefix=session.view.public_prefix(route.upstream) or "",
            version=version,
            progress_token=token,
            namespace=namespace,
        )
        if call.key in self.calls:
            return None
        return call

    # ----------------------------------------------------------------- answer
    async def answer(self, call: FastCall) -> None:
        """Run *call* and route its response (or -32800 once cancelled) to its session."""
        self.calls[call.key] = call
        call.task = asyncio.current_task()
        session = call.session
        try:
            response = await self._respond(call)
        except asyncio.CancelledError:
            if session.legacy or not session.ended.is_set():
                error = ErrorData(code=REQUEST_CANCELLED, message="Request cancelled")
                session.answer(JSONRPCError(jsonrpc="2.0", id=call.request_id, error=error))
            raise
        finally:
            if self.calls.get(call.key) is call:
                del self.calls[call.key]
        session.answer(response)

    async def _respond(self, call: FastCall) -> EncodedResponse | JSONRPCError:
        name = call.upstream.name
        if call.method == "tools/call":
            start = time.perf_counter()
            try:
                result = await self._forward(call)
            except Exception as exc:
                metrics.tool_call_failed(name, start, exc)
                if not isinstance(exc, UpstreamError | HubError):  # the hub stopping, too
                    raise
                result = {"content": [{"type": "text", "text": exc.message}], "isError": True}
            else:
                metrics.tool_call_answered(name, start, result)
        else:
            try:
                result = await self._forward(call)
            except UpstreamError as exc:
                if isinstance(exc.code, int):  # the upstream's JSON-RPC error, passed through
                    message = _MCP_ERROR_PREFIX.sub("", exc.message)
                    data = {"uri": call.name} if call.method == "resources/read" else None
                    error = MCPError(exc.code, message, data or exc.upstream_data).error
                else:
                    error = MCPError(types.INTERNAL_ERROR, f"{name}: {exc.message}").error
                return JSONRPCError(jsonrpc="2.0", id=call.request_id, error=error)
            except HubError as exc:  # the hub is stopping
                error = MCPError(types.INTERNAL_ERROR, exc.message).error
                return JSONRPCError(jsonrpc="2.0", id=call.request_id, error=error)
            if call.method == "resources/read":
                result = public_contents(result, call.namespace)
        try:
            shaped = self._serializer(call).serialize(call.method, call.version, result)
        except MCPError as exc:  # an invalid result, as the kernel reports it
            return JSONRPCError(jsonrpc="2.0", id=call.request_id, error=exc.error)
        return EncodedResponse.of(call.request_id, shaped, pydantic_core.to_json(shaped))

    def _serializer(self, call: FastCall) -> _Serializer:
        server = call.session.view.server
        runner = self._serializers.get(id(server))
        if runner is None or runner.server is not server:
            runner = self._serializers[id(server)] = _Serializer(server)
        return runner

    async def _forward(self, call: FastCall) -> dict[str, Any]:
        name = call.upstream.name
        context = call.context
        upstream = self.hub.upstreams.get(name)  # replaced on restart: read it fresh
        if upstream is None:
            raise UpstreamError("Server not found", data={"server": name, **context})
        origin = RequestOrigin(
            http=call.http,
            client=call.session,
            send=lambda message: call.session.send_related(call.request_id, message),
        )
        on_progress = None if call.progress_token is None else _Progress(call)
        with (
            self.hub.calls.in_flight(server=name, **context),
            self.relay.in_flight_of(
                name, origin, call.prefix, lambda: call.session.request_context(call)
            ),
        ):
            result = await upstream.request(
                call.method,
                call.forwarded,
                timeout=self.request_timeout,
                error_code="TOOL_ERROR",
                context=context,
                on_progress=on_progress,
            )
        return _own_result(result)

    # ------------------------------------------------------------ cancellation
    def cancel(self, session: Any, params: Mapping[str, Any] | None) -> bool:
        """``notifications/cancelled`` from *session*: cancel its fast call, if it is one."""
        request_id = (params or {}).get("requestId")
        if isinstance(request_id, bool) or not isinstance(request_id, str | int):
            return False
        call = self.calls.get((session.id, coerce_request_id(request_id)))
        if call is None or call.task is None or call.task.done() or call.cancelled:
            return False
        call.cancelled = True  # once: a second cancel would cut the upstream's notice short
        call.task.cancel()
        return True


class _Serializer:
    """The kernel's own result shaping for one view's server (cache hints, the sieve)."""

    def __init__(self, server: Any) -> None:
        self.server = server
        # The runner's serializer reads only its server; it needs no connection.
        self._runner: ServerRunner[Any] = ServerRunner(server, cast(Connection, None), {})

    def serialize(self, method: str, version: str, result: dict[str, Any]) -> dict[str, Any]:
        if (
            method == "tools/call"
            and version in _PLAIN_RESULT_VERSIONS
            and "tools/call" not in self.server.cache_hints
            and (plain := _plain_tool_result(result)) is not None
        ):
            return plain
        return self._runner._serialize(method, version, result)


#: The versions whose ``tools/call`` sieve keeps text content and ``isError`` as they are
#: (the 2025-11-25 schema for all of them); a 2026 result is stamped, so never plain.
_PLAIN_RESULT_VERSIONS: Final = frozenset(HANDSHAKE_PROTOCOL_VERSIONS)


def _plain_tool_result(result: dict[str, Any]) -> dict[str, Any] | None:
    """What the serializer makes of *result* when it is only text items and ``isError``.

    Validating and dumping such a result only reorders keys (the schema's field order:
    ``content`` then ``isError``, ``text`` then ``type``); anything else (annotations,
    ``_meta``, other item kinds, ``structuredContent``, a non-bool ``isError``) is None,
    for the serializer to shape.
    """
    content = result.get("content")
    if type(content) is not list or len(result) != 1 + ("isError" in result):
        return None
    items: list[dict[str, Any]] = []
    for item in content:
        if type(item) is not dict or len(item) != 2 or item.get("type") != "text":
            return None
        text = item.get("text")
        if type(text) is not str:
            return None
        items.append({"text": text, "type": "text"})
    if "isError" not in result:
        return {"content": items}
    is_error = result["isError"]
    return {"content": items, "isError": is_error} if type(is_error) is bool else None


class _Progress:
    """Upstream progress of one call, sent on its stream before the result (no await inside,
    so it is routed before the response that follows it on the upstream's wire)."""

    def __init__(self, call: FastCall) -> None:
        self.call = call

    async def __call__(self, progress: float, total: float | None, message: str | None) -> None:
        params: dict[str, Any] = {"progressToken": self.call.progress_token, "progress": progress}
        if total is not None:
            params["total"] = total
        if message is not None:
            params["message"] = message
        note = JSONRPCNotification(jsonrpc="2.0", method="notifications/progress", params=params)
        self.call.session.send_related(self.call.request_id, note)


def _progress_token(params: dict[str, Any]) -> types.ProgressToken | None | bool:
    """The caller's progress token; False when ``_meta`` holds anything else."""
    meta = params.get("_meta")
    if meta is None:
        return None
    if not isinstance(meta, dict) or not meta.keys() <= {"progressToken"}:
        return False
    token = meta.get("progressToken")
    if token is None:
        return None
    if isinstance(token, bool) or not isinstance(token, str | int):
        return False
    return token


def _own_result(result: dict[str, Any]) -> dict[str, Any]:
    """Drop an upstream's 2026 ``serverInfo`` stamp so the hub's never doubles it."""
    meta = result.get("_meta")
    if isinstance(meta, dict) and SERVER_INFO_META_KEY in meta:
        meta = {k: v for k, v in meta.items() if k != SERVER_INFO_META_KEY}
        if meta:
            return {**result, "_meta": meta}
        return {k: v for k, v in result.items() if k != "_meta"}
    return result
