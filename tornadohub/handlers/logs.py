"""``GET /api/logs``: the hub's recent log lines, all of them or one server's.

The lines come from :class:`tornadohub.recent_logs.RecentLogs`, which ``app.make_app`` puts
in the application state and feeds from the event bus from the start.
"""

from __future__ import annotations

from tornadohub import schemas as s
from tornadohub.errors import ValidationError
from tornadohub.handlers.base import APIHandler
from tornadohub.handlers.docs import NO_SERVER, RouteDoc, error, ok
from tornadohub.openapi import Operation
from tornadohub.recent_logs import LEVELS

MAX_LIMIT = 1000


class LogsHandler(APIHandler):
    """GET /api/logs?server_name=&level=&limit=: recent log lines, oldest first.

    With ``server_name``, that server's lines only (its stderr and the hub's lines about
    it); ``level`` keeps that level and above; ``limit`` the last lines (at most 1000).
    """

    openapi = RouteDoc(
        {
            "get": Operation(
                {
                    200: ok(s.LogsSchema),
                    400: error("A bad level or limit (VALIDATION_ERROR)"),
                    404: NO_SERVER,
                },
                query=s.LogsQuerySchema,
            )
        }
    )

    def get(self) -> None:
        name = self.get_query_argument("server_name", None)
        level = self.get_query_argument("level", None)
        if level is not None and level not in LEVELS:
            raise ValidationError(
                f"level must be one of {', '.join(LEVELS)}", data={"field": "level"}
            )
        limit = self._limit()
        if name is not None:
            self.hub.get(name)  # 404 for a server that is not configured
        logs = self.app_state.recent_logs
        self.write_json({"lines": logs.lines(name, level=level, limit=limit)})

    def _limit(self) -> int:
        raw = self.get_query_argument("limit", str(MAX_LIMIT))
        # ASCII digits only: str.isdigit() also takes "²" and "①", which int() refuses.
        if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_LIMIT:
            raise ValidationError(
                f"limit must be a whole number from 1 to {MAX_LIMIT}", data={"field": "limit"}
            )
        return int(raw)


default_handlers = [(r"/api/logs", LogsHandler)]
