"""Hub lifecycle routes: soft restart and hard restart."""

from tornadohub.handlers.base import APIHandler


class RestartHandler(APIHandler):
    """POST /api/restart: reload config files and reconnect every server."""

    async def post(self) -> None:
        await self.hub.restart()
        self.write_json({"status": "ok"})


class HardRestartHandler(APIHandler):
    """POST /api/hard-restart: answer, then shut the process down (the client respawns it)."""

    def post(self) -> None:
        self.write_json({"status": "ok"})
        self.hub.request_hard_restart()


default_handlers = [
    (r"/api/restart", RestartHandler),
    (r"/api/hard-restart", HardRestartHandler),
]
