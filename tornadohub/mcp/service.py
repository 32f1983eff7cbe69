"""The ``/mcp`` service: the sessions, the views, and where a session id is minted and found.

:class:`McpService` owns the long-lived task group the sessions run in (anyio task groups
must be entered and exited by one long-lived task), the session table (capped, in all and
per client: an API key, or a client address when keys are off; a client at a cap makes
room by ending its own least recently used idle session, never another client's; idle
sessions reaped after a timeout), the views (``/mcp``, one per server, one per profile), and
the hub's change and config listeners that re-sync the catalogs and send ``list_changed`` to
every session whose lists changed (a profile's sessions: when its own visible set did). ``make_app``
creates it (before any upstream connects, so that every upstream advertises sampling,
elicitation and roots from its first session) and keeps it in the application state.

Session ids: :meth:`McpService.open_session` mints one and :meth:`McpService.session`
looks one up; these two are the only places. Ids are sealed (AES-GCM, bound to the API key
that opened the session, see :mod:`tornadohub.cluster.session_ids`): in embedded mode under
a key of this process and the node name ``local``, in cluster mode under the cluster's key
and this node's id, which the load balancer routes on. A session another node owned can be
adopted here under its id (:meth:`McpService.open_session` with ``session_id``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Any

import anyio
import anyio.abc

from tornadohub import metrics
from tornadohub.cluster.secret import ClusterKeys
from tornadohub.cluster.session_ids import SessionIds
from tornadohub.hub import Hub
from tornadohub.mcp.aggregate import assign_server_ids
from tornadohub.mcp.fastpath import FastPath
from tornadohub.mcp.relay import Relay
from tornadohub.mcp.server import McpView
from tornadohub.mcp.sessions import Session, quota_holder
from tornadohub.mcp.views import view_profile
from tornadohub.options import McpOptions
from tornadohub.state import UpstreamStatus
from tornadohub.upstreams import Upstream

log = logging.getLogger("tornadohub.mcp")


class SessionLimitError(Exception):
    """No session slot is free, and the client has no idle session of its own to give up."""


class McpService:
    """Views, sessions and the task group they run in, for one Tornado application."""

    def __init__(
        self, hub: Hub, config: McpOptions, *, session_ids: SessionIds | None = None
    ) -> None:
        self.hub = hub
        self.config = config
        #: Mints and opens session ids (embedded: a key of this process, node ``local``).
        self.session_ids = session_ids or SessionIds(ClusterKeys.ephemeral())
        self.sessions: dict[str, Session] = {}
        #: By (server, profile): ``(None, None)`` is ``/mcp``.
        self._views: dict[tuple[str | None, str | None], McpView] = {}
        self._tg: anyio.abc.TaskGroup | None = None
        self._runner: asyncio.Task[None] | None = None
        self._started = asyncio.Event()
        self._stopping = asyncio.Event()
        self._resync_pending = False
        self.relay = Relay(
            lambda: self.hub.upstreams,
            lambda: self.sessions.values(),
            park_seconds=self.config.request_timeout,
        )
        #: Requests the transport answers without the kernel (``tools/call``, mostly).
        self.fast = FastPath(hub, self.relay, request_timeout=config.request_timeout)
        self._remove_listener = hub.add_change_listener(self._on_change)
        self._remove_config_listener = hub.add_config_listener(lambda _: self._resync_soon())
        self._remove_notification_listener = hub.add_notification_listener(
            self.relay.on_notification
        )
        for upstream in hub.upstreams.values():
            upstream.set_client_request_handler(self.relay.client_request)

    # -------------------------------------------------------------- lifecycle
    async def _ensure_running(self) -> anyio.abc.TaskGroup:
        if self._runner is None:
            self._runner = asyncio.create_task(self._run(), name="mcp-sessions")
        await self._started.wait()
        if self._tg is None:
            raise RuntimeError("the MCP service is shutting down")
        return self._tg

    async def _run(self) -> None:
        async with anyio.create_task_group() as tg:
            self._tg = tg
            self._started.set()
            await self._stopping.wait()
            self._tg = None
            tg.cancel_scope.cancel()

    async def close(self) -> None:
        """Stop listening to the hub, end every session and the task group."""
        self._remove_listener()
        self._remove_config_listener()
        self._remove_notification_listener()
        for upstream in self.hub.upstreams.values():
            upstream.set_client_request_handler(None)
        for session in list(self.sessions.values()):
            session.close()
        self.sessions.clear()
        self._stopping.set()
        self._started.set()
        if self._runner is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self._runner, timeout=10)
        await self.relay.close()

    # ------------------------------------------------------------------ views
    def view(self, server: str | None = None) -> McpView | None:
        """The aggregated view, or the view of one configured upstream (id or name)."""
        name = None if server is None else self._resolve_server(server)
        if server is not None and name is None:
            return None
        return self._view(name, None)

    def profile_view(self, profile: str) -> McpView | None:
        """The view of the profile named *profile*; None when the config defines no usable
        profile of that name."""
        if view_profile(self.hub, profile) is None:
            return None
        return self._view(None, profile)

    def _view(self, server: str | None, profile: str | None) -> McpView:
        view = self._views.get((server, profile))
        if view is None:
            view = self._views[server, profile] = McpView(
                self.hub,
                upstream=server,
                page_size=self.config.page_size,
                request_timeout=self.config.request_timeout,
                relay=self.relay,
                profile=profile,
            )
        return view

    def profile_clients(self, profile: str) -> int:
        """How many sessions the profile's endpoint has open."""
        view = self._views.get((None, profile))
        return sum(1 for session in self.sessions.values() if session.view is view)

    def _resolve_server(self, server: str) -> str | None:
        upstreams = self.hub.upstreams
        for name, server_id in assign_server_ids(upstreams).items():
            if server_id == server:
                return name
        return server if server in upstreams else None

    # --------------------------------------------------------------- sessions
    @property
    def active_clients(self) -> int:
        return len(self.sessions)

    async def open_session(
        self,
        view: McpView,
        *,
        legacy: bool,
        owner: str | None = None,
        client: str | None = None,
        initialize: Mapping[str, Any] | None = None,
        session_id: str | None = None,
    ) -> Session:
        """A new running session for *owner* (an API key's name) or, without keys, *client*.

        At the client's quota or the overall cap, that client's least recently used idle
        session makes room; another client's session never does, so a client flooding
        ``initialize`` only ever ends its own sessions. The id is minted from the
        *initialize* request's params (what adopting the session elsewhere needs), unless
        *session_id* is given (a session adopted from a node that died).
        """
        tg = await self._ensure_running()
        holder = quota_holder(owner, client)
        own = [s for s in self.sessions.values() if s.client == holder]
        at_quota = len(own) >= self.config.max_sessions_per_client
        if at_quota or len(self.sessions) >= self.config.max_sessions:
            idle = [s for s in own if not s.busy]
            if not idle:
                raise SessionLimitError(
                    "Too many open sessions for this client"
                    if at_quota
                    else "Too many open sessions"
                )
            oldest = min(idle, key=lambda s: s.last_used)
            log.info("MCP session limit reached; closing idle session %s", oldest.short_id)
            self.discard(oldest)
        session = Session(
            view,
            session_id=session_id or self._mint(view, legacy, owner, initialize or {}),
            legacy=legacy,
            idle_timeout=self.config.idle_timeout,
            owner=owner,
            client=client,
        )
        self.sessions[session.id] = session
        tg.start_soon(self._serve, session)
        return session

    def _mint(
        self, view: McpView, legacy: bool, owner: str | None, initialize: Mapping[str, Any]
    ) -> str:
        """A sealed id; portable unless the session is a legacy SSE stream or can reach a
        server configured ``stateful: true`` (its state would die with this node)."""
        info = initialize.get("clientInfo")
        info = info if isinstance(info, dict) else {}
        version = initialize.get("protocolVersion")
        capabilities = initialize.get("capabilities")
        entries = self.hub.config.servers if self.hub.config is not None else {}
        reachable = entries if view.upstream is None else [view.upstream]
        stateful = any(
            name in entries and entries[name].config.get("stateful") is True for name in reachable
        )
        return self.session_ids.mint(
            principal=owner,
            protocol_version=version if isinstance(version, str) else "",
            capabilities=capabilities if isinstance(capabilities, dict) else None,
            client_name=str(info.get("name") or ""),
            client_version=str(info.get("version") or ""),
            portable=not (legacy or stateful),
        )

    async def _serve(self, session: Session) -> None:
        metrics.mcp_session_opened(metrics.McpEra.handshake)
        try:
            await session.run()
        except Exception:
            log.exception("MCP session %s failed", session.short_id)
        finally:
            metrics.mcp_session_closed(metrics.McpEra.handshake)
            if self.sessions.get(session.id) is session:
                del self.sessions[session.id]
            self.relay.release_client(session)

    def session(self, session_id: str) -> Session | None:
        return self.sessions.get(session_id)

    def discard(self, session: Session) -> None:
        """Forget *session* now (its id answers 404 from here on) and end it."""
        if self.sessions.get(session.id) is session:
            del self.sessions[session.id]
        session.close()

    # ------------------------------------------------------------------- sync
    def _on_change(self, upstream: Upstream, what: str) -> None:
        """Any status or list change of any upstream: re-sync once this tick is over.

        A (new) upstream about to connect learns to route its sampling, elicitation
        and roots requests through the relay; a reconnected one gets the resource
        subscriptions the hub's clients still hold.
        """
        upstream.set_client_request_handler(self.relay.client_request)
        if what == "status" and upstream.status is UpstreamStatus.connected:
            self.relay.resubscribe_later(upstream.name)
        self._resync_soon()

    def _resync_soon(self) -> None:
        """Re-sync once this tick is over (a config revision or an upstream change)."""
        if self._resync_pending:
            return
        self._resync_pending = True
        try:
            asyncio.get_running_loop().call_soon(self.resync)
        except RuntimeError:  # no loop (hub shutting down): nothing to notify
            self._resync_pending = False

    def resync(self) -> None:
        """Rebuild every view's catalog and announce the lists that changed.

        The view of a profile the config no longer defines is dropped and its sessions end
        (its endpoint answers 404 from now on, as for a profile never defined).
        """
        self._resync_pending = False
        for key, view in list(self._views.items()):
            if view.profile is not None and view_profile(self.hub, view.profile) is None:
                del self._views[key]
                for session in [s for s in self.sessions.values() if s.view is view]:
                    self.discard(session)
                continue
            try:
                due = view.resync()
            except Exception:  # keep serving the previous catalog rather than none
                log.exception("MCP catalog re-sync failed")
                continue
            for session in list(self.sessions.values()):
                if session.view is view:
                    for method in sorted(due):
                        session.notify(method)
