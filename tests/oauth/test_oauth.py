"""OAuth for remote upstreams against a real local authorization server and protected MCP server."""

from __future__ import annotations

import asyncio
import json
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import anyio
import httpx
import pytest

from tests.helpers import SERVERS, EventStream, HubProcess, free_port, wait_until
from tests.mcp.clients import handshake

StartHub = Callable[..., HubProcess]
WriteConfig = Callable[..., str]


class AuthServer:
    """tests/servers/oauth_server.py: the authorization server and the resource server."""

    def __init__(self) -> None:
        self.as_port, self.rs_port = self.ports = free_port(), free_port()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                str(SERVERS / "oauth_server.py"),
                str(self.as_port),
                str(self.rs_port),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.proc.stdout is not None
        with ThreadPoolExecutor(1) as pool:
            line = pool.submit(self.proc.stdout.readline).result(timeout=30)
        assert line.strip() == "READY", line
        self.admin = httpx.Client(base_url=f"http://127.0.0.1:{self.as_port}", timeout=10)

    @property
    def mcp_url(self) -> str:
        return f"http://127.0.0.1:{self.rs_port}/mcp"

    def stats(self) -> dict[str, int]:
        stats: dict[str, int] = self.admin.get("/admin/stats").json()["stats"]
        return stats

    def control(self, action: str, body: dict[str, Any] | None = None) -> None:
        assert self.admin.post(f"/admin/{action}", json=body or {}).status_code == 200

    def stop(self) -> None:
        self.admin.close()
        self.proc.terminate()
        self.proc.wait(10)


@pytest.fixture
def auth_server() -> Iterator[AuthServer]:
    server = AuthServer()
    yield server
    server.stop()


def user_approves(authorization_url: str, hub: HubProcess) -> str:
    """What the browser does: visit the AS, get redirected; returns the redirect URL."""
    response = httpx.get(authorization_url, follow_redirects=False, timeout=10)
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(f"http://localhost:{hub.port}/api/oauth/callback?server_name=")
    return location


def to_loopback(url: str) -> str:
    """The hub binds 127.0.0.1; "localhost" may resolve to ::1 first."""
    return url.replace("http://localhost:", "http://127.0.0.1:", 1)


def echo(hub: HubProcess, server: str = "protected") -> httpx.Response:
    return hub.api(
        "POST",
        "/api/servers/tools",
        {"server_name": server, "tool": "echo", "arguments": {"message": "authorized"}},
    )


