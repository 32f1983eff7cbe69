"""List changes as each era hears of them: ``list_changed`` methods and the listen fan-out.

Handshake-era sessions get ``notifications/*/list_changed`` (:data:`LIST_CHANGED`);
2026-07-28 clients hear of their catalog's changes on their ``subscriptions/listen``
streams, fed by one :class:`ListenBus` per view (:data:`LISTEN_EVENTS`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from mcp.server.subscriptions import (
    PromptsListChanged,
    ResourcesListChanged,
    ServerEvent,
    ToolsListChanged,
)

log = logging.getLogger("tornadohub.mcp")


#: Which notification announces a change of which capability list.
LIST_CHANGED = {
    "tools": "notifications/tools/list_changed",
    "resources": "notifications/resources/list_changed",
    "resourceTemplates": "notifications/resources/list_changed",
    "prompts": "notifications/prompts/list_changed",
}


LISTEN_EVENTS: dict[str, ServerEvent] = {
    "notifications/tools/list_changed": ToolsListChanged(),
    "notifications/resources/list_changed": ResourcesListChanged(),
    "notifications/prompts/list_changed": PromptsListChanged(),
}


class ListenBus:
    """The ``subscriptions/listen`` fan-out for one view (2026-07-28 clients).

    Satisfies the SDK's ``SubscriptionBus`` protocol and adds a synchronous
    :meth:`publish_now`, so the hub's change listener can fan out without a task.
    """

    def __init__(self) -> None:
        self._listeners: dict[object, Callable[[ServerEvent], None]] = {}

    async def publish(self, event: ServerEvent) -> None:
        self.publish_now(event)

    def publish_now(self, event: ServerEvent) -> None:
        for listener in list(self._listeners.values()):
            try:
                listener(event)
            except Exception:  # one broken listen stream must not starve the others
                log.exception("listen stream listener failed")

    def subscribe(self, listener: Callable[[ServerEvent], None]) -> Callable[[], None]:
        token = object()
        self._listeners[token] = listener

        def unsubscribe() -> None:
            self._listeners.pop(token, None)

        return unsubscribe
