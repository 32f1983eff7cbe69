"""The marketplace routes through a real hub process, against the local registry."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tests.helpers import HubProcess, free_port
from tests.marketplace.fakeregistry import RegistryServer
from tornadohub.paths import marketplace_cache_path

StartHub = Callable[..., HubProcess]
WriteConfig = Callable[..., str]


def start_market_hub(
    start_hub: StartHub, write_config: WriteConfig, registry: RegistryServer, **env: str
) -> HubProcess:
    return start_hub(
        write_config({}),
        extra_args=("--marketplace-url", registry.catalog_url),
        MCP_HUB_README_BASE_URL=registry.readme_base,
        **env,
    )


def test_list_query_and_details(
    start_hub: StartHub, write_config: WriteConfig, registry: RegistryServer
) -> None:
    hub = start_market_hub(start_hub, write_config, registry)
    assert registry.count("/") == 0  # readiness never waits on the marketplace

    response = hub.api("GET", "/api/marketplace")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"servers", "timestamp"}
    assert [s["id"] for s in body["servers"]] == [
        "alpha-search",
        "gamma-notes",
        "beta-git",
        "emile",
        "fixture-everything",
    ]
    assert body["servers"][0] == registry.catalog["servers"][0]

    response = hub.api(
        "GET", "/api/marketplace", params={"search": "git", "category": "development"}
    )
    assert [s["id"] for s in response.json()["servers"]] == ["beta-git"]
    response = hub.api("GET", "/api/marketplace", params={"tags": "git,vcs", "sort": "stars"})
    assert [s["id"] for s in response.json()["servers"]] == ["beta-git"]
    response = hub.api("GET", "/API/Marketplace/", params={"sort": "name"})
    assert [s["id"] for s in response.json()["servers"]][:2] == ["alpha-search", "beta-git"]

    response = hub.api("POST", "/api/marketplace/details", {"mcpId": "beta-git"})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"server", "timestamp"}
    assert body["server"] == {
        "server": registry.catalog["servers"][1],
        "readmeContent": "# Beta\nmaster branch readme\n",
    }
    assert registry.count("/registry.json") == 1  # one fetch for all of the above


def test_details_errors(
    start_hub: StartHub, write_config: WriteConfig, registry: RegistryServer
) -> None:
    hub = start_market_hub(start_hub, write_config, registry)
    response = hub.api("POST", "/api/marketplace/details", {})
    assert response.status_code == 400
    body = response.json()
    assert (body["error"], body["code"], body["data"]) == (
        "Missing mcpId in request body",
        "VALIDATION_ERROR",
        {},
    )
    response = hub.api("POST", "/api/marketplace/details", {"mcpId": "nope"})
    assert response.status_code == 400
    body = response.json()
    assert (body["error"], body["code"], body["data"]) == (
        "Server not found",
        "VALIDATION_ERROR",
        {"mcpId": "nope"},
    )
    assert "timestamp" in body


def test_unreachable_registry_without_cache(start_hub: StartHub, write_config: WriteConfig) -> None:
    url = f"http://127.0.0.1:{free_port()}/registry.json"
    hub = start_hub(write_config({}), extra_args=("--marketplace-url", url))
    for method, path, body in [
        ("GET", "/api/marketplace", None),
        ("POST", "/api/marketplace/details", {"mcpId": "alpha-search"}),
    ]:
        response = hub.api(method, path, body)
        assert response.status_code == 500
        error = response.json()
        assert error["error"] == "Failed to fetch marketplace registry"
        assert error["code"] == "MARKETPLACE_ERROR"
        assert error["data"]["url"] == url
        assert error["data"]["error"]


def test_stale_cache_is_served_by_the_next_hub_when_offline(
    start_hub: StartHub, write_config: WriteConfig, registry: RegistryServer, hub_home: Path
) -> None:
    hub = start_market_hub(start_hub, write_config, registry)
    assert len(hub.api("GET", "/api/marketplace").json()["servers"]) == 5
    hub.stop()

    cache = marketplace_cache_path(home=hub_home, environ={})
    data = json.loads(cache.read_text())
    assert data["registry"]["servers"] == registry.catalog["servers"]
    data["lastFetchedAt"] = 0  # an hour and more ago
    cache.write_text(json.dumps(data))
    registry.modes["*"] = "close"

    hub = start_market_hub(start_hub, write_config, registry)
    response = hub.api("GET", "/api/marketplace", params={"sort": "stars"})
    assert response.status_code == 200
    assert [s["id"] for s in response.json()["servers"]][0] == "beta-git"
    assert registry.count("/registry.json") == 2


def test_official_registry_from_the_environment(
    start_hub: StartHub, write_config: WriteConfig, registry: RegistryServer
) -> None:
    hub = start_market_hub(start_hub, write_config, registry, MCP_HUB_REGISTRY_URL=registry.base)
    servers = hub.api("GET", "/api/marketplace").json()["servers"]
    assert len(servers) == 8
    response = hub.api("GET", "/api/marketplace", params={"category": "mcp-registry"})
    assert [s["id"] for s in response.json()["servers"]] == [
        "com.example/remote-docs",
        "io.github.acme/weather",
        "io.github.acme/pyserver",
    ]
