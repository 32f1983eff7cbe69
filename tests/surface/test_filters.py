"""Per-server rules on every MCP endpoint: mcphub.nvim's ``disabled_*`` lists and glob filters.

One ``--watch`` hub for the module, three servers:

* ``everything`` (``everything_stdio.py``), whose ``disabled_tools`` the tests edit in the
  config file as mcphub.nvim does (``{}`` is how its Lua encoder writes an empty list);
* ``filtered`` (``everything_stdio.py`` again) with ``tools``/``prompts``/``resources``
  include and exclude globs and a ``disabled_resources`` entry;
* ``broken`` (``conformance_server.py``) whose ``tools`` filter and ``disabled_prompts`` are
  not usable: those kinds are hidden, the rest of it and of the hub keeps running.

A disabled tool leaves the lists of every connected client live (``tools/list_changed``,
clients of both SDKs, every transport and era) and a call of it fails with the unknown-tool
error, while the REST routes keep mcp-hub's behaviour (they ignore these keys).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import mcp_types as types
import pytest
from mcp import MCPError

from tests.api.test_cli import run_cli
from tests.conftest import stdio_entry
from tests.helpers import HubProcess
from tests.hubs import running_hub
from tests.mcp.clients import handshake
from tests.surface.clients import (
    PY_CLIENTS,
    TOOLS_CHANGED,
    TS_CLIENTS,
    agent,
    expect,
    refused,
    rest,
    text,
    tool_names,
    write_config,
)

FILTERED = {
    "tools": {"include": ["{echo,add,fail}", "sl?w"], "exclude": ["fail"]},
    "prompts": {"exclude": ["weather"]},
    "resources": {"exclude": ["fixture://items/{id}"]},
    "disabled_resources": ["fixture://readme"],
    "disabled_resourceTemplates": {},
}
BROKEN = {"tools": {"include": "test_*"}, "disabled_prompts": "test_simple_prompt"}
BROKEN_ERRORS = [
    "Server 'broken' has invalid tools.include config: must be an array of glob patterns,"
    " not a string",
    "Server 'broken' has invalid disabled_prompts config: must be an array of strings",
]


def servers(disabled_tools: Any) -> dict[str, Any]:
    return {
        "everything": stdio_entry("everything_stdio.py", disabled_tools=disabled_tools),
        "filtered": stdio_entry("everything_stdio.py", **FILTERED),
        "broken": stdio_entry("conformance_server.py", **BROKEN),
    }


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    root = tmp_path_factory.mktemp("filters")
    with running_hub(root, servers({}), extra_args=("--watch",)) as process:
        for name in ("everything", "filtered", "broken"):
            process.wait_status(name, "connected")
        yield process


def config_path(hub: HubProcess) -> Path:
    return Path(hub.configs[0])


# ------------------------------------------------------------- static filters
async def test_filters_shape_every_list_and_what_can_be_called(hub: HubProcess) -> None:
    async with handshake(f"http://127.0.0.1:{hub.port}/mcp") as session:
        tools = {tool.name for tool in (await session.list_tools()).tools}
        assert {t for t in tools if t.startswith("filtered__")} == {
            "filtered__echo",
            "filtered__add",
            "filtered__slow",
        }
        assert not [t for t in tools if t.startswith("broken__")]  # its unusable filter
        prompts = {prompt.name for prompt in (await session.list_prompts()).prompts}
        assert "filtered__simple" in prompts and "filtered__weather" not in prompts
        assert not [p for p in prompts if p.startswith("broken__")]
        resources = {r.uri for r in (await session.list_resources()).resources}
        assert "filtered+fixture://readme" not in resources
        assert "everything+fixture://readme" in resources
        assert "broken+test://static-text" in resources  # its resources have no rule
        templates = {
            t.uri_template for t in (await session.list_resource_templates()).resource_templates
        }
        assert "filtered+fixture://items/{id}" not in templates
        assert "everything+fixture://items/{id}" in templates

        echoed = await session.call_tool("filtered__echo", {"message": "hi"})
        assert echoed.content[0].text == "Echo: hi"  # type: ignore[union-attr]
        for hidden in ("filtered__fail", "filtered__pid", "broken__test_simple_text"):
            with pytest.raises(MCPError) as error:
                await session.call_tool(hidden, {})
            assert error.value.code == types.INVALID_PARAMS
            assert error.value.message == f"Unknown tool: {hidden}"
        with pytest.raises(MCPError) as error:
            await session.get_prompt("filtered__weather", {"city": "a", "state": "b"})
        assert error.value.message == "Unknown prompt: filtered__weather"
        # a hidden resource, and a URI built from a hidden template, in both URI forms
        for uri in (
            "filtered+fixture://readme",
            "filtered__fixture://readme",
            "filtered+fixture://items/1",
        ):
            with pytest.raises(MCPError) as error:
                await session.read_resource(uri)
            assert error.value.message == f"Unknown resource: {uri}"
        read = await session.read_resource("everything+fixture://items/1")
        assert read.contents[0].text == "item 1"  # type: ignore[union-attr]


async def test_the_servers_own_endpoint_applies_its_rules(hub: HubProcess) -> None:
    async with handshake(f"http://127.0.0.1:{hub.port}/servers/filtered/mcp") as session:
        tools = {tool.name for tool in (await session.list_tools()).tools}
        assert tools == {"echo", "add", "slow"}
        with pytest.raises(MCPError):
            await session.read_resource("fixture://items/2")  # from the hidden template


def test_rest_keeps_mcp_hubs_behaviour(hub: HubProcess) -> None:
    """mcp-hub's REST routes ignore the rules: a filtered tool is still called there."""
    called = hub.api(
        "POST",
        "/api/servers/tools",
        {"server_name": "filtered", "tool": "fail", "arguments": {"message": "rest"}},
    )
    assert called.status_code == 200, called.text
    assert called.json()["result"]["content"][0]["text"] == "rest"
    info = hub.server("filtered")
    assert "pid" in {tool["name"] for tool in info["capabilities"]["tools"]}


