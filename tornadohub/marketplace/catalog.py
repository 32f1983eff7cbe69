"""The marketplace: a cached catalog of installable MCP servers (contract section 12).

Two sources feed one list of ``RegistryServer`` entries:

- mcp-hub's catalog (``registry.json``: ``{version, generatedAt, totalServers, servers}``),
  always on, its URL configurable;
- optionally the official MCP Registry API (``GET <base>/v0/servers``, cursor pages of
  ``server.json`` entries), mapped into the same shape by :func:`official_entry`.
  mcp-hub's catalog comes first; an id already present is not repeated.

The merged catalog is cached in mcp-hub's cache file format
``{registry, lastFetchedAt, serverDocumentation}`` for one hour. Unlike mcp-hub, a failed
refresh never hides a cached catalog: the stale one is served (and the network is not
retried for :attr:`Marketplace.retry_after` seconds). Only with no catalog at all does a
request fail, with ``MARKETPLACE_ERROR "Failed to fetch marketplace registry"``.

Nothing here imports tornado; all outbound HTTP goes through a short-lived
``httpx.AsyncClient`` created and closed by the call that needs it, and every ``GET``
through :meth:`Marketplace._get`. httpx itself is imported by those two, not with this
module: the hub builds its marketplace on the way to ``ready`` and fetches nothing until
asked (see :mod:`tornadohub.spawn` on start time).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tornadohub.errors import HubError, ValidationError
from tornadohub.marketplace.official import (
    OFFICIAL_META,
    official_entry,
    official_items,
    registry_api_url,
)
from tornadohub.marketplace.query import (
    DEFAULT_README_BASE_URL,
    number_of,
    query_servers,
    readme_urls,
    text_of,
)
from tornadohub.paths import write_atomic

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("tornadohub.marketplace")

DEFAULT_MARKETPLACE_URL = "https://ravitemer.github.io/mcp-registry/registry.json"
CACHE_TTL_SECONDS = 3600.0
#: After a failed refresh, serve the stale catalog this long before trying the network again.
RETRY_AFTER_SECONDS = 60.0
HTTP_TIMEOUT_SECONDS = 30.0
#: Upper bound on ``/v0/servers`` pages followed (100 entries each).
MAX_REGISTRY_PAGES = 200

INVALID_FORMAT = "Invalid registry response format (missing 'servers' array)"
FETCH_FAILED = "Failed to fetch marketplace registry"
EMPTY_REGISTRY: dict[str, Any] = {
    "version": "N/A",
    "generatedAt": 0,
    "totalServers": 0,
    "servers": [],
}


class MarketplaceError(HubError):
    """The catalog could not be fetched and no cached copy exists (500)."""

    default_code = "MARKETPLACE_ERROR"


class _FetchError(Exception):
    """One source failed; ``url`` is the source, ``str(self)`` the reason."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(reason)
        self.url = url


