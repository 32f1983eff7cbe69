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
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import enum
import itertools
import json
import logging
import re
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Final

import anyio
import mcp_types as types
from mcp import ClientSession, MCPError
from mcp.client.subscriptions import SubscriptionLost
from mcp.client.subscriptions import listen as listen_upstream
from mcp.shared.dispatcher import ProgressFnT
from mcp.shared.subscriptions import event_to_notification
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import BaseModel, RootModel, ValidationError

from tornadohub import __version__
from tornadohub.clock import iso_now
from tornadohub.config import ServerEntry
from tornadohub.errors import HubError, PlaceholderError, UpstreamConnectionError, UpstreamError
from tornadohub.oauth import OAuthStore
from tornadohub.options import ConnectPolicy
from tornadohub.placeholders import ResolvedServer, resolve_server
from tornadohub.state import UpstreamStatus
from tornadohub.upstreams.diagnostics import Redactor, url_secrets
from tornadohub.upstreams.eras import ModernChannel, ParamHeaders, pins_era, valid_header_tools

log = logging.getLogger("tornadohub.upstream")


class RawResult(RootModel[dict[str, Any]]):
    """A result kept as plain JSON: the hub forwards what upstreams return, unchanged."""


class Unset(enum.Enum):
    """The type of :data:`UNSET`: "not given", where ``None`` means something."""

    UNSET = enum.auto()


UNSET: Final = Unset.UNSET

#: The client capabilities the request being sent declares (2026-07-28 upstreams).
_CALLER_CAPABILITIES: contextvars.ContextVar[dict[str, Any] | None | Unset] = (
    contextvars.ContextVar("caller_capabilities", default=UNSET)
)


#: Upstream clientInfo: mcp-hub sends ``{"name": "mcp-hub", "version": "1.0.0"}``.
CLIENT_INFO = types.Implementation(name="mcp-hub", version=__version__)

LIST_KINDS: tuple[tuple[str, str, str], ...] = (
    # (capability key in ServerInfo, list method, result field)
    ("tools", "tools/list", "tools"),
    ("resources", "resources/list", "resources"),
    ("resourceTemplates", "resources/templates/list", "resourceTemplates"),
    ("prompts", "prompts/list", "prompts"),
)

#: Guard against an upstream that hands out cursors forever.
MAX_LIST_PAGES = 1000


class UnauthorizedError(Exception):
    """The upstream answered 401: it needs OAuth before it can connect."""


@dataclass(frozen=True)
class HubEnvironment:
    """What upstreams see of the hub: placeholder context, its port, OAuth storage."""

    environ: Mapping[str, str]
    hub_env: Mapping[str, str]
    cwd: str
    port: int = 0
    oauth_store: OAuthStore | None = None


def empty_capabilities() -> dict[str, list[dict[str, Any]]]:
    return {key: [] for key, _, _ in LIST_KINDS}


ChangeListener = Callable[["Upstream", str], None]
"""Called with (upstream, what) where what is "status" or a capability key."""

NotificationListener = Callable[["Upstream", Any], None]
"""Called with every notification an upstream sends (logging, resources/updated, ...)."""

ClientRequestHandler = Callable[["Upstream", str, dict[str, Any]], Awaitable[dict[str, Any]]]
"""Answers a request the upstream sends to the hub as its client: called with (upstream,
method, params) for ``sampling/createMessage``, ``elicitation/create`` and ``roots/list``;
returns the raw result or raises :class:`mcp.MCPError` (sent back as the JSON-RPC error)."""

#: The server-to-client requests a client request handler serves, and their result models.
CLIENT_REQUEST_RESULTS: dict[str, type[BaseModel]] = {
    "sampling/createMessage": types.CreateMessageResult,
    "elicitation/create": types.ElicitResult,
    "roots/list": types.ListRootsResult,
}

#: How servers (and the SDK's client, for a 404) say an HTTP session no longer exists.
SESSION_GONE = re.compile(r"session (terminated|not found|expired|unknown)", re.IGNORECASE)

#: Requests sent through a :class:`RawChannel` when the transport has one: their
#: params are built by the hub and their results forwarded unchanged.
RAW_METHODS = frozenset({"tools/call", "resources/read", "prompts/get", "completion/complete"})

#: Requests that a 2026-07-28 upstream does not have: its listen stream does their work.
SUBSCRIPTION_METHODS = frozenset({"resources/subscribe", "resources/unsubscribe"})