def authorize(hub: HubProcess, resource: str) -> str:
    info = hub.wait_status("protected", "unauthorized")
    url = hub.api("POST", "/api/servers/authorize", {"server_name": "protected"}).json()
    assert list(url) == ["authorizationUrl"]  # no timestamp, as in mcp-hub
    assert url["authorizationUrl"] == info["authorizationUrl"]
    query = parse_qs(urlparse(url["authorizationUrl"]).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["resource"] == [resource]  # RFC 8707
    return str(url["authorizationUrl"])


def test_full_flow_persistence_refresh_and_revocation(
    start_hub: StartHub, write_config: WriteConfig, auth_server: AuthServer, hub_home: Path
) -> None:
    auth_server.control("ttl", {"seconds": 2})  # refreshed ~1 s after issue
    config = write_config({"protected": {"url": auth_server.mcp_url}, "other": {"url": "x"}})
    hub = start_hub(config)
    assert hub.server("other")["status"] == "disconnected"  # one bad entry, the rest runs
    stream = EventStream(f"http://127.0.0.1:{hub.port}")
    stream.wait_for("hub_state")

    url = authorize(hub, auth_server.mcp_url)
    location = user_approves(url, hub)
    page = httpx.get(to_loopback(location), timeout=60)
    assert page.status_code == 200
    assert 'updateStatus("success"' in page.text
    assert hub.server("protected")["status"] == "connected"
    assert hub.server("protected")["authorizationUrl"] is None
    stream.wait_for("subscription_event", type="servers_updated")
    assert echo(hub).json()["result"]["content"][0]["text"] == "Echo: authorized"

    storage = hub_home / ".local" / "share" / "mcp-hub" / "oauth-storage.json"
    assert stat.S_IMODE(storage.stat().st_mode) == 0o600
    saved = json.loads(storage.read_text())[auth_server.mcp_url]
    assert saved["tokens"]["access_token"] and saved["clientInfo"]["client_id"]

    # Short-lived access tokens are refreshed before they expire, once for concurrent calls.
    assert auth_server.stats()["refresh"] == 0
    with ThreadPoolExecutor(5) as pool:

        def burst() -> list[int]:
            return list(pool.map(lambda _: echo(hub).status_code, range(5)))

        assert wait_until(lambda: burst() == [200] * 5 and auth_server.stats()["refresh"])
    assert auth_server.stats()["refresh"] == 1
    assert auth_server.stats()["mcp_401"] == 0  # no call ever presented an expired token
    stream.close()
    assert hub.stop() == 0

    # A restarted hub reuses the stored tokens: no new authorization.
    authorizations = auth_server.stats()["authorize"]
    hub = start_hub(config, port=hub.port)  # editors restart the hub on the same port
    assert hub.server("protected")["status"] == "connected"
    assert echo(hub).status_code == 200
    assert auth_server.stats()["authorize"] == authorizations
    assert hub.stop() == 0

    # A revoked refresh token: back to unauthorized with a fresh URL, and no request loop.
    auth_server.control("revoke")
    hub = start_hub(config, extra_args=("--log-level", "debug"))  # another port, too
    info = hub.wait_status("protected", "unauthorized")
    assert info["authorizationUrl"]
    token_requests = auth_server.stats()["token"]
    assert echo(hub).json()["error"] == "Server not connected"
    assert (
        hub.wait_status("protected", "unauthorized")["authorizationUrl"] == info["authorizationUrl"]
    )
    assert auth_server.stats()["token"] == token_requests

    # Headless: paste the redirect URL into the manual callback.
    location = user_approves(info["authorizationUrl"], hub)
    done = hub.api("POST", "/api/oauth/manual_callback", {"url": location})
    assert done.status_code == 200, done.text
    assert done.json()["message"] == "Authorization successful for server 'protected'"
    assert echo(hub).status_code == 200
    assert hub.stop() == 0


def reauthorization_url(hub: HubProcess) -> str:
    """The URL of the authorization a connected server asks for again (a fresh one)."""
    url = wait_until(
        lambda: (
            (found := hub.server("protected"))["status"] == "unauthorized"
            and found["authorizationUrl"]
        )
    )
    return str(url)


async def echo_over_mcp(hub: HubProcess) -> tuple[bool, str]:
    """One ``protected__echo`` through /mcp with the SDK's client: (isError, text)."""
    async with handshake(f"http://127.0.0.1:{hub.port}/mcp") as session:
        with anyio.fail_after(15):  # a call that waits for a user would hang here
            result = await session.call_tool("protected__echo", {"message": "authorized"})
    text = result.content[0]
    assert text.type == "text"
    return bool(result.is_error), text.text


def test_refused_tokens_of_a_connected_server_fail_calls_at_once(
    start_hub: StartHub, write_config: WriteConfig, auth_server: AuthServer, hub_home: Path
) -> None:
    """The SDK answers a refused token by starting an authorization inside the request,
    which would wait for a user until the client gives up; the hub fails the call."""
    auth_server.control("ttl", {"seconds": 2})
    hub = start_hub(write_config({"protected": {"url": auth_server.mcp_url}}))
    stream = EventStream(f"http://127.0.0.1:{hub.port}")
    stream.wait_for("hub_state")
    location = user_approves(authorize(hub, auth_server.mcp_url), hub)
    assert 'updateStatus("success"' in httpx.get(to_loopback(location), timeout=60).text
    assert echo(hub).status_code == 200

    # The access token expires by the hub's clock and the refresh is refused (REST).
    auth_server.control("ttl", {"seconds": 3600})  # for the authorizations below
    auth_server.control("revoke")
    storage = hub_home / ".local" / "share" / "mcp-hub" / "oauth-storage.json"
    expires_at = json.loads(storage.read_text())[auth_server.mcp_url]["tokens"]["expiresAt"]
    wait_until(lambda: time.time() > expires_at, timeout=10)
    refreshes = auth_server.stats()["refresh"]
    failed = hub.api(
        "POST",
        "/api/servers/tools",
        {"server_name": "protected", "tool": "echo", "arguments": {"message": "x"}},
        timeout=15,  # the bug: no answer until the hub's 60 s request timeout
    )
    assert failed.status_code == 500, failed.text
    body = failed.json()
    assert list(body) == ["error", "code", "data", "timestamp"]
    assert body["error"] == 'Server "protected" needs authorization again'
    assert body["code"] == "TOOL_ERROR"
    assert body["data"]["server"] == "protected" and body["data"]["status"] == "unauthorized"
    stream.wait_for(
        "subscription_event", type="servers_updated", reason="status_changed", status="unauthorized"
    )
    url = reauthorization_url(hub)
    # No request loop: the call's refresh, then nothing (the refused refresh token is
    # forgotten, so the new connection does not send it again).
    assert auth_server.stats()["refresh"] - refreshes == 1
    refreshes = auth_server.stats()["refresh"]
    assert echo(hub).json()["error"] == "Server not connected"
    assert hub.server("protected")["authorizationUrl"] == url
    assert auth_server.stats()["refresh"] == refreshes

    # Authorizing again (headless: the manual callback) brings it back.
    done = hub.api("POST", "/api/oauth/manual_callback", {"url": user_approves(url, hub)})
    assert done.status_code == 200, done.text
    assert hub.server("protected")["status"] == "connected"
    assert echo(hub).json()["result"]["content"][0]["text"] == "Echo: authorized"

    # A token the hub still holds for valid is refused (a 401) and so is the refresh that
    # follows it: /mcp.
    auth_server.control("revoke")
    is_error, text = asyncio.run(echo_over_mcp(hub))
    assert is_error and text == 'Server "protected" needs authorization again'
    url = reauthorization_url(hub)
    page = httpx.get(to_loopback(user_approves(url, hub)), timeout=60)
    assert 'updateStatus("success"' in page.text
    assert asyncio.run(echo_over_mcp(hub)) == (False, "Echo: authorized")
    assert auth_server.stats()["refresh"] - refreshes == 1  # the call's, not the reconnect's
    refreshes = auth_server.stats()["refresh"]

    # A token refused before its time while the refresh token is good: refreshed first and
    # the call sent again, as mcp-hub does; no new authorization (REST, then /mcp).
    authorizations = auth_server.stats()["authorize"]
    auth_server.control("expire")
    assert echo(hub).json()["result"]["content"][0]["text"] == "Echo: authorized"
    assert auth_server.stats()["refresh"] == refreshes + 1
    auth_server.control("expire")
    assert asyncio.run(echo_over_mcp(hub)) == (False, "Echo: authorized")
    assert auth_server.stats()["refresh"] == refreshes + 2
    assert hub.server("protected")["status"] == "connected"
    assert auth_server.stats()["authorize"] == authorizations
    stream.close()
    assert hub.stop() == 0


def test_bad_callbacks(
    start_hub: StartHub, write_config: WriteConfig, auth_server: AuthServer
) -> None:
    hub = start_hub(write_config({"protected": {"url": auth_server.mcp_url}}))
    url = authorize(hub, auth_server.mcp_url)
    location = user_approves(url, hub)
    query = parse_qs(urlparse(location).query)

    wrong_state = location.replace(query["state"][0], "forged-state")
    response = hub.api("POST", "/api/oauth/manual_callback", {"url": wrong_state})
    assert response.status_code == 400
    assert response.json()["code"] == "OAUTH_STATE_MISMATCH"

    missing_code = f"http://localhost:{hub.port}/api/oauth/callback?server_name=protected"
    response = hub.api("POST", "/api/oauth/manual_callback", {"url": missing_code})
    assert response.status_code == 400
    assert response.json()["error"] == "Missing code or server_name parameter"
    assert (
        hub.api("POST", "/api/oauth/manual_callback", {}).json()["error"] == "Missing URL parameter"
    )
    page = httpx.get(f"http://127.0.0.1:{hub.port}/api/oauth/callback", timeout=10)
    assert page.status_code == 200 and "Missing code or server_name parameter" in page.text

    unknown = hub.api(
        "POST", "/api/oauth/manual_callback", {"url": location.replace("=protected", "=nope")}
    )
    assert unknown.status_code == 404

    # The flow is still waiting: the genuine redirect completes it.
    page = httpx.get(to_loopback(location), timeout=60)
    assert 'updateStatus("success"' in page.text
    assert hub.server("protected")["status"] == "connected"
    no_url = hub.api("POST", "/api/servers/authorize", {"server_name": "protected"})
    assert no_url.status_code == 500
    assert no_url.json()["code"] == "OPEN_REQUEST_ERROR"
    assert hub.stop() == 0


def test_client_credentials(
    start_hub: StartHub, write_config: WriteConfig, auth_server: AuthServer
) -> None:
    auth_server.control(
        "client",
        {"client_id": "machine", "client_secret": "machine-secret-value", "redirect_uris": []},
    )
    oauth = {
        "grant": "client_credentials",
        "client_id": "machine",
        "client_secret": "${CC_SECRET}",
    }
    hub = start_hub(
        write_config({"protected": {"url": auth_server.mcp_url, "oauth": oauth}}),
        CC_SECRET="machine-secret-value",
    )
    wait_until(lambda: hub.server("protected")["status"] == "connected")
    assert echo(hub).status_code == 200
    assert auth_server.stats()["authorize"] == 0
    assert "machine-secret-value" not in hub.log_text()
    assert hub.stop() == 0
