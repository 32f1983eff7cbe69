"""Marketplace routes: the cached server catalog and one entry's details with its README."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from tornadohub.errors import ValidationError
from tornadohub.handlers.base import APIHandler

if TYPE_CHECKING:
    from tornadohub.marketplace import Marketplace


class MarketplaceAPIHandler(APIHandler):
    """Base of the marketplace routes: the app's :class:`Marketplace`, made on first use.

    Nothing is fetched at startup; the first request loads the cache or the network. The
    module (and httpx with it) is imported then too, not at the hub's start.
    """

    @property
    def marketplace(self) -> Marketplace:
        market = self.settings.get("marketplace")
        if market is None:
            from tornadohub.marketplace import marketplace_for

            options = self.hub.options
            market = self.settings.setdefault(
                "marketplace",
                marketplace_for(
                    marketplace_url=options.marketplace_url,
                    registry_url=options.registry_url,
                    environ=options.environ,
                ),
            )
        return cast("Marketplace", market)


class MarketplaceHandler(MarketplaceAPIHandler):
    """GET /api/marketplace?search=&category=&tags=a,b&sort=newest|stars|name."""

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