class Marketplace:
    """The catalog of one hub (or one ``mcp-hub add`` run); app state, not a singleton.

    ``clock`` (seconds) and ``ttl``/``retry_after`` are injectable so tests need no
    sleeps; ``transport`` lets tests swap httpx's network layer.
    """

    def __init__(
        self,
        *,
        catalog_url: str = DEFAULT_MARKETPLACE_URL,
        registry_url: str | None = None,
        readme_base_url: str = DEFAULT_README_BASE_URL,
        cache_path: Path | None = None,
        ttl: float = CACHE_TTL_SECONDS,
        retry_after: float = RETRY_AFTER_SECONDS,
        timeout: float = HTTP_TIMEOUT_SECONDS,
        clock: Callable[[], float] = time.time,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.catalog_url = catalog_url
        self.registry_url = registry_api_url(registry_url) if registry_url else None
        self.readme_base_url = readme_base_url
        self.cache_path = cache_path
        self.ttl = ttl
        self.retry_after = retry_after
        self.timeout = timeout
        self.clock = clock
        self._transport = transport
        self._loaded = False
        self._registry: dict[str, Any] | None = None
        self._fetched_ms = 0
        self._sources_match = False
        self._docs: dict[str, dict[str, Any]] = {}
        self._failed_at: float | None = None
        self._lock: asyncio.Lock | None = None

    @property
    def sources(self) -> list[str]:
        return [self.catalog_url, *([self.registry_url] if self.registry_url else [])]

    # ---- public API ------------------------------------------------------- #

    async def catalog(self) -> dict[str, Any]:
        """The merged registry document, refreshed when older than the TTL."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            await self._load_cache()
            if not self._fresh():
                await self._refresh()
            assert self._registry is not None
            return self._registry

    async def query(
        self,
        *,
        search: str | None = None,
        category: str | None = None,
        tags: Sequence[str] | None = None,
        sort: str | None = None,
    ) -> list[dict[str, Any]]:
        """``GET /api/marketplace``: see :func:`query_servers`."""
        registry = await self.catalog()
        return query_servers(
            registry["servers"], search=search, category=category, tags=tags, sort=sort
        )

    async def server(self, mcp_id: str) -> dict[str, Any] | None:
        registry = await self.catalog()
        for item in registry["servers"]:
            if isinstance(item, dict) and item.get("id") == mcp_id:
                return item
        return None

    async def details(self, mcp_id: Any) -> dict[str, Any]:
        """``{server, readmeContent}`` for one id; unknown ids are a 400 as in mcp-hub."""
        server = await self.server(mcp_id) if isinstance(mcp_id, str) else None
        if server is None:
            raise ValidationError("Server not found", data={"mcpId": mcp_id})
        return {"server": server, "readmeContent": await self.readme(mcp_id, server)}

    async def readme(self, mcp_id: str, server: Mapping[str, Any]) -> str | None:
        """The README from GitHub, cached per id for the TTL; None when there is none.

        A README that cannot be fetched (network down) falls back to any cached copy.
        """
        cached = self._docs.get(mcp_id)
        now_ms = self._now_ms()
        if cached is not None and now_ms - number_of(cached.get("lastFetchedAt")) < self.ttl * 1000:
            content = cached.get("content")
            return content if isinstance(content, str) else None
        urls = readme_urls(text_of(server.get("url")), self.readme_base_url)
        if not urls:
            return None
        try:
            content = await self._fetch_readme(urls)
        except _FetchError as exc:
            log.warning("Could not fetch README for %s: %s", mcp_id, exc)
            stale = cached.get("content") if cached else None
            return stale if isinstance(stale, str) else None
        self._docs[mcp_id] = {"content": content, "lastFetchedAt": now_ms}
        await self._save_cache()
        return content

    # ---- cache ------------------------------------------------------------ #

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    def _fresh(self) -> bool:
        if self._registry is None or not self._sources_match or not self._registry["servers"]:
            return False
        return self._now_ms() - self._fetched_ms < self.ttl * 1000

    async def _load_cache(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        if self.cache_path is None:
            return
        try:
            text = await asyncio.to_thread(self.cache_path.read_text, encoding="utf-8")
            data = json.loads(text)
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            log.warning("Ignoring unreadable marketplace cache %s: %s", self.cache_path, exc)
            return
        if not isinstance(data, dict):
            return
        registry = data.get("registry")
        if isinstance(registry, dict) and isinstance(registry.get("servers"), list):
            self._registry = registry
            fetched = data.get("lastFetchedAt")
            self._fetched_ms = int(fetched) if isinstance(fetched, int | float) else 0
            # mcp-hub's own cache has no "sources": it holds the default catalog only.
            sources = data.get("sources", [DEFAULT_MARKETPLACE_URL])
            self._sources_match = sources == self.sources
        docs = data.get("serverDocumentation")
        if isinstance(docs, dict):
            self._docs = {k: v for k, v in docs.items() if isinstance(v, dict)}

    async def _save_cache(self) -> None:
        if self.cache_path is None:
            return
        data = {
            "registry": self._registry or EMPTY_REGISTRY,
            "lastFetchedAt": self._fetched_ms,
            "serverDocumentation": self._docs,
            "sources": self.sources,
        }
        try:
            await asyncio.to_thread(write_atomic, self.cache_path, json.dumps(data))
        except OSError as exc:
            log.warning("Could not write marketplace cache %s: %s", self.cache_path, exc)

    # ---- fetching --------------------------------------------------------- #

    def _client(self) -> httpx.AsyncClient:
        import httpx

        return httpx.AsyncClient(
            timeout=self.timeout,
            follow_redirects=True,
            transport=self._transport,
            headers={"Accept": "application/json"},
        )

    async def _refresh(self) -> None:
        have_cache = self._registry is not None and bool(self._registry["servers"])
        now = self.clock()
        if have_cache and self._failed_at is not None and now - self._failed_at < self.retry_after:
            return  # failed a moment ago: keep serving the stale catalog
        async with self._client() as client:
            results = await asyncio.gather(
                self._fetch_catalog(client),
                *([self._fetch_official(client)] if self.registry_url else []),
                return_exceptions=True,
            )
        errors: list[_FetchError] = []
        for result in results:
            if isinstance(result, _FetchError):
                errors.append(result)
            elif isinstance(result, BaseException):
                raise result
        if not errors:
            self._failed_at = None
            self._registry = self._merge(results[0], results[1:])
            self._fetched_ms = self._now_ms()
            self._sources_match = True
            log.info("Marketplace catalog fetched: %d servers", len(self._registry["servers"]))
            await self._save_cache()
            return
        self._failed_at = now
        url, reason = errors[0].url, str(errors[0])
        if have_cache:
            log.warning(
                "Marketplace refresh failed (%s: %s); serving the cached catalog", url, reason
            )
            return
        if len(errors) < len(results):  # no cache, but a source answered: serve it, retry later
            log.warning("Marketplace source %s failed: %s; serving the others", url, reason)
            self._registry = self._merge(
                results[0], [r for r in results[1:] if not isinstance(r, BaseException)]
            )
            self._fetched_ms = 0
            self._sources_match = True
            await self._save_cache()
            return
        log.warning("Marketplace fetch failed (%s): %s", url, reason)
        raise MarketplaceError(FETCH_FAILED, data={"url": url, "error": reason})

    @staticmethod
    def _merge(primary: Any, official: Sequence[Any]) -> dict[str, Any]:
        base = primary if isinstance(primary, dict) else dict(EMPTY_REGISTRY)
        servers = [s for s in base["servers"] if isinstance(s, dict)]
        seen = {s.get("id") for s in servers}
        for extra in official:
            for entry in extra:
                if entry["id"] not in seen:
                    seen.add(entry["id"])
                    servers.append(entry)
        return {**base, "totalServers": len(servers), "servers": servers}

    @staticmethod
    async def _get(
        client: httpx.AsyncClient, url: str, *, accept: str | None = None, **params: str
    ) -> httpx.Response:
        """``GET url``; a network failure or a bad URL raises :class:`_FetchError`."""
        import httpx

        headers = {"Accept": accept} if accept else None
        try:
            return await client.get(url, params=params or None, headers=headers)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise _FetchError(url, str(exc) or type(exc).__name__) from exc

    async def _get_json(self, client: httpx.AsyncClient, url: str, **params: str) -> Any:
        response = await self._get(client, url, **params)
        if not response.is_success:
            reason = f"HTTP {response.status_code} {response.reason_phrase}".strip()
            raise _FetchError(url, reason)
        try:
            return response.json()
        except ValueError as exc:
            raise _FetchError(url, f"Invalid JSON: {exc}") from exc

    async def _fetch_catalog(self, client: httpx.AsyncClient) -> dict[str, Any]:
        data = await self._get_json(client, self.catalog_url)
        if not isinstance(data, dict) or not isinstance(data.get("servers"), list):
            raise _FetchError(self.catalog_url, INVALID_FORMAT)
        return data

    async def _fetch_official(self, client: httpx.AsyncClient) -> list[dict[str, Any]]:
        assert self.registry_url is not None
        entries: dict[str, dict[str, Any]] = {}
        latest: dict[str, bool] = {}
        cursor: str | None = None
        seen_cursors: set[str] = set()
        for _ in range(MAX_REGISTRY_PAGES):
            params = {"limit": "100", "version": "latest"}
            if cursor:
                params["cursor"] = cursor
            page = await self._get_json(client, self.registry_url, **params)
            if not isinstance(page, dict) or not isinstance(page.get("servers"), list):
                raise _FetchError(self.registry_url, INVALID_FORMAT)
            for server, meta in official_items(page):
                official = meta.get(OFFICIAL_META)
                official = official if isinstance(official, Mapping) else {}
                if official.get("status") == "deleted" or official.get("isLatest") is False:
                    continue
                entry = official_entry(server, meta)
                if entry is None:
                    continue
                is_latest = official.get("isLatest") is True
                if entry["id"] not in entries or is_latest or not latest[entry["id"]]:
                    entries[entry["id"]] = entry
                    latest[entry["id"]] = is_latest
            metadata = page.get("metadata")
            metadata = metadata if isinstance(metadata, Mapping) else {}
            cursor = metadata.get("nextCursor") or metadata.get("next_cursor")
            if not isinstance(cursor, str) or not cursor or cursor in seen_cursors:
                break
            seen_cursors.add(cursor)
        return list(entries.values())

    async def _fetch_readme(self, urls: Sequence[str]) -> str | None:
        """The first README found; None when every candidate is a 404 (or other 4xx)."""
        async with self._client() as client:
            for url in urls:
                response = await self._get(client, url, accept="text/plain, */*")
                if response.status_code == 200:
                    return response.text
                if response.status_code >= 500:
                    raise _FetchError(url, f"HTTP {response.status_code}")
        return None


def marketplace_for(
    *,
    marketplace_url: str | None,
    registry_url: str | None,
    environ: Mapping[str, str],
    cache_path: Path | None = None,
) -> Marketplace:
    """The marketplace as configured by flags and environment (hub and ``mcp-hub add``)."""
    from tornadohub.paths import marketplace_cache_path

    return Marketplace(
        catalog_url=marketplace_url
        or environ.get("MCP_HUB_MARKETPLACE_URL")
        or DEFAULT_MARKETPLACE_URL,
        registry_url=registry_url or environ.get("MCP_HUB_REGISTRY_URL") or None,
        readme_base_url=environ.get("MCP_HUB_README_BASE_URL") or DEFAULT_README_BASE_URL,
        cache_path=cache_path or marketplace_cache_path(environ=environ),
    )
