"""Handler rules against the application in this process (``app_hub``): no hub process, no
server process, so each test takes milliseconds. Every error is mcp-hub's envelope, written
by the one ``write_error``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.inprocess import InProcessHub, in_process_hub
from tornadohub.handlers import default_handlers
from tornadohub.handlers.openapi import describe
from tornadohub.keys import Keyring, parse_env_tokens

TOKEN = "in-process-secret-5d1c7a9e3b"


def assert_envelope(response: httpx.Response, status: int, error: str, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert list(body) == ["error", "code", "data", "timestamp"]
    assert (body["error"], body["code"]) == (error, code)
    return body


@pytest.mark.parametrize("raw", ["", "[1,2,3]"])
async def test_bodies_that_are_not_objects(app_hub: InProcessHub, raw: str) -> None:
    response = await app_hub.client.post(
        "/api/servers/tools", content=raw, headers={"Content-Type": "application/json"}
    )
    assert_envelope(response, 400, "Missing server name", "VALIDATION_ERROR")


async def test_malformed_json_is_a_json_400(app_hub: InProcessHub) -> None:
    response = await app_hub.client.post(
        "/api/servers/tools",
        content='{"server_name": "everything", "tool": ',
        headers={"Content-Type": "application/json"},
    )
    assert_envelope(response, 400, "Invalid JSON in request body", "INVALID_JSON")


async def test_unknown_routes_are_json_404_and_405_says_allow(app_hub: InProcessHub) -> None:
    for path in ("/api/does-not-exist", "/nope"):  # "/" is the dashboard
        assert_envelope(await app_hub.client.get(path), 404, f"Cannot GET {path}", "NOT_FOUND")
    wrong = await app_hub.client.get("/api/servers/info")
    assert_envelope(wrong, 405, "Cannot GET /api/servers/info", "METHOD_NOT_ALLOWED")
    assert wrong.headers["allow"] == "POST"


async def test_routing_is_case_insensitive_with_trailing_slash(app_hub: InProcessHub) -> None:
    assert (await app_hub.client.get("/API/HEALTH")).status_code == 200
    assert (await app_hub.client.get("/api/health/")).status_code == 200


async def test_unknown_server_is_404(app_hub: InProcessHub) -> None:
    response = await app_hub.client.post("/api/servers/info", json={"server_name": "nope"})
    assert response.status_code == 404
    assert response.json()["code"] == "SERVER_NOT_FOUND"


async def test_the_openapi_document_is_the_route_tables(app_hub: InProcessHub) -> None:
    response = await app_hub.client.get("/api/openapi.json")
    assert response.status_code == 200
    assert response.json() == describe(default_handlers)


async def test_every_401_is_the_envelope_with_a_challenge(tmp_path: Path) -> None:
    """The API routes, the MCP routes and unknown routes answer a missing or wrong key alike;
    probes and the dashboard need none."""
    keys = Keyring(parse_env_tokens(f"ci:{TOKEN}"))
    async with in_process_hub(tmp_path, keys=keys) as served:
        client = served.client
        for method, path in [("GET", "/api/servers"), ("POST", "/mcp"), ("GET", "/api/nope")]:
            missing = await client.request(method, path)
            assert_envelope(missing, 401, "Authentication required", "UNAUTHORIZED")
            assert missing.headers["www-authenticate"] == 'Bearer realm="mcp-hub"'
            assert missing.headers["cache-control"] == "no-store"
            wrong = await client.request(method, path, headers={"X-API-Key": "x" * 20})
            assert_envelope(wrong, 401, "Invalid API key", "UNAUTHORIZED")
            assert wrong.headers["www-authenticate"].endswith('error="invalid_token"')
        for path in ("/healthz", "/readyz", "/ui/", "/metrics"):
            assert (await client.get(path)).status_code == 200, path
        allowed = await client.get("/api/servers", headers={"Authorization": f"Bearer {TOKEN}"})
        assert allowed.status_code == 200
        assert allowed.json()["servers"] == []
