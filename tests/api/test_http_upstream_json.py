"""An HTTP upstream's odd JSON reaches clients as a STDIO server's does (jsontext).

The upstream is ``tests/servers/odd_json_http.py``: lone surrogate escapes (a Node server
cutting an emoji in half), ``NaN``, ``1e999`` and an answer nested 300 levels, in JSON
bodies, in SSE responses and on the legacy transport's event stream. What the SDK's HTTP
clients read (``initialize``, the lists, everything on the legacy transport) used to be
parsed by pydantic alone: a lone surrogate in ``tools/list`` was a traceback in the log
and a server "connected" with no tools (the legacy transport waited a minute for an
answer it had dropped), and a ``NaN`` in a list reached REST answers as ``NaN``. A list
the hub cannot read (nested too deep to write on) is the server's error, not an empty list.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import httpx
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from tests.helpers import HubProcess, fixture_server

StartHub = Callable[..., HubProcess]
WriteConfig = Callable[..., str]

CUT = "\ufffd"  # what a lone surrogate becomes


def strict_json(response: httpx.Response) -> Any:
    """The body, refusing ``NaN`` and the infinities, as a JSON client's parser does."""

    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} in {response.text[:300]}")

    return json.loads(response.text, parse_constant=refuse)


def entry(kind: str, *flags: str) -> Iterator[dict[str, Any]]:
    """A config entry for the fixture: JSON answers, SSE answers, or the legacy transport."""
    mode = "json" if kind == "legacy" else kind
    with fixture_server("odd_json_http.py", mode, *flags) as server:
        url = server.url.removesuffix("/mcp") + "/sse" if kind == "legacy" else server.url
        yield {"url": url}


