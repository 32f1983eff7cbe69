"""The marketplace against a real local registry: queries, cache, TTL, failures, sources."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import free_port
from tests.marketplace.conftest import Clock
from tests.marketplace.fakeregistry import RegistryServer
from tornadohub.errors import ValidationError
from tornadohub.marketplace import (
    CACHE_TTL_SECONDS,
    DEFAULT_MARKETPLACE_URL,
    INVALID_FORMAT,
    Marketplace,
    MarketplaceError,
    official_entry,
    query_servers,
    readme_urls,
    registry_api_url,
)

MakeMarket = Callable[..., Marketplace]


def ids(servers: list[dict[str, Any]]) -> list[str]:
    return [server["id"] for server in servers]


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())


def write_json(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(value))


# --------------------------------------------------------------------------- #
# Queries
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, ["alpha-search", "gamma-notes", "beta-git", "emile", "fixture-everything"]),
        ({"search": "search"}, ["alpha-search", "gamma-notes"]),  # name; description/tag
        ({"search": "VCS"}, ["beta-git"]),  # a tag, case-insensitively
        ({"search": "TOOLS"}, ["beta-git", "emile"]),  # description; name
        ({"search": "nothing-like-it"}, []),
        ({"category": "development"}, ["beta-git", "fixture-everything"]),
        ({"category": "Development"}, []),  # category is exact
        ({"tags": ["git", "vcs"]}, ["beta-git"]),  # every tag must be present
        ({"tags": ["git", "web"]}, []),
        ({"tags": ["Search"]}, ["gamma-notes"]),  # tags are exact
        (
            {"sort": "stars"},
            ["beta-git", "alpha-search", "gamma-notes", "emile", "fixture-everything"],
        ),
        (
            {"sort": "name"},
            ["alpha-search", "beta-git", "emile", "fixture-everything", "gamma-notes"],
        ),
        (
            {"sort": "newest"},
            ["alpha-search", "gamma-notes", "beta-git", "emile", "fixture-everything"],
        ),
        ({"search": "git", "category": "development", "sort": "stars"}, ["beta-git"]),
    ],
)
async def test_query(make_market: MakeMarket, query: dict[str, Any], expected: list[str]) -> None:
    assert ids(await make_market().query(**query)) == expected


def test_sorts_are_stable_and_missing_numbers_count_as_zero() -> None:
    servers: list[dict[str, Any]] = [
        {"id": "a", "name": "b", "stars": 1},
        {"id": "b", "name": "B"},
        {"id": "c", "name": "a", "stars": 1, "lastCommit": 5},
        {"id": "d", "name": "b", "stars": "many"},
    ]
    assert ids(query_servers(servers, sort="stars")) == ["a", "c", "b", "d"]
    assert ids(query_servers(servers, sort="newest")) == ["c", "a", "b", "d"]
    assert ids(query_servers(servers, sort="name")) == ["c", "a", "d", "b"]


# --------------------------------------------------------------------------- #
# Cache and TTL
# --------------------------------------------------------------------------- #


async def test_cache_hit_within_ttl(
    make_market: MakeMarket, registry: RegistryServer, clock: Clock, cache_path: Path
) -> None:
    market = make_market()
    await market.query()
    await market.query(search="git")
    clock.advance(CACHE_TTL_SECONDS - 1)
    await market.details("beta-git")
    assert registry.count("/registry.json") == 1

    cached = read_json(cache_path)
    assert set(cached) >= {"registry", "lastFetchedAt", "serverDocumentation"}
    assert cached["registry"]["servers"] == registry.catalog["servers"]
    assert cached["registry"]["version"] == "1.0.0"
    assert cached["lastFetchedAt"] == int((clock.now - CACHE_TTL_SECONDS + 1) * 1000)
    assert cached["serverDocumentation"]["beta-git"]["content"].startswith("# Beta")

    # Another process (a second hub, or mcp-hub add) reuses the file: no fetch at all.
    assert len(await make_market().query()) == 5
    assert registry.count("/registry.json") == 1


async def test_ttl_expiry_refetches(
    make_market: MakeMarket, registry: RegistryServer, clock: Clock
) -> None:
    market = make_market()
    await market.query()
    registry.catalog["servers"] = registry.catalog["servers"][:1]
    clock.advance(CACHE_TTL_SECONDS + 1)
    assert ids(await market.query()) == ["alpha-search"]
    assert registry.count("/registry.json") == 2


async def test_custom_ttl(make_market: MakeMarket, registry: RegistryServer, clock: Clock) -> None:
    market = make_market(ttl=10)
    await market.query()
    clock.advance(9)
    await market.query()
    assert registry.count("/registry.json") == 1
    clock.advance(2)
    await market.query()
    assert registry.count("/registry.json") == 2


async def test_concurrent_requests_fetch_once(
    make_market: MakeMarket, registry: RegistryServer
) -> None:
    import asyncio

    market = make_market()
    results = await asyncio.gather(*(market.query() for _ in range(5)))
    assert all(len(r) == 5 for r in results)
    assert registry.count("/registry.json") == 1


# --------------------------------------------------------------------------- #
# Network failures
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("mode", ["500", "close"])
async def test_network_failure_serves_the_stale_cache(
    make_market: MakeMarket, registry: RegistryServer, clock: Clock, mode: str
) -> None:
    market = make_market()
    before = await market.query()
    registry.modes["*"] = mode
    clock.advance(CACHE_TTL_SECONDS + 1)
    assert await market.query() == before
    assert registry.count("/registry.json") == 2
    # Just failed: the stale catalog is served without waiting on the network again.
    clock.advance(market.retry_after - 1)
    assert await market.query() == before
    assert registry.count("/registry.json") == 2
    # Later the network is tried again, and once it answers the catalog is fresh again.
    registry.modes.clear()
    registry.catalog["servers"] = registry.catalog["servers"][:2]
    clock.advance(2)
    assert ids(await market.query()) == ["alpha-search", "beta-git"]
    assert registry.count("/registry.json") == 3


async def test_a_stale_cache_file_is_served_when_offline(
    make_market: MakeMarket, registry: RegistryServer, cache_path: Path
) -> None:
    """A cache in mcp-hub's own format (no "sources", old timestamp) still helps offline."""
    write_json(
        cache_path,
        {
            "registry": {"version": "1.0.0", "servers": registry.catalog["servers"][:2]},
            "lastFetchedAt": 1,
            "serverDocumentation": {},
        },
    )
    registry.modes["*"] = "500"
    assert ids(await make_market().query(sort="name")) == ["alpha-search", "beta-git"]
    assert registry.count("/registry.json") == 1


