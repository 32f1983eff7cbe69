"""Search mode: a profile with ``"search": true`` lists two tools, ``search_tools`` and
``call_tool``, and reaches its whole catalog through them.

One hub for the module with ``passthrough`` (started once ``/mcp`` exists, so that it may ask
the hub's clients for input) and ``everything``, whose ``echo`` is disabled in the config, and
two profiles in search mode: ``find`` (every server) and ``narrow`` (``everything`` without
``fail``). Clients of both SDKs, every transport and era: a call through ``call_tool`` is a
direct call (its result, progress, the upstream's requests to the client, cancellation and
errors); what the config hides is neither found nor callable.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, ClientSession, MCPError

from tests.clients.agents import Agent
from tests.conftest import stdio_entry
from tests.helpers import HubProcess, eventually
from tests.hubs import running_hub
from tests.mcp.clients import handshake
from tests.surface.clients import CLIENTS, agent, refused, text

SERVERS = {
    "passthrough": stdio_entry("passthrough_stdio.py", disabled=True),
    "everything": stdio_entry("everything_stdio.py", disabled_tools=["echo"]),
}
PROFILES = {
    "find": {"search": True},
    "narrow": {"search": True, "servers": ["everything"], "tools": {"exclude": ["*__fail"]}},
}


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    root = tmp_path_factory.mktemp("search")
    settings = {"profiles": PROFILES}
    with running_hub(root, SERVERS, settings=settings, late=["passthrough"]) as process:
        process.wait_status("everything", "connected")
        yield process


async def search(client: Agent, query: str, limit: int = 5) -> list[dict[str, Any]]:
    called = await client.call("search_tools", {"query": query, "limit": limit})
    assert not called.result.get("isError"), called.result
    found: list[dict[str, Any]] = called.result["structuredContent"]["tools"]
    assert json.loads(text(called.result)) == {"tools": found}  # the same, for text readers
    return found


async def call(client: Agent, name: str, arguments: dict[str, Any] | None = None) -> Any:
    return await client.call("call_tool", {"name": name, "arguments": arguments or {}})


@pytest.mark.parametrize("client", CLIENTS)
async def test_search_mode_lists_two_tools_and_reaches_the_catalog_through_them(
    client: str, hub: HubProcess, tmp_path: Path
) -> None:
    async with (
        agent(client, hub, "/profiles/find/mcp", tmp_path) as finder,
        agent(client, hub, "/mcp", tmp_path) as direct,
    ):
        listed = await finder.tools()
        assert [tool["name"] for tool in listed] == ["search_tools", "call_tool"]
        assert listed[0]["inputSchema"]["required"] == ["query"]

        found = await search(finder, "report progress steps")
        assert found[0]["name"] == "passthrough__progress"
        assert found[0]["description"] == "Report progress steps, then answer."
        assert found[0]["inputSchema"]["properties"] == {"steps": {"type": "integer"}}
        assert "everything__echo" not in {
            tool["name"] for tool in await search(finder, "echo a message back", 50)
        }

        # progress and the upstream's requests to the client (elicitation, then sampling)
        interviewed = await call(finder, "passthrough__interview")
        assert text(interviewed.result) == "Ada: reply to greet Ada"
        assert [(p["progress"], p["total"]) for p in interviewed.progress] == [(1, 2)]
        if client != "ts-sse":  # its transport handles a result before a progress read with it
            stepped = await call(finder, "passthrough__progress", {"steps": 3})
            assert text(stepped.result) == "done 3"
            assert [p["message"] for p in stepped.progress] == ["step 1", "step 2", "step 3"]
        # a tool's error and a result: exactly the direct call's
        for name, arguments in (
            ("everything__fail", {"message": "boom"}),
            ("everything__add", {"a": 2, "b": 3}),
        ):
            via = await call(finder, name, arguments)
            assert via.result == (await direct.call(name, arguments)).result
        assert via.result["structuredContent"] == {"result": 5}

        # unknown, hidden (disabled_tools) and direct calls: the unknown-tool error
        for name in ("nope__x", "everything__echo"):
            assert f"Unknown tool: {name}" in await refused(
                finder, "call_tool", {"name": name, "arguments": {"message": "x"}}
            )
        assert "Unknown tool: everything__add" in await refused(
            finder, "everything__add", {"a": 1, "b": 1}
        )
        # arguments a meta-tool cannot use: a tool error the model can act on
        bad = await finder.call("search_tools", {"query": " "})
        assert bad.result["isError"] is True
        assert text(bad.result) == "search_tools needs a query: a non-empty string"
        bad = await finder.call("call_tool", {"arguments": {}})
        assert text(bad.result) == "call_tool needs the name of a tool, as search_tools gave it"
        assert (await finder.seen()).errors == []


async def test_a_profiles_rules_hold_in_search_mode(hub: HubProcess, tmp_path: Path) -> None:
    async with agent("py-streamable", hub, "/profiles/narrow/mcp", tmp_path) as narrow:
        everything = await search(narrow, "tool error message add integers sleep", 50)
        names = {tool["name"] for tool in everything}
        assert "everything__add" in names
        assert not {"everything__fail", "everything__echo"} & names
        assert not [name for name in names if name.startswith("passthrough__")]
        message = await refused(narrow, "call_tool", {"name": "everything__fail"})
        assert "Unknown tool: everything__fail" in message
        # a tool added upstream is found at once (the index follows the catalog)
        async with agent("py-streamable", hub, "/mcp", tmp_path) as direct:
            await direct.call("everything__add_tool", {"name": "zebra_stripes"})
        assert (await search(narrow, "zebra stripes"))[0]["name"] == "everything__zebra_stripes"
        assert text((await call(narrow, "everything__zebra_stripes")).result) == (
            "zebra_stripes ok"
        )
        assert [tool["name"] for tool in await narrow.tools()] == ["search_tools", "call_tool"]


async def test_cancelling_call_tool_cancels_the_upstream_call_in_both_eras(
    hub: HubProcess,
) -> None:
    url = f"http://127.0.0.1:{hub.port}/profiles/find/mcp"

    async def cancelled(session: ClientSession | Client) -> list[str]:
        result = await session.call_tool("call_tool", {"name": "passthrough__cancelled"})
        return list(json.loads(result.content[0].text))  # type: ignore[union-attr]

    async with handshake(url) as session:
        before = await cancelled(session)
        wait = {"name": "passthrough__wait", "arguments": {"seconds": 30}}
        with pytest.raises(MCPError):  # the SDK times out and sends notifications/cancelled
            await session.call_tool("call_tool", wait, read_timeout_seconds=0.5)
        await eventually(lambda: _grew(lambda: cancelled(session), len(before)))

        before = await cancelled(session)
        async with Client(url, mode="2026-07-28") as modern:
            with anyio.move_on_after(0.5):  # abandoning the call closes its stream
                await modern.call_tool("call_tool", wait)
        await eventually(lambda: _grew(lambda: cancelled(session), len(before)))


async def _grew(fetch: Callable[[], Awaitable[list[str]]], size: int) -> bool:
    return len(await fetch()) > size
