"""Hub lifecycle routes: soft restart and hard restart."""

from tornadohub import schemas as s
from tornadohub.handlers.base import APIHandler
from tornadohub.handlers.docs import RouteDoc, error, ok
from tornadohub.openapi import Operation


class RestartHandler(APIHandler):
    """POST /api/restart: reload config files and reconnect every server."""

    openapi = RouteDoc(
        {"post": Operation({200: ok(s.StatusSchema), 500: error("The config could not be loaded")})}
    )

    async def post(self) -> None:
        await self.hub.restart()
        self.write_json({"status": "ok"})


class HardRestartHandler(APIHandler):
    """POST /api/hard-restart: answer, then shut the process down (the client respawns it)."""

    openapi = RouteDoc({"post": Operation({200: ok(s.StatusSchema)})})

    def post(self) -> None:
        self.write_json({"status": "ok"})
        self.hub.request_hard_restart()


default_handlers = [
    (r"/api/restart", RestartHandler),
    (r"/api/hard-restart", HardRestartHandler),
]