@pytest.mark.parametrize(
    ("mode", "error"),
    [("500", "HTTP 500 Internal Server Error"), ("close", "Server disconnected")],
)
async def test_network_failure_without_cache_is_a_marketplace_error(
    make_market: MakeMarket, registry: RegistryServer, mode: str, error: str
) -> None:
    registry.modes["*"] = mode
    with pytest.raises(MarketplaceError) as caught:
        await make_market().query()
    assert caught.value.status == 500
    assert caught.value.code == "MARKETPLACE_ERROR"
    assert caught.value.message == "Failed to fetch marketplace registry"
    assert caught.value.data["url"] == registry.catalog_url
    assert error in caught.value.data["error"]


async def test_nothing_listening_without_cache(make_market: MakeMarket) -> None:
    url = f"http://127.0.0.1:{free_port()}/registry.json"
    with pytest.raises(MarketplaceError) as caught:
        await make_market(catalog_url=url).query()
    assert caught.value.data["url"] == url
    assert caught.value.data["error"]


async def test_invalid_registry_format(make_market: MakeMarket, registry: RegistryServer) -> None:
    registry.catalog = {"items": []}
    with pytest.raises(MarketplaceError) as caught:
        await make_market().query()
    assert caught.value.data["error"] == INVALID_FORMAT
    assert INVALID_FORMAT == "Invalid registry response format (missing 'servers' array)"


async def test_an_empty_catalog_is_never_fresh(
    make_market: MakeMarket, registry: RegistryServer
) -> None:
    registry.catalog["servers"] = []
    market = make_market()
    assert await market.query() == []
    assert await market.query() == []
    assert registry.count("/registry.json") == 2


# --------------------------------------------------------------------------- #
# Details and READMEs
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(
    ("mcp_id", "readme", "fetched"),
    [
        ("alpha-search", "# Alpha\nmain branch readme\n", ["/raw/acme/alpha/main/README.md"]),
        (
            "beta-git",
            "# Beta\nmaster branch readme\n",
            ["/raw/acme/beta/main/README.md", "/raw/acme/beta/master/README.md"],
        ),
        (
            "emile",
            "# Emile\nmonorepo package readme\n",
            ["/raw/emile/tools/main/packages/mcp/README.md"],
        ),
        (
            "fixture-everything",
            None,
            ["/raw/acme/none/main/README.md", "/raw/acme/none/master/README.md"],
        ),
        ("gamma-notes", None, []),  # not on GitHub: nothing to fetch
    ],
)
async def test_details_with_readme(
    make_market: MakeMarket,
    registry: RegistryServer,
    mcp_id: str,
    readme: str | None,
    fetched: list[str],
) -> None:
    details = await make_market().details(mcp_id)
    assert details["server"]["id"] == mcp_id
    assert details["readmeContent"] == readme
    assert [path for path, _ in registry.queries if path.startswith("/raw/")] == fetched


