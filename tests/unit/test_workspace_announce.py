"""``workspaces_updated`` for an ``/api/events`` client that connected while the hub started.

mcp-hub watches the workspace file before any client can connect, so a client connecting
during the start gets a ``workspaces_updated`` with its own ``activeConnections`` (its
recording ``tests/golden/events/startup-events.raw.txt``). Our hub listens earlier than
its watcher is registered; an entry written before then is announced once the watcher has
made its first pass, and only then.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from tornadohub.events import Event, Subscriber
from tornadohub.hub import Hub
from tornadohub.options import HubOptions
from tornadohub.workspace import WorkspaceCache

PORT = 4000


def make_hub(root: Path) -> Hub:
    workspace = WorkspaceCache(root / "workspaces.json", PORT)
    workspace.register(cwd=str(root), config_files=[])
    options = HubOptions(config_paths=[], port=PORT, cwd=str(root), environ={})
    return Hub(options, workspace=workspace)


async def next_workspaces(subscriber: Subscriber, timeout: float) -> Event | None:
    """The next ``workspaces_updated`` within *timeout*, skipping other events."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                event = await subscriber.queue.get()
                if event.payload.get("type") == "workspaces_updated":
                    return event
    except TimeoutError:
        return None


async def settle(hub: Hub) -> None:
    """Until the hub's background work (the entry writes, the catch-up) is done."""
    async with asyncio.timeout(10):
        while hub._background:
            await asyncio.gather(*list(hub._background))


async def test_entry_written_before_the_watcher_watched_is_announced(tmp_path: Path) -> None:
    hub = make_hub(tmp_path)
    subscriber = hub.events.subscribe()
    hub.client_connected(subscriber)
    await settle(hub)  # the entry says activeConnections 1 before anything watches it
    hub._start_workspace_watcher()
    try:
        event = await next_workspaces(subscriber, 10)
        assert event is not None, "no workspaces_updated for the client that connected"
        assert event.payload["workspaces"][str(PORT)]["activeConnections"] == 1
        await settle(hub)
        assert await next_workspaces(subscriber, 0.5) is None  # once, not twice
    finally:
        await hub._stop_watchers()


async def test_nothing_to_announce_without_a_write(tmp_path: Path) -> None:
    hub = make_hub(tmp_path)
    subscriber = hub.events.subscribe()  # a subscriber that never wrote the entry
    hub._start_workspace_watcher()
    try:
        await settle(hub)
        assert await next_workspaces(subscriber, 0.5) is None
        hub.client_connected(subscriber)  # after the first pass: the watcher sees it
        event = await next_workspaces(subscriber, 10)
        assert event is not None
        await settle(hub)
        assert await next_workspaces(subscriber, 0.5) is None
    finally:
        await hub._stop_watchers()
