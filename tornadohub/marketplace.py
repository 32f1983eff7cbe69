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
``httpx.AsyncClient`` created and closed by the call that needs it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import unicodedata
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from tornadohub.errors import HubError, ValidationError
from tornadohub.paths import write_atomic

__all__ = [
    "CACHE_TTL_SECONDS",
    "DEFAULT_MARKETPLACE_URL",
    "DEFAULT_README_BASE_URL",
    "Marketplace",
    "MarketplaceError",
    "official_entry",
    "query_servers",
    "readme_urls",
]

log = logging.getLogger("tornadohub.marketplace")

DEFAULT_MARKETPLACE_URL = "https://ravitemer.github.io/mcp-registry/registry.json"
DEFAULT_README_BASE_URL = "https://raw.githubusercontent.com"
CACHE_TTL_SECONDS = 3600.0
#: After a failed refresh, serve the stale catalog this long before trying the network again.
RETRY_AFTER_SECONDS = 60.0
HTTP_TIMEOUT_SECONDS = 30.0
#: The category given to entries from the official MCP Registry (it has no categories).
OFFICIAL_CATEGORY = "mcp-registry"
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
_OFFICIAL_META = "io.modelcontextprotocol.registry/official"


class MarketplaceError(HubError):
    """The catalog could not be fetched and no cached copy exists (500)."""

    default_code = "MARKETPLACE_ERROR"


class _FetchError(Exception):
    """One source failed; ``url`` is the source, ``str(self)`` the reason."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(reason)
        self.url = url


# --------------------------------------------------------------------------- #
# Querying (pure)
# --------------------------------------------------------------------------- #


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _tags(item: Mapping[str, Any]) -> list[str]:
    tags = item.get("tags")
    return [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else []


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def _name_key(item: Mapping[str, Any]) -> tuple[str, str]:
    """Approximates JavaScript's ``localeCompare``: accents and case are secondary."""
    name = _text(item.get("name"))
    base = "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))
    return base.casefold(), name.swapcase()


def query_servers(
    servers: Iterable[Mapping[str, Any]],
    *,
    search: str | None = None,
    category: str | None = None,
    tags: Sequence[str] | None = None,
    sort: str | None = None,
) -> list[dict[str, Any]]:
    """Filter and sort catalog entries exactly as mcp-hub does.

    ``search``: case-insensitive substring of the name, the description or any tag;
    ``category``: exact; ``tags``: every listed tag present (exact); ``sort``: ``stars``
    (descending), ``name`` (locale order), anything else ``newest`` (``lastCommit``
    descending). Sorts are stable.
    """
    items = [dict(item) for item in servers]
    if search:
        needle = search.lower()
        items = [
            item
            for item in items
            if needle in _text(item.get("name")).lower()
            or needle in _text(item.get("description")).lower()
            or any(needle in tag.lower() for tag in _tags(item))
        ]
    if category:
        items = [item for item in items if item.get("category") == category]
    if tags:
        items = [item for item in items if all(tag in _tags(item) for tag in tags)]
    if sort == "stars":
        return sorted(items, key=lambda item: -_number(item.get("stars")))
    if sort == "name":
        return sorted(items, key=_name_key)
    return sorted(items, key=lambda item: -_number(item.get("lastCommit")))


# --------------------------------------------------------------------------- #
# READMEs
# --------------------------------------------------------------------------- #

_GITHUB_URL = re.compile(
    r"^https?://(?:www\.)?github\.com/(?P<owner>[^/?#]+)/(?P<repo>[^/?#]+)"
    r"(?:/tree/(?P<ref>[^/?#]+)(?:/(?P<path>[^?#]*?))?)?/?(?:[?#].*)?$"
)


