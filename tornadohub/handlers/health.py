"""Health and workspace routes: cheap snapshots, never upstream I/O."""

from tornadohub import schemas as s
from tornadohub.handlers.base import APIHandler
from tornadohub.handlers.docs import RouteDoc, ok
from tornadohub.mcp import endpoint_health, endpoint_names
from tornadohub.openapi import Operation


class HealthHandler(APIHandler):
    """GET /api/health: hub state, servers, SSE connections, workspaces."""

    openapi = RouteDoc({"get": Operation({200: ok(s.HealthSchema)})})

    def get(self) -> None:
        health = self.hub.health()
        health["mcpEndpoint"] = endpoint_health(self.app_state.mcp)
        names = endpoint_names(self.hub)
        if names is not None:
            health["mcpEndpoint"].update(names)
        self.write_json(health, timestamp=False)


class WorkspacesHandler(APIHandler):
    """GET /api/workspaces: every hub registered on this machine."""

    openapi = RouteDoc({"get": Operation({200: ok(s.WorkspacesSchema)})})

    def get(self) -> None:
        self.write_json({"workspaces": self.hub.workspaces()})


default_handlers = [
    (r"/api/health", HealthHandler),
    (r"/api/workspaces", WorkspacesHandler),
]
