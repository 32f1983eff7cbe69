"""Upstream MCP servers: one interface, a STDIO and a remote implementation."""

from typing import Any

from tornadohub.config import ServerEntry
from tornadohub.upstreams.base import Upstream
from tornadohub.upstreams.core import HubEnvironment
from tornadohub.upstreams.remote import RemoteUpstream
from tornadohub.upstreams.stdio import StdioUpstream

__all__ = [
    "HubEnvironment",
    "RemoteUpstream",
    "StdioUpstream",
    "Upstream",
    "create_upstream",
]


def create_upstream(entry: ServerEntry, env: HubEnvironment, **kwargs: Any) -> Upstream:
    """The implementation matching the entry's transport."""
    cls = StdioUpstream if entry.transport == "stdio" else RemoteUpstream
    return cls(entry, env, **kwargs)
