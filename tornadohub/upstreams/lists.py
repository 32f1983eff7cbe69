"""An upstream's capability lists and the notifications that change them."""

from __future__ import annotations

import contextlib
import logging
import re
from typing import Any

import anyio
import mcp_types as types
from mcp import ClientSession, MCPError
from mcp.client.subscriptions import SubscriptionLost
from mcp.client.subscriptions import listen as listen_upstream
from mcp.shared.subscriptions import event_to_notification
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from tornadohub import jsontext
from tornadohub.upstreams.core import UnreadableList, UpstreamCore, wait_and_cancel
from tornadohub.upstreams.eras import valid_header_tools
from tornadohub.upstreams.wire import (
    INVALID_ANSWER,
    LIST_KINDS,
    MAX_LIST_PAGES,
    RawResult,
    list_request,
    supports_list,
)

log = logging.getLogger("tornadohub.upstream")


#: Pauses before a dropped ``subscriptions/listen`` stream is opened again (s).
LISTEN_RETRY_INITIAL = 1.0


LISTEN_RETRY_MAX = 60.0


def _unreadable(exc: MCPError) -> bool:
    """Whether a list failed because the hub could not read the answer (not JSON, not a
    JSON-RPC answer, or too deep to write on), not because the server refused: mcp-hub
    reads any JSON text, so serving ``[]`` would hide items it shows."""
    if exc.code == types.PARSE_ERROR:
        return True
    return exc.code == types.INTERNAL_ERROR and exc.message in (jsontext.TOO_DEEP, INVALID_ANSWER)


#: The point of pydantic's report of text that is not JSON (the SDK quotes it whole).
_INVALID_JSON = re.compile(r"Invalid JSON: [^\[\n]*")


def _brief(message: str) -> str:
    """An error message on one line: the SDK's parse error says where the JSON broke
    ("Failed to parse JSON response: Invalid JSON: expected value at line 1 column 45")
    without pydantic's header, excerpt and link."""
    found = _INVALID_JSON.search(message)
    if found is not None:
        return f"{message.partition(':')[0]}: {found.group().strip()}"
    return " ".join(message.split())


class CapabilityLists(UpstreamCore):
    """The cached capability lists: fetched whole at connect, refreshed on ``list_changed``,
    and, for a 2026-07-28 upstream, kept current by its ``subscriptions/listen`` stream."""

    # ------------------------------------------------------------- capabilities
    async def _fetch_lists(
        self, session: ClientSession, keys: tuple[str, ...] | None = None
    ) -> None:
        """Fetch capability lists, following every cursor to the end."""
        caps = session.server_capabilities
        for key, method, field_name in LIST_KINDS:
            if keys is not None and key not in keys:
                continue
            if not supports_list(caps, key):
                self.capabilities[key] = []
                continue
            try:
                items = await self._list_all(session, method, field_name)
                if key == "tools" and session.protocol_version in MODERN_PROTOCOL_VERSIONS:
                    items = list(valid_header_tools(self.name, items))
                self.capabilities[key] = items
            except MCPError as exc:
                if _unreadable(exc):
                    raise UnreadableList(
                        f"Could not read {method}: {_brief(exc.message)}",
                        data={"server": self.name},
                    ) from None
                log.debug("%s %s failed: %s", self.name, method, exc)
                self.capabilities[key] = []

    async def _list_all(self, session: ClientSession, method: str, field_name: str) -> list[Any]:
        items: list[Any] = []
        cursor: str | None = None
        for _ in range(MAX_LIST_PAGES):
            page = (
                await session.send_request(
                    list_request(method, cursor),
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
        """Re-fetch the capability lists without reconnecting.

        A list the hub cannot read ends the session with that error, and raises it: a
        REST refresh answers with it instead of the server as it was before."""
        conn = self._conn
        if conn is None:
            return
        before = {key: self.capabilities[key] for key in self.capabilities}
        try:
            await self._fetch_lists(conn.session, keys)
        except UnreadableList as exc:
            conn.unreadable = exc
            conn.lost.set()
            raise
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
                    relisten.start_soon(wait_and_cancel, changed, relisten.cancel_scope)
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

    async def _refresh_on_change(self, keys: tuple[str, ...]) -> None:
        with contextlib.suppress(UnreadableList):  # the session already ends with it
            await self.refresh(keys)

    async def _on_message(self, message: Any) -> None:
        """Upstream notifications: list changes refresh the cache; logs go to the hub log."""
        if isinstance(message, Exception):
            log.warning("%s sent an unreadable message: %s", self.name, message)
            return
        if isinstance(message, types.ToolListChangedNotification):
            await self._refresh_on_change(("tools",))
        elif isinstance(message, types.ResourceListChangedNotification):
            await self._refresh_on_change(("resources", "resourceTemplates"))
        elif isinstance(message, types.PromptListChangedNotification):
            await self._refresh_on_change(("prompts",))
        elif isinstance(message, types.LoggingMessageNotification):
            params = message.params
            log.debug('["%s" server %s log]: %s', self.name, params.level, params.data)
        self.relay_notification(message)

    def relay_notification(self, message: Any) -> None:
        """Hand a notification of this upstream to the notification listener."""
        if self._on_notification is not None:
            try:
                self._on_notification(self.as_upstream, message)
            except Exception:
                log.exception("notification listener failed for %s", self.name)
