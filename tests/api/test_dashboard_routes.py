"""The routes the dashboard adds: its files at ``/`` and ``/ui/``, ``GET /api/logs``,
``GET /api/stats`` and ``POST /api/marketplace/add``, on a real hub with real servers."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import stdio_entry
from tests.helpers import HubProcess, wait_until
from tests.marketplace.fakeregistry import RegistryServer
from tornadohub.handlers.ui import CONTENT_SECURITY_POLICY

StartHub = Callable[..., HubProcess]
TOKEN = "dashboard-route-token-0123456789"


@pytest.fixture(scope="module")
def registry() -> Iterator[RegistryServer]:
    server = RegistryServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory, registry: RegistryServer) -> Iterator[HubProcess]:
    root = tmp_path_factory.mktemp("routes")
    (root / "home").mkdir()
    config = root / "servers.json"
    servers = {
        "everything": stdio_entry("everything_stdio.py"),
        "quiet": stdio_entry("everything_stdio.py"),
        "off": stdio_entry("everything_stdio.py", disabled=True),
    }
    config.write_text(json.dumps({"mcpServers": servers}, indent=2))
    process = HubProcess(
        [str(config)],
        home=root / "home",
        cwd=root,
        extra_args=("--marketplace-url", registry.catalog_url),
    )
    with process.running():
        yield process


def wait_connected(hub: HubProcess, name: str) -> dict[str, Any]:
    """Wait until *name* is configured (the reload runs after the answer) and connected."""

    def connected() -> dict[str, Any] | None:
        servers = hub.api("GET", "/api/servers").json()["servers"]
        return next((s for s in servers if s["name"] == name and s["status"] == "connected"), None)

    found: dict[str, Any] = wait_until(connected, 30)
    return found


def call(hub: HubProcess, server: str, tool: str, **arguments: Any) -> httpx.Response:
    body = {"server_name": server, "tool": tool, "arguments": arguments}
    return hub.api("POST", "/api/servers/tools", body)


# ------------------------------------------------------------------------------ the page
@pytest.mark.parametrize("path", ["/", "/ui", "/ui/", "/UI/"])
def test_the_page_is_served_at_the_root_and_ui_with_a_strict_policy(
    hub: HubProcess, path: str
) -> None:
    response = hub.client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert '<script type="module" src="/ui/app.js">' in response.text
    headers = response.headers
    assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    policy = dict(part.split(" ", 1) for part in CONTENT_SECURITY_POLICY.split("; "))
    assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'" and policy["base-uri"] == "'none'"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("app.js", "text/javascript; charset=utf-8"),
        ("schema-form.js", "text/javascript; charset=utf-8"),
        ("style.css", "text/css; charset=utf-8"),
        ("icon.svg", "image/svg+xml"),
    ],
)
def test_the_files_are_served_with_their_types_and_revalidated(
    hub: HubProcess, name: str, content_type: str
) -> None:
    response = hub.client.get(f"/ui/{name}")
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert response.headers["cache-control"] == "no-cache"
    again = hub.client.get(f"/ui/{name}", headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304


@pytest.mark.parametrize(
    "path", ["/ui/nope.js", "/ui/..%2Fhub.py", "/ui/%2e%2e", "/ui/.hidden.js", "/ui/app.py"]
)
def test_anything_else_under_ui_is_a_json_404(hub: HubProcess, path: str) -> None:
    response = hub.client.get(path)
    assert response.status_code == 404
    assert response.json()["code"] == "NOT_FOUND"


def test_with_keys_the_page_needs_none_and_the_api_still_does(
    start_hub: StartHub, write_config: Callable[..., str]
) -> None:
    hub = start_hub(write_config({}), wait=False, MCP_HUB_AUTH_TOKENS=f"ui:{TOKEN}")
    hub.client.headers["Authorization"] = f"Bearer {TOKEN}"
    hub.wait_ready()
    anonymous = httpx.Client(base_url=f"http://127.0.0.1:{hub.port}", timeout=10)
    with anonymous:
        assert anonymous.get("/").status_code == 200
        assert anonymous.get("/ui/app.js").status_code == 200
        for path in ("/api/logs", "/api/stats"):
            assert anonymous.get(path).status_code == 401, path
        assert anonymous.post("/api/marketplace/add", json={"mcpId": "x"}).status_code == 401


# ------------------------------------------------------------------------------- logs
def test_logs_keep_each_servers_stderr_and_the_hubs_lines(hub: HubProcess) -> None:
    def lines(query: str) -> list[dict[str, Any]]:
        response = hub.api("GET", f"/api/logs{query}")
        assert response.status_code == 200, response.text
        found: list[dict[str, Any]] = response.json()["lines"]
        return found

    everything = wait_until(lambda: lines("?server_name=everything"))
    messages = [line["message"] for line in everything]
    assert "everything stderr: fixture-everything stderr hello" in messages
    assert all("quiet" not in message for message in messages)
    assert {line["type"] for line in everything} <= {"debug", "info", "warn", "error"}
    every = [line["message"] for line in lines("")]
    assert (
        "3/3 servers started successfully" in every or "2/3 servers started successfully" in every
    )
    assert "quiet stderr: fixture-everything stderr hello" in every
    warnings = lines("?level=warn")
    assert warnings and {line["type"] for line in warnings} <= {"warn", "error"}
    assert len(lines("?limit=1")) == 1
    assert lines("?server_name=off") == []


@pytest.mark.parametrize(
    ("query", "status", "field"),
    [
        ("?level=loud", 400, "level"),
        ("?limit=0", 400, "limit"),
        ("?limit=1001", 400, "limit"),
        ("?limit=ten", 400, "limit"),
        ("?limit=%C2%B2", 400, "limit"),  # "²" is a digit to str.isdigit(), not to int()
        ("?server_name=nope", 404, None),
    ],
)
def test_bad_log_queries_get_clear_errors(
    hub: HubProcess, query: str, status: int, field: str | None
) -> None:
    response = hub.api("GET", f"/api/logs{query}")
    assert response.status_code == status
    if field is not None:
        assert response.json()["data"] == {"field": field}
    else:
        assert response.json()["code"] == "SERVER_NOT_FOUND"


# ------------------------------------------------------------------------------ stats
def histogram_counts(hub: HubProcess, server: str) -> dict[str, float]:
    """``le`` -> count of mcphub_tool_call_duration_seconds_bucket for *server* (all outcomes)."""
    counts: dict[str, float] = {}
    for line in hub.client.get("/metrics").text.splitlines():
        if (
            line.startswith("mcphub_tool_call_duration_seconds_bucket{")
            and f'server="{server}"' in line
        ):
            labels, value = line.rsplit(" ", 1)
            le = labels.split('le="', 1)[1].split('"', 1)[0]
            counts[le] = counts.get(le, 0.0) + float(value)
    return counts


def test_stats_are_the_hubs_own_histograms(hub: HubProcess) -> None:
    for message in ("a", "b"):
        assert call(hub, "quiet", "echo", message=message).status_code == 200
    assert call(hub, "quiet", "fail", message="no").status_code == 200  # a tool error
    assert call(hub, "quiet", "nope").status_code == 500  # the hub refuses it: an error
    response = hub.api("GET", "/api/stats")
    assert response.status_code == 200
    body = response.json()
    assert body["hub"]["uptime"] > 0 and body["hub"]["callsInFlight"] == 0
    assert body["hub"]["startedAt"].endswith("Z")
    stats = {entry["server"]: entry for entry in body["servers"]}
    assert set(stats) == {"everything", "quiet", "off"}
    quiet = stats["quiet"]
    assert quiet["calls"] == 4 and quiet["errors"] == 2 and quiet["errorRate"] == 0.5
    assert quiet["outcomes"] == {"success": 2, "tool_error": 1, "error": 1, "timeout": 0}
    assert 0 < quiet["p50"] <= quiet["p95"]
    assert {b["le"]: b["count"] for b in quiet["buckets"]} == histogram_counts(hub, "quiet")
    assert stats["off"]["calls"] == 0 and stats["off"]["p50"] is None


# ---------------------------------------------------------------- marketplace add
def test_adding_from_the_marketplace_writes_the_config_and_starts_the_server(
    hub: HubProcess,
) -> None:
    body = {"mcpId": "fixture-everything", "installation": "python", "name": "added"}
    response = hub.api("POST", "/api/marketplace/add", body)
    assert response.status_code == 200, response.text
    added = response.json()["server"]
    assert added == {
        "name": "added",
        "mcpId": "fixture-everything",
        "configFile": hub.configs[0],
        "installation": "python",
        "unresolved": [],
        "created": False,
        "replaced": False,
        "applied": "reload",
    }
    config = json.loads(Path(hub.configs[0]).read_text())
    assert list(config["mcpServers"]) == ["everything", "quiet", "off", "added"]
    wait_connected(hub, "added")
    again = hub.api("POST", "/api/marketplace/add", body)
    assert again.status_code == 400
    assert again.json()["code"] == "INSTALL_ERROR"
    assert "already exists" in again.json()["error"]


def test_adding_to_a_watching_hub_leaves_the_reload_to_its_watcher(
    start_hub: StartHub, write_config: Callable[..., str], registry: RegistryServer
) -> None:
    hub = start_hub(
        write_config({}), extra_args=("--watch", "--marketplace-url", registry.catalog_url)
    )
    body = {
        "mcpId": "fixture-everything",
        "installation": "with-env",
        "params": {"FIXTURE_TOKEN": "t"},
    }
    response = hub.api("POST", "/api/marketplace/add", body)
    assert response.status_code == 200, response.text
    assert response.json()["server"]["applied"] == "watch"
    assert response.json()["server"]["name"] == "fixture-everything"
    info = wait_connected(hub, "fixture-everything")
    assert info["config_source"] == hub.configs[0]


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        ({}, "VALIDATION_ERROR", "Missing mcpId in request body"),
        ({"mcpId": 7}, "VALIDATION_ERROR", "Missing mcpId in request body"),
        ({"mcpId": "nope"}, "INSTALL_ERROR", "'nope' is not in the marketplace"),
        ({"mcpId": "alpha-search", "installation": "pip"}, "INSTALL_ERROR", "has no installation"),
        ({"mcpId": "alpha-search", "params": {"NOPE": "x"}}, "INSTALL_ERROR", "unknown parameter"),
        ({"mcpId": "alpha-search", "params": {"ALPHA_KEY": 5}}, "VALIDATION_ERROR", "params must"),
        ({"mcpId": "alpha-search", "params": ["ALPHA_KEY"]}, "VALIDATION_ERROR", "params must"),
        ({"mcpId": "alpha-search", "name": ["x"]}, "VALIDATION_ERROR", "name must be a string"),
    ],
)
def test_bad_additions_are_400s_that_say_why(
    hub: HubProcess, body: dict[str, Any], code: str, message: str
) -> None:
    before = Path(hub.configs[0]).read_text()
    response = hub.api("POST", "/api/marketplace/add", body)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == code
    assert message in response.json()["error"]
    assert Path(hub.configs[0]).read_text() == before
