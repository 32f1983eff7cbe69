"""The hub's own MCP endpoint: aggregation, the SDK server, sessions, HTTP transport.

For the rest of the hub: :func:`endpoint_health` (``/api/health``'s ``mcpEndpoint``
object) takes the application's :class:`~tornadohub.mcp.service.McpService`, and
:func:`endpoint_names` (what unprefixed mode adds to that object: the names published with
their prefix after all) takes the hub. ``McpService.close`` ends every session at shutdown.
"""

from typing import Any

from tornadohub.hub import Hub
from tornadohub.mcp.aggregate import name_collisions
from tornadohub.mcp.service import McpService
from tornadohub.mcp.views import unprefixed_names, view_sources


def endpoint_health(service: McpService) -> dict[str, Any]:
    """mcp-hub's ``mcpEndpoint`` health object."""
    view = service.view()
    counts = view.catalog.counts() if view is not None else {}
    return {
        "activeClients": service.active_clients,
        "registeredCapabilities": counts,
        "totalCapabilities": sum(counts.values()),
    }


def endpoint_names(hub: Hub) -> dict[str, Any] | None:
    """In unprefixed mode, ``{"unprefixed": true, "nameCollisions": [...]}``: each name or
    URI that more than one connected server defines (``kind``, ``name``, ``servers``), which
    ``/mcp`` publishes prefixed; None otherwise. Cheap: no upstream I/O, no validation."""
    if not unprefixed_names(hub):
        return None
    collisions = name_collisions(view_sources(hub, None))
    return {"unprefixed": True, "nameCollisions": [c.describe() for c in collisions]}


__all__ = ["endpoint_health", "endpoint_names"]
