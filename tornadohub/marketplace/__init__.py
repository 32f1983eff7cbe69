"""The marketplace: a cached catalog of installable MCP servers, and the installer beside it.

* :mod:`.catalog`: :class:`Marketplace`, the cached, merged catalog (mcp-hub's
  ``registry.json`` and, optionally, the official MCP Registry) and its READMEs;
* :mod:`.query`: searching and sorting the catalog (pure);
* :mod:`.official`: the official MCP Registry's entries in the catalog's shape;
* :mod:`.install`: ``mcp-hub add`` and ``POST /api/marketplace/add``, which write an entry
  into a config file.

Nothing here imports tornado.
"""

from tornadohub.marketplace.catalog import (
    CACHE_TTL_SECONDS,
    DEFAULT_MARKETPLACE_URL,
    INVALID_FORMAT,
    Marketplace,
    MarketplaceError,
    marketplace_for,
)
from tornadohub.marketplace.official import official_entry, registry_api_url
from tornadohub.marketplace.query import DEFAULT_README_BASE_URL, query_servers, readme_urls

__all__ = [
    "CACHE_TTL_SECONDS",
    "DEFAULT_MARKETPLACE_URL",
    "DEFAULT_README_BASE_URL",
    "INVALID_FORMAT",
    "Marketplace",
    "MarketplaceError",
    "marketplace_for",
    "official_entry",
    "query_servers",
    "readme_urls",
    "registry_api_url",
]
