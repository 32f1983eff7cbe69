"""The hub's recent log lines, in bounded ring buffers: all of them, and per server.

``GET /api/logs`` answers from here, so the dashboard can show what the hub and one server
did before the page was opened (``/api/events`` carries only what happens afterwards). The
buffers are fed by the hub's event bus: every ``log`` event is a line the hub logged at its
``--log-level``, server stderr included. Nothing here knows about HTTP.

A line belongs to a server when its ``data.server`` names it (stderr lines), or when its
message starts with the server's name, which is how the hub words every line about one
server (``"<name> connected"``, ``"<name>: session lost ..."``, ``'["<name>" server info
log]: ...'``). Lines about no server are kept in the hub-wide buffer only.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Collection
from typing import Any

from tornadohub.events import LOG, Event, EventBus

#: Lines kept for the whole hub, and for each server.
HUB_LINES = 1000
SERVER_LINES = 200

#: The order of mcp-hub's entry types, for "this level and above".
LEVELS = ("debug", "info", "warn", "error")


def line_server(entry: dict[str, Any], names: Collection[str]) -> str | None:
    """The configured server (one of *names*) that the log *entry* is about, if any."""
    data = entry.get("data")
    if isinstance(data, dict):
        server = data.get("server")
        if isinstance(server, str) and server in names:
            return server
    message = entry.get("message")
    if not isinstance(message, str):
        return None
    if message.startswith('["'):
        quoted = message[2:].split('"', 1)[0]
        return quoted if quoted in names else None
    head = message.split(" ", 1)[0]
    if head.rstrip(":") in names:
        return head.rstrip(":")
    for name in names:  # names with spaces: rare, so only looked for when the head missed
        if " " in name and message.startswith(name):
            if message[len(name) : len(name) + 1] in (":", " ", ""):
                return name
    return None


def at_least(entry: dict[str, Any], level: str | None) -> bool:
    """Whether *entry* is of *level* or more severe (every entry when *level* is None)."""
    if level is None:
        return True
    kind = entry.get("type")
    return kind in LEVELS and LEVELS.index(kind) >= LEVELS.index(level)


class RecentLogs:
    """Ring buffers of the last log entries: :data:`HUB_LINES` in all, and per server."""

    def __init__(
        self,
        server_names: Callable[[], Collection[str]],
        *,
        hub_lines: int = HUB_LINES,
        server_lines: int = SERVER_LINES,
    ) -> None:
        self._server_names = server_names
        self._server_lines = server_lines
        self._all: deque[dict[str, Any]] = deque(maxlen=hub_lines)
        self._by_server: dict[str, deque[dict[str, Any]]] = {}

    def follow(self, bus: EventBus) -> Callable[[], None]:
        """Keep every ``log`` event of *bus* from now on; returns a function that stops it."""

        def on_event(event: Event) -> None:
            if event.name == LOG:
                self.add(event.payload)

        return bus.add_listener(on_event)

    def add(self, entry: dict[str, Any]) -> None:
        self._all.append(entry)
        names = self._server_names()
        server = line_server(entry, names)
        if server is not None:
            lines = self._by_server.get(server)
            if lines is None:
                lines = self._by_server[server] = deque(maxlen=self._server_lines)
            lines.append(entry)
        if len(self._by_server) > len(names):  # servers removed from the config
            for gone in set(self._by_server) - set(names):
                del self._by_server[gone]

    def lines(
        self, server: str | None = None, *, level: str | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """The kept entries, oldest first: all, or *server*'s; *level* and above; the last
        *limit* of them."""
        source = self._all if server is None else self._by_server.get(server, ())
        found = [entry for entry in source if at_least(entry, level)]
        return found[-limit:] if limit is not None else found