def readme_urls(url: str, base: str = DEFAULT_README_BASE_URL) -> list[str]:
    """Raw README URLs to try for a GitHub repository URL (empty for anything else).

    ``main`` then ``master`` at the repository root, as mcp-hub; a ``/tree/<ref>/<dir>``
    URL (a server inside a monorepo) first tries that directory's README.
    """
    match = _GITHUB_URL.match(url.strip()) if isinstance(url, str) else None
    if match is None:
        return []
    owner, repo = match["owner"], match["repo"].removesuffix(".git")
    root = f"{base.rstrip('/')}/{owner}/{repo}"
    candidates = []
    if match["ref"] and match["path"]:
        candidates.append(f"{root}/{match['ref']}/{match['path'].strip('/')}/README.md")
    candidates += [f"{root}/main/README.md", f"{root}/master/README.md"]
    return list(dict.fromkeys(candidates))


# --------------------------------------------------------------------------- #
# The official MCP Registry's server.json -> RegistryServer
# --------------------------------------------------------------------------- #

_RUNNERS = {"npm": "npx", "pypi": "uvx", "oci": "docker", "nuget": "dnx"}
_PREREQUISITES = {"npx": "Node.js", "uvx": "uv", "docker": "Docker", "dnx": ".NET"}
_INSTALLATION_NAMES = {"oci": "docker"}
_TEMPLATE_VAR = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _env_key(name: str) -> str:
    """A placeholder key usable as an environment variable name."""
    return re.sub(r"[^A-Za-z0-9_]", "_", name.strip().lstrip("-")).upper() or "VALUE"


