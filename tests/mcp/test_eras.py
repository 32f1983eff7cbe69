"""Each client reaches a dual-era upstream in its own era (2025 sessions, 2026-07-28 stateless).

One hub, with default entries (no ``protocolVersion``) unless said otherwise:

* ``dual``: ``tests/servers/conformance_server.py`` over STDIO, which speaks both eras, one per
  connection: 2026-07-28 clients reach it through a second process the hub starts on first use;
* ``headers``: ``tests/servers/header_tools.py`` over Streamable HTTP (both eras on one URL),
  and ``headers-2026``, the same server pinned to 2026-07-28: the ``x-mcp-header`` rules.

The handshake-only case (bridged rounds) is ``test_rounds.py``'s.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.session import ClientRequestContext

from tests.conftest import stdio_entry
from tests.helpers import HubProcess, ServerProcess, descendants, fixture_server, wait_until
from tests.hubs import running_hub
from tests.mcp.clients import MODERN_VERSION, handshake, modern_post

DUAL = "dual"
SCRIPT = "conformance_server.py"


@pytest.fixture(scope="module")
def header_server() -> Iterator[ServerProcess]:
    with fixture_server("header_tools.py") as server:
        yield server


@pytest.fixture(scope="module")
def hub(
    header_server: ServerProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HubProcess]:
    servers = {
        DUAL: stdio_entry(SCRIPT, disabled=True),
        "headers": {"url": header_server.url},
        "headers-2026": {"url": header_server.url, "protocolVersion": MODERN_VERSION},
    }
    with running_hub(tmp_path_factory.mktemp("eras"), servers, late=[DUAL]) as process:
        process.wait_status("headers-2026", "connected")
        yield process


@pytest.fixture
def url(hub: HubProcess) -> str:
    return f"http://127.0.0.1:{hub.port}/mcp"


def fixture_processes(hub: HubProcess) -> set[int]:
    """The hub's children running the dual-era STDIO fixture."""
    found = set()
    for pid in descendants(hub.pid):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if SCRIPT.encode() in command:
            found.add(pid)
    return found


async def sampling(
    context: ClientRequestContext, params: types.CreateMessageRequestParams
) -> types.CreateMessageResult:
    return types.CreateMessageResult(
        role="assistant",
        content=types.TextContent(type="text", text="a reply"),
        model="test-model",
    )


def text(result: Any) -> str:
    content = result.content[0]
    assert isinstance(content, types.TextContent), result
    return content.text


async def test_a_2026_client_gets_a_dual_era_servers_own_rounds_from_a_second_process(
    hub: HubProcess, url: str
) -> None:
    (session_process,) = fixture_processes(hub)
    async with handshake(url, sampling_callback=sampling) as session:
        with anyio.fail_after(20):  # a server-to-client request, relayed over the session
            reply = await session.call_tool(f"{DUAL}__test_sampling", {"prompt": "hi"})
    assert text(reply) == "LLM response: a reply"
    assert fixture_processes(hub) == {session_process}  # nothing else until a 2026 client

    # The server's own requestState (HMAC-signed by it): passed through, not a hub token.
    tool = f"{DUAL}__test_input_required_result_request_state"
    first = modern_post(url, tool, {"elicitation": {}})["result"]
    assert first["resultType"] == "input_required"
    assert first["requestState"].startswith("confirm-pending.")
    assert len(fixture_processes(hub)) == 2  # the 2026-07-28 channel: a process of its own
    answer = {"action": "accept", "content": {"ok": True}}
    done = modern_post(
        url, tool, {"elicitation": {}}, inputResponses={"confirm": answer}, **_state(first)
    )
    assert done["result"]["content"] == [{"type": "text", "text": "state-ok: confirmed"}]

    # The server sees the 2026 client's capabilities (a bridge would show it the hub's).
    tool = f"{DUAL}__test_input_required_result_capabilities"
    asked = modern_post(url, tool, {"elicitation": {}})["result"]
    assert set(asked["inputRequests"]) == {"user_name"}
    asked = modern_post(url, tool, {"sampling": {}, "roots": {}})["result"]
    assert set(asked["inputRequests"]) == {"greeting", "client_roots"}

    # A handshake-era client still gets the server's requests the old way, meanwhile.
    async with handshake(url, sampling_callback=sampling) as session:
        with anyio.fail_after(20):
            reply = await session.call_tool(f"{DUAL}__test_sampling", {"prompt": "again"})
    assert text(reply) == "LLM response: a reply"

    stopped = hub.api("POST", "/api/servers/stop", {"server_name": DUAL})
    assert stopped.status_code == 200, stopped.text
    wait_until(lambda: not fixture_processes(hub))  # the channel's process ends with it
    started = hub.api("POST", "/api/servers/start", {"server_name": DUAL})
    assert started.status_code == 200, started.text
    assert len(fixture_processes(hub)) == 1


def _state(result: dict[str, Any]) -> dict[str, Any]:
    return {"requestState": result["requestState"]}


async def test_2026_clients_see_the_lists_of_the_2026_process(url: str) -> None:
    """Over STDIO the two eras are two processes: a tool one adds is that era's alone, and a
    2026-07-28 client sees its era's lists from its first page on."""
    async with handshake(url) as session:
        await session.call_tool(f"{DUAL}__test_trigger_tool_change", {})
        older = {tool.name for tool in (await session.list_tools()).tools}
    assert {name for name in older if name.startswith(f"{DUAL}__dynamic_tool_")}
    async with Client(url, mode=MODERN_VERSION) as client:
        first = {tool.name for tool in (await client.list_tools()).tools}  # opens the channel
        assert f"{DUAL}__test_simple_text" in first
        assert not {name for name in first if name.startswith(f"{DUAL}__dynamic_tool_")}
        async with client.listen(tools_list_changed=True) as subscription:
            await client.call_tool(f"{DUAL}__test_trigger_tool_change", {})
            with anyio.fail_after(10):
                await anext(aiter(subscription))
        modern = {tool.name for tool in (await client.list_tools(cache_mode="refresh")).tools}
    assert {name for name in modern if name.startswith(f"{DUAL}__dynamic_tool_")}


async def test_tools_calls_to_2026_http_servers_carry_mcp_param_headers(url: str) -> None:
    async with Client(url, mode=MODERN_VERSION) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        assert {"headers__regional", "headers_2026__regional"} <= names
        for tool in ("headers__regional", "headers_2026__regional"):  # channel, pinned entry
            result = await client.call_tool(tool, {"region": "eu-west"})
            assert not result.is_error, result
            assert text(result) == "Region: eu-west"


async def test_tools_with_invalid_header_annotations_are_left_out_in_2026(
    hub: HubProcess, url: str
) -> None:
    async with Client(url, mode=MODERN_VERSION) as client:
        modern = {tool.name for tool in (await client.list_tools()).tools}
    assert "headers__regional" in modern
    assert not {"headers__misannotated", "headers_2026__misannotated"} & modern
    async with handshake(url) as session:
        older = {tool.name for tool in (await session.list_tools()).tools}
        # the annotation means nothing to a handshake session: the tool is there and works
        assert "headers__misannotated" in older and "headers_2026__misannotated" not in older
        called = await session.call_tool("headers__misannotated", {"payload": {}})
        assert text(called) == "called"
    assert "tool 'misannotated' left out in 2026-07-28: invalid x-mcp-header" in hub.log_text()