async def test_unknown_id_is_a_validation_error(make_market: MakeMarket) -> None:
    with pytest.raises(ValidationError) as caught:
        await make_market().details("nope")
    assert (caught.value.status, caught.value.message) == (400, "Server not found")
    assert caught.value.data == {"mcpId": "nope"}


async def test_readme_cache_and_expiry(
    make_market: MakeMarket, registry: RegistryServer, clock: Clock, cache_path: Path
) -> None:
    market = make_market()
    await market.details("alpha-search")
    await market.details("alpha-search")
    assert registry.count("/raw/") == 1
    assert make_market() is not market
    assert (await make_market().details("alpha-search"))["readmeContent"].startswith("# Alpha")
    assert registry.count("/raw/") == 1  # read from the cache file

    registry.readmes["/raw/acme/alpha/main/README.md"] = "# Alpha v2\n"
    clock.advance(CACHE_TTL_SECONDS + 1)
    assert (await market.details("alpha-search"))["readmeContent"] == "# Alpha v2\n"
    assert registry.count("/raw/") == 2
    documentation = read_json(cache_path)["serverDocumentation"]
    assert documentation["alpha-search"]["content"] == "# Alpha v2\n"


async def test_readme_unreachable_falls_back_to_the_cached_copy(
    make_market: MakeMarket, registry: RegistryServer, clock: Clock
) -> None:
    market = make_market()
    await market.details("alpha-search")
    registry.modes["*"] = "close"
    clock.advance(CACHE_TTL_SECONDS + 1)
    details = await market.details("alpha-search")  # the catalog is stale too: both served
    assert details["readmeContent"] == "# Alpha\nmain branch readme\n"
    registry.modes["*"] = "500"
    assert (await market.details("beta-git"))["readmeContent"] is None


def test_readme_urls() -> None:
    base = "https://raw.githubusercontent.com"
    assert readme_urls("https://github.com/o/r", base) == [
        f"{base}/o/r/main/README.md",
        f"{base}/o/r/master/README.md",
    ]
    assert readme_urls("https://github.com/o/r.git/", base)[0] == f"{base}/o/r/main/README.md"
    assert readme_urls("https://github.com/o/r/tree/dev/src/x", base)[:2] == [
        f"{base}/o/r/dev/src/x/README.md",
        f"{base}/o/r/main/README.md",
    ]
    assert readme_urls("https://gitlab.com/o/r", base) == []
    assert readme_urls("", base) == []


# --------------------------------------------------------------------------- #
# The official MCP Registry as a second source
# --------------------------------------------------------------------------- #


async def test_official_registry_pages_are_merged_after_the_catalog(
    make_market: MakeMarket, registry: RegistryServer
) -> None:
    servers = (await make_market(official=True).catalog())["servers"]
    assert ids(servers) == [
        *(s["id"] for s in registry.catalog["servers"]),
        "io.github.acme/weather",
        "com.example/remote-docs",
        "io.github.acme/pyserver",
    ]
    pages = [q for path, q in registry.queries if path == "/v0/servers"]
    assert [q.get("cursor") for q in pages] == [None, ["com.example/remote-docs:2.0.0"]]
    assert all(q["version"] == ["latest"] for q in pages)


async def test_catalog_entries_win_over_official_ones(
    make_market: MakeMarket, registry: RegistryServer
) -> None:
    mine = {**registry.catalog["servers"][1], "id": "io.github.acme/weather"}
    registry.catalog["servers"].append(mine)
    servers = (await make_market(official=True).catalog())["servers"]
    matching = [s for s in servers if s["id"] == "io.github.acme/weather"]
    assert matching == [mine]
    assert (await make_market(official=True).catalog())["totalServers"] == len(servers)


async def test_official_entries_answer_queries(make_market: MakeMarket) -> None:
    market = make_market(official=True)
    assert ids(await market.query(category="mcp-registry", sort="newest")) == [
        "com.example/remote-docs",
        "io.github.acme/weather",
        "io.github.acme/pyserver",
    ]
    assert ids(await market.query(tags=["remote"])) == ["com.example/remote-docs"]
    assert ids(await market.query(search="forecast")) == ["io.github.acme/weather"]
    details = await market.details("io.github.acme/weather")
    assert details["readmeContent"] == "# Weather\n"


