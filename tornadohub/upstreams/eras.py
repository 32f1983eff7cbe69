"""Both protocol eras toward one upstream: a 2026-07-28 channel beside a handshake session.

A server that speaks both eras (every server on the MCP SDKs' dual-era runtimes does) is
reached in each client's own era. The hub's connection to it stays the handshake session
(``initialize``): REST calls and handshake-era clients use it, and the server's sampling,
elicitation and roots requests are relayed over it. A 2026-07-28 client gets what the
server does in *its* era instead: the first time such a client needs the server, the hub
opens a :class:`ModernChannel` beside the session, a second connection that speaks only
2026-07-28 (``server/discover``, every request stateless, with that client's declared
capabilities and its ``inputResponses``/``requestState`` rounds passed through):

* over HTTP, a second Streamable HTTP client of the same URL (no session);
* over STDIO, a second process of the same command, because a STDIO connection serves the
  era its first request opens. The two processes share no state.

A server that refuses ``server/discover`` speaks only the handshake era; its 2026-07-28
clients are bridged as before (:mod:`tornadohub.mcp.rounds`) until the session reconnects.
An entry with ``protocolVersion`` talks to its server in that one era and opens no channel.

Also here, the ``x-mcp-header`` rules of a 2026-07-28 session: a tool whose annotations are
invalid is dropped from the list (the spec's MUST for clients), and a ``tools/call`` mirrors
the annotated arguments into ``Mcp-Param-*`` HTTP headers, computed from the listed schema.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

import anyio
from mcp.shared.inbound import find_invalid_x_mcp_header, mcp_param_headers, x_mcp_header_map
from mcp_types.version import LATEST_MODERN_VERSION

from tornadohub.config import ServerEntry
from tornadohub.errors import UpstreamConnectionError

if TYPE_CHECKING:
    from tornadohub.upstreams.base import Upstream

log = logging.getLogger("tornadohub.upstream")

#: How long the first 2026-07-28 request may wait for the channel to open (s).
CHANNEL_CONNECT_TIMEOUT: Final = 30.0

#: The session's subscriptions the channel mirrors (``resources/unsubscribe`` undoes them).
SUBSCRIBE: Final = "resources/subscribe"


def pins_era(entry: ServerEntry) -> bool:
    """Whether the entry names the one era to speak (``protocolVersion``)."""
    return entry.config.get("protocolVersion") is not None


class ModernChannel:
    """The 2026-07-28 side of one upstream's handshake session (see the module docstring).

    It exists for the life of that session: :meth:`serve_beside` runs in the session's
    task group, and the channel closes with it. It opens the first time a 2026-07-28
    client asks anything of a view that shows the upstream (a list, a call, a listen
    stream: :meth:`reach`), so that such a client sees that era's lists from the start.
    Inside, the channel is a hidden *companion* :class:`~tornadohub.upstreams.base.Upstream`
    pinned to 2026-07-28, with its own owner task, lists, ``subscriptions/listen`` stream
    and reconnects.
    """

    def __init__(self, primary: Upstream) -> None:
        self.primary = primary
        self._companion: Upstream | None = None
        self._opening: asyncio.Task[Upstream | None] | None = None
        self._active = False
        self._refused = False
        #: Resources the session subscribed to: the channel listens for them too.
        self._uris: set[str] = set()
        self._valid_tools = ValidHeaderTools()

    @property
    def companion(self) -> Upstream | None:
        """The connected companion, if any (its lists are the 2026-07-28 clients' lists)."""
        companion = self._companion
        if companion is None or not companion.connected:
            return None
        return companion

    @property
    def pending(self) -> bool:
        """Whether the channel may open but has not (yet): nobody needed it so far."""
        return self._active and not self._refused and self.companion is None

    @property
    def capabilities(self) -> Mapping[str, Sequence[Any]]:
        """The lists this upstream shows 2026-07-28 clients: the companion's when it is open,
        else the session's without the tools whose ``x-mcp-header`` annotations are invalid
        (the very object :attr:`Upstream.capabilities` when none is)."""
        companion = self.companion
        if companion is not None:
            return companion.capabilities
        capabilities = self.primary.capabilities
        tools = self._valid_tools.of(self.primary.name, capabilities["tools"])
        return capabilities if tools is capabilities["tools"] else {**capabilities, "tools": tools}

    async def serve_beside(self) -> None:
        """Offer the channel while the session lives; close it when the session ends."""
        self._active, self._refused = True, False
        try:
            await anyio.sleep_forever()
        finally:
            self._active = False
            with anyio.CancelScope(shield=True):
                await self._close()

    async def reach(self) -> Upstream | None:
        """The companion for a 2026-07-28 client's request, opened on first use.

        None when there is no handshake session to stand beside, or the server does not
        speak 2026-07-28 (its clients are then bridged over the session).
        """
        if not self._active or self._refused:
            return None
        companion = self.companion
        if companion is not None:
            return companion
        opening = self._opening
        if opening is None:
            opening = self._opening = asyncio.ensure_future(self._open())
        await asyncio.wait({opening})
        if opening.cancelled():  # the session ended meanwhile
            return None
        return opening.result()

    def follow(self, method: str, uri: str) -> None:
        """The session (un)subscribed *uri*: the channel's listen stream follows."""
        if method == SUBSCRIBE:
            self._uris.add(uri)
        else:
            self._uris.discard(uri)
        companion = self.companion
        if companion is not None:
            companion.follow_resource(method, uri)

    async def _open(self) -> Upstream | None:
        try:
            companion = self._companion
            if companion is None:
                companion = self._companion = self._new_companion()
            try:
                await companion.start()
            except UpstreamConnectionError as exc:
                log.info(
                    "%s does not speak %s (%s); its clients of that era are bridged",
                    self.primary.name,
                    LATEST_MODERN_VERSION,
                    exc.message,
                )
                await self._refuse()
                return None
            if not companion.connected:  # e.g. it wants an OAuth authorization of its own
                await self._refuse()
                return None
            log.info("%s: %s channel open", self.primary.name, LATEST_MODERN_VERSION)
            return companion
        finally:
            self._opening = None

    async def _refuse(self) -> None:
        self._refused = True
        await self._stop_companion()

    async def _close(self) -> None:
        opening = self._opening
        if opening is not None:
            opening.cancel()
            with contextlib.suppress(BaseException):
                await opening
        await self._stop_companion()
        self._uris.clear()  # a new session: the relay subscribes again

    async def _stop_companion(self) -> None:
        companion, self._companion = self._companion, None
        if companion is not None:
            await companion.stop()
            self.primary.notify_change("modern")

    def _new_companion(self) -> Upstream:
        primary = self.primary
        entry = dataclasses.replace(
            primary.entry,
            name=f"{primary.name} ({LATEST_MODERN_VERSION})",
            config={**primary.entry.config, "protocolVersion": LATEST_MODERN_VERSION},
        )
        policy = dataclasses.replace(
            primary.policy,
            connect_timeout=min(primary.policy.connect_timeout, CHANNEL_CONNECT_TIMEOUT),
        )
        return type(primary)(
            entry,
            primary.env,
            policy=policy,
            on_change=self._on_companion_change,
            on_notification=self._on_companion_notification,
        )

    def _on_companion_change(self, companion: Upstream, what: str) -> None:
        if what == "status" and companion.connected:
            for uri in sorted(self._uris):
                companion.follow_resource(SUBSCRIBE, uri)
        self.primary.notify_change("modern")

    def _on_companion_notification(self, companion: Upstream, message: Any) -> None:
        """The companion's logs and resource updates are the upstream's, for the relay."""
        self.primary.relay_notification(message)


# ------------------------------------------------------------------ x-mcp-header
def valid_header_tools(server: str, tools: Sequence[Any]) -> Sequence[Any]:
    """*tools* without those whose ``x-mcp-header`` annotations are invalid (each logged);
    *tools* itself when all are valid."""
    kept: list[Any] = []
    for tool in tools:
        schema = tool.get("inputSchema") if isinstance(tool, Mapping) else None
        reason = find_invalid_x_mcp_header(schema)
        if reason is not None:
            name = tool.get("name") if isinstance(tool, Mapping) else None
            log.warning(
                "%s: tool %r left out in %s: invalid x-mcp-header (%s)",
                server,
                name,
                LATEST_MODERN_VERSION,
                reason,
            )
            continue
        kept.append(tool)
    return tools if len(kept) == len(tools) else kept


class ValidHeaderTools:
    """:func:`valid_header_tools` of the last list seen, computed once per fetched list."""

    def __init__(self) -> None:
        self._tools: Sequence[Any] | None = None
        self._valid: Sequence[Any] = ()

    def of(self, server: str, tools: Sequence[Any]) -> Sequence[Any]:
        if tools is not self._tools:
            self._tools, self._valid = tools, valid_header_tools(server, tools)
        return self._valid


class ParamHeaders:
    """``Mcp-Param-*`` headers of a ``tools/call``, from the annotations of the listed tools.

    The header map of each tool is computed once per fetched list (the list object is
    replaced, never changed in place, when the upstream's tools change).
    """

    def __init__(self) -> None:
        self._tools: Sequence[Any] | None = None
        self._maps: dict[str, dict[tuple[str, ...], str]] = {}

    def headers(
        self, tools: Sequence[Any], name: str, arguments: Mapping[str, Any]
    ) -> dict[str, str]:
        if tools is not self._tools:
            self._tools, self._maps = tools, _header_maps(tools)
        header_map = self._maps.get(name)
        return mcp_param_headers(header_map, arguments) if header_map else {}


def _header_maps(tools: Sequence[Any]) -> dict[str, dict[tuple[str, ...], str]]:
    maps: dict[str, dict[tuple[str, ...], str]] = {}
    for tool in tools:
        if not isinstance(tool, Mapping) or not isinstance(tool.get("name"), str):
            continue
        header_map = x_mcp_header_map(tool.get("inputSchema"))
        if header_map:
            maps[tool["name"]] = header_map
    return maps