#: Pauses before a dropped ``subscriptions/listen`` stream is opened again (s).
LISTEN_RETRY_INITIAL = 1.0
LISTEN_RETRY_MAX = 60.0

#: How long :meth:`Upstream.stop` waits for the owner task before cancelling it.
STOP_SECONDS = 10.0

#: A connection that worked this long is reconnected at once when it drops.
STABLE_SECONDS = 5.0

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


@dataclass
class _Connection:
    """State that exists only while the owner task holds a live session."""

    session: ClientSession
    lost: anyio.Event = field(default_factory=anyio.Event)
    #: Set once the owner has left this session (a new one may follow).
    ended: asyncio.Event = field(default_factory=asyncio.Event)


class Upstream(ABC):
    """One configured server: its status, cached capabilities and owner task.

    Subclasses provide :meth:`_open_transport`; everything else (lifecycle, lists,
    calls, reconnects) is shared.
    """

    transport_type: str = "stdio"

    def __init__(
        self,
        entry: ServerEntry,
        env: HubEnvironment,
        *,
        policy: ConnectPolicy | None = None,
        on_change: ChangeListener | None = None,
        on_notification: NotificationListener | None = None,
        client_requests: ClientRequestHandler | None = None,
    ) -> None:
        self.entry = entry
        self.env = env
        self.policy = policy or ConnectPolicy()
        self._on_change = on_change
        self.status = UpstreamStatus.disabled if entry.disabled else UpstreamStatus.disconnected
        self.error: str | None = entry.error
        self.capabilities = empty_capabilities()
        self.server_info: dict[str, Any] | None = None
        self.authorization_url: str | None = None
        self.started_at: float | None = None
        self.last_started: str | None = None
        self.protocol_version: str | None = None
        self._conn: _Connection | None = None
        self._owner: asyncio.Task[None] | None = None
        self._stop_requested = anyio.Event()
        self._retry_now = anyio.Event()
        self._attempt_done: asyncio.Future[None] | None = None
        self._resolved: ResolvedServer | None = None
        #: Hides literal secrets (header values) and URL credentials in every message.
        self._redactor = Redactor()
        self._connect_scope: anyio.CancelScope | None = None
        self._served_since: float | None = None
        self._names: dict[str, tuple[list[Any], frozenset[str]]] = {}
        #: Set while a session is live; a request that lost its session waits on it.
        self._connected = asyncio.Event()
        self._on_notification = on_notification
        #: Set by transports that can carry plain JSON requests (see :class:`RawChannel`).
        self.raw: RawChannel | None = None
        #: Resources subscribed at a 2026-07-28 upstream: its listen stream carries them.
        self._listen_uris: set[str] = set()
        self._listen_uris_changed = anyio.Event()
        self._client_requests = client_requests
        #: The 2026-07-28 channel beside a handshake session (see :mod:`.eras`).
        self.modern = ModernChannel(self)
        self._param_headers = ParamHeaders()

    # ----------------------------------------------------------------- identity
    @property
    def name(self) -> str:
        return self.entry.name

    @property
    def disabled(self) -> bool:
        return self.status is UpstreamStatus.disabled

    @property
    def connected(self) -> bool:
        return self.status is UpstreamStatus.connected

    def info(self) -> dict[str, Any]:
        """The contract's ServerInfo object, in mcp-hub's key order."""
        config = self.entry.config
        uptime = 0
        if self.status is UpstreamStatus.connected and self.started_at is not None:
            uptime = int(time.monotonic() - self.started_at)
        return {
            "name": self.name,
            "displayName": config.get("name") if isinstance(config.get("name"), str) else self.name,
            "description": config.get("description") or "",
            "transportType": self.transport_type,
            "status": self.status.value,
            "error": self.error,
            "capabilities": {key: list(value) for key, value in self.capabilities.items()},
            "uptime": uptime,
            "lastStarted": self.last_started,
            "authorizationUrl": self.authorization_url,
            "serverInfo": self.server_info,
            "config_source": config.get("config_source"),
        }

    def names(self, key: str) -> frozenset[str]:
        """The names in one capability list, computed once per fetched list (hot path)."""
        items = self.capabilities[key]
        cached = self._names.get(key)
        if cached is None or cached[0] is not items:
            listed = (i.get("name") for i in items if isinstance(i, dict))
            cached = (items, frozenset(n for n in listed if isinstance(n, str)))
            self._names[key] = cached
        return cached[1]

    # ---------------------------------------------------------------- lifecycle
    @property
    def running(self) -> bool:
        """Whether an owner task exists (connecting, connected or backing off)."""
        return self._owner is not None and not self._owner.done()

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
        self._reset()
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

    def _reset(self) -> None:
        self.authorization_url = None
        self._connected.clear()
        self._conn = None
        self.capabilities = empty_capabilities()
        self.server_info = None
        self.started_at = None
        self.last_started = None
        self.protocol_version = None

    def _set_status(self, status: UpstreamStatus) -> None:
        changed = status is not self.status
        self.status = status
        if changed:
            self._notify("status")

    def notify_change(self, what: str) -> None:
        """Tell the change listener that *what* changed (``"modern"``: the 2026-07-28 channel)."""
        self._notify(what)

    def _notify(self, what: str) -> None:
        if self._on_change is not None:
            try:
                self._on_change(self, what)
            except Exception:  # a listener must never break the owner task
                log.exception("change listener failed for %s", self.name)

    def _finish_attempt(self) -> None:
        if self._attempt_done is not None and not self._attempt_done.done():
            self._attempt_done.set_result(None)

    async def _own(self) -> None:
        """The owner task: connect, serve, reconnect with backoff until stopped."""
        delay = self.policy.backoff_initial
        while not self._stop_requested.is_set():
            self._set_status(UpstreamStatus.connecting)
            retry = True
            self._served_since = None
            try:
                await self._connect_and_serve()
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
            if served is not None and time.monotonic() - served >= STABLE_SECONDS:
                delay = 0.0  # a connection that had been working: reconnect at once
            elif delay == 0.0:
                delay = self.policy.backoff_initial
            self._retry_now = anyio.Event()
            async with anyio.create_task_group() as waiters:
                waiters.cancel_scope.deadline = anyio.current_time() + delay
                waiters.start_soon(_wait_and_cancel, self._stop_requested, waiters.cancel_scope)
                waiters.start_soon(_wait_and_cancel, self._retry_now, waiters.cancel_scope)
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
                resolving.add_done_callback(_consume)
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
        watcher = asyncio.create_task(_wait_and_cancel(self._stop_requested, stop_scope))
        try:
            with stop_scope:
                await self._serve_session(resolved, lost)
        finally:
            watcher.cancel()
        if not self._stop_requested.is_set():
            raise ConnectionLost(self.lost_reason())

    async def _serve_session(self, resolved: ResolvedServer, lost: anyio.Event) -> None:
        """Connect (within the connect timeout), then hold the session until it is lost."""
        with anyio.fail_after(self.policy.connect_timeout) as connect_scope:
            self._connect_scope = connect_scope
            async with self._open_session(resolved, lost) as session:
                connect_scope.deadline = float("inf")
                self.authorization_url = None
                conn = _Connection(session=session, lost=lost)
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
                    _speak_for_the_caller(session, self._mcp_param_headers)
                await self._fetch_lists(session)
                yield session

    # ------------------------------------------------------ client requests
    def set_client_request_handler(self, handler: ClientRequestHandler | None) -> None:
        """Serve the upstream's sampling, elicitation and roots requests with *handler*.

        The capabilities are advertised in ``initialize``, so they change with the
        next connection; a connection made without a handler advertises none.
        """
        self._client_requests = handler

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

    # ------------------------------------------------------------- capabilities
    async def _fetch_lists(
        self, session: ClientSession, keys: tuple[str, ...] | None = None
    ) -> None:
        """Fetch capability lists, following every cursor to the end."""
        caps = session.server_capabilities
        for key, method, field_name in LIST_KINDS:
            if keys is not None and key not in keys:
                continue
            if not _supports(caps, key):
                self.capabilities[key] = []
                continue
            try:
                items = await self._list_all(session, method, field_name)
                if key == "tools" and session.protocol_version in MODERN_PROTOCOL_VERSIONS:
                    items = list(valid_header_tools(self.name, items))
                self.capabilities[key] = items
            except MCPError as exc:
                log.debug("%s %s failed: %s", self.name, method, exc)
                self.capabilities[key] = []

    async def _list_all(self, session: ClientSession, method: str, field_name: str) -> list[Any]:
        items: list[Any] = []
        cursor: str | None = None
        for _ in range(MAX_LIST_PAGES):
            page = (
                await session.send_request(
                    _list_request(method, cursor),
                    RawResult,
                    request_read_timeout_seconds=self.policy.list_timeout,
                )
            ).root
            items.extend(page.get(field_name) or [])
            cursor = page.get("nextCursor")
            if not cursor:
                return items
        log.warning("%s: %s stopped after %d pages", self.name, method, MAX_LIST_PAGES)
        return items

    async def refresh(self, keys: tuple[str, ...] | None = None) -> None:
        """Re-fetch the capability lists without reconnecting."""
        conn = self._conn
        if conn is None:
            return
        before = {key: self.capabilities[key] for key in self.capabilities}
        await self._fetch_lists(conn.session, keys)
        changed = [key for key in before if self.capabilities[key] != before[key]]
        if "resourceTemplates" in changed and "resources" not in changed:
            changed.append("resources")  # one event carries both lists
        for key in changed:
            self._notify(key)

    async def _listen_for_changes(self, session: ClientSession, lost: anyio.Event) -> None:
        """Keep a ``subscriptions/listen`` stream open to a 2026-07-28 upstream.

        In that era a server announces list changes and resource updates only on
        such a stream: without it the hub's copy of the lists would go stale and
        subscribed clients would hear nothing. The stream is opened again with
        the new filter when the subscribed resources change, and (after a pause,
        if it keeps failing) when it drops, until the connection itself ends.
        """
        caps = session.server_capabilities
        wanted = {
            key: bool(getattr(getattr(caps, key, None), "list_changed", False))
            for key in ("tools", "prompts", "resources")
        }
        pause = LISTEN_RETRY_INITIAL
        while not lost.is_set():
            changed = self._listen_uris_changed = anyio.Event()
            uris = sorted(self._listen_uris)
            if not any(wanted.values()) and not uris:
                await changed.wait()  # nothing to listen for yet
                continue
            try:
                async with (
                    listen_upstream(
                        session,
                        tools_list_changed=wanted["tools"],
                        prompts_list_changed=wanted["prompts"],
                        resources_list_changed=wanted["resources"],
                        resource_subscriptions=uris,
                    ) as subscription,
                    anyio.create_task_group() as relisten,
                ):
                    pause = LISTEN_RETRY_INITIAL
                    relisten.start_soon(_wait_and_cancel, changed, relisten.cancel_scope)
                    async for event in subscription:  # as the notification it stands for
                        await self._on_message(event_to_notification(event, {}))
                    relisten.cancel_scope.cancel()
            except (MCPError, SubscriptionLost, TimeoutError) as exc:
                log.info("%s: subscriptions/listen ended: %s", self.name, exc)
            if changed.is_set():
                continue  # the filter changed: listen again at once
            with anyio.move_on_after(pause):
                await lost.wait()
            pause = min(pause * 2, LISTEN_RETRY_MAX)

    def follow_resource(self, method: str, uri: str) -> None:
        """Listen (or stop listening) for updates of *uri* on the 2026-07-28 listen stream."""
        self._listen_to(method, uri)

    def _listen_to(self, method: str, uri: str) -> dict[str, Any]:
        """``resources/(un)subscribe`` at a 2026-07-28 upstream: change the listen filter."""
        if method == "resources/subscribe":
            self._listen_uris.add(uri)
        else:
            self._listen_uris.discard(uri)
        self._listen_uris_changed.set()
        return {}

    async def _on_message(self, message: Any) -> None:
        """Upstream notifications: list changes refresh the cache; logs go to the hub log."""
        if isinstance(message, Exception):
            log.warning("%s sent an unreadable message: %s", self.name, message)
            return
        if isinstance(message, types.ToolListChangedNotification):
            await self.refresh(("tools",))
        elif isinstance(message, types.ResourceListChangedNotification):
            await self.refresh(("resources", "resourceTemplates"))
        elif isinstance(message, types.PromptListChangedNotification):
            await self.refresh(("prompts",))
        elif isinstance(message, types.LoggingMessageNotification):
            params = message.params
            log.debug('["%s" server %s log]: %s', self.name, params.level, params.data)
        self.relay_notification(message)

    def relay_notification(self, message: Any) -> None:
        """Hand a notification of this upstream to the notification listener."""
        if self._on_notification is not None:
            try:
                self._on_notification(self, message)
            except Exception:
                log.exception("notification listener failed for %s", self.name)

    # -------------------------------------------------------------------- calls
    def require_session(self, error_code: str, context: dict[str, Any]) -> _Connection:
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
            declared = _CALLER_CAPABILITIES.set(client_capabilities)
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
                    _build_request(method, params),
                    RawResult,
                    request_read_timeout_seconds=max(0.001, deadline - time.monotonic()),
                    progress_callback=on_progress,
                )
                return result.root
            except MCPError as exc:
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
                    data={"server": self.name, **context, "originalError": {"code": exc.code}},
                    upstream_data=exc.error.data,
                ) from None
            except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                conn.lost.set()
                raise UpstreamError(
                    "Not connected",
                    code="TOOL_EXECUTION_ERROR",
                    data={"server": self.name, **context},
                ) from None
            finally:
                _CALLER_CAPABILITIES.reset(declared)
        raise AssertionError("unreachable")  # pragma: no cover

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

    async def _reconnected(self, conn: _Connection, deadline: float) -> bool:
        """Wait (until *deadline*) for the owner to replace the lost *conn* by a new session."""
        try:
            async with asyncio.timeout_at(_loop_time(deadline)):
                await conn.ended.wait()
                await self._connected.wait()
        except TimeoutError:
            return False
        return self.status is UpstreamStatus.connected

    def _mcp_param_headers(self, tool: str, arguments: Mapping[str, Any]) -> dict[str, str]:
        return self._param_headers.headers(self.capabilities["tools"], tool, arguments)

    def _redact(self, text: str) -> str:
        resolved = self._resolved
        return self._redactor(resolved.redact(text) if resolved is not None else text)


