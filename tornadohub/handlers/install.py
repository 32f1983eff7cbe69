"""``POST /api/marketplace/add``: what ``mcp-hub add`` does, for the dashboard.

The entry is written into the hub's first config file by the same code as the command
(:func:`tornadohub.marketplace.install.add_from_marketplace`). A hub with ``--watch`` then
applies the change through its config watcher; without it, this route starts the same reload itself.
Either way the answer comes once the file is written, and the new server's progress
arrives on ``/api/events`` like any other config change.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from tornadohub import schemas as s
from tornadohub.errors import HubError, ValidationError
from tornadohub.handlers.docs import RouteDoc, error, ok
from tornadohub.handlers.marketplace import MarketplaceAPIHandler
from tornadohub.marketplace.install import InstallError, add_from_marketplace
from tornadohub.openapi import Operation

log = logging.getLogger("tornadohub.api")


class MarketplaceAddHandler(MarketplaceAPIHandler):
    """POST /api/marketplace/add {mcpId, installation?, name?, params?, force?}.

    Writes the marketplace entry into the hub's first config file, as ``mcp-hub add`` does
    (``params`` fill ``${KEY}`` placeholders; the others stay for the hub's environment),
    then the hub applies the file: by itself with ``--watch``, else started from here.
    """

    openapi = RouteDoc(
        {
            "post": Operation(
                {
                    200: ok(s.MarketplaceAddResultSchema, "The entry is written"),
                    400: error(
                        "Missing mcpId or bad fields (VALIDATION_ERROR), or the entry cannot be"
                        " built or written: unknown id, installation or parameter, a name that"
                        " exists without force (INSTALL_ERROR)"
                    ),
                    500: error("No catalog, cached or fetched (MARKETPLACE_ERROR)"),
                },
                body=s.MarketplaceAddSchema,
            )
        },
        tag="marketplace",
    )

    async def post(self) -> None:
        body = self.json_body()
        mcp_id = body.get("mcpId")
        if not isinstance(mcp_id, str) or not mcp_id:
            raise ValidationError("Missing mcpId in request body", data={"field": "mcpId"})
        paths = self.hub_options.config_paths
        if not paths:
            raise HubError("The hub has no config file to add to", code="INSTALL_ERROR")
        try:
            done = await add_from_marketplace(
                self.marketplace,
                mcp_id,
                Path(paths[0]),
                key=_optional_text(body, "name"),
                installation=_optional_text(body, "installation"),
                params=_params(body.get("params")),
                force=body.get("force") is True,
            )
        except InstallError as exc:
            raise ValidationError(str(exc), code="INSTALL_ERROR", data={"mcpId": mcp_id}) from None
        watched = self.hub_options.watch
        if not watched:
            self._reload()
        self.write_json(
            {
                "status": "ok",
                "server": {
                    "name": done.key,
                    "mcpId": mcp_id,
                    "configFile": str(done.path),
                    "installation": done.installation,
                    "unresolved": done.unresolved,
                    "created": done.created,
                    "replaced": done.replaced,
                    "applied": "watch" if watched else "reload",
                },
            }
        )

    def _reload(self) -> None:
        """Start the hub's config reload; it runs on after this answer (a new server may take
        minutes to start), and the set in the settings keeps it from being collected."""
        reloads = self.app_state.reloads
        task = asyncio.ensure_future(self.hub.reload_config())
        reloads.add(task)
        task.add_done_callback(reloads.discard)
        task.add_done_callback(_report_failure)


def _report_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("Config reload after adding a server failed: %s", task.exception())


def _optional_text(body: dict[str, Any], field: str) -> str | None:
    value = body.get(field)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValidationError(f"{field} must be a string", data={"field": field})
    return value


def _params(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ValidationError(
            "params must be an object of strings (KEY: value)", data={"field": "params"}
        )
    return value


default_handlers = [(r"/api/marketplace/add", MarketplaceAddHandler)]
