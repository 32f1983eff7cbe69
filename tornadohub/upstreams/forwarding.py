"""Where one upstream request goes: :meth:`Forwarding.request`.

Every request the hub sends to a server on behalf of a client (REST calls, ``/mcp``) goes
through here: over the :class:`~tornadohub.upstreams.raw.RawChannel` for the hot methods
when the transport has one, else over the SDK session; a request whose session vanished is
re-sent once when that is safe. This is the seam the hot path works on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Any

import anyio
import mcp_types as types
from mcp import MCPError
from mcp.shared.dispatcher import ProgressFnT
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from tornadohub.errors import UpstreamError
from tornadohub.state import UpstreamStatus
from tornadohub.upstreams.core import LiveSession, loop_time
from tornadohub.upstreams.lists import CapabilityLists
from tornadohub.upstreams.raw import RAW_METHODS
from tornadohub.upstreams.sdk_patch import CALLER_CAPABILITIES, UNSET, Unset
from tornadohub.upstreams.wire import (
    IDEMPOTENT_METHODS,
    SESSION_GONE,
    SUBSCRIPTION_METHODS,
    RawResult,
    build_request,
)

log = logging.getLogger("tornadohub.upstream")


class Forwarding(CapabilityLists):
    """Requests over the live session: the raw channel when there is one, a re-send over a
    fresh session when that is safe, MCP errors as the contract's envelope."""

    # -------------------------------------------------------------------- calls
    def require_session(self, error_code: str, context: dict[str, Any]) -> LiveSession:
        """The live connection, or mcp-hub's "not initialized"/"not connected" error."""
        conn = self._conn
        if conn is not None and self.status is UpstreamStatus.connected:
            return conn
        if self.disabled or not self.running:
            raise UpstreamError(
                "Server not initialized", code=error_code, data={"server": self.name, **context}
            )
        raise UpstreamError(
            "Server not connected",
            code=error_code,
            data={"server": self.name, **context, "status": self.status.value},
        )

    async def request(
        self,
        method: str,
        params: dict[str, Any],
        *,
        timeout: float,
        error_code: str,
        context: dict[str, Any],
        on_progress: ProgressFnT | None = None,
        client_capabilities: dict[str, Any] | None | Unset = UNSET,
    ) -> dict[str, Any]:
        """Send one request over the live session and return the raw result.

        *client_capabilities* are declared to a 2026-07-28 upstream for this request
        instead of the hub's own (``None``: declare none), so that an upstream asks
        only for the input the client behind the hub can give.

        Fails fast with a clear :class:`UpstreamError` when there is no live session,
        and maps MCP errors (including timeouts, -32001) to the contract's envelope.
        A request whose session vanished (the upstream restarted or dropped its HTTP
        session) is re-sent once over a fresh session when that is safe: the upstream
        answered "Session terminated" (it never ran it) or the method is idempotent.
        A resource subscription of a handshake session is followed by its 2026-07-28
        channel as well (:class:`~tornadohub.upstreams.eras.ModernChannel`).
        """
        if method in SUBSCRIPTION_METHODS and self.protocol_version in MODERN_PROTOCOL_VERSIONS:
            self.require_session(error_code, context)
            return self._listen_to(method, str(params.get("uri")))
        result = await self._send(
            method,
            params,
            deadline=time.monotonic() + timeout,
            error_code=error_code,
            context=context,
            on_progress=on_progress,
            client_capabilities=client_capabilities,
        )
        if method in SUBSCRIPTION_METHODS:
            self.modern.follow(method, str(params.get("uri")))
        return result

    async def _send(
        self,
        method: str,
        params: dict[str, Any],
        *,
        deadline: float,
        error_code: str,
        context: dict[str, Any],
        on_progress: ProgressFnT | None,
        client_capabilities: dict[str, Any] | None | Unset,
    ) -> dict[str, Any]:
        for attempt in (1, 2):
            conn = self.require_session(error_code, context)
            declared = CALLER_CAPABILITIES.set(client_capabilities)
            try:
                raw = self.raw
                if (
                    raw is not None
                    and method in RAW_METHODS
                    and self.protocol_version not in MODERN_PROTOCOL_VERSIONS
                ):
                    return await raw.request(
                        method,
                        params,
                        timeout=max(0.001, deadline - time.monotonic()),
                        on_progress=on_progress,
                    )
                result = await conn.session.send_request(
                    build_request(method, params),
                    RawResult,
                    request_read_timeout_seconds=max(0.001, deadline - time.monotonic()),
                    progress_callback=on_progress,
                )
                return result.root
            except MCPError as exc:
                if conn.unauthorized:
                    raise self._authorization_expired(error_code, context) from None
                terminated = exc.code == types.INVALID_REQUEST and bool(
                    SESSION_GONE.search(str(exc.message))
                )
                closed = exc.code == types.CONNECTION_CLOSED
                if terminated or closed:
                    conn.lost.set()
                safe = terminated or (closed and method in IDEMPOTENT_METHODS)
                if attempt == 1 and safe and await self._reconnected(conn, deadline):
                    log.info("%s: session lost, re-sending %s", self.name, method)
                    continue
                raise UpstreamError(
                    self._redact(f"MCP error {exc.code}: {exc.message}"),
                    code=exc.code,
                    data={"server": self.name, **context, "originalError": original_error(exc)},
                    upstream_data=exc.error.data,
                ) from None
            except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                if conn.unauthorized:
                    raise self._authorization_expired(error_code, context) from None
                conn.lost.set()
                raise UpstreamError(
                    "Not connected",
                    code="TOOL_EXECUTION_ERROR",
                    data={"server": self.name, **context},
                ) from None
            finally:
                CALLER_CAPABILITIES.reset(declared)
        raise AssertionError("unreachable")  # pragma: no cover

    def _authorization_expired(self, error_code: str, context: dict[str, Any]) -> UpstreamError:
        """The error of a call whose session lost its tokens (the owner is asking the user
        again: a call never waits for that)."""
        return UpstreamError(
            f'Server "{self.name}" needs authorization again',
            code=error_code,
            data={"server": self.name, **context, "status": UpstreamStatus.unauthorized.value},
        )

    async def notify_roots_changed(self) -> None:
        """Pass a client's ``notifications/roots/list_changed`` on (handshake era only)."""
        conn = self._conn
        if conn is None or self.protocol_version in MODERN_PROTOCOL_VERSIONS:
            return
        if self._client_requests is None:  # roots were not advertised to this upstream
            return
        try:
            await conn.session.send_notification(types.RootsListChangedNotification())
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            conn.lost.set()

    async def _reconnected(self, conn: LiveSession, deadline: float) -> bool:
        """Wait (until *deadline*) for the owner to replace the lost *conn* by a new session."""
        try:
            async with asyncio.timeout_at(loop_time(deadline)):
                await conn.ended.wait()
                await self._connected.wait()
        except TimeoutError:
            return False
        return self.status is UpstreamStatus.connected

    def _mcp_param_headers(self, tool: str, arguments: Mapping[str, Any]) -> dict[str, str]:
        return self._param_headers.headers(self.capabilities["tools"], tool, arguments)


def original_error(exc: MCPError) -> dict[str, Any]:
    """mcp-hub's ``originalError``: its SDK error's own fields, in their order (``data`` only
    when the server sent some), e.g. ``{"code": -32602, "name": "McpError"}``."""
    original: dict[str, Any] = {"code": exc.code}
    if exc.error.data is not None:
        original["data"] = exc.error.data
    original["name"] = "McpError"
    return original
