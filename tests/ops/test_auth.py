"""Inbound API keys against real hubs: every route family, the open probes, refusing to start
unprotected on a public address, and planted tokens that must never come back out."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.conftest import stdio_entry
from tests.helpers import HubProcess
from tests.ops.conftest import TOKENS, bearer, scrape

StartHub = Callable[..., HubProcess]
WriteConfig = Callable[..., str]

WRONG_TOKEN = "planted-wrong-secret-93c1d7a4e8b2f605"

PROTECTED = [
    ("GET", "/api/health", None),
    ("GET", "/api/servers", None),
    ("GET", "/API/Servers/", None),
    ("GET", "/api/workspaces", None),
    ("GET", "/api/openapi.json", None),
    ("GET", "/api/refresh", None),
    ("GET", "/api/events", None),
    ("POST", "/api/servers/info", {"server_name": "a"}),
    ("POST", "/api/servers/start", {"server_name": "a"}),
    ("POST", "/api/servers/stop", {"server_name": "a"}),
    ("POST", "/api/servers/refresh", {"server_name": "a"}),
    ("POST", "/api/servers/tools", {"server_name": "a", "tool": "echo", "arguments": {}}),
    ("POST", "/api/servers/resources", {"server_name": "a", "uri": "fixture://readme"}),
    ("POST", "/api/servers/prompts", {"server_name": "a", "prompt": "simple"}),
    ("POST", "/api/restart", None),
    ("POST", "/api/hard-restart", None),
]

MCP_ROUTES = [
    ("POST", "/mcp", {"jsonrpc": "2.0", "id": 1, "method": "ping"}),
    ("GET", "/mcp", None),
    ("POST", "/servers/a/mcp", {"jsonrpc": "2.0", "id": 1, "method": "ping"}),
]


def anonymous(hub: HubProcess) -> httpx.Client:
    return httpx.Client(base_url=str(hub.client.base_url), timeout=10)


def assert_refused(response: httpx.Response, *, invalid: bool) -> None:
    assert response.status_code == 401, (response.request.url, response.text)
    body = response.json()
    assert set(body) == {"error", "code", "data", "timestamp"}
    assert body["code"] == "UNAUTHORIZED" and body["data"] == {}
    challenge = 'Bearer realm="mcp-hub"' + (', error="invalid_token"' if invalid else "")
    assert response.headers["www-authenticate"] == challenge


def test_every_route_family_needs_a_key(
    start_authed_hub: Callable[..., HubProcess], write_config: WriteConfig
) -> None:
    hub = start_authed_hub(write_config({"a": stdio_entry("everything_stdio.py")}))
    with anonymous(hub) as client:
        for method, path, body in PROTECTED:
            assert_refused(client.request(method, path, json=body), invalid=False)
            wrong = {"Authorization": f"Bearer {WRONG_TOKEN}"}
            assert_refused(client.request(method, path, json=body, headers=wrong), invalid=True)
            assert_refused(
                client.request(method, path, json=body, headers={"X-API-Key": WRONG_TOKEN}),
                invalid=True,
            )
        basic = {"Authorization": f"Basic {TOKENS['ci']}"}
        assert_refused(client.get("/api/servers", headers=basic), invalid=False)

        # Probes and (by default) metrics stay open.
        for path in ("/healthz", "/readyz", "/metrics"):
            assert client.get(path).status_code == 200, path

        # Both headers, both keys, any case of the scheme.
        assert client.get("/api/servers", headers=bearer("laptop")).status_code == 200
        lower = {"authorization": f"bearer {TOKENS['ci']}"}
        assert client.get("/api/servers", headers=lower).status_code == 200
        api_key = {"X-API-Key": TOKENS["laptop"]}
        assert client.get("/api/servers", headers=api_key).status_code == 200

    # Nothing refused did anything: no restart, the server still runs.
    health = hub.api("GET", "/api/health").json()
    assert health["state"] == "ready" and health["servers"][0]["status"] == "connected"

    samples = scrape(hub)
    assert samples.value("mcphub_auth_requests_accepted_total", key="laptop") == 2
    assert (samples.value("mcphub_auth_requests_accepted_total", key="ci") or 0) >= 2
    missing = len(PROTECTED) + 1  # + the Basic one
    rejected = "mcphub_auth_requests_rejected_total"
    assert samples.value(rejected, reason="missing") == missing
    assert samples.value(rejected, reason="invalid") == 2 * len(PROTECTED)


def test_mcp_routes_need_a_key(
    start_authed_hub: Callable[..., HubProcess], write_config: WriteConfig
) -> None:
    hub = start_authed_hub(write_config({"a": stdio_entry("everything_stdio.py")}))
    with anonymous(hub) as client:
        for method, path, body in MCP_ROUTES:
            assert_refused(client.request(method, path, json=body), invalid=False)
            wrong = {"X-API-Key": WRONG_TOKEN}
            assert_refused(client.request(method, path, json=body, headers=wrong), invalid=True)
            # With a key the request reaches the MCP transport, whatever it makes of it.
            with client.stream(method, path, json=body, headers=bearer("laptop")) as allowed:
                assert allowed.status_code != 401


def test_metrics_auth(
    start_authed_hub: Callable[..., HubProcess], write_config: WriteConfig
) -> None:
    hub = start_authed_hub(
        write_config({"a": stdio_entry("everything_stdio.py")}), extra_args=("--metrics-auth",)
    )
    with anonymous(hub) as client:
        assert_refused(client.get("/metrics"), invalid=False)
        assert client.get("/healthz").status_code == 200
    assert scrape(hub).value("mcphub_hub_state", state="ready") == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--host", "0.0.0.0"),
            "Error: refusing to listen on 0.0.0.0 without API keys: give --auth-token-file"
            " or MCP_HUB_AUTH_TOKENS, or --insecure to allow it",
        ),
        (
            ("--metrics-auth",),
            "Error: --metrics-auth needs API keys (--auth-token-file or MCP_HUB_AUTH_TOKENS)",
        ),
    ],
)
def test_refuses_to_start_unprotected(
    start_hub: StartHub, write_config: WriteConfig, args: tuple[str, ...], message: str
) -> None:
    hub = start_hub(write_config({}), extra_args=args, wait=False)
    assert hub.proc is not None and hub.proc.wait(30) == 1
    assert hub.stderr_path.read_text().strip() == message


def test_insecure_allows_a_public_host(start_hub: StartHub, write_config: WriteConfig) -> None:
    hub = start_hub(write_config({}), extra_args=("--host", "0.0.0.0", "--insecure"))
    assert hub.api("GET", "/api/servers").status_code == 200


def test_bad_token_file_is_fatal_without_echoing_it(
    start_hub: StartHub, write_config: WriteConfig, tmp_path: Path
) -> None:
    short = "tiny-secret-42"
    tokens = tmp_path / "tokens"
    tokens.write_text(f"ok:{TOKENS['ci']}\nweak:{short}\n")
    tokens.chmod(0o644)
    hub = start_hub(write_config({}), extra_args=("--auth-token-file", str(tokens)), wait=False)
    assert hub.proc is not None and hub.proc.wait(30) == 1
    *warnings, error = hub.stderr_path.read_text().strip().splitlines()
    assert error == f"Error: token file {tokens}, line 2: the token is shorter than 16 characters"
    # Readable by others, which is worth a warning.
    assert [json.loads(line)["message"] for line in warnings] == [
        f"Token file {tokens} is readable by other users; chmod 600 it"
    ]
    assert short not in hub.log_text() and TOKENS["ci"] not in hub.log_text()


class EventReader:
    """Reads ``/api/events`` with a key on a thread, keeping the raw text."""

    def __init__(self, hub: HubProcess) -> None:
        self.chunks: list[str] = []
        self.connected = threading.Event()
        self.client = httpx.Client(
            base_url=str(hub.client.base_url),
            headers=bearer("laptop"),
            timeout=httpx.Timeout(10, read=None),
        )
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        assert self.connected.wait(10)

    def _read(self) -> None:
        try:
            with self.client.stream("GET", "/api/events") as response:
                assert response.status_code == 200
                self.connected.set()
                for text in response.iter_text():
                    self.chunks.append(text)
        except Exception:
            pass  # closed by close(), or the hub stopped
        finally:
            self.connected.set()

    def close(self) -> str:
        self.client.close()
        self.thread.join(10)
        return "".join(self.chunks)


def test_planted_tokens_never_leak(
    start_authed_hub: Callable[..., HubProcess], write_config: WriteConfig, hub_home: Path
) -> None:
    config = write_config(
        {
            "a": stdio_entry("everything_stdio.py"),
            # The hub drops MCP_HUB_AUTH_TOKENS from its environment once read.
            "sneaky": stdio_entry("everything_stdio.py", env={"X": "${MCP_HUB_AUTH_TOKENS}"}),
        }
    )
    hub = start_authed_hub(config, extra_args=("--log-level", "debug"))
    events = EventReader(hub)
    seen: list[str] = []

    def keep(response: httpx.Response) -> httpx.Response:
        seen.append(json.dumps(dict(response.headers)) + response.text)
        return response

    with anonymous(hub) as client:
        for headers in (
            {"Authorization": f"Bearer {WRONG_TOKEN}"},
            {"X-API-Key": WRONG_TOKEN},
            {"Authorization": f"Basic {TOKENS['ci']}"},
            {"Authorization": f"Bearer {TOKENS['ci']}x"},
        ):
            keep(client.get("/api/servers", headers=headers))
            keep(client.post("/api/servers/tools", headers=headers, json={"server_name": "a"}))
    for path in ("/api/health", "/api/servers", "/api/workspaces", "/api/refresh"):
        keep(hub.api("GET", path))
    leaked = keep(
        hub.api(
            "POST",
            "/api/servers/tools",
            {"server_name": "a", "tool": "env", "arguments": {"name": "MCP_HUB_AUTH_TOKENS"}},
        )
    )
    assert leaked.json()["result"]["content"][0]["text"] == "<unset>"
    sneaky = keep(hub.api("POST", "/api/servers/info", {"server_name": "sneaky"})).json()
    assert sneaky["server"]["error"] == "Variable 'MCP_HUB_AUTH_TOKENS' not found"
    keep(hub.api("POST", "/api/restart"))
    metrics_text = scrape(hub).text
    assert 'key="ci"' in metrics_text and 'key="laptop"' in metrics_text
    seen.append(metrics_text)
    assert hub.stop() == 0
    seen.append(events.close())
    seen.append(hub.log_text())
    seen += [path.read_text() for path in hub_home.rglob("*.log")]
    assert [path for path in hub_home.rglob("*.log")], "the log file was read too"
    assert "Refused GET /api/servers" in hub.log_text()

    everything = "\n".join(seen)
    assert "event: " in everything  # the event stream was read
    for secret in (*TOKENS.values(), WRONG_TOKEN):
        assert secret not in everything
        assert secret[8:20] not in everything  # not even a piece of it