def test_official_npm_package_mapping() -> None:
    page = RegistryServer().official_pages[None]
    item = page["servers"][0]
    entry = official_entry(item["server"], item["_meta"])
    assert entry is not None
    installation = entry.pop("installations")[0]
    assert entry == {
        "id": "io.github.acme/weather",
        "name": "Weather",
        "description": "Forecasts from the Acme weather API",
        "author": "acme",
        "url": "https://github.com/acme/weather",
        "category": "mcp-registry",
        "tags": ["npm", "stdio"],
        "transports": ["stdio"],
        "featured": False,
        "verified": False,
        "stars": 0,
        "version": "1.2.0",
        "updatedAt": "2025-10-01T00:00:00Z",
        "lastCommit": 1759276800,
    }
    assert installation["name"] == "npm"
    assert json.loads(installation["config"]) == {
        "command": "npx",
        "args": ["-y", "@acme/weather@1.2.0", "--verbose"],
        "env": {"WEATHER_API_KEY": "${WEATHER_API_KEY}", "UNITS": "metric"},
    }
    assert installation["parameters"] == [
        {
            "name": "WEATHER_API_KEY",
            "key": "WEATHER_API_KEY",
            "description": "Acme API key",
            "required": True,
        }
    ]


def test_official_remote_mapping() -> None:
    item = RegistryServer().official_pages[None]["servers"][2]
    entry = official_entry(item["server"], item["_meta"])
    assert entry is not None
    assert entry["author"] == "com.example"
    assert entry["url"] == "https://docs.example.com"
    assert entry["tags"] == ["remote", "streamable-http", "sse"]
    http, sse = entry["installations"]
    assert http["name"] == "remote-streamable-http"
    assert json.loads(http["config"]) == {
        "url": "https://docs.example.com/mcp",
        "headers": {"Authorization": "Bearer ${token}"},
    }
    assert http["parameters"] == [
        {"name": "token", "key": "token", "description": "API token", "required": True}
    ]
    assert sse["name"] == "remote-sse"
    assert json.loads(sse["config"]) == {"url": "https://${region}.docs.example.com/sse"}
    assert sse["parameters"] == [
        {"name": "region", "key": "region", "placeholder": "eu", "required": False}
    ]


def test_official_pypi_and_oci_mapping() -> None:
    item = RegistryServer().official_pages["com.example/remote-docs:2.0.0"]["servers"][0]
    entry = official_entry(item["server"], item["_meta"])
    assert entry is not None
    assert "lastCommit" not in entry
    pypi, oci = entry["installations"]
    assert (pypi["name"], oci["name"]) == ("pypi", "docker")
    assert json.loads(pypi["config"]) == {
        "command": "uvx",
        "args": ["acme-py@0.3.0", "${WORKSPACE_DIR}"],
    }
    assert [p["key"] for p in pypi["parameters"]] == ["WORKSPACE_DIR"]
    assert json.loads(oci["config"]) == {
        "command": "docker",
        "args": ["run", "-i", "--rm", "-e", "PY_TOKEN", "docker.io/acme/py:0.3.0"],
        "env": {"PY_TOKEN": "${PY_TOKEN}"},
    }


def test_legacy_bare_server_json_items_and_uninstallable_entries() -> None:
    bare: dict[str, Any] = {
        "name": "io.github.x/y",
        "description": "d",
        "version": "1",
        "remotes": [],
    }
    assert official_entry(bare) is None
    bare["remotes"] = [{"type": "sse", "url": "https://y.example/sse"}]
    entry = official_entry(bare)
    assert entry is not None and entry["author"] == "x"
    assert official_entry({"description": "no name"}) is None


async def test_official_registry_failure_keeps_the_catalog(
    make_market: MakeMarket, registry: RegistryServer, clock: Clock
) -> None:
    registry.modes["/v0/servers"] = "500"
    market = make_market(official=True)
    assert len(await market.query()) == 5  # no cache yet: serve what answered
    clock.advance(market.retry_after + 1)
    registry.modes.clear()
    assert len(await market.query()) == 8  # not cached as fresh: retried later
    assert registry.count("/registry.json") == 2


async def test_official_registry_failure_without_anything(
    make_market: MakeMarket, registry: RegistryServer
) -> None:
    registry.modes["*"] = "500"
    with pytest.raises(MarketplaceError) as caught:
        await make_market(official=True).query()
    assert caught.value.data["url"] in (registry.catalog_url, f"{registry.base}/v0/servers")


async def test_changing_sources_refetches(
    make_market: MakeMarket, registry: RegistryServer
) -> None:
    await make_market().query()
    assert len(await make_market(official=True).query()) == 8
    assert registry.count("/registry.json") == 2


def test_registry_api_url() -> None:
    assert registry_api_url("https://r.example") == "https://r.example/v0/servers"
    assert registry_api_url("https://r.example/") == "https://r.example/v0/servers"
    assert registry_api_url("https://r.example/v0.1/servers") == "https://r.example/v0.1/servers"
    assert DEFAULT_MARKETPLACE_URL == "https://ravitemer.github.io/mcp-registry/registry.json"