def test_health_reports_the_unusable_rules_and_the_rest_runs(hub: HubProcess) -> None:
    health = hub.api("GET", "/api/health").json()
    assert health["mcpEndpoint"]["filterErrors"] == BROKEN_ERRORS
    assert hub.server("broken")["status"] == "connected"
    logged = hub.log_text()
    assert f"Invalid tool filter or profile: {BROKEN_ERRORS[0]}" in logged


def test_check_config_reports_the_unusable_rules(tmp_path: Path) -> None:
    config = tmp_path / "servers.json"
    config.write_text(json.dumps({"mcpServers": servers({})}))
    checked = run_cli("check-config", "-c", str(config), cwd=tmp_path)
    assert checked.returncode == 1
    assert checked.stderr.splitlines() == [*BROKEN_ERRORS, f"2 error(s) in {config}"]
    # the same keys, usable: the config is valid (mcp-hub 4.2.1 reads it the same)
    valid = {
        "mcpServers": {
            "a": stdio_entry("everything_stdio.py", disabled_tools=["echo"], **FILTERED),
        }
    }
    config.write_text(json.dumps(valid))
    assert run_cli("check-config", "-c", str(config), cwd=tmp_path).returncode == 0


# ------------------------------------------------------------------ live edits
async def disable_echo_live(hub: HubProcess, clients: list[str], tmp_path: Path) -> None:
    """``disabled_tools: ["echo"]`` written into the config file reaches every client."""
    config = config_path(hub)
    async with contextlib.AsyncExitStack() as stack:
        agents = [
            await stack.enter_async_context(agent(client, hub, "/mcp", tmp_path))
            for client in clients
        ]
        for client in agents:
            assert "everything__echo" in await tool_names(client)
        try:
            write_config(config, {"mcpServers": servers(["echo"])})
            for client in agents:
                await expect(client, TOOLS_CHANGED, 1)
                names = await tool_names(client)
                assert "everything__echo" not in names and "everything__add" in names
                message = await refused(client, "everything__echo", {"message": "x"})
                assert "Unknown tool: everything__echo" in message
            # REST still calls it, as mcp-hub does
            called = await rest(
                hub,
                "POST",
                "/api/servers/tools",
                {"server_name": "everything", "tool": "echo", "arguments": {"message": "r"}},
            )
            assert called["result"]["content"][0]["text"] == "Echo: r"
        finally:
            write_config(config, {"mcpServers": servers({})})
        for client in agents:
            await expect(client, TOOLS_CHANGED, 2)
            assert "everything__echo" in await tool_names(client)
            echoed = await client.call("everything__echo", {"message": "back"})
            assert text(echoed.result) == "Echo: back"
        for client in agents:
            assert (await client.seen()).errors == []
    assert hub.server("everything")["status"] == "connected"


async def test_a_tool_disabled_in_the_config_file_leaves_python_clients_live(
    hub: HubProcess, tmp_path: Path
) -> None:
    await disable_echo_live(hub, PY_CLIENTS, tmp_path)


async def test_a_tool_disabled_in_the_config_file_leaves_typescript_clients_live(
    hub: HubProcess, tmp_path: Path
) -> None:
    await disable_echo_live(hub, TS_CLIENTS, tmp_path)


def test_unknown_routes_of_the_endpoint_family(hub: HubProcess) -> None:
    accept = {"Accept": "application/json, text/event-stream"}
    response = httpx.post(
        f"http://127.0.0.1:{hub.port}/servers/nope/mcp", json={}, headers=accept, timeout=10
    )
    assert response.status_code == 404
