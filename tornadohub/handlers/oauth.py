"""OAuth routes for remote upstreams: authorize, the browser callback, the headless callback."""

from __future__ import annotations

import html
import json

from tornadohub import schemas as s
from tornadohub.errors import HubError, ValidationError
from tornadohub.handlers.base import APIHandler
from tornadohub.handlers.docs import BAD_BODY, NO_SERVER, RouteDoc, error, ok
from tornadohub.oauth_session import parse_callback_url
from tornadohub.openapi import Operation, Response
from tornadohub.policy import Check

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>MCP HUB</title></head>
<body><h1>MCP HUB</h1><h2>{server} Authorization</h2><p id="status">{message}</p>
<script>function updateStatus(status, message) {{
  document.getElementById("status").textContent = status === "success"
    ? "Authorization successful. You can close this window." : "Authorization failed: " + message;
}}</script>
<script>updateStatus({status}, {detail})</script></body></html>
"""


class AuthorizeHandler(APIHandler):
    """POST /api/servers/authorize {server_name}: the URL to open (no timestamp, as mcp-hub)."""

    openapi = RouteDoc(
        {
            "post": Operation(
                {
                    200: ok(s.AuthorizationSchema),
                    400: BAD_BODY,
                    404: NO_SERVER,
                    500: error("No authorization URL (OPEN_REQUEST_ERROR)"),
                },
                body=s.ServerNameSchema,
            )
        }
    )

    async def post(self) -> None:
        name = self.require(self.json_body(), "server_name", "Missing server name")
        url = await self.hub.authorize(name)
        self.write_json({"authorizationUrl": url}, timestamp=False)


class OAuthCallbackHandler(APIHandler):
    """GET /api/oauth/callback?server_name=&code=&state=: the browser lands here; always 200.

    The authorization server redirects the user's browser here: a cross-site navigation
    that carries no API key. The ``state`` the hub issued for that authorization (checked
    by :meth:`Hub.complete_oauth`) is what protects it, so keys and the Origin/
    ``Sec-Fetch-Site`` checks are skipped; the Host check still applies.
    """

    openapi = RouteDoc(
        {
            "get": Operation(
                {200: Response("A page saying whether it worked", {"text/html": None})},
                query=s.OAuthCallbackQuerySchema,
            )
        }
    )

    auth_required = False
    exempt_from = frozenset({Check.site})

    def set_default_headers(self) -> None:
        self.set_header("Content-Type", "text/html; charset=utf-8")

    async def get(self) -> None:
        name = self.get_query_argument("server_name", None)
        code = self.get_query_argument("code", None)
        if not name or not code:
            self._page(name or "", "error", "Missing code or server_name parameter")
            return
        try:
            await self.hub.complete_oauth(
                name,
                code,
                self.get_query_argument("state", None),
                self.get_query_argument("iss", None),
            )
        except HubError as exc:
            self._page(name, "error", exc.message)
            return
        self._page(name, "success", "")

    def _page(self, server: str, status: str, detail: str) -> None:
        self.finish(
            _PAGE.format(
                server=html.escape(server),
                message="Processing..." if status == "success" else html.escape(detail),
                status=json.dumps(status),
                detail=html.escape(json.dumps(detail), quote=False),
            )
        )


class ManualCallbackHandler(APIHandler):
    """POST /api/oauth/manual_callback {url}: a headless hub's user pastes the redirect URL."""

    openapi = RouteDoc(
        {
            "post": Operation(
                {
                    200: ok(s.ManualCallbackResultSchema),
                    400: BAD_BODY,
                    404: NO_SERVER,
                    409: error("No authorization in progress for that server (OAUTH_ERROR)"),
                    500: error("The authorization failed"),
                },
                body=s.ManualCallbackSchema,
            )
        }
    )

    async def post(self) -> None:
        url = self.require(self.json_body(), "url", "Missing URL parameter")
        try:
            params = parse_callback_url(url)
        except ValueError:
            raise ValidationError("Invalid URL parameter", data={"field": "url"}) from None
        name, code = params["server_name"], params["code"]
        if not name or not code:
            raise ValidationError("Missing code or server_name parameter")
        await self.hub.complete_oauth(name, code, params["state"], params["iss"])
        self.write_json(
            {
                "status": "ok",
                "message": f"Authorization successful for server '{name}'",
                "server_name": name,
            }
        )


default_handlers = [
    (r"/api/servers/authorize", AuthorizeHandler),
    (r"/api/oauth/callback", OAuthCallbackHandler),
    (r"/api/oauth/manual_callback", ManualCallbackHandler),
]
