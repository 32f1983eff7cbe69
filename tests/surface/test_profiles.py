"""Profiles: named subsets of the hub, each its own MCP endpoint at ``/profiles/<name>/mcp``.

One ``--watch`` hub for the module with ``everything`` and ``conformance`` and three profiles:

* ``alpha``: both servers, but only ``everything``'s tools (``tools.include``) and without its
  ``fixture://readme`` (a resource pattern in mcp-hub's ``<id>__<uri>`` form);
* ``beta``: only ``conformance``, only its ``test://static-*`` resources (a pattern in the
  public ``<namespace>+<uri>`` form);
* ``broken``: unusable (``servers`` is not an array), so not served; the rest runs;
* ``quiet``: ``everything`` in search mode, for the health test alone.

Clients of both SDKs on every transport and era see only their profile's servers and items;
a client of one profile gets ``list_changed`` only when its own visible set changes.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import MCPError

from tests.api.test_cli import run_cli
from tests.conftest import stdio_entry
from tests.helpers import HubProcess, initialize_request, wait_until
from tests.hubs import running_hub
from tests.mcp.clients import handshake
from tests.surface.clients import (
    CLIENTS,
    PROMPTS_CHANGED,
    TOOLS_CHANGED,
    agent,
    expect,
    listening,
    refused,
    rest,
    text,
    tool_names,
    write_config,
)

SERVERS = {
    "everything": stdio_entry("everything_stdio.py"),
    "conformance": stdio_entry("conformance_server.py"),
}
ALPHA = {
    "servers": ["everything", "conformance"],
    "tools": {"include": ["everything__*"], "exclude": ["*__crash"]},
    "resources": {"exclude": ["everything__fixture://readme"]},
}
BETA = {"servers": ["conformance"], "resources": {"include": ["conformance+test://static-*"]}}
QUIET = {"servers": ["everything"], "search": True}  # no other test connects to it
PROFILES = {"alpha": ALPHA, "beta": BETA, "broken": {"servers": "everything"}, "quiet": QUIET}
BROKEN_ERROR = "Profile 'broken' has invalid servers config: must be an array of server names"
ACCEPT = {"Accept": "application/json, text/event-stream"}


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    root = tmp_path_factory.mktemp("profiles")
    settings = {"profiles": PROFILES}
    with running_hub(root, SERVERS, settings=settings, extra_args=("--watch",)) as process:
        for name in SERVERS:
            process.wait_status(name, "connected")
        yield process


def edit_profiles(hub: HubProcess, profiles: dict[str, Any]) -> None:
    write_config(Path(hub.configs[0]), {"mcpServers": SERVERS, "profiles": profiles})


@pytest.mark.parametrize("client", CLIENTS)
async def test_a_profile_sees_only_its_servers(
    client: str, hub: HubProcess, tmp_path: Path
) -> None:
    async with agent(client, hub, "/profiles/alpha/mcp", tmp_path) as alpha:
        names = await tool_names(alpha)
        assert names and all(name.startswith("everything__") for name in names), names
        assert "everything__crash" not in names
        assert "Unknown tool: conformance__test_simple_text" in await refused(
            alpha, "conformance__test_simple_text"
        )
        echoed = await alpha.call("everything__echo", {"message": "alpha"})
        assert text(echoed.result) == "Echo: alpha"
        counts = await alpha.lists()
        assert counts["prompts"] > 2  # conformance's too (everything has 2): no prompt rule
        assert (await alpha.seen()).errors == []
    async with agent(client, hub, "/profiles/beta/mcp", tmp_path) as beta:
        names = await tool_names(beta)
        assert names and all(name.startswith("conformance__") for name in names), names
        assert "Unknown tool: everything__echo" in await refused(
            beta, "everything__echo", {"message": "x"}
        )
        counts = await beta.lists()
        assert (counts["tools"], counts["resources"], counts["resourceTemplates"]) == (
            len(names),
            2,
            0,
        )
        assert (await beta.seen()).errors == []


async def test_resource_patterns_in_either_form(hub: HubProcess) -> None:
    async with handshake(f"http://127.0.0.1:{hub.port}/profiles/alpha/mcp") as alpha:
        resources = {r.uri for r in (await alpha.list_resources()).resources}
        assert "everything+fixture://readme" not in resources
        assert "conformance+test://static-text" in resources
        templates = {
            t.uri_template for t in (await alpha.list_resource_templates()).resource_templates
        }
        assert "everything+fixture://items/{id}" in templates
        read = await alpha.read_resource("everything+fixture://items/5")
        assert read.contents[0].text == "item 5"  # type: ignore[union-attr]
        for uri in ("everything+fixture://readme", "everything__fixture://readme"):
            with pytest.raises(MCPError, match="Unknown resource"):
                await alpha.read_resource(uri)
    async with handshake(f"http://127.0.0.1:{hub.port}/profiles/beta/mcp") as beta:
        resources = {r.uri for r in (await beta.list_resources()).resources}
        assert resources == {"conformance+test://static-text", "conformance+test://static-binary"}
        with pytest.raises(MCPError, match="Unknown resource"):
            await beta.read_resource("conformance+test://template/1/data")  # hidden template
        read = await beta.read_resource("conformance+test://static-text")
        assert read.contents[0].uri == "conformance+test://static-text"


@pytest.mark.parametrize("client", CLIENTS)
async def test_list_changed_reaches_only_the_profiles_whose_set_changed(
    client: str, hub: HubProcess, tmp_path: Path
) -> None:
    """Each client's notifications arrive in order on one stream, and the hub re-syncs every
    view in one pass: a ``list_changed`` wrongly sent for a change would arrive before the
    ``prompts/list_changed`` of a later change, which both profiles see."""

    # the changes are made through /mcp in the client's era: a 2026-07-28 client's lists
    # come from the servers' 2026-07-28 channels, processes of their own over STDIO
    era = "py-2026-07-28" if client == "py-2026-07-28" else "py-streamable"
    added = f"added_for_{client.replace('-', '_')}"
    async with (
        agent(era, hub, "/mcp", tmp_path) as changer,
        agent(client, hub, "/profiles/alpha/mcp", tmp_path) as alpha,
        agent(client, hub, "/profiles/beta/mcp", tmp_path) as beta,
    ):

        async def change(tool: str, **arguments: Any) -> None:
            await changer.call(tool, arguments)

        # conformance's prompts change: both profiles show them
        await listening(
            [alpha, beta],
            PROMPTS_CHANGED,
            lambda: change("conformance__test_trigger_prompt_change"),
        )
        prompts = [(await each.seen()).count(PROMPTS_CHANGED) for each in (alpha, beta)]
        # conformance's tools change: beta shows them, alpha's tools filter hides them
        await change("conformance__test_trigger_tool_change")
        await expect(beta, TOOLS_CHANGED, 1)
        # everything's tools change: alpha shows them, beta has not this server
        await change("everything__add_tool", name=added)
        await expect(alpha, TOOLS_CHANGED, 1)
        await change("conformance__test_trigger_prompt_change")
        await expect(alpha, PROMPTS_CHANGED, prompts[0] + 1)
        await expect(beta, PROMPTS_CHANGED, prompts[1] + 1)
        assert (await alpha.seen()).count(TOOLS_CHANGED) == 1
        assert (await beta.seen()).count(TOOLS_CHANGED) == 1
        assert f"everything__{added}" in await tool_names(alpha)


async def test_profiles_follow_config_edits(hub: HubProcess, tmp_path: Path) -> None:
    """An edited profile notifies its own clients; a removed or broken one ends its sessions
    (404 from then on) while the others and /mcp run on; put back, it is served again."""
    base = f"http://127.0.0.1:{hub.port}"
    try:
        async with (
            agent("py-streamable", hub, "/profiles/alpha/mcp", tmp_path) as alpha,
            agent("py-streamable", hub, "/profiles/beta/mcp", tmp_path) as beta,
        ):
            assert "everything__echo" in await tool_names(alpha)

            async def prompts_change() -> None:
                body = {"server_name": "conformance", "tool": "test_trigger_prompt_change"}
                await rest(hub, "POST", "/api/servers/tools", body)

            await listening([alpha, beta], PROMPTS_CHANGED, prompts_change)
            prompts = (await beta.seen()).count(PROMPTS_CHANGED)
            edited = {**ALPHA, "tools": {"include": ["everything__*"], "exclude": ["*__echo"]}}
            edit_profiles(hub, {**PROFILES, "alpha": edited})
            await expect(alpha, TOOLS_CHANGED, 1)
            assert "everything__echo" not in await tool_names(alpha)
            # beta's set did not change (the same barrier as above)
            await prompts_change()
            await expect(beta, PROMPTS_CHANGED, prompts + 1)
            assert (await beta.seen()).count(TOOLS_CHANGED) == 0

            # beta made unusable: its session ends, its endpoint is 404, alpha runs on
            edit_profiles(hub, {**PROFILES, "alpha": edited, "beta": {"search": "yes"}})
            health = await _wait_profiles(hub, ["alpha", "quiet"])
            assert (
                "Profile 'beta' has invalid search config: must be true or false"
                in (health["mcpEndpoint"]["filterErrors"])
            )
            with pytest.raises(Exception):  # noqa: B017 - the SDK reports the 404 its own way
                await beta.tools()
            assert "everything__add" in await tool_names(alpha)
        async with handshake(f"{base}/mcp") as aggregated:
            assert "conformance__test_simple_text" in {
                tool.name for tool in (await aggregated.list_tools()).tools
            }
        async with httpx.AsyncClient(timeout=10) as http:
            gone = await http.post(
                f"{base}/profiles/beta/mcp", json=initialize_request("t"), headers=ACCEPT
            )
        assert gone.status_code == 404
        assert gone.json()["error"]["message"] == "Profile not found: beta"
    finally:
        edit_profiles(hub, PROFILES)
    await _wait_profiles(hub, ["alpha", "beta", "quiet"])
    async with handshake(f"{base}/profiles/beta/mcp") as beta_again:
        assert (await beta_again.list_tools()).tools


async def _wait_profiles(hub: HubProcess, names: list[str]) -> dict[str, Any]:
    """Until /api/health lists exactly the profiles *names* (the watcher applied the edit)."""

    def listed() -> dict[str, Any] | None:
        health = hub.api("GET", "/api/health").json()
        served = [profile["name"] for profile in health["mcpEndpoint"]["profiles"]]
        return health if served == names else None

    result: dict[str, Any] = await asyncio.to_thread(wait_until, listed)
    return result


def test_unknown_and_unusable_profiles_are_404(hub: HubProcess) -> None:
    base = f"http://127.0.0.1:{hub.port}"
    for name in ("nope", "broken"):
        url = f"{base}/profiles/{name}/mcp"
        posted = httpx.post(url, json=initialize_request("t"), headers=ACCEPT, timeout=10)
        assert posted.status_code == 404, posted.text
        assert posted.json()["error"] == {
            "code": -32600,
            "message": f"Profile not found: {name}",
        }
        legacy = httpx.get(url, headers={"Accept": "text/event-stream"}, timeout=10)
        assert legacy.status_code == 404
        modern = httpx.post(
            url,
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}},
            headers={**ACCEPT, "MCP-Protocol-Version": "2026-07-28"},
            timeout=10,
        )
        assert modern.status_code == 404


async def test_health_and_openapi_list_the_profiles(hub: HubProcess) -> None:
    async with handshake(f"http://127.0.0.1:{hub.port}/profiles/quiet/mcp"):
        health = hub.api("GET", "/api/health").json()["mcpEndpoint"]
    profiles = {profile["name"]: profile for profile in health["profiles"]}
    assert list(profiles) == ["alpha", "beta", "quiet"]
    assert profiles["alpha"] == {
        "name": "alpha",
        "endpoint": "/profiles/alpha/mcp",
        "servers": ["conformance", "everything"],
        "search": False,
        "activeClients": profiles["alpha"]["activeClients"],  # other tests' may linger
    }
    assert profiles["quiet"] == {
        "name": "quiet",
        "endpoint": "/profiles/quiet/mcp",
        "servers": ["everything"],
        "search": True,
        "activeClients": 1,
    }
    assert health["filterErrors"] == [BROKEN_ERROR]
    document = hub.api("GET", "/api/openapi.json").json()
    route = document["paths"]["/profiles/{profile}/mcp"]
    assert set(route) >= {"post", "get", "delete"}
    assert route["post"]["parameters"][0]["name"] == "profile"


def test_check_config_reports_unusable_profiles(tmp_path: Path) -> None:
    config = tmp_path / "servers.json"
    profiles = {
        **PROFILES,
        "typo": {"servers": ["everythin"]},
        "bad name!": {},
        "globs": {"tools": {"exclude": ["{a,b"]}},
    }
    config.write_text(json.dumps({"mcpServers": SERVERS, "profiles": profiles}))
    checked = run_cli("check-config", "-c", str(config), cwd=tmp_path)
    assert checked.returncode == 1
    assert checked.stderr.splitlines() == [
        BROKEN_ERROR,
        "Profile 'typo' names unknown server 'everythin'",
        "Profile 'bad name!' has an invalid name: use letters, digits, '_', '.' and '-'"
        " (at most 64, not starting with '.')",
        "Profile 'globs' has invalid tools.exclude[0] pattern '{a,b': has a '{' without its '}'",
        f"4 error(s) in {config}",
    ]
    config.write_text(json.dumps({"mcpServers": SERVERS, "profiles": {"alpha": ALPHA}}))
    assert run_cli("check-config", "-c", str(config), cwd=tmp_path).returncode == 0
