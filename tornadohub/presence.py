"""Who is watching: ``/api/events`` clients, the workspace entry, ``--auto-shutdown``.

mcp-hub's editors keep an SSE stream open while they use the hub; with
``--auto-shutdown`` the last one leaving arms a timer that stops the hub, and one arriving
disarms it. The workspace cache (``~/.local/state/mcp-hub/workspaces.json``) follows.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from tornadohub.clock import iso_now
from tornadohub.events import Subscriber
from tornadohub.hub_core import HubCore
from tornadohub.state import HubState

log = logging.getLogger("tornadohub.hub")


class Presence(HubCore):
    """``/api/events`` clients arriving and leaving, and the auto-shutdown timer."""

    def client_connected(self, subscriber: Subscriber) -> None:
        """An ``/api/events`` client arrived: cancel a pending auto-shutdown."""
        self._cancel_shutdown_timer()
        log.debug(
            "SSE client connected",
            extra={
                "data": {
                    "clientId": subscriber.id,
                    "totalConnections": len(self.events.subscribers),
                }
            },
        )
        self._update_workspace(
            state="active",
            activeConnections=len(self.events.subscribers),
            shutdownStartedAt=None,
            shutdownDelay=None,
        )

    def client_disconnected(self, subscriber: Subscriber) -> None:
        """An ``/api/events`` client left; the last one arms ``--auto-shutdown``."""
        remaining = len(self.events.subscribers)
        log.debug(
            "SSE client disconnected",
            extra={"data": {"clientId": subscriber.id, "totalConnections": remaining}},
        )
        if remaining or not self.options.auto_shutdown:
            self._update_workspace(activeConnections=remaining)
            return
        if self.state in (HubState.stopping, HubState.stopped):
            return
        delay_ms = self.options.shutdown_delay_ms
        log.info(
            "No active SSE connections, shutting down in %d ms",
            delay_ms,
            extra={"data": {"delay": delay_ms}},
        )
        self._update_workspace(
            state="shutting_down",
            activeConnections=0,
            shutdownStartedAt=iso_now(),
            shutdownDelay=delay_ms,
        )
        self._cancel_shutdown_timer()
        self._shutdown_timer = asyncio.get_running_loop().call_later(
            delay_ms / 1000, self.shutdown_requested.set
        )

    def _cancel_shutdown_timer(self) -> None:
        if self._shutdown_timer is not None:
            self._shutdown_timer.cancel()
            self._shutdown_timer = None

    def _update_workspace(self, **fields: Any) -> None:
        if self.workspace is not None:
            self._spawn(self._write_workspace(fields), "workspace-update")

    async def _write_workspace(self, fields: dict[str, Any]) -> None:
        if self.workspace is not None:
            await asyncio.to_thread(self.workspace.update, **fields)
            self._workspace_writes += 1
