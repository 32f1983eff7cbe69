"""Health and workspace routes: cheap snapshots, never upstream I/O."""

from tornadohub.handlers.base import APIHandler


class HealthHandler(APIHandler):
    """GET /api/health: hub state, servers, SSE connections, workspaces."""

    def get(self) -> None:
        self.write_json(self.hub.health(), timestamp=False)


class WorkspacesHandler(APIHandler):
    """GET /api/workspaces: every hub registered on this machine."""

    def get(self) -> None:
        self.write_json({"workspaces": self.hub.workspaces()})


default_handlers = [
    (r"/api/health", HealthHandler),
    (r"/api/workspaces", WorkspacesHandler),
]
