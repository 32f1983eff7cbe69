"""Hostile web pages against a real hub: cross-origin requests, forms, DNS rebinding, CORS.

Every request is shaped as Chromium sends it (tests/security/browser.py). A page the user
has open must not run tools, stop servers or restart the hub, nor read anything back.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import stdio_entry
from tests.helpers import HubProcess, initialize_request
from tests.security import browser
from tests.security.conftest import SECRET, everything

ACCEPT_MCP = "application/json, text/event-stream"
CALL_SECRET = {"server_name": "everything", "tool": "env", "arguments": {"name": "PLANTED_SECRET"}}


def envelope(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert list(body) == ["error", "code", "data", "timestamp"] and body["code"] == code, body
    return body


def post(hub: HubProcess, path: str, body: Any, headers: dict[str, str]) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return hub.client.post(path, content=content, headers=headers)


# ------------------------------------------------------------ cross-origin writes
@pytest.mark.parametrize(
    "content_type",
    ["text/plain;x=json", "application/x-www-form-urlencoded; charset=json", "application/json"],
)
def test_cross_origin_pages_cannot_call_tools(planted_hub: HubProcess, content_type: str) -> None:
    headers = browser.cross_origin_fetch(content_type=content_type)
    response = post(planted_hub, "/api/servers/tools", CALL_SECRET, headers)
    envelope(response, 403, "INVALID_ORIGIN")
    assert SECRET not in response.text
    assert "access-control-allow-origin" not in response.headers


@pytest.mark.parametrize("content_type", ["text/plain;x=json", "multipart/form-data; x=json"])
def test_only_json_bodies_are_parsed(planted_hub: HubProcess, content_type: str) -> None:
    """Even without an Origin (an old browser, a plugin), a non-JSON body is never run."""
    response = post(planted_hub, "/api/servers/tools", CALL_SECRET, {"Content-Type": content_type})
    envelope(response, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert SECRET not in response.text


@pytest.mark.parametrize(
    "path", ["/api/hard-restart", "/api/restart", "/api/servers/stop?disable=true"]
)
def test_forms_cannot_restart_the_hub_or_stop_servers(planted_hub: HubProcess, path: str) -> None:
    response = post(planted_hub, path, b"server_name=everything", browser.form_post())
    envelope(response, 403, "INVALID_ORIGIN")
    assert planted_hub.server("everything")["status"] == "connected"
    assert planted_hub.health() is not None


def test_other_sites_cannot_trigger_work_with_simple_gets(planted_hub: HubProcess) -> None:
    response = planted_hub.client.get("/api/refresh", headers=browser.no_cors_get())
    envelope(response, 403, "CROSS_SITE_REQUEST")


# ---------------------------------------------------------------- DNS rebinding
@pytest.mark.parametrize(
    "path", ["/api/servers", "/api/health", "/api/events", "/metrics", "/api/nope"]
)
def test_rebinding_pages_cannot_read(planted_hub: HubProcess, path: str) -> None:
    response = planted_hub.client.get(path, headers=browser.rebound(planted_hub.port))
    envelope(response, 421, "INVALID_HOST")


def test_rebinding_pages_cannot_call_tools(planted_hub: HubProcess) -> None:
    headers = browser.rebound(planted_hub.port, post=True)
    response = post(planted_hub, "/api/servers/tools", CALL_SECRET, headers)
    envelope(response, 421, "INVALID_HOST")
    assert SECRET not in response.text


@pytest.mark.parametrize("path", ["/mcp", "/servers/everything/mcp", "/messages?sessionId=x"])
def test_rebinding_pages_cannot_use_mcp(planted_hub: HubProcess, path: str) -> None:
    headers = {**browser.rebound(planted_hub.port, post=True), "Accept": ACCEPT_MCP}
    response = post(planted_hub, path, initialize_request("rebound"), headers)
    assert response.status_code == 421, response.text
    assert response.json()["error"]["message"].startswith("Invalid Host")


# --------------------------------------------------------------- same origin
def test_the_hubs_own_pages_are_served(planted_hub: HubProcess) -> None:
    for origin in (f"http://127.0.0.1:{planted_hub.port}", f"http://localhost:{planted_hub.port}"):
        headers = {"Content-Type": "application/json", "Origin": origin}
        headers["Sec-Fetch-Site"] = "same-origin"
        response = post(planted_hub, "/api/servers/tools", CALL_SECRET, headers)
        assert response.status_code == 200, response.text
        assert "access-control-allow-origin" not in response.headers  # no CORS unless configured


def test_a_local_app_on_another_port_is_another_origin(planted_hub: HubProcess) -> None:
    headers = browser.cross_origin_fetch("http://localhost:3000", "application/json")
    envelope(post(planted_hub, "/api/servers/tools", CALL_SECRET, headers), 403, "INVALID_ORIGIN")
    mcp = {**headers, "Accept": ACCEPT_MCP}
    assert post(planted_hub, "/mcp", initialize_request("local-app"), mcp).status_code == 403


def test_preflight_from_an_unconfigured_origin(planted_hub: HubProcess) -> None:
    response = planted_hub.client.options(
        "/api/servers/tools",
        headers={"Origin": browser.EVIL, "Access-Control-Request-Method": "POST"},
    )
    envelope(response, 403, "INVALID_ORIGIN")


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("/api/servers/tools", {"server_name": "everything", "tool": ["echo"]}, "must be a string"),
        ("/api/servers/tools", {"server_name": "everything", "tool": {}}, "must be a string"),
        (
            "/api/servers/prompts",
            {"server_name": "everything", "prompt": ["x"]},
            "must be a string",
        ),
        (
            "/api/servers/tools",
            b'{"server_name": "everything", "tool": "echo", "request_options": {"timeout": 1'
            + b"0" * 400
            + b"}}",
            "at most",
        ),
        (
            "/api/servers/tools",
            b'{"server_name": "everything", "tool": "echo", "request_options": {"timeout": NaN}}',
            "Invalid JSON",
        ),
        (
            "/api/servers/tools",
            b'{"server_name": "everything", "tool": "echo", "request_options": {"timeout": 1e999}}',
            "Invalid JSON",
        ),
        (
            "/api/servers/tools",
            {"server_name": "everything", "tool": "echo", "request_options": {"timeout": -5}},
            "positive",
        ),
        ("/api/servers/tools", b"[" * 100_000 + b"]" * 100_000, "Invalid JSON"),
        # Lone surrogates: Python's parser takes them, no UTF-8 writer does (was a 500).
        (
            "/api/servers/tools",
            b'{"server_name": "everything", "tool": "echo", "arguments": {"message": "\\ud800"}}',
            "Invalid JSON",
        ),
        (
            "/api/servers/resources",
            b'{"server_name": "everything", "uri": "fixture://\\udc00"}',
            "Invalid JSON",
        ),
        (
            "/api/servers/prompts",
            b'{"server_name": "everything", "prompt": "simple", "arguments": {"a": "\\uDBFF"}}',
            "Invalid JSON",
        ),
        ("/api/oauth/manual_callback", {"url": "http://[::1"}, "Invalid URL"),
        ("/api/marketplace/details", {"mcpId": ["x"]}, "must be a string"),
    ],
)
def test_bad_input_is_a_400_not_a_traceback(
    planted_hub: HubProcess, path: str, body: Any, message: str
) -> None:
    response = post(planted_hub, path, body, {"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert message in response.json()["error"], response.text


@pytest.mark.parametrize("request_id", [None, 1.5, {"a": 1}, True])
def test_json_rpc_ids_must_be_strings_or_integers(planted_hub: HubProcess, request_id: Any) -> None:
    url = "/mcp"
    headers = {"Accept": ACCEPT_MCP, "Content-Type": "application/json"}
    opened = post(planted_hub, url, initialize_request("ids"), headers)
    assert opened.status_code == 200
    session = {**headers, "Mcp-Session-Id": opened.headers["mcp-session-id"]}
    try:
        ping = {"jsonrpc": "2.0", "id": request_id, "method": "ping"}
        response = post(planted_hub, url, ping, session)
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == -32600
    finally:
        planted_hub.client.delete(url, headers=session)


def test_log_file_is_private(planted_hub: HubProcess) -> None:
    log_file = planted_hub.home / ".local" / "state" / "mcp-hub" / "logs" / "mcp-hub.log"
    assert log_file.stat().st_mode & 0o777 == 0o600


# ------------------------------------------------------- hubs started per test
TOKEN = "browser-test-token-0123456789abcdef"


def test_keys_come_before_route_lookup_and_oauth_callback_needs_none(
    start_hub: Callable[..., HubProcess], write_config: Callable[..., str]
) -> None:
    hub = start_hub(write_config({}), wait=False, MCP_HUB_AUTH_TOKENS=f"ci:{TOKEN}")
    hub.client.headers["Authorization"] = f"Bearer {TOKEN}"
    hub.wait_ready()
    anonymous = httpx.Client(base_url=f"http://127.0.0.1:{hub.port}", timeout=10)
    with anonymous:
        envelope(anonymous.get("/api/no-such-route"), 401, "UNAUTHORIZED")
        envelope(anonymous.post("/api/nope", json={}), 401, "UNAUTHORIZED")
        # The browser's redirect from an authorization server carries no key.
        callback = anonymous.get(
            "/api/oauth/callback?server_name=x&code=y&state=z",
            headers={"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"},
        )
        assert callback.status_code == 200 and "MCP HUB" in callback.text
    envelope(hub.client.get("/api/no-such-route"), 404, "NOT_FOUND")


def test_configured_origins_get_cors(
    start_hub: Callable[..., HubProcess], write_config: Callable[..., str]
) -> None:
    app = "http://localhost:6274"
    hub = start_hub(
        write_config({"everything": everything()}),
        extra_args=("--allowed-origins", app),
        MCP_HUB_ALLOWED_ORIGINS="https://tools.example",
    )
    preflight = hub.client.options(
        "/mcp",
        headers={
            "Origin": app,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,mcp-protocol-version",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == app
    assert "mcp-protocol-version" in preflight.headers["access-control-allow-headers"]
    headers = browser.cross_origin_fetch(app, "application/json")
    called = post(hub, "/api/servers/tools", CALL_SECRET, headers)
    assert called.status_code == 200 and called.headers["access-control-allow-origin"] == app
    missing = post(hub, "/api/servers/tools", {"server_name": "nope", "tool": "x"}, headers)
    assert missing.status_code == 404 and missing.headers["access-control-allow-origin"] == app
    other = browser.cross_origin_fetch("https://tools.example", "application/json")
    assert post(hub, "/api/servers/info", {"server_name": "everything"}, other).status_code == 200
    envelope(
        post(hub, "/api/servers/tools", CALL_SECRET, browser.cross_origin_fetch()),
        403,
        "INVALID_ORIGIN",
    )


def test_a_dotenv_file_is_read_only_when_named(
    start_hub: Callable[..., HubProcess], write_config: Callable[..., str], tmp_path: Path
) -> None:
    """A checkout's .env must not reach the servers (MCP_HUB_ENV goes to every one)."""
    (tmp_path / ".env").write_text('MCP_HUB_ENV={"PLANTED_BY_CHECKOUT": "yes"}\nFROM_DOTENV=x\n')
    config = write_config({"s": stdio_entry("everything_stdio.py")})
    hub = start_hub(config)

    def env(name: str) -> str:
        body = hub.api(
            "POST",
            "/api/servers/tools",
            {"server_name": "s", "tool": "env", "arguments": {"name": name}},
        )
        return str(body.json()["result"]["content"][0]["text"])

    assert env("PLANTED_BY_CHECKOUT") == "<unset>"


def test_127_1_is_loopback(
    start_hub: Callable[..., HubProcess], write_config: Callable[..., str]
) -> None:
    hub = start_hub(write_config({}), extra_args=("--host", "127.1"))
    assert hub.api("GET", "/api/health").status_code == 200
