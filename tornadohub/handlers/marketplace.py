"""Marketplace routes: the cached server catalog and one entry's details with its README."""

from __future__ import annotations

from tornadohub import schemas as s
from tornadohub.errors import ValidationError
from tornadohub.handlers.base import APIHandler
from tornadohub.handlers.docs import RouteDoc, error, ok
from tornadohub.marketplace import Marketplace
from tornadohub.openapi import Operation


class MarketplaceAPIHandler(APIHandler):
    """Base of the marketplace routes: the application's :class:`Marketplace`.

    Nothing is fetched at startup; the first request loads the cache or the network.
    """

    @property
    def marketplace(self) -> Marketplace:
        return self.app_state.marketplace


class MarketplaceHandler(MarketplaceAPIHandler):
    """GET /api/marketplace?search=&category=&tags=a,b&sort=newest|stars|name."""

    openapi = RouteDoc(
        {
            "get": Operation(
                {
                    200: ok(s.MarketplaceSchema),
                    500: error("No catalog, cached or fetched (MARKETPLACE_ERROR)"),
                },
                query=s.MarketplaceQuerySchema,
            )
        }
    )

    async def get(self) -> None:
        tags = [
            tag.strip()
            for value in self.get_query_arguments("tags")
            for tag in value.split(",")
            if tag.strip()
        ]
        servers = await self.marketplace.query(
            search=self.get_query_argument("search", None),
            category=self.get_query_argument("category", None),
            tags=tags,
            sort=self.get_query_argument("sort", None),
        )
        self.write_json({"servers": servers})


class MarketplaceDetailsHandler(MarketplaceAPIHandler):
    """POST /api/marketplace/details {mcpId}: ``{server: {server, readmeContent}}`` (nested)."""

    openapi = RouteDoc(
        {
            "post": Operation(
                {
                    200: ok(s.MarketplaceDetailsResultSchema),
                    400: error("Missing mcpId, or no such server (VALIDATION_ERROR)"),
                    500: error("No catalog, cached or fetched (MARKETPLACE_ERROR)"),
                },
                body=s.MarketplaceDetailsRequestSchema,
            )
        }
    )

    async def post(self) -> None:
        mcp_id = self.json_body().get("mcpId")
        if not mcp_id:
            raise ValidationError("Missing mcpId in request body")  # mcp-hub's, data {}
        if not isinstance(mcp_id, str):
            raise ValidationError("mcpId must be a string", data={"field": "mcpId"})
        self.write_json({"server": await self.marketplace.details(mcp_id)})


default_handlers = [
    (r"/api/marketplace", MarketplaceHandler),
    (r"/api/marketplace/details", MarketplaceDetailsHandler),
]