def _speak_for_the_caller(
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
        declared = _CALLER_CAPABILITIES.get()
        if declared is UNSET:
            return
        # None: the caller declared nothing, which the envelope says with an empty object.
        meta = params.setdefault("_meta", {})
        meta[types.CLIENT_CAPABILITIES_META_KEY] = {} if declared is None else declared

    session._stamp = caller_stamp


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
        request_id = f"{self.PREFIX}{next(self._ids)}"
        if on_progress is not None:  # the SDK's convention: the request id is the token
            meta = {**params.get("_meta", {}), "progressToken": request_id}
            params = {**params, "_meta": meta}
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = (future, on_progress)
        message = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}
        try:
            await self._write(json.dumps(message, separators=(",", ":")).encode() + b"\n")
            try:
                async with asyncio.timeout(timeout):
                    reply = await future
            except TimeoutError:
                await self._cancel(request_id, f"timed out after {timeout}s")
                raise MCPError(types.REQUEST_TIMEOUT, f"Request {method!r} timed out") from None
            except asyncio.CancelledError:
                await self._cancel(request_id, "caller cancelled")
                raise
        finally:
            self._pending.pop(request_id, None)
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
            raise MCPError(types.INTERNAL_ERROR, f"Invalid {method} result from the server")
        return result

    async def _cancel(self, request_id: str, reason: str) -> None:
        if self._closed:
            return
        note = {
            "jsonrpc": "2.0",
            "method": "notifications/cancelled",
            "params": {"requestId": request_id, "reason": reason},
        }
        with contextlib.suppress(Exception), anyio.CancelScope(shield=True):
            with anyio.move_on_after(1.0):
                await self._write(json.dumps(note, separators=(",", ":")).encode() + b"\n")

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


def _consume(future: asyncio.Future[Any]) -> None:
    """Retrieve an abandoned future's outcome, so that asyncio does not log it."""
    if not future.cancelled():
        future.exception()


class ConnectionLost(Exception):
    """The transport of a connected upstream ended without being asked to."""


async def _wait_and_cancel(event: anyio.Event, scope: anyio.CancelScope) -> None:
    await event.wait()
    scope.cancel()


def _loop_time(monotonic_deadline: float) -> float:
    """A ``time.monotonic()`` deadline on the running loop's clock."""
    return asyncio.get_running_loop().time() + (monotonic_deadline - time.monotonic())


def _supports(caps: types.ServerCapabilities | None, key: str) -> bool:
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


def _build_request(method: str, params: dict[str, Any]) -> Any:
    request_type, params_type = _REQUEST_TYPES[method]
    if params_type is None:
        return request_type()
    return request_type(params=params_type.model_validate(params))


def _list_request(method: str, cursor: str | None) -> Any:
    return _build_request(method, {"cursor": cursor} if cursor else {})


def describe_exception(exc: BaseException) -> str:
    """One readable line for an exception, unwrapping anyio's exception groups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
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
