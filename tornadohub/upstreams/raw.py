"""Plain-JSON requests beside the SDK session, for the hot requests (:class:`RawChannel`).

Only transports that can write lines of JSON have one (STDIO today); the hub sends
:data:`RAW_METHODS` through it when the upstream speaks the handshake era.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final

import anyio
import mcp_types as types
import pydantic_core
from mcp import MCPError
from mcp.shared.dispatcher import ProgressFnT

log = logging.getLogger("tornadohub.upstream")


#: Requests sent through a :class:`RawChannel` when the transport has one: their
#: params are built by the hub and their results forwarded unchanged.
RAW_METHODS = frozenset({"tools/call", "resources/read", "prompts/get", "completion/complete"})


class RawChannel:
    """JSON-RPC requests written and answered as plain JSON, beside the SDK session.

    The hub forwards results unchanged, so for the hot requests (``tools/call``
    and friends, handshake era) it need not build pydantic models of what it
    sends and receives: a request goes out as one line of JSON with an id of its
    own (``hub-<n>``, never an id the SDK session uses), and the transport hands
    back the responses to those ids (and progress for those tokens) before it
    parses anything into models. Everything else (the handshake, notifications,
    the upstream's own requests) still goes through the SDK session.
    """

    PREFIX: Final = "hub-"

    def __init__(self, write: Callable[[bytes], Awaitable[None]]) -> None:
        self._write = write
        self._ids = itertools.count(1)
        self._pending: dict[str, tuple[asyncio.Future[dict[str, Any]], ProgressFnT | None]] = {}
        self._closed = False

    async def request(
        self,
        method: str,
        params: dict[str, Any],
        *,
        timeout: float,
        on_progress: ProgressFnT | None = None,
    ) -> dict[str, Any]:
        """Send one request; its result, or :class:`MCPError` as the SDK raises them."""
        if self._closed:
            raise MCPError(types.CONNECTION_CLOSED, "Connection closed")
        request_id, message = self._new_request(method, params, on_progress)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[dict[str, Any]] = loop.create_future()
        self._pending[request_id] = (future, on_progress)
        try:
            await self._write(pydantic_core.to_json(message) + b"\n")
            # A timer on the future itself: asyncio.timeout() would cost this hot wait a
            # context manager, a task lookup and a rescheduled handle.
            timer = loop.call_later(timeout, _expire, future)
            try:
                reply = await future
            except _Expired:
                await self._cancel(request_id, f"timed out after {timeout}s")
                raise MCPError(types.REQUEST_TIMEOUT, f"Request {method!r} timed out") from None
            except asyncio.CancelledError:
                await self._cancel(request_id, "caller cancelled")
                raise
            finally:
                timer.cancel()
        finally:
            self._pending.pop(request_id, None)
        return reply_result(reply, method)

    def _new_request(
        self, method: str, params: dict[str, Any], on_progress: ProgressFnT | None
    ) -> tuple[str, dict[str, Any]]:
        """A new request id and the JSON-RPC request under it; with *on_progress*, the id is
        its progress token too (the SDK's convention)."""
        request_id = f"{self.PREFIX}{next(self._ids)}"
        if on_progress is not None:
            meta = {**params.get("_meta", {}), "progressToken": request_id}
            params = {**params, "_meta": meta}
        return request_id, {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}

    async def _cancel(self, request_id: str, reason: str) -> None:
        if self._closed:
            return
        with contextlib.suppress(Exception), anyio.CancelScope(shield=True):
            with anyio.move_on_after(1.0):
                await self._write(cancel_note(request_id, reason) + b"\n")

    @property
    def in_flight(self) -> int:
        """Requests sent and not answered yet."""
        return len(self._pending)

    def take(self, message: Any) -> bool:
        """Consume *message* (parsed JSON) if it answers or reports on a raw request.

        Progress callbacks run in a task of their own, as the SDK runs them.
        """
        if not isinstance(message, dict):
            return False
        request_id = message.get("id")
        if isinstance(request_id, str) and request_id.startswith(self.PREFIX):
            if "method" in message:
                return False  # a request of the server's that happens to use our prefix
            entry = self._pending.get(request_id)
            if entry is not None and not entry[0].done():
                entry[0].set_result(message)
            return True
        if message.get("method") == "notifications/progress":
            params = message.get("params")
            token = params.get("progressToken") if isinstance(params, dict) else None
            if isinstance(token, str) and token.startswith(self.PREFIX):
                entry = self._pending.get(token)
                if entry is not None and entry[1] is not None and isinstance(params, dict):
                    _spawn_progress(entry[1], params)
                return True
        return False

    def close(self) -> None:
        """The transport ended: every waiting request fails as the SDK fails them."""
        self._closed = True
        for future, _progress in self._pending.values():
            if not future.done():
                future.set_exception(MCPError(types.CONNECTION_CLOSED, "Connection closed"))


class _Expired(Exception):
    """A raw request's own timeout (never the caller's TimeoutError)."""


def _expire(future: asyncio.Future[dict[str, Any]]) -> None:
    if not future.done():
        future.set_exception(_Expired())


def cancel_note(request_id: str, reason: str) -> bytes:
    """The encoded ``notifications/cancelled`` for *request_id*."""
    note = {
        "jsonrpc": "2.0",
        "method": "notifications/cancelled",
        "params": {"requestId": request_id, "reason": reason},
    }
    return json.dumps(note, separators=(",", ":")).encode()


def reply_result(reply: Any, method: str | None = None) -> dict[str, Any]:
    """The result of the JSON-RPC response *reply* to a *method* request, or its error
    raised as the SDK raises it."""
    if not isinstance(reply, dict):
        raise MCPError(types.INTERNAL_ERROR, "Invalid response from the server")
    error = reply.get("error")
    if error is not None:
        if not isinstance(error, dict):
            raise MCPError(types.INTERNAL_ERROR, "Invalid error response from the server")
        code = error.get("code")
        raise MCPError(
            code if isinstance(code, int) else types.INTERNAL_ERROR,
            str(error.get("message", "")),
            error.get("data"),
        )
    result = reply.get("result")
    if not isinstance(result, dict):
        what = f"{method} result" if method else "result"
        raise MCPError(types.INTERNAL_ERROR, f"Invalid {what} from the server")
    return result


_PROGRESS_TASKS: set[asyncio.Task[None]] = set()


def _spawn_progress(callback: ProgressFnT, params: dict[str, Any]) -> None:
    async def report() -> None:
        try:
            await callback(params.get("progress", 0), params.get("total"), params.get("message"))
        except Exception:
            log.exception("progress callback failed")

    task = asyncio.ensure_future(report())
    _PROGRESS_TASKS.add(task)
    task.add_done_callback(_PROGRESS_TASKS.discard)
