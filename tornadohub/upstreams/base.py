"""The upstream interface: one configured MCP server and the connection to it.

Every connection lives in exactly one long-lived *owner task* (anyio cancel scopes
and task groups are task-affine): it resolves placeholders, opens the transport and
the :class:`mcp.ClientSession`, fetches the capability lists, then waits until it is
told to stop or the transport dies, and reconnects with capped exponential backoff.
Request handlers only send requests over the live session; they never enter or exit
the SDK's context managers.

Status transitions (the contract's ``ConnectionStatus``)::

    disconnected --start()--> connecting --ok--> connected --transport lost--> disconnected
                                     \\--fail--> disconnected (error set, retried with backoff)
    any --stop(disable=True)--> disabled;  any --stop()--> disconnected
    connecting --HTTP 401--> unauthorized (not retried until started again)
    connected --tokens refused--> unauthorized --at once--> connecting (asks the user)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import anyio
import mcp_types as types
from mcp import ClientSession, MCPError
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import BaseModel, ValidationError

from tornadohub import __version__
from tornadohub.clock import iso_now
from tornadohub.errors import PlaceholderError, UpstreamConnectionError
from tornadohub.placeholders import ResolvedServer, resolve_server
from tornadohub.state import UpstreamStatus
from tornadohub.upstreams.core import (
    AuthorizationLost,
    AuthorizedElsewhere,
    ConnectionLost,
    LiveSession,
    UnauthorizedError,
    consume,
    wait_and_cancel,
)
from tornadohub.upstreams.diagnostics import Redactor, url_secrets
from tornadohub.upstreams.eras import pins_era
from tornadohub.upstreams.forwarding import Forwarding
from tornadohub.upstreams.sdk_patch import speak_for_the_caller
from tornadohub.upstreams.wire import CLIENT_REQUEST_RESULTS, describe_exception

log = logging.getLogger("tornadohub.upstream")


#: Upstream clientInfo: mcp-hub sends ``{"name": "mcp-hub", "version": "1.0.0"}``.
CLIENT_INFO = types.Implementation(name="mcp-hub", version=__version__)


#: How long :meth:`Upstream.stop` waits for the owner task before cancelling it.
STOP_SECONDS = 10.0


#: A connection that worked this long is reconnected at once when it drops.
STABLE_SECONDS = 5.0


class Upstream(Forwarding, ABC):
    """One configured server: its status, cached capabilities and owner task.

    Subclasses provide :meth:`_open_transport`; everything else (lifecycle here, lists in
    :mod:`.lists`, calls in :mod:`.forwarding`, state in :mod:`.core`) is shared.
    """

    def launch(self) -> asyncio.Future[None]:
        """Start the owner task (if needed); the future of its next attempt's outcome.

        Synchronous, so that the owner exists as soon as this returns (a stop that
        follows always finds it). Raises :class:`UpstreamConnectionError` at once for
        an entry that cannot connect (invalid config). A running owner that is backing
        off retries at once; one serving, or waiting for the user to authorize, is left be.
        """
        if self.entry.error is not None:
            self.error = self.entry.error
            self._set_status(UpstreamStatus.disconnected)
            raise UpstreamConnectionError(
                f'Failed to connect to "{self.name}" MCP server: {self.entry.error}',
                data={"server": self.name, "error": self.entry.error},
            )
        loop = asyncio.get_running_loop()
        settled = (UpstreamStatus.connected, UpstreamStatus.unauthorized)
        if self.status in settled and self.running:  # serving, or waiting for the user
            done: asyncio.Future[None] = loop.create_future()
            done.set_result(None)
            return done
        if not self.running:
            self._stop_requested = anyio.Event()
            self._attempt_done = loop.create_future()
            self._owner = asyncio.create_task(self._own(), name=f"upstream:{self.name}")
        elif self._attempt_done is None or self._attempt_done.done():
            self._attempt_done = loop.create_future()
            self._retry_now.set()  # skip the rest of a backoff wait
        return self._attempt_done

    async def start(self) -> None:
        """Start the owner task (if needed) and wait for the first attempt's outcome.

        Raises :class:`UpstreamConnectionError` when that attempt fails; the owner
        keeps retrying in the background unless the failure cannot heal by itself
        (invalid config, unresolvable placeholder, 401). Lifecycle changes go through
        the server's :class:`~tornadohub.upstreams.supervisor.Supervisor`.
        """
        await asyncio.shield(self.launch())
        if self.status not in (UpstreamStatus.connected, UpstreamStatus.unauthorized):
            reason = self.error or f"status is {self.status.value}"
            raise UpstreamConnectionError(
                f'Failed to connect to "{self.name}" MCP server: {reason}',
                data={"server": self.name, "error": reason},
            )

    async def stop(self, *, disable: bool = False) -> None:
        """Stop the owner task, close the transport and wait until it is gone.

        Bounded: an owner still running after :data:`STOP_SECONDS` is cancelled.
        """
        self._stop_requested.set()
        owner = self._owner
        if owner is not None and not owner.done():
            try:
                await asyncio.wait_for(asyncio.shield(owner), timeout=STOP_SECONDS)
            except TimeoutError:
                log.warning("%s did not stop within %g s; cancelling", self.name, STOP_SECONDS)
                owner.cancel()
                await asyncio.wait({owner}, timeout=STOP_SECONDS)
        if self._owner is owner:
            self._owner = None
        # a server disabled since it was loaded keeps the load-time stamps of contract §3.2
        idle = owner is None and disable and self.status is UpstreamStatus.disabled
        stamps = (self.started_at, self.last_started)
        self._reset()
        if idle:
            self.started_at, self.last_started = stamps
        self.error = None if self.entry.error is None else self.entry.error
        self._set_status(UpstreamStatus.disabled if disable else UpstreamStatus.disconnected)

    async def kill(self) -> None:
        """Last resort (a shutdown deadline passed): cancel the owner, waiting briefly."""
        owner, self._owner = self._owner, None
        self._stop_requested.set()
        if owner is not None and not owner.done():
            owner.cancel()
            await asyncio.wait({owner}, timeout=1.0)
        self._reset()
        self._set_status(UpstreamStatus.disconnected)

    async def resume_attempt(self, trigger: Callable[[], None], timeout: float) -> None:
        """Run *trigger* (e.g. hand an OAuth code to the waiting flow), then wait until
        the owner's attempt succeeds or fails."""
        done = self._attempt_done
        if done is None or done.done():
            done = self._attempt_done = asyncio.get_running_loop().create_future()
        trigger()
        try:
            await asyncio.wait_for(asyncio.shield(done), timeout)
        except TimeoutError:
            raise UpstreamConnectionError(
                f'Timed out connecting to "{self.name}" MCP server', data={"server": self.name}
            ) from None

    async def _own(self) -> None:
        """The owner task: connect, serve, reconnect with backoff until stopped."""
        delay = self.policy.backoff_initial
        while not self._stop_requested.is_set():
            self._set_status(UpstreamStatus.connecting)
            retry = True
            at_once = False
            self._served_since = None
            try:
                await self._connect_and_serve()
            except AuthorizedElsewhere:
                log.info("%s: authorized on another node; connecting with those tokens", self.name)
                continue  # at once, and not "disconnected": nothing failed
            except AuthorizationLost as exc:
                self.error = str(exc)
                self._reset()
                self._set_status(UpstreamStatus.unauthorized)
                at_once = True  # the new connection publishes the authorization URL
            except UnauthorizedError as exc:
                self.error = self._redact(str(exc) or "Unauthorized")
                self._reset()
                self._set_status(UpstreamStatus.unauthorized)
                retry = False
            except PlaceholderError as exc:
                self.error = self._redact(exc.message)
                retry = False
            except Exception as exc:  # every transport failure, and anyio's ExceptionGroups
                self.error = self._redact(self.describe_failure(exc)) or type(exc).__name__
            finally:
                self._reset()
            if self._stop_requested.is_set():
                break
            if self.status is not UpstreamStatus.unauthorized:
                self._set_status(UpstreamStatus.disconnected)
            log.warning("%s disconnected: %s", self.name, self.error)
            self._finish_attempt()
            if not retry:
                break
            served = self._served_since
            if at_once or (served is not None and time.monotonic() - served >= STABLE_SECONDS):
                delay = 0.0  # a connection that had been working (or lost its tokens): at once
            elif delay == 0.0:
                delay = self.policy.backoff_initial
            self._retry_now = anyio.Event()
            async with anyio.create_task_group() as waiters:
                waiters.cancel_scope.deadline = anyio.current_time() + delay
                waiters.start_soon(wait_and_cancel, self._stop_requested, waiters.cancel_scope)
                waiters.start_soon(wait_and_cancel, self._retry_now, waiters.cancel_scope)
            delay = min(max(delay * 2, self.policy.backoff_initial), self.policy.backoff_max)
        self._finish_attempt()

    async def _connect_and_serve(self) -> None:
        # A stop must not wait for a slow ${cmd: ...}: its thread is left to finish alone.
        resolving = asyncio.ensure_future(
            asyncio.to_thread(
                resolve_server,
                self.entry.config,
                environ=self.env.environ,
                hub_env=self.env.hub_env,
                cwd=self.env.cwd,
            )
        )
        stopped = asyncio.ensure_future(self._stop_requested.wait())
        try:
            await asyncio.wait({resolving, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
            if not resolving.done():
                resolving.add_done_callback(consume)
        if not resolving.done():
            return  # stop requested
        resolved = resolving.result()
        self._resolved = resolved
        self._redactor = Redactor(
            [*(str(value) for value in resolved.headers.values()), *url_secrets(resolved.url)]
        )
        lost = anyio.Event()
        # stop() must also interrupt a connect in progress (a slow server, or an OAuth
        # flow waiting for the user), not only a connection that is serving.
        stop_scope = anyio.CancelScope()
        watcher = asyncio.create_task(wait_and_cancel(self._stop_requested, stop_scope))
        try:
            with stop_scope:
                await self._serve_session(resolved, lost)
        finally:
            watcher.cancel()
        if not self._stop_requested.is_set():
            raise ConnectionLost(self.lost_reason())

    async def _serve_session(self, resolved: ResolvedServer, lost: anyio.Event) -> None:
        """Connect (within the connect timeout), then hold the session until it is lost."""
        conn: LiveSession | None = None
        with anyio.fail_after(self.policy.connect_timeout) as connect_scope:
            self._connect_scope = connect_scope
            async with self._open_session(resolved, lost) as session:
                connect_scope.deadline = float("inf")
                self.authorization_url = None
                conn = LiveSession(session=session, lost=lost)
                self._conn = conn
                self.error = None
                self.started_at = self._served_since = time.monotonic()
                self._connected.set()
                self.last_started = iso_now()
                self._set_status(UpstreamStatus.connected)
                self._notify("capabilities")
                log.info("%s connected", self.name)
                self._finish_attempt()
                try:
                    async with anyio.create_task_group() as beside:
                        beside.start_soon(self._beside_session, session, lost)
                        await lost.wait()
                        beside.cancel_scope.cancel()
                finally:
                    self._conn = None
                    self._connected.clear()
                    conn.ended.set()
        if conn is not None and conn.unreadable is not None:
            raise conn.unreadable
        if conn is not None and conn.unauthorized:  # raised here: the transport is closed
            raise AuthorizationLost("Authorization expired: the server refused the hub's tokens")

    async def _beside_session(self, session: ClientSession, lost: anyio.Event) -> None:
        """What runs as long as a session lives, by era: the 2026-07-28 listen stream, or
        the 2026-07-28 channel beside a handshake session (unless the entry pins its era)."""
        if session.protocol_version in MODERN_PROTOCOL_VERSIONS:
            try:
                await self._listen_for_changes(session, lost)
            finally:
                self._listen_uris.clear()  # the session ended: the relay subscribes again
        elif not pins_era(self.entry):
            await self.modern.serve_beside()

    def lost_reason(self) -> str:
        """Why the transport ended; subclasses know better (exit codes)."""
        return "Connection closed"

    def describe_failure(self, exc: BaseException) -> str:
        """Why an attempt failed, for ``error``; subclasses add what the server said
        (exit code and stderr, HTTP status and body). Redacted by the caller."""
        return describe_exception(exc)

    @contextlib.asynccontextmanager
    async def _open_session(
        self, resolved: ResolvedServer, lost: anyio.Event
    ) -> AsyncIterator[ClientSession]:
        """Transport + session + handshake + capability lists, entered in the owner task."""
        async with self._open_transport(resolved, lost) as (read, write):
            async with ClientSession(
                read,
                write,
                message_handler=self._on_message,
                client_info=CLIENT_INFO,
                **self._client_callbacks(),
            ) as session:
                await self._negotiate(session)
                if session.protocol_version in MODERN_PROTOCOL_VERSIONS:
                    speak_for_the_caller(session, self._mcp_param_headers)
                await self._fetch_lists(session)
                yield session

    def _client_callbacks(self) -> dict[str, Any]:
        """ClientSession keyword arguments: the callbacks (hence capabilities) served."""
        if self._client_requests is None:
            return {}

        async def sampling(ctx: Any, params: types.CreateMessageRequestParams) -> Any:
            return await self._client_request("sampling/createMessage", params)

        async def elicitation(ctx: Any, params: types.ElicitRequestParams) -> Any:
            return await self._client_request("elicitation/create", params)

        async def list_roots(ctx: Any) -> Any:
            return await self._client_request("roots/list", None)

        return {
            "sampling_callback": sampling,
            # Plain sampling only: tool use and context inclusion depend on the client.
            "sampling_capabilities": types.SamplingCapability(),
            "elicitation_callback": elicitation,
            "list_roots_callback": list_roots,
        }

    async def _client_request(self, method: str, params: BaseModel | None) -> BaseModel:
        """One server-to-client request through the handler: its result model, or ErrorData."""
        handler = self._client_requests
        if handler is None:
            return types.ErrorData(code=types.INVALID_REQUEST, message=f"{method} is not served")
        raw = (
            {}
            if params is None
            else params.model_dump(by_alias=True, mode="json", exclude_none=True)
        )
        try:
            result = await handler(self, method, raw)
        except MCPError as exc:
            return exc.error
        result_type: type[BaseModel] = CLIENT_REQUEST_RESULTS[method]
        if method == "sampling/createMessage" and isinstance(result.get("content"), list):
            result_type = types.CreateMessageResultWithTools
        try:
            return result_type.model_validate(result, by_name=False)
        except ValidationError:
            log.warning("%s: invalid %s result from the hub's client", self.name, method)
            return types.ErrorData(
                code=types.INTERNAL_ERROR, message=f"Invalid {method} result from the client"
            )

    async def _negotiate(self, session: ClientSession) -> None:
        """Handshake-era ``initialize`` first; a 2026-era-only server gets ``server/discover``.

        ``protocolVersion`` in the entry picks the era instead: a 2026-07-28 or later
        version means ``server/discover`` only, an older one ``initialize`` only.
        """
        info: types.Implementation | None
        wanted = self.entry.config.get("protocolVersion")
        if wanted in MODERN_PROTOCOL_VERSIONS:
            await session.discover()
            info = session.server_info
        else:
            try:
                result = await session.initialize()
                info = result.server_info
            except MCPError as first:
                if wanted is not None:
                    raise
                try:
                    discovered = await session.discover()
                except Exception:
                    raise first from None
                info = session.server_info
                log.debug("%s speaks %s", self.name, discovered.supported_versions)
        self.protocol_version = session.protocol_version
        self.server_info = (
            info.model_dump(by_alias=True, mode="json", exclude_none=True) if info else None
        )

    @abstractmethod
    def _open_transport(
        self, resolved: ResolvedServer, lost: anyio.Event
    ) -> AbstractAsyncContextManager[tuple[Any, Any]]:
        """Open the transport streams; set *lost* when the transport dies.

        **Subclasses must define this.** Entered and exited in the owner task.
        """
