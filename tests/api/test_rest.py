"""The REST API of mcp-hub 4.2.1 against a real hub with real upstreams.

One hub per module (starting servers is the slow part); tests that change server
state restore it. Shapes are compared with the captured golden responses.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import stdio_entry
from tests.helpers import HubProcess, ServerProcess, fixture_server

# Shapes captured from mcp-hub 4.2.1 (shared/contract/golden/rest), in its key order.
SERVER_INFO_KEYS = [
    "name",
    "displayName",
    "description",
    "transportType",
    "status",
    "error",
    "capabilities",
    "uptime",
    "lastStarted",
    "authorizationUrl",
    "serverInfo",
    "config_source",
]
HEALTH_KEYS = {
    "status",
    "state",
    "server_id",
    "version",
    "activeClients",
    "timestamp",
    "servers",
    "connections",
    "mcpEndpoint",
    "workspaces",
}
#: A workspace cache entry's keys, in mcp-hub's order.
WORKSPACE_KEYS = [
    "cwd",
    "config_files",
    "pid",
    "port",
    "startTime",
    "state",
    "activeConnections",
    "shutdownStartedAt",
    "shutdownDelay",
]
EMPTY_CAPABILITIES: dict[str, list[Any]] = {
    "tools": [],
    "resources": [],
    "resourceTemplates": [],
    "prompts": [],
}


@pytest.fixture(scope="module")
def remote() -> Iterator[ServerProcess]:
    with fixture_server("http_server.py") as server:
        yield server


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory, remote: ServerProcess) -> Iterator[HubProcess]:
    root = tmp_path_factory.mktemp("rest")
    home = root / "home"
    home.mkdir()
    config = root / "servers.json"
    config.write_text(
        json.dumps(
            {
                "mcpServers": {
                    "everything": stdio_entry("everything_stdio.py", env={"FIXTURE_TOKEN": "abc"}),
                    "paginated": stdio_entry("paginated_stdio.py"),
                    "remote": {"url": remote.url, "name": "Remote fixture", "description": "HTTP"},
                    "off": stdio_entry("everything_stdio.py", disabled=True),
                    "broken": {"command": ""},
                    "missing": {"command": "/nonexistent/bin/mcp-server"},
                }
            }
        )
    )
    process = HubProcess([str(config)], home=home, cwd=root)
    process.start()
    process.wait_ready()
    yield process
    assert process.stop() == 0


def assert_envelope(response: Any, status: int, error: str, code: str | int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert list(body) == ["error", "code", "data", "timestamp"]
    assert body["error"] == error
    assert body["code"] == code
    return body


def test_health_shape(hub: HubProcess) -> None:
    health = hub.api("GET", "/api/health").json()
    assert HEALTH_KEYS <= set(health)
    assert health["status"] == "ok"
    assert health["server_id"] == "mcp-hub"
    assert health["version"] == "4.2.1"
    assert health["implementation"]["name"] == "tornadohub"
    assert health["state"] == "ready"
    assert health["workspaces"]["current"] == str(hub.port)
    entry = health["workspaces"]["allActive"][str(hub.port)]
    assert set(entry) == set(WORKSPACE_KEYS)
    assert entry["pid"] == hub.pid
    assert [s["name"] for s in health["servers"]] == [
        "everything",
        "paginated",
        "remote",
        "off",
        "broken",
        "missing",
    ]
    # mcp-hub's keys, plus tornadohub's profiles and filterErrors (issue 16)
    assert set(health["mcpEndpoint"]) == {
        "activeClients",
        "registeredCapabilities",
        "totalCapabilities",
        "profiles",
        "filterErrors",
    }
    assert health["mcpEndpoint"]["profiles"] == []
    assert health["mcpEndpoint"]["filterErrors"] == []
    assert set(health["connections"]) == {"totalConnections", "connections"}


def test_server_info_matches_golden_keys(hub: HubProcess) -> None:
    info = hub.server("everything")
    assert list(info) == SERVER_INFO_KEYS
    assert info["status"] == "connected"
    assert info["transportType"] == "stdio"
    assert info["error"] is None
    assert info["serverInfo"]["name"] == "fixture-everything"
    assert info["config_source"].endswith("servers.json")
    tools = {t["name"] for t in info["capabilities"]["tools"]}
    assert {"echo", "add", "fail", "slow"} <= tools
    assert info["capabilities"]["resources"][0]["uri"] == "fixture://readme"
    assert info["capabilities"]["resourceTemplates"][0]["uriTemplate"] == "fixture://items/{id}"
    assert {p["name"] for p in info["capabilities"]["prompts"]} == {"simple", "weather"}


def test_remote_server_info(hub: HubProcess) -> None:
    info = hub.server("remote")
    assert info["status"] == "connected"
    assert info["transportType"] == "sse"
    assert info["displayName"] == "Remote fixture"
    assert info["description"] == "HTTP"
    assert info["serverInfo"]["name"] == "fixture-http"


def test_pagination_is_followed(hub: HubProcess) -> None:
    caps = hub.server("paginated")["capabilities"]
    assert [t["name"] for t in caps["tools"]] == [f"tool_{i:02d}" for i in range(25)]
    assert len(caps["resources"]) == 12
    assert len(caps["resourceTemplates"]) == 5
    assert len(caps["prompts"]) == 7


def test_disabled_and_invalid_servers(hub: HubProcess) -> None:
    off = hub.server("off")
    assert off["status"] == "disabled"
    assert off["capabilities"] == EMPTY_CAPABILITIES
    broken = hub.server("broken")
    assert broken["status"] == "disconnected"
    assert broken["error"] == "Server 'broken' missing command value"
    missing = hub.server("missing")
    assert missing["status"] in ("disconnected", "connecting")
    assert "ENOENT" in (missing["error"] or "") or missing["status"] == "connecting"


def test_servers_list(hub: HubProcess) -> None:
    body = hub.api("GET", "/api/servers").json()
    assert list(body) == ["servers", "timestamp"]
    assert len(body["servers"]) == 6


def test_tool_calls(hub: HubProcess) -> None:
    response = hub.api(
        "POST",
        "/api/servers/tools",
        {"server_name": "everything", "tool": "echo", "arguments": {"message": "hello golden"}},
    )
    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["result", "timestamp"]
    assert body["result"]["content"] == [{"type": "text", "text": "Echo: hello golden"}]
    added = hub.api(
        "POST",
        "/api/servers/tools",
        {"server_name": "everything", "tool": "add", "arguments": {"a": 2, "b": 40}},
    ).json()["result"]
    assert added["structuredContent"] == {"result": 42}
    remote = hub.api(
        "POST",
        "/api/servers/tools",
        {"server_name": "remote", "tool": "echo", "arguments": {"message": "hello remote"}},
    ).json()["result"]
    assert remote["content"][0]["text"] == "Echo: hello remote"
    paged = hub.api(
        "POST", "/api/servers/tools", {"server_name": "paginated", "tool": "tool_24"}
    ).json()["result"]
    assert paged["content"][0]["text"] == "tool_24 ok"


def test_tool_error_result_is_200(hub: HubProcess) -> None:
    response = hub.api(
        "POST",
        "/api/servers/tools",
        {"server_name": "everything", "tool": "fail", "arguments": {"message": "boom"}},
    )
    assert response.status_code == 200
    assert response.json()["result"] == {
        "content": [{"type": "text", "text": "boom"}],
        "isError": True,
    }


def test_tool_errors(hub: HubProcess) -> None:
    body = assert_envelope(
        hub.api(
            "POST",
            "/api/servers/tools",
            {"server_name": "everything", "tool": "no-such-tool", "arguments": {}},
        ),
        500,
        "Tool not found",
        "TOOL_ERROR",
    )
    assert body["data"]["server"] == "everything"
    assert "echo" in body["data"]["availableTools"]
    body = assert_envelope(
        hub.api(
            "POST",
            "/api/servers/tools",
            {"server_name": "no-such-server", "tool": "echo", "arguments": {}},
        ),
        404,
        "Server not found",
        "SERVER_NOT_FOUND",
    )
    assert body["data"] == {"server": "no-such-server", "operation": "tool_call", "tool": "echo"}
    body = assert_envelope(
        hub.api("POST", "/api/servers/tools", {"server_name": "everything"}),
        400,
        "Missing tool name",
        "VALIDATION_ERROR",
    )
    assert body["data"] == {"field": "tool"}
    assert_envelope(
        hub.api("POST", "/api/servers/tools", {"tool": "echo"}),
        400,
        "Missing server name",
        "VALIDATION_ERROR",
    )
    body = assert_envelope(
        hub.api(
            "POST",
            "/api/servers/tools",
            {"server_name": "everything", "tool": "echo", "arguments": "message=hi"},
        ),
        500,
        "Invalid arguments",
        "TOOL_ERROR",
    )
    assert body["data"] == {"server": "everything", "tool": "echo", "args": "message=hi"}
    body = assert_envelope(
        hub.api(
            "POST", "/api/servers/tools", {"server_name": "off", "tool": "echo", "arguments": {}}
        ),
        500,
        "Server not initialized",
        "TOOL_ERROR",
    )
    assert body["data"] == {"server": "off", "tool": "echo"}


def test_upstream_mcp_error_keeps_its_code(hub: HubProcess) -> None:
    response = hub.api(
        "POST",
        "/api/servers/tools",
        {"server_name": "everything", "tool": "add", "arguments": {"a": "x"}},
    )
    # Invalid arguments are reported by the fixture as a tool error result (SDK behaviour).
    assert response.status_code == 200
    assert response.json()["result"]["isError"] is True


def test_request_timeout(hub: HubProcess) -> None:
    body = assert_envelope(
        hub.api(
            "POST",
            "/api/servers/tools",
            {
                "server_name": "everything",
                "tool": "slow",
                "arguments": {"seconds": 30},
                "request_options": {"timeout": 300},
            },
        ),
        500,
        "MCP error -32001: Request 'tools/call' timed out",
        -32001,
    )
    assert body["data"]["server"] == "everything"
    ok = hub.api(
        "POST",
        "/api/servers/tools",
        {"server_name": "everything", "tool": "echo", "arguments": {"message": "after"}},
    )
    assert ok.status_code == 200
    bad = hub.api(
        "POST",
        "/api/servers/tools",
        {
            "server_name": "everything",
            "tool": "echo",
            "arguments": {"message": "x"},
            "request_options": {"timeout": "soon"},
        },
    )
    assert_envelope(
        bad,
        400,
        "request_options.timeout must be a positive number of milliseconds",
        "VALIDATION_ERROR",
    )


def test_oversized_body_is_413(hub: HubProcess) -> None:
    big = json.dumps({"server_name": "everything", "pad": "x" * (5 * 1024 * 1024)})
    response = hub.api(
        "POST", "/api/servers/tools", content=big, headers={"Content-Type": "application/json"}
    )
    assert_envelope(response, 413, "Request body too large", "PAYLOAD_TOO_LARGE")


def test_resources(hub: HubProcess) -> None:
    static = hub.api(
        "POST", "/api/servers/resources", {"server_name": "everything", "uri": "fixture://readme"}
    ).json()
    assert static["result"]["contents"][0]["text"] == "fixture readme"
    assert static["result"]["contents"][0]["uri"] == "fixture://readme"
    templ = hub.api(
        "POST", "/api/servers/resources", {"server_name": "everything", "uri": "fixture://items/7"}
    ).json()
    assert templ["result"]["contents"][0]["text"] == "item 7"
    unknown = hub.api(
        "POST", "/api/servers/resources", {"server_name": "everything", "uri": "fixture://nope"}
    )
    assert unknown.status_code == 500
    assert isinstance(unknown.json()["code"], int)
    assert unknown.json()["data"]["uri"] == "fixture://nope"
    assert_envelope(
        hub.api("POST", "/api/servers/resources", {"server_name": "everything"}),
        400,
        "Missing resource URI",
        "VALIDATION_ERROR",
    )
    body = assert_envelope(
        hub.api("POST", "/api/servers/resources", {"server_name": "nope", "uri": "x://y"}),
        404,
        "Server not found",
        "SERVER_NOT_FOUND",
    )
    assert body["data"] == {"server": "nope", "operation": "resource_read", "uri": "x://y"}


def test_prompts(hub: HubProcess) -> None:
    simple = hub.api(
        "POST", "/api/servers/prompts", {"server_name": "everything", "prompt": "simple"}
    ).json()
    assert simple["result"]["messages"][0]["role"] == "user"
    weather = hub.api(
        "POST",
        "/api/servers/prompts",
        {"server_name": "remote", "prompt": "simple"},
    )
    assert weather.status_code == 200
    args = hub.api(
        "POST",
        "/api/servers/prompts",
        {
            "server_name": "everything",
            "prompt": "weather",
            "arguments": {"city": "Lisbon", "state": "Lisboa"},
        },
    ).json()
    assert args["result"]["messages"][0]["content"]["text"] == "What's weather in Lisbon, Lisboa?"
    missing_arg = hub.api(
        "POST",
        "/api/servers/prompts",
        {"server_name": "everything", "prompt": "weather", "arguments": {}},
    )
    assert missing_arg.status_code == 500
    assert isinstance(missing_arg.json()["code"], int)  # the upstream's JSON-RPC code, verbatim
    assert missing_arg.json()["error"].startswith("MCP error ")
    body = assert_envelope(
        hub.api("POST", "/api/servers/prompts", {"server_name": "everything", "prompt": "nope"}),
        500,
        "Prompt not found",
        "TOOL_ERROR",
    )
    assert body["data"]["availablePrompts"] == ["simple", "weather"]
    assert_envelope(
        hub.api("POST", "/api/servers/prompts", {"server_name": "everything"}),
        400,
        "Missing prompt name",
        "VALIDATION_ERROR",
    )


def test_refresh(hub: HubProcess) -> None:
    body = hub.api("POST", "/api/servers/refresh", {"server_name": "paginated"}).json()
    assert list(body) == ["status", "server", "timestamp"]
    assert len(body["server"]["capabilities"]["tools"]) == 25
    assert_envelope(
        hub.api("POST", "/api/servers/refresh", {"server_name": "nope"}),
        404,
        "Server not found",
        "SERVER_NOT_FOUND",
    )
    everything = hub.api("GET", "/api/refresh").json()
    assert everything["status"] == "ok"
    assert [s["name"] for s in everything["servers"]][:3] == ["everything", "paginated", "remote"]
    wrong_method = hub.api("POST", "/api/refresh")  # mcp-hub: an HTML 404
    assert_envelope(wrong_method, 405, "Cannot POST /api/refresh", "METHOD_NOT_ALLOWED")


def test_stop_start_remote(hub: HubProcess) -> None:
    stopped = hub.api("POST", "/api/servers/stop", {"server_name": "remote"}).json()
    assert stopped["status"] == "ok"
    server = stopped["server"]
    assert server["status"] == "disconnected"
    assert server["capabilities"] == EMPTY_CAPABILITIES
    assert (server["uptime"], server["lastStarted"], server["serverInfo"]) == (0, None, None)
    assert server["error"] is None
    assert_envelope(
        hub.api(
            "POST",
            "/api/servers/tools",
            {"server_name": "remote", "tool": "echo", "arguments": {"message": "x"}},
        ),
        500,
        "Server not initialized",
        "TOOL_ERROR",
    )
    started = hub.api("POST", "/api/servers/start", {"server_name": "remote"}).json()
    assert started["server"]["status"] == "connected"
    assert started["server"]["lastStarted"] is not None
    again = hub.api("POST", "/api/servers/start", {"server_name": "remote"}).json()
    assert again["server"]["lastStarted"] == started["server"]["lastStarted"]


def test_stop_disable_and_reenable(hub: HubProcess) -> None:
    stopped = hub.api("POST", "/api/servers/stop?disable=true", {"server_name": "paginated"})
    assert stopped.json()["server"]["status"] == "disabled"
    listed = {s["name"]: s for s in hub.api("GET", "/api/servers").json()["servers"]}
    assert listed["paginated"]["status"] == "disabled"
    started = hub.api("POST", "/api/servers/start", {"server_name": "paginated"}).json()
    assert started["server"]["status"] == "connected"
    off = hub.api("POST", "/api/servers/start", {"server_name": "off"}).json()
    assert off["server"]["status"] == "connected"
    again = hub.api("POST", "/api/servers/stop?disable=true", {"server_name": "off"}).json()
    assert again["server"]["status"] == "disabled"


def test_start_stop_errors(hub: HubProcess) -> None:
    assert_envelope(
        hub.api("POST", "/api/servers/start", {"server_name": "nope"}),
        404,
        "Server not found",
        "SERVER_NOT_FOUND",
    )
    assert_envelope(
        hub.api("POST", "/api/servers/start", {}), 400, "Missing server name", "VALIDATION_ERROR"
    )
    assert_envelope(
        hub.api("POST", "/api/servers/stop", {"server_name": "nope"}),
        404,
        "Server not found",
        "SERVER_NOT_FOUND",
    )
    body = assert_envelope(
        hub.api("POST", "/api/servers/start", {"server_name": "broken"}),
        500,
        "Failed to connect to \"broken\" MCP server: Server 'broken' missing command value",
        "CONNECTION_ERROR",
    )
    assert body["data"]["server"] == "broken"


def test_workspaces(hub: HubProcess) -> None:
    body = hub.api("GET", "/api/workspaces").json()
    entry = body["workspaces"][str(hub.port)]
    assert entry["config_files"] == hub.configs
    assert entry["state"] == "active"


def test_child_env_is_the_allow_list_plus_config(hub: HubProcess) -> None:
    def env(name: str) -> str:
        result = hub.api(
            "POST",
            "/api/servers/tools",
            {"server_name": "everything", "tool": "env", "arguments": {"name": name}},
        ).json()["result"]
        return str(result["content"][0]["text"])

    assert env("FIXTURE_TOKEN") == "abc"
    assert env("PATH") != "<unset>"
    assert env("PYTHONPATH") == "<unset>"  # the hub's own environment is not inherited


def test_child_stderr_reaches_the_hub_log(hub: HubProcess) -> None:
    messages = [e["message"] for e in hub.log_entries()]
    assert "everything stderr: fixture-everything stderr hello" in messages
    assert all(
        isinstance(e["timestamp"], str) and e["type"] in ("debug", "info", "warn", "error")
        for e in hub.log_entries()
    )