@pytest.fixture(params=["json", "sse", "legacy"])
def odd_upstream(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    yield from entry(request.param)


@pytest.fixture(params=["json", "sse", "legacy"])
def deep_list_upstream(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    yield from entry(request.param, "--deep-list")


async def test_an_http_upstreams_odd_json_is_read_as_a_stdio_servers(
    start_hub: StartHub, write_config: WriteConfig, odd_upstream: dict[str, Any]
) -> None:
    hub = start_hub(write_config({"odd": odd_upstream}))
    info = strict_json(hub.api("POST", "/api/servers/info", {"server_name": "odd"}))["server"]
    assert info["status"] == "connected", info
    tools = {tool["name"]: tool for tool in info["capabilities"]["tools"]}
    assert sorted(tools) == ["cut", "deep", "measure", "spoil"], info
    assert tools["cut"]["description"] == f"cuts {CUT}"
    assert tools["measure"]["inputSchema"]["default"] is None
    assert info["capabilities"]["resources"] == [{"uri": "odd://cut", "name": f"cut {CUT}"}]
    assert info["capabilities"]["resourceTemplates"][0]["size"] is None
    assert (
        strict_json(hub.api("GET", "/api/servers"))["servers"][0]["capabilities"]
        == (info["capabilities"])
    )

    def call(tool: str) -> httpx.Response:
        return hub.api("POST", "/api/servers/tools", {"server_name": "odd", "tool": tool})

    cut = strict_json(call("cut"))
    assert cut["result"]["content"][0]["text"] == f"half an emoji: {CUT}"
    measured = strict_json(call("measure"))["result"]["structuredContent"]
    assert measured == {"x": None, "y": None, "z": None, "ok": 1.5}
    deep = call("deep")
    assert deep.status_code == 500 and deep.json()["code"] == -32603, deep.text
    read = hub.api("POST", "/api/servers/resources", {"server_name": "odd", "uri": "odd://cut"})
    assert strict_json(read)["result"]["contents"][0]["text"] == f"half an emoji: {CUT}"

    async with streamable_http_client(f"http://127.0.0.1:{hub.port}/mcp") as (read_s, write_s):
        async with ClientSession(read_s, write_s) as session:
            with anyio.fail_after(20):
                await session.initialize()
                listed = {tool.name: tool for tool in (await session.list_tools()).tools}
                assert listed["odd__cut"].description == f"cuts {CUT}"
                result = await session.call_tool("odd__measure", {})
                assert result.structured_content == {"x": None, "y": None, "z": None, "ok": 1.5}

    assert "Traceback" not in hub.log_text()
    assert hub.stop() == 0


def test_a_list_the_hub_cannot_read_is_the_servers_error(
    start_hub: StartHub, write_config: WriteConfig, deep_list_upstream: dict[str, Any]
) -> None:
    """``tools/list`` nested 300 levels: it was an empty list of a "connected" server."""
    hub = start_hub(write_config({"odd": deep_list_upstream}))
    info = hub.wait_status("odd", "disconnected")
    assert info["error"] == "Could not read tools/list: Answer nested deeper than 200 levels"
    assert info["capabilities"]["tools"] == []
    assert "Traceback" not in hub.log_text()
    assert hub.stop() == 0


@pytest.mark.parametrize("kind", ["sse", "legacy"])
def test_a_changed_list_the_hub_cannot_read_is_the_servers_error(
    start_hub: StartHub, write_config: WriteConfig, kind: str
) -> None:
    """``spoil`` announces a changed list that is nested 300 levels: the refresh used to
    leave the server "connected" with no tools."""
    for config in entry(kind):
        hub = start_hub(write_config({"odd": config}))
        assert hub.server("odd")["status"] == "connected"
        spoil = hub.api("POST", "/api/servers/tools", {"server_name": "odd", "tool": "spoil"})
        assert spoil.status_code == 200, spoil.text
        info = hub.wait_status("odd", "disconnected")
        assert info["error"] == "Could not read tools/list: Answer nested deeper than 200 levels"
        assert "Traceback" not in hub.log_text()
        assert hub.stop() == 0


@pytest.mark.parametrize("kind", ["json", "sse", "legacy"])
def test_a_list_that_is_no_json_rpc_answer_is_the_servers_error(
    start_hub: StartHub, write_config: WriteConfig, kind: str
) -> None:
    """``"error": "boom"``: the SDK's HTTP client called it a parse error with pydantic's
    report; on the legacy transport it dropped it, and the list waited a minute."""
    for config in entry(kind, "--misshapen-list"):
        hub = start_hub(write_config({"odd": config}), wait=False)
        hub.wait_ready(timeout=20)  # the minute the legacy list waited would fail this
        error = hub.wait_status("odd", "disconnected")["error"]
        assert error == "Could not read tools/list: Invalid JSON-RPC response from the server"
        assert hub.stop() == 0


def test_a_refresh_that_meets_an_unreadable_list_answers_with_its_error(
    start_hub: StartHub, write_config: WriteConfig
) -> None:
    """Over JSON answers ``spoil`` spoils the list without announcing it: a refresh used to
    answer "ok" with the server as it was, then the server went down behind it."""
    deep = "Could not read tools/list: Answer nested deeper than 200 levels"
    for config in entry("json"):
        hub = start_hub(write_config({"odd": config}))
        hub.api("POST", "/api/servers/tools", {"server_name": "odd", "tool": "spoil"})
        refresh = hub.api("POST", "/api/servers/refresh", {"server_name": "odd"})
        assert refresh.status_code == 500, refresh.text
        assert refresh.json()["code"] == "CONNECTION_ERROR"
        assert refresh.json()["error"] == deep
        assert refresh.json()["data"] == {"server": "odd"}
        assert hub.wait_status("odd", "disconnected")["error"] == deep
        assert hub.stop() == 0
    for config in entry("json"):
        hub = start_hub(write_config({"odd": config}))
        hub.api("POST", "/api/servers/tools", {"server_name": "odd", "tool": "spoil"})
        servers = hub.api("GET", "/api/refresh").json()["servers"]
        assert servers == [{"name": "odd", "status": "error", "error": deep}]
        assert hub.stop() == 0


@pytest.mark.parametrize("kind", ["json", "sse", "legacy"])
def test_a_list_that_is_not_json_is_the_servers_error(
    start_hub: StartHub, write_config: WriteConfig, kind: str
) -> None:
    """The SDK's client answers a parse error (-32700) for it: an empty list before. On the
    legacy transport the SDK dropped the message: the list waited a minute, then was empty."""
    for config in entry(kind, "--broken-list"):
        hub = start_hub(write_config({"odd": config}))
        error = hub.wait_status("odd", "disconnected")["error"]
        what = "JSON response" if kind == "json" else "SSE message"
        assert error.startswith(f"Could not read tools/list: Failed to parse {what}: Invalid JSON")
        assert "\n" not in error, error
        assert hub.stop() == 0
