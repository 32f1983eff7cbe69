"""Multi-round-trip requests (SEP-2322) between 2026-07-28 clients and older upstreams.

A 2026-07-28 client cannot receive server-to-client requests: a server that
needs input answers ``tools/call``, ``prompts/get`` or ``resources/read`` with an
``InputRequiredResult`` (``inputRequests`` plus an opaque ``requestState``) and
the client retries the request with ``inputResponses``. A handshake-era upstream
asks the old way, with ``sampling/createMessage``, ``elicitation/create`` or
``roots/list`` sent while the call runs. The hub bridges the two with an
:class:`Exchange`: the upstream call keeps running in its own task across the
client's rounds; each request the upstream sends becomes one entry of
``inputRequests`` (keys minted by the hub) and waits until a retry carries its
answer. ``requestState`` is the exchange's random token: a retry with a state the
hub did not mint (tampered, expired, or for another request) is ``-32602``.

An exchange ends when its call completes, when the round waiting on it is
cancelled (the client closed the stream: the work is cancelled, as the spec
says), or when no retry came within the park time (the upstream's pending
requests then fail and its call is cancelled).
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import mcp_types as types
from mcp import MCPError

log = logging.getLogger("tornadohub.mcp")

#: How many exchanges may wait for a retry at once (the oldest is dropped beyond).
MAX_PARKED: Final = 1024

#: How long an exchange waits for the client's retry (the upstream call's own
#: timeout bounds it as well).
PARK_SECONDS: Final = 300.0

#: Short names of the requests, for the keys of ``inputRequests``.
_KEY_PREFIX: Final = {
    "sampling/createMessage": "sampling",
    "elicitation/create": "elicitation",
    "roots/list": "roots",
}


@dataclass(eq=False)
class Exchange:
    """One forwarded request of a 2026-07-28 client, alive across its rounds."""

    token: str
    method: str
    target: str  # the tool or prompt name, or the resource URI, as the client sent it
    #: Progress of the upstream call goes to the round currently waiting, if any.
    report_progress: Callable[[float, float | None, str | None], Awaitable[None]] | None = None
    task: asyncio.Task[dict[str, Any]] | None = None
    _pending: dict[str, tuple[dict[str, Any], asyncio.Future[dict[str, Any]]]] = field(
        default_factory=dict
    )
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _keys: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def progress(self, progress: float, total: float | None, message: str | None) -> None:
        """Upstream progress: to the round waiting now (between rounds there is nobody)."""
        if self.report_progress is not None:
            await self.report_progress(progress, total, message)

    async def ask(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """The upstream's request: wait for the client's answer in a later round."""
        key = f"{_KEY_PREFIX.get(method, 'input')}-{next(self._keys)}"
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[key] = ({"method": method, "params": params}, future)
        self._changed.set()
        try:
            return await future
        finally:
            self._pending.pop(key, None)

    def answer(self, responses: Mapping[str, Any] | None) -> None:
        """Hand the answers a retry carries to the requests waiting for them.

        Keys the hub did not ask for are ignored (the spec: servers ignore what
        they do not recognise); requests left unanswered are asked again.
        """
        for key, response in (responses or {}).items():
            entry = self._pending.get(key)
            if entry is not None and not entry[1].done() and isinstance(response, dict):
                entry[1].set_result(response)

    async def next_outcome(self) -> dict[str, Any]:
        """The call's result, or the ``InputRequiredResult`` for what it waits on now."""
        task = self.task
        assert task is not None
        while True:
            if task.done():
                return task.result()
            unanswered = {
                key: request
                for key, (request, future) in self._pending.items()
                if not future.done()
            }
            if unanswered:
                return {
                    "resultType": "input_required",
                    "inputRequests": unanswered,
                    "requestState": self.token,
                }
            self._changed.clear()
            await self._changed.wait()

    def finished(self, _task: asyncio.Task[dict[str, Any]]) -> None:
        self._changed.set()

    def cancel(self, why: str) -> None:
        for _request, future in self._pending.values():
            if not future.done():
                future.set_exception(MCPError(types.REQUEST_TIMEOUT, why))
        if self.task is not None:
            self.task.cancel()


class Exchanges:
    """The open exchanges of the MCP endpoint (all its views), by ``requestState`` token."""

    def __init__(self, park_seconds: float) -> None:
        self.park_seconds = park_seconds
        self._exchanges: collections.OrderedDict[str, Exchange] = collections.OrderedDict()
        self._expiry: dict[str, asyncio.TimerHandle] = {}

    def start(
        self,
        method: str,
        target: str,
        work: Callable[[Exchange], Awaitable[dict[str, Any]]],
    ) -> Exchange:
        """Start the upstream call *work* for a first round."""
        exchange = Exchange(secrets.token_urlsafe(24), method, target)
        exchange.task = asyncio.ensure_future(work(exchange))
        exchange.task.add_done_callback(exchange.finished)
        exchange.task.add_done_callback(_consume)
        self._exchanges[exchange.token] = exchange
        while len(self._exchanges) > MAX_PARKED:
            _token, oldest = self._exchanges.popitem(last=False)
            self._drop(oldest, "Too many requests are waiting for input at the hub")
        return exchange

    def resume(self, token: str, method: str, target: str) -> Exchange:
        """The exchange a retry's ``requestState`` names; -32602 when there is none."""
        exchange = self._exchanges.get(token)
        if exchange is None or exchange.method != method or exchange.target != target:
            raise MCPError(
                types.INVALID_PARAMS,
                "Invalid requestState: unknown, expired or not issued for this request",
            )
        handle = self._expiry.pop(token, None)
        if handle is not None:
            handle.cancel()
        return exchange

    async def round(self, exchange: Exchange) -> dict[str, Any]:
        """Wait for the exchange's next outcome on behalf of one client request."""
        try:
            outcome = await exchange.next_outcome()
        except asyncio.CancelledError:
            self._drop(exchange, "The client went away")  # closing the stream cancels the work
            raise
        except BaseException:
            self._forget(exchange)
            raise
        if outcome.get("resultType") == "input_required":
            self._park(exchange)
        else:
            self._forget(exchange)
        return outcome

    def _park(self, exchange: Exchange) -> None:
        loop = asyncio.get_running_loop()
        self._expiry[exchange.token] = loop.call_later(
            self.park_seconds,
            self._drop,
            exchange,
            "The client did not answer in time",
        )

    def _forget(self, exchange: Exchange) -> None:
        self._exchanges.pop(exchange.token, None)
        handle = self._expiry.pop(exchange.token, None)
        if handle is not None:
            handle.cancel()

    def _drop(self, exchange: Exchange, why: str) -> None:
        self._forget(exchange)
        log.info("%s %s: input exchange ended: %s", exchange.method, exchange.target, why)
        exchange.cancel(why)

    def close(self) -> None:
        for exchange in list(self._exchanges.values()):
            self._drop(exchange, "The hub is stopping")


def _consume(task: asyncio.Task[Any]) -> None:
    """Retrieve an abandoned task's exception so asyncio does not log it as lost."""
    if not task.cancelled():
        task.exception()