class _Params:
    """Collects the parameters (``${KEY}`` placeholders) of one installation."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}

    def placeholder(self, key: str, spec: Mapping[str, Any], label: str | None = None) -> str:
        if key not in self.items:
            param: dict[str, Any] = {"name": label or key, "key": key}
            if isinstance(spec.get("description"), str):
                param["description"] = spec["description"]
            hint = spec.get("placeholder") or spec.get("default")
            if isinstance(hint, str):
                param["placeholder"] = hint
            param["required"] = bool(spec.get("isRequired", False))
            self.items[key] = param
        return "${" + key + "}"

    def template(self, value: str, variables: Any) -> str:
        """``{var}`` template variables become ``${var}`` placeholders."""
        specs = variables if isinstance(variables, Mapping) else {}

        def replace(match: re.Match[str]) -> str:
            spec = specs.get(match[1])
            return self.placeholder(match[1], spec if isinstance(spec, Mapping) else {})

        return _TEMPLATE_VAR.sub(replace, value)

    def input_value(self, spec: Mapping[str, Any], key: str, label: str) -> str:
        """A fixed value, a default for an optional input, else a placeholder."""
        value = spec.get("value")
        if isinstance(value, str):
            return self.template(value, spec.get("variables"))
        default = spec.get("default")
        if isinstance(default, str) and not spec.get("isRequired"):
            return default
        return self.placeholder(key, spec, label)


def _arguments(specs: Any, params: _Params) -> list[str]:
    args: list[str] = []
    for spec in specs if isinstance(specs, list) else []:
        if not isinstance(spec, Mapping):
            continue
        if spec.get("type") == "named" and isinstance(spec.get("name"), str):
            flag = spec["name"]
            if "value" in spec or "default" in spec or spec.get("isRequired"):
                value = params.input_value(spec, _env_key(flag), flag)
                args.append(f"{flag}={value}")
            else:
                args.append(flag)
        elif spec.get("type") == "positional":
            hint = spec.get("valueHint")
            if isinstance(spec.get("value"), str) or isinstance(hint, str):
                key = _env_key(hint) if isinstance(hint, str) else "VALUE"
                args.append(params.input_value(spec, key, hint if isinstance(hint, str) else key))
    return args


def _package_installation(package: Mapping[str, Any]) -> dict[str, Any] | None:
    transport = package.get("transport")
    transport_type = transport.get("type") if isinstance(transport, Mapping) else "stdio"
    registry_type = package.get("registryType")
    identifier = package.get("identifier")
    if transport_type != "stdio" or not isinstance(identifier, str):
        return None  # an HTTP package would need running *and* connecting: not one entry
    runner = package.get("runtimeHint") or _RUNNERS.get(str(registry_type))
    if not isinstance(runner, str):
        return None
    params = _Params()
    version = package.get("version") if isinstance(package.get("version"), str) else None
    env: dict[str, str] = {}
    for spec in package.get("environmentVariables") or []:
        if isinstance(spec, Mapping) and isinstance(spec.get("name"), str):
            env[spec["name"]] = params.input_value(spec, spec["name"], spec["name"])
    runtime_args = _arguments(package.get("runtimeArguments"), params)
    if runner == "npx":
        target = f"{identifier}@{version}" if version else identifier
        args = [*(runtime_args or ["-y"]), target]
    elif runner == "uvx":
        args = [*runtime_args, f"{identifier}@{version}" if version else identifier]
    elif runner == "docker":
        image = identifier
        if version and not re.search(r"[:@][^/]*$", identifier):
            image = f"{identifier}:{version}"
        passthrough = [arg for name in env for arg in ("-e", name)]
        args = [*(runtime_args or ["run", "-i", "--rm", *passthrough]), image]
    elif runner == "dnx":
        args = [*runtime_args, f"{identifier}@{version}" if version else identifier, "--yes"]
    else:
        args = [*runtime_args, identifier]
    args += _arguments(package.get("packageArguments"), params)
    config: dict[str, Any] = {"command": runner, "args": args}
    if env:
        config["env"] = env
    return {
        "name": _INSTALLATION_NAMES.get(str(registry_type), str(registry_type or runner)),
        "description": f"Run {identifier} with {runner}",
        "config": json.dumps(config, indent=2),
        "prerequisites": [_PREREQUISITES.get(runner, runner)],
        "parameters": list(params.items.values()),
        "transports": ["stdio"],
    }


def _remote_installation(remote: Mapping[str, Any]) -> dict[str, Any] | None:
    kind, url = remote.get("type"), remote.get("url")
    if kind not in ("streamable-http", "sse") or not isinstance(url, str):
        return None
    params = _Params()
    config: dict[str, Any] = {"url": params.template(url, remote.get("variables"))}
    headers: dict[str, str] = {}
    for spec in remote.get("headers") or []:
        if isinstance(spec, Mapping) and isinstance(spec.get("name"), str):
            headers[spec["name"]] = params.input_value(spec, _env_key(spec["name"]), spec["name"])
    if headers:
        config["headers"] = headers
    return {
        "name": f"remote-{kind}",
        "description": f"Connect to the hosted server over {kind}",
        "config": json.dumps(config, indent=2),
        "parameters": list(params.items.values()),
        "transports": [kind],
    }


def _author(name: str) -> str:
    namespace = name.split("/", 1)[0]
    for prefix in ("io.github.", "io.gitlab."):
        if namespace.startswith(prefix):
            return namespace[len(prefix) :]
    return namespace


def _unix_seconds(iso: Any) -> int | None:
    if not isinstance(iso, str):
        return None
    try:
        return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return None


def official_entry(
    server: Mapping[str, Any], meta: Mapping[str, Any] | None = None
) -> dict[str, Any] | None:
    """Map one official ``server.json`` (plus its registry ``_meta``) to a RegistryServer.

    ``id`` is the registry name (``io.github.owner/server``); each stdio package and each
    remote becomes one installation whose ``config`` is a JSON string, with environment
    variables, headers, arguments and URL variables as ``${KEY}`` placeholders listed in
    its ``parameters``. Entries with nothing installable are dropped (None).
    """
    name = server.get("name")
    if not isinstance(name, str) or not name:
        return None
    installations = [
        inst
        for inst in [
            *(
                _package_installation(p)
                for p in server.get("packages") or []
                if isinstance(p, Mapping)
            ),
            *(
                _remote_installation(r)
                for r in server.get("remotes") or []
                if isinstance(r, Mapping)
            ),
        ]
        if inst is not None
    ]
    if not installations:
        return None
    tags: list[str] = []
    for package in server.get("packages") or []:
        if isinstance(package, Mapping) and isinstance(package.get("registryType"), str):
            tags.append(package["registryType"])
    if server.get("remotes"):
        tags.append("remote")
    transports = list(dict.fromkeys(t for inst in installations for t in inst["transports"]))
    tags = list(dict.fromkeys([*tags, *transports]))
    repository = server.get("repository")
    url = repository.get("url") if isinstance(repository, Mapping) else None
    official = (meta or {}).get(_OFFICIAL_META)
    official = official if isinstance(official, Mapping) else {}
    updated = official.get("updatedAt") or official.get("publishedAt")
    entry: dict[str, Any] = {
        "id": name,
        "name": _text(server.get("title")) or name,
        "description": _text(server.get("description")),
        "author": _author(name),
        "url": url if isinstance(url, str) else _text(server.get("websiteUrl")),
        "category": OFFICIAL_CATEGORY,
        "tags": tags,
        "transports": transports,
        "installations": installations,
        "featured": False,
        "verified": False,
        "stars": 0,
    }
    if isinstance(server.get("version"), str):
        entry["version"] = server["version"]
    if isinstance(updated, str):
        entry["updatedAt"] = updated
        if (seconds := _unix_seconds(updated)) is not None:
            entry["lastCommit"] = seconds
    return entry


def _official_items(page: Mapping[str, Any]) -> list[tuple[Mapping[str, Any], Mapping[str, Any]]]:
    """``(server, meta)`` pairs of one page (``{server, _meta}`` items, or bare server.json)."""
    pairs: list[tuple[Mapping[str, Any], Mapping[str, Any]]] = []
    for item in page["servers"]:
        if not isinstance(item, Mapping):
            continue
        nested = item.get("server")
        server: Mapping[str, Any] = nested if isinstance(nested, Mapping) else item
        meta = item.get("_meta") if isinstance(item.get("_meta"), Mapping) else server.get("_meta")
        pairs.append((server, meta if isinstance(meta, Mapping) else {}))
    return pairs


def registry_api_url(base: str) -> str:
    """``<base>/v0/servers`` unless *base* already names a servers endpoint."""
    path = urllib.parse.urlsplit(base).path.rstrip("/")
    if re.search(r"/v0(?:\.\d+)?/servers$", path):
        return base
    return base.rstrip("/") + "/v0/servers"


# --------------------------------------------------------------------------- #
# The cached, merged catalog
# --------------------------------------------------------------------------- #


def _describe(exc: Exception) -> str:
    if isinstance(exc, httpx.HTTPStatusError):
        return f"HTTP {exc.response.status_code} {exc.response.reason_phrase}".strip()
    text = str(exc)
    return text or type(exc).__name__


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
        if cached is not None and now_ms - _number(cached.get("lastFetchedAt")) < self.ttl * 1000:
            content = cached.get("content")
            return content if isinstance(content, str) else None
        urls = readme_urls(_text(server.get("url")), self.readme_base_url)
        if not urls:
            return None
        try:
            content = await self._fetch_readme(urls)
        except (httpx.HTTPError, httpx.InvalidURL, _FetchError) as exc:
            log.warning("Could not fetch README for %s: %s", mcp_id, _describe(exc))
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

    async def _get_json(self, client: httpx.AsyncClient, url: str, **params: str) -> Any:
        try:
            response = await client.get(url, params=params or None)
            response.raise_for_status()
            return response.json()
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise _FetchError(url, _describe(exc)) from exc
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
            for server, meta in _official_items(page):
                official = meta.get(_OFFICIAL_META)
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
                response = await client.get(url, headers={"Accept": "text/plain, */*"})
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
