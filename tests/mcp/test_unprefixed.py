"""Unprefixed mode of the aggregated /mcp: unique names pass unchanged, collisions keep the prefix.

One hub with ``"mcpEndpoint": {"unprefixed": true}`` in its config and three servers: ``a`` and
``b`` (both ``everything_stdio.py``: every name collides) and ``solo``
(``conformance_server.py``: every name is its own). ``check-config --unprefixed`` reports the
same collisions from the command line.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.test_cli import run_cli
from tests.conftest import stdio_entry
from tests.helpers import HubProcess
from tests.hubs import running_hub
from tests.mcp.clients import handshake

SERVERS = {
    "a": stdio_entry("everything_stdio.py"),
    "b": stdio_entry("everything_stdio.py"),
    "solo": stdio_entry("conformance_server.py"),
}


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    settings = {"mcpEndpoint": {"unprefixed": True}}
    root = tmp_path_factory.mktemp("unprefixed")
    with running_hub(root, SERVERS, settings=settings) as process:
        for name in SERVERS:
            process.wait_status(name, "connected")
        yield process


async def test_unique_names_pass_unchanged_and_collisions_keep_the_prefix(
    hub: HubProcess,
) -> None:
    async with handshake(f"http://127.0.0.1:{hub.port}/mcp") as session:
        tools = {tool.name for tool in (await session.list_tools()).tools}
        assert {"test_simple_text", "a__echo", "b__echo"} <= tools
        assert not {"echo", "solo__test_simple_text"} & tools
        resources = {r.uri for r in (await session.list_resources()).resources}
        assert {"test://static-text", "a+fixture://readme", "b+fixture://readme"} <= resources
        templates = {
            t.uri_template for t in (await session.list_resource_templates()).resource_templates
        }
        assert {"test://template/{id}/data", "b+fixture://items/{id}"} <= templates

        called = await session.call_tool("test_simple_text", {})
        assert called.content[0].text == "This is a simple text response for testing."  # type: ignore[union-attr]
        echoed = await session.call_tool("b__echo", {"message": "hi"})
        assert echoed.content[0].text == "Echo: hi"  # type: ignore[union-attr]
        # URIs built from templates, with and without the namespace; contents say them back
        plain = await session.read_resource("test://template/7/data")
        assert plain.contents[0].uri == "test://template/7/data"
        assert json.loads(plain.contents[0].text)["id"] == "7"  # type: ignore[union-attr]
        spaced = await session.read_resource("b+fixture://items/3")
        assert spaced.contents[0].uri == "b+fixture://items/3"
        assert spaced.contents[0].text == "item 3"  # type: ignore[union-attr]


def test_health_lists_the_collisions(hub: HubProcess) -> None:
    endpoint = hub.api("GET", "/api/health").json()["mcpEndpoint"]
    assert endpoint["unprefixed"] is True
    collisions = endpoint["nameCollisions"]
    assert {"kind": "tools", "name": "echo", "servers": ["a", "b"]} in collisions
    readme = {"kind": "resources", "name": "fixture://readme", "servers": ["a", "b"]}
    assert readme in collisions
    assert not [c for c in collisions if "solo" in c["servers"]]


def test_check_config_reports_the_collisions(tmp_path: Path) -> None:
    config = tmp_path / "servers.json"
    config.write_text(json.dumps({"mcpServers": SERVERS}))
    plain = run_cli("check-config", "-c", str(config), cwd=tmp_path)
    assert plain.returncode == 0 and "warning" not in plain.stderr  # no servers started
    checked = run_cli("check-config", "--unprefixed", "-c", str(config), cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr  # collisions are warnings
    warnings = checked.stderr.splitlines()
    expected = "warning: tools 'echo' is defined by 'a', 'b': /mcp publishes it with"
    assert any(line.startswith(expected) for line in warnings), checked.stderr
    assert not [line for line in warnings if "test_simple_text" in line]
