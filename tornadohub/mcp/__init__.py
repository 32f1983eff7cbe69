"""The hub's own MCP endpoint: aggregation, the SDK server, sessions, HTTP transport.

For the rest of the hub:

* :func:`active_clients` (``/api/health`` ``mcpEndpoint.activeClients``) and
  :func:`endpoint_health` (the whole ``mcpEndpoint`` object) take the Tornado
  application settings; :func:`endpoint_names` (what unprefixed mode adds to that
  object: the names published with their prefix after all) takes the hub;
* :func:`close_mcp` ends every session; ``app.serve`` awaits it at shutdown.
"""

from collections.abc import Mapping
from typing import Any

from tornadohub.hub import Hub
from tornadohub.mcp.aggregate import name_collisions
from tornadohub.mcp.server import unprefixed_names, view_sources
from tornadohub.mcp.sessions import SETTINGS_KEY, McpService, active_clients, close_mcp


def endpoint_health(settings: Mapping[str, Any]) -> dict[str, Any] | None:
    """mcp-hub's ``mcpEndpoint`` health object, or None before the endpoint was first used."""
    service = settings.get(SETTINGS_KEY)
    if not isinstance(service, McpService):
        return None
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


__all__ = ["active_clients", "close_mcp", "endpoint_health", "endpoint_names"]
