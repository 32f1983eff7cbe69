"""Stand-ins for in-process tests, in one place: a hub and connected upstreams, no I/O.

They carry just what the MCP service and its views, the metrics binding and the in-process
app read of the real objects; a test that needs more should use a real hub
(:mod:`tests.hubs`) rather than grow these.
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from tornadohub.options import McpOptions
from tornadohub.state import HubState, UpstreamStatus


class FakeUpstream:
    """A connected upstream with fixed capability lists and no 2026-07-28 channel open."""

    status = UpstreamStatus.connected
    server_info = {"name": "fake", "version": "1.0.0"}
    protocol_version = "2025-11-25"

    def __init__(self, name: str, capabilities: dict[str, list[Any]]) -> None:
        self.name = name
        self.capabilities = capabilities
        # no 2026-07-28 channel open, nothing left out for that era
        self.modern = SimpleNamespace(companion=None, pending=False, capabilities=capabilities)

    def set_client_request_handler(self, handler: Any) -> None:
        """Nothing to route: no upstream I/O here."""


class FakeHub:
    """A ready hub over *upstreams* (name -> FakeUpstream or a SimpleNamespace)."""

    def __init__(self, upstreams: dict[str, Any] | None = None, *, page_size: int = 1000) -> None:
        self.upstreams: dict[str, Any] = dict(upstreams or {})
        mcp = McpOptions(page_size=page_size)
        self.options = SimpleNamespace(mcp=mcp, host="127.0.0.1", unprefixed=False)
        self.config = None
        self.state = HubState.ready
        self.events = SimpleNamespace(subscribers=[], add_listener=lambda fn: lambda: None)

    def add_change_listener(self, listener: Callable[..., None]) -> Callable[[], None]:
        return lambda: None

    def add_notification_listener(self, listener: Callable[..., None]) -> Callable[[], None]:
        return lambda: None

    def add_config_listener(self, listener: Callable[..., None]) -> Callable[[], None]:
        return lambda: None
