"""An upstream's state, shared by the modules that act on it.

:class:`UpstreamCore` holds what one configured server is at any moment (status, error,
cached capability lists, the live session if any) and tells the change listener about
it; the types of the listeners and of the hub's environment live here too.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import anyio
from mcp import ClientSession

from tornadohub.clock import iso_now
from tornadohub.config import ServerEntry
from tornadohub.errors import UpstreamConnectionError
from tornadohub.oauth import OAuthStore
from tornadohub.options import ConnectPolicy
from tornadohub.placeholders import ResolvedServer
from tornadohub.spawn import EarlyChildren
from tornadohub.state import UpstreamStatus
from tornadohub.upstreams.diagnostics import Redactor
from tornadohub.upstreams.eras import ModernChannel, ParamHeaders
from tornadohub.upstreams.raw import RawChannel
from tornadohub.upstreams.wire import empty_capabilities

if TYPE_CHECKING:
    from tornadohub.upstreams.base import Upstream

log = logging.getLogger("tornadohub.upstream")


class UnauthorizedError(Exception):
    """The upstream answered 401: it needs OAuth before it can connect."""


class ConnectionLost(Exception):
    """The transport of a connected upstream ended without being asked to."""


class AuthorizationLost(Exception):
    """A connected upstream refused the hub's tokens and they could not be refreshed:
    only the user can authorize again, which a new connection asks for."""


class UnreadableList(UpstreamConnectionError):
    """A capability list the hub could not read (not JSON, no JSON-RPC answer, or nested
    too deep to write on): the connection fails with this as its error, instead of
    serving an empty list."""


class AuthorizedElsewhere(Exception):
    """Cluster mode: while this node waited for a user's authorization, another node's
    was stored for the whole cluster; a new connection uses it."""


#: statuses whose ServerInfo shows an uptime (mcp-hub: ``connected`` and ``disabled``)
_TIMED = (UpstreamStatus.connected, UpstreamStatus.disabled)


@dataclass(frozen=True)
class HubEnvironment:
    """What upstreams see of the hub: placeholder context, its port, OAuth storage."""

    environ: Mapping[str, str]
    hub_env: Mapping[str, str]
    cwd: str
    port: int = 0
    oauth_store: OAuthStore | None = None
    #: STDIO children started before the hub was built, for their upstreams to adopt.
    early_children: EarlyChildren | None = None


ChangeListener = Callable[["Upstream", str], None]
"""Called with (upstream, what) where what is "status" or a capability key."""


NotificationListener = Callable[["Upstream", Any], None]
"""Called with every notification an upstream sends (logging, resources/updated, ...)."""


ClientRequestHandler = Callable[["Upstream", str, dict[str, Any]], Awaitable[dict[str, Any]]]
"""Answers a request the upstream sends to the hub as its client: called with (upstream,
method, params) for ``sampling/createMessage``, ``elicitation/create`` and ``roots/list``;
returns the raw result or raises :class:`mcp.MCPError` (sent back as the JSON-RPC error)."""


@dataclass
class LiveSession:
    """State that exists only while the owner task holds a live session."""

    session: ClientSession
    lost: anyio.Event = field(default_factory=anyio.Event)
    #: Set once the owner has left this session (a new one may follow).
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    #: The upstream refused this session's tokens: its calls fail with "needs
    #: authorization" instead of waiting for a user inside the call.
    unauthorized: bool = False
    #: A refreshed list could not be read: why the session was ended (its error).
    unreadable: UnreadableList | None = None


class UpstreamCore:
    """One configured server's state: identity, status, cached capabilities, listeners.

    The base of :class:`~tornadohub.upstreams.base.Upstream`: the capability lists
    (:mod:`.lists`), request forwarding (:mod:`.forwarding`) and the owner-task lifecycle
    (:mod:`.base`) build on it, each in its own module.
    """

    transport_type: str = "stdio"
    #: The 2026-07-28 channel beside a handshake session (see :mod:`.eras`).
    modern: ModernChannel

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
        if entry.disabled:
            # mcp-hub 4.2.1 stamps a server disabled by its config when it is loaded, so
            # such a server reports a lastStarted and a growing uptime (contract §3.2)
            self.started_at = time.monotonic()
            self.last_started = iso_now()
        self.protocol_version: str | None = None
        self._conn: LiveSession | None = None
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
        self._param_headers = ParamHeaders()
        self.modern = ModernChannel(self.as_upstream)

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
        if self.status in _TIMED and self.started_at is not None:
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

    # ------------------------------------------------------------------- status
    @property
    def running(self) -> bool:
        """Whether an owner task exists (connecting, connected or backing off)."""
        return self._owner is not None and not self._owner.done()

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

    @property
    def as_upstream(self) -> Upstream:
        """This object as listeners see it: every core is an :class:`Upstream` (``base.py``)."""
        return cast("Upstream", self)

    def notify_change(self, what: str) -> None:
        """Tell the change listener that *what* changed (``"modern"``: the 2026-07-28 channel)."""
        self._notify(what)

    def _notify(self, what: str) -> None:
        if self._on_change is not None:
            try:
                self._on_change(self.as_upstream, what)
            except Exception:  # a listener must never break the owner task
                log.exception("change listener failed for %s", self.name)

    def _finish_attempt(self) -> None:
        if self._attempt_done is not None and not self._attempt_done.done():
            self._attempt_done.set_result(None)

    # ------------------------------------------------------ client requests
    def set_client_request_handler(self, handler: ClientRequestHandler | None) -> None:
        """Serve the upstream's sampling, elicitation and roots requests with *handler*.

        The capabilities are advertised in ``initialize``, so they change with the
        next connection; a connection made without a handler advertises none.
        """
        self._client_requests = handler

    def _redact(self, text: str) -> str:
        resolved = self._resolved
        return self._redactor(resolved.redact(text) if resolved is not None else text)


def consume(future: asyncio.Future[Any]) -> None:
    """Retrieve an abandoned future's outcome, so that asyncio does not log it."""
    if not future.cancelled():
        future.exception()


async def wait_and_cancel(event: anyio.Event, scope: anyio.CancelScope) -> None:
    await event.wait()
    scope.cancel()


def loop_time(monotonic_deadline: float) -> float:
    """A ``time.monotonic()`` deadline on the running loop's clock."""
    return asyncio.get_running_loop().time() + (monotonic_deadline - time.monotonic())
