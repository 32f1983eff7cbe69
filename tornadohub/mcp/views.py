"""What a view shows: its member upstreams and the sources its catalog is built from.

:func:`view_sources` is where each upstream's capability lists enter a view's catalog, for
both eras (tool filters and profiles will apply here); :func:`view_members` leaves out
upstreams that are not connected and the hub itself looped back.
"""

from __future__ import annotations

from collections.abc import Iterator

from tornadohub.hub import Hub
from tornadohub.mcp.aggregate import (
    Source,
    assign_namespaces,
    assign_server_ids,
)
from tornadohub.state import UpstreamStatus
from tornadohub.upstreams import Upstream

#: mcp-hub's identity on /mcp; an upstream announcing it is this hub (or another
#: mcp-hub) looped back into itself and is left out of every view.
SERVER_NAME = "mcp-hub-internal-endpoint"


def view_members(hub: Hub, upstream: str | None) -> Iterator[Upstream]:
    """Every connected upstream a view shows (*upstream*: one server's view, else all)."""
    for name, member in hub.upstreams.items():  # replaced on restart: read it fresh
        if upstream is not None and name != upstream:
            continue
        if member.status is not UpstreamStatus.connected:
            continue
        if (member.server_info or {}).get("name") == SERVER_NAME:
            continue  # the hub itself, or another mcp-hub, looped back
        yield member


def view_sources(hub: Hub, upstream: str | None, *, modern: bool = False) -> Iterator[Source]:
    """What a view publishes, per upstream (*modern*: as its 2026-07-28 clients see it)."""
    ids = assign_server_ids(hub.upstreams)
    namespaces = assign_namespaces(tuple(ids.values()))
    for member in view_members(hub, upstream):
        public_id = "" if upstream is not None else ids[member.name]
        yield Source(
            name=member.name,
            id=public_id,
            capabilities=member.modern.capabilities if modern else member.capabilities,
            namespace=namespaces.get(public_id, ""),
        )


def unprefixed_names(hub: Hub) -> bool:
    """The aggregated endpoint's unprefixed mode: ``--unprefixed`` or, in the config,
    ``"mcpEndpoint": {"unprefixed": true}`` (a key mcp-hub ignores)."""
    if hub.options.unprefixed:
        return True
    settings = hub.config.data.get("mcpEndpoint") if hub.config is not None else None
    return isinstance(settings, dict) and settings.get("unprefixed") is True
