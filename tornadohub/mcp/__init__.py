"""The hub's own MCP endpoint: aggregation, the SDK server, sessions, HTTP transport.

For the rest of the hub: :func:`endpoint_health` (``/api/health``'s ``mcpEndpoint``
object, with the profiles' endpoints and the filter and profile errors) takes the
application's :class:`~tornadohub.mcp.service.McpService`, and
:func:`endpoint_names` (what unprefixed mode adds to that object: the names published with
their prefix after all) takes the hub. ``McpService.close`` ends every session at shutdown.
"""

from typing import Any

from tornadohub.hub import Hub
from tornadohub.mcp.aggregate import name_collisions
from tornadohub.mcp.service import McpService
from tornadohub.mcp.views import hub_surface, unprefixed_names, view_sources


def endpoint_health(service: McpService) -> dict[str, Any]:
    """mcp-hub's ``mcpEndpoint`` health object, plus ``profiles`` (each usable profile's
    endpoint and open sessions) and ``filterErrors`` (what ``check-config`` says of the
    filters and profiles; the rest runs)."""
    view = service.view()
    counts = view.catalog.counts() if view is not None else {}
    surface = hub_surface(service.hub)
    return {
        "activeClients": service.active_clients,
        "registeredCapabilities": counts,
        "totalCapabilities": sum(counts.values()),
        "profiles": [
            {**profile.to_json(), "activeClients": service.profile_clients(profile.name)}
            for profile in surface.profiles.values()
        ],
        "filterErrors": list(surface.errors),
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
