"""The legacy SSE ``/mcp`` where mcp-hub 4.2.1's recordings do not reach.

What each test asserts was observed on mcp-hub 4.2.1 itself (driven with the same
messages by :mod:`tests.mcp.legacy_wire`, servers configured as here) and is marked
"(mcp-hub 4.2.1, observed)"; where we answer otherwise on purpose, the comment says why
with the contract's (``shared/contract/mcp-hub-4.2.1.md``) or the README's reason.
mcp-hub is not needed to run them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from tests.conftest import stdio_entry
from tests.helpers import HubProcess, eventually
from tests.hubs import running_hub
from tests.mcp.legacy_wire import LegacyWire, legacy_wire


def fixture(who: str, **extra: Any) -> dict[str, Any]:
    return stdio_entry("everything_stdio.py", env={"WHO": who}, **extra)


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    servers = {  # config order decides who gets the `_1` (mcp-hub 4.2.1, observed)
        "a.b": fixture("a.b"),
        "a_b": fixture("a_b"),
        "github.com/x/y": fixture("github.com/x/y"),
        "dunder": stdio_entry("dunder_stdio.py"),
        "off": fixture("off", disabled=True),
        "crashy": fixture("crashy"),
    }
    with running_hub(tmp_path_factory.mktemp("legacy-compat"), servers) as process:
        yield process


def base(hub: HubProcess) -> str:
    return f"http://127.0.0.1:{hub.port}"


async def text_of(wire: LegacyWire, tool: str, arguments: dict[str, Any]) -> str:
    reply = await wire.request("tools/call", {"name": tool, "arguments": arguments})
    text: str = reply["result"]["content"][0]["text"]
    return text


@pytest.mark.parametrize(
    ("offered", "answered"),
    [
        ("2024-11-05", "2024-11-05"),  # (mcp-hub 4.2.1, observed)
        ("2025-03-26", "2025-03-26"),  # (mcp-hub 4.2.1, observed)
        ("2025-06-18", "2025-06-18"),  # (mcp-hub 4.2.1, observed)
        # mcp-hub answers 2025-06-18, its latest: ours is 2025-11-25 (README table and "The
        # unified MCP endpoint": 2025-11-25 and older), so a 2025-11-25 client keeps its
        # version and an unknown one gets our latest, as contract §6 negotiates
        ("2025-11-25", "2025-11-25"),
        ("1999-01-01", "2025-11-25"),
    ],
)
async def test_initialize_negotiates_as_mcp_hub(
    hub: HubProcess, offered: str, answered: str
) -> None:
    async with legacy_wire(base(hub)) as wire:
        reply = await wire.initialize(offered)
    assert reply["result"]["protocolVersion"] == answered
    assert reply["result"]["serverInfo"] == {
        "name": "mcp-hub-internal-endpoint",
        "version": "1.0.0",
    }


async def test_requests_before_initialize_are_answered(hub: HubProcess) -> None:
    """(mcp-hub 4.2.1, observed) its SDK answers a list sent before ``initialize``."""
    async with legacy_wire(base(hub)) as wire:
        reply = await wire.request("tools/list")
        assert "a_b__echo" in [tool["name"] for tool in reply["result"]["tools"]]
        assert await text_of(wire, "a_b__echo", {"message": "early"}) == "Echo: early"


async def test_ids_are_sanitised_and_collisions_numbered_in_config_order(hub: HubProcess) -> None:
    async with legacy_wire(base(hub)) as wire:
        await wire.initialize()
        tools = [tool["name"] for tool in (await wire.request("tools/list"))["result"]["tools"]]
        # (mcp-hub 4.2.1, observed): `a.b` is a_b, `a_b` then a_b_1, `github.com/x/y`
        # github_com_x_y, servers in config order, a disabled server nowhere
        ids = list(dict.fromkeys(name.split("__", 1)[0] for name in tools))
        assert ids == ["a_b", "a_b_1", "github_com_x_y", "dunder", "crashy"]
        for tool, who in (
            ("a_b__env", "a.b"),
            ("a_b_1__env", "a_b"),
            ("github_com_x_y__env", "github.com/x/y"),
        ):
            assert await text_of(wire, tool, {"name": "WHO"}) == who
        prompts = [p["name"] for p in (await wire.request("prompts/list"))["result"]["prompts"]]
        assert prompts[:2] == ["a_b__simple", "a_b__weather"]
        assert "a_b_1__simple" in prompts and "github_com_x_y__weather" in prompts


async def test_ids_are_numbered_among_the_servers_shown(tmp_path: Path) -> None:
    """(mcp-hub 4.2.1, observed) a disabled or failed server takes no id: `x_y` and `p_q`
    keep theirs; a suffixed id that a config name already spells goes on counting."""
    servers = {
        "x.y": fixture("x.y", disabled=True),
        "x_y": fixture("x_y"),
        "p.q": {"command": str(tmp_path / "no-such-command")},
        "p_q": fixture("p_q"),
        "e_f": fixture("e_f"),
        "e.f": fixture("e.f"),
        "e_f_1": fixture("e_f_1"),
    }
    with running_hub(tmp_path, servers) as process:
        async with legacy_wire(base(process)) as wire:
            await wire.initialize()
            tools = (await wire.request("tools/list"))["result"]["tools"]
            env = [tool["name"] for tool in tools if tool["name"].endswith("__env")]
            assert env == ["x_y__env", "p_q__env", "e_f__env", "e_f_1__env", "e_f_1_1__env"]
            seen = [await text_of(wire, name, {"name": "WHO"}) for name in env]
            assert seen == ["x_y", "p_q", "e_f", "e.f", "e_f_1"]


async def test_names_holding_the_delimiter(hub: HubProcess) -> None:
    async with legacy_wire(base(hub)) as wire:
        await wire.initialize()
        # (mcp-hub 4.2.1, observed): the id is everything before the first `__`
        tools = [tool["name"] for tool in (await wire.request("tools/list"))["result"]["tools"]]
        assert "dunder__two__parts" in tools
        assert await text_of(wire, "dunder__two__parts", {"message": "y"}) == "parts: y"
        prompt = await wire.request("prompts/get", {"name": "dunder__my__prompt"})
        assert prompt["result"]["messages"][0]["content"]["text"] == "dunder prompt"
        # (mcp-hub 4.2.1, observed) a URI holding `__` read as listed, and a template's
        # `<id>__item://7` split on the first `__`: mcp-hub lists `dunder__fixture://a__b`
        # and answers the server's URIs; we list `dunder+fixture://a__b` and answer it so
        # (README table: `<namespace>+<uri>`, `<id>__<uri>` still accepted on input)
        resources = (await wire.request("resources/list"))["result"]["resources"]
        assert "dunder+fixture://a__b" in [r["uri"] for r in resources]
        templates = (await wire.request("resources/templates/list"))["result"]
        assert "dunder+item://{id}" in [t["uriTemplate"] for t in templates["resourceTemplates"]]
        for asked, text, uri in (
            ("dunder__fixture://a__b", "a__b body", "dunder+fixture://a__b"),
            ("dunder+fixture://a__b", "a__b body", "dunder+fixture://a__b"),
            ("dunder__item://7", "item 7", "dunder+item://7"),
            ("a_b__fixture://items/7", "item 7", "a-b+fixture://items/7"),
            ("a_b_1__fixture://readme", "fixture readme", "a-b-1+fixture://readme"),
        ):
            read = await wire.request("resources/read", {"uri": asked})
            assert read["result"]["contents"][0]["text"] == text, asked
            assert read["result"]["contents"][0]["uri"] == uri, asked


async def test_unknown_and_disabled_names(hub: HubProcess) -> None:
    async with legacy_wire(base(hub)) as wire:
        await wire.initialize()
        # (mcp-hub 4.2.1, observed) -32603 "key is not defined" for all three: -32602
        # naming it is contract §17's "Safe improvements"
        for name in ("nope__echo", "echo", "off__echo"):
            reply = await wire.request("tools/call", {"name": name, "arguments": {}})
            assert reply["error"]["code"] == -32602 and name in reply["error"]["message"]
        # (mcp-hub 4.2.1, observed) -32602 for an unknown, un-namespaced or disabled
        # server's URI (its message says "Server not found"; ours names the URI)
        for uri in ("nope__x://y", "fixture://readme", "off__fixture://readme"):
            reply = await wire.request("resources/read", {"uri": uri})
            assert reply["error"]["code"] == -32602 and uri in reply["error"]["message"]


async def test_upstream_errors_and_malformed_posts(hub: HubProcess) -> None:
    async with legacy_wire(base(hub)) as wire:
        await wire.initialize()
        # (mcp-hub 4.2.1, observed) a failing tool is a result with isError, as sent
        reply = await wire.request(
            "tools/call", {"name": "a_b__fail", "arguments": {"message": "boom"}}
        )
        assert reply["result"]["isError"] is True
        assert reply["result"]["content"] == [{"type": "text", "text": "boom"}]
        # mcp-hub: -32602 "MCP error -32602: Failed to read resource: MCP error -32602:
        # Unknown resource: fixture://nope", and the same "Failed to read resource" around
        # a prompt's error (contract §6: a copy-paste bug); we pass the upstream's own code
        # and message (README table)
        reply = await wire.request("resources/read", {"uri": "a_b__fixture://nope"})
        assert reply["error"]["code"] == -32602
        assert reply["error"]["message"] == "Unknown resource: fixture://nope"
        reply = await wire.request("prompts/get", {"name": "a_b__weather", "arguments": {}})
        assert "Missing required arguments" in reply["error"]["message"]
        assert "Failed to read resource" not in reply["error"]["message"]
        # (mcp-hub 4.2.1, observed) a body that is not JSON is refused 400 (mcp-hub's is
        # Express's HTML page, ours JSON-RPC's parse error: README table, JSON errors)
        bad = await wire.client.post(
            wire.endpoint, content=b"not json", headers={"content-type": "application/json"}
        )
        assert bad.status_code == 400 and bad.json()["error"]["code"] == -32700
        assert (await wire.request("ping"))["result"] == {}  # the session lives on


async def test_other_methods_are_method_not_found(hub: HubProcess) -> None:
    async with legacy_wire(base(hub)) as wire:
        await wire.initialize()
        # (mcp-hub 4.2.1, observed), no `data`
        reply = await wire.request("no/such/method")
        assert reply["error"] == {"code": -32601, "message": "Method not found"}
        assert (await wire.request("ping"))["result"] == {}


async def test_sse_framing_is_mcp_hubs(hub: HubProcess) -> None:
    async with legacy_wire(base(hub)) as wire:
        # (mcp-hub 4.2.1, observed) headers and the endpoint event, nothing before it
        headers = wire.response.headers
        assert headers["content-type"] == "text/event-stream"
        assert headers["cache-control"] == "no-cache, no-transform"
        assert headers["connection"] == "keep-alive"
        assert wire.first.raw == f"event: endpoint\ndata: {wire.endpoint}"
        assert wire.endpoint.startswith("/messages?sessionId=")
        posted = await wire.post({"jsonrpc": "2.0", "id": 7, "method": "ping"})
        # (mcp-hub 4.2.1, observed) 202 "Accepted", untyped; the answer one message event
        assert (posted.status_code, posted.text) == (202, "Accepted")
        assert "content-type" not in posted.headers
        with anyio.fail_after(10):
            frame = await wire.frames.receive()
        assert frame is not None
        # (mcp-hub 4.2.1, observed: `event: message`, one `data:` line, no `id:`, the
        # members in its SDK's order)
        assert frame.raw == 'event: message\ndata: {"result":{},"jsonrpc":"2.0","id":7}'


async def test_refusals_of_messages_are_mcp_hubs_bytes(hub: HubProcess) -> None:
    """(mcp-hub 4.2.1, observed) a POST to a session whose stream closed, or without a
    session id: these statuses, type and exact bodies."""
    async with legacy_wire(base(hub)) as wire:
        await wire.initialize()
        endpoint = wire.endpoint
    session = endpoint.removeprefix("/messages?sessionId=")
    async with httpx.AsyncClient(base_url=base(hub), timeout=10) as client:
        ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}

        async def closed() -> bool:
            return (await client.post(endpoint, json=ping)).status_code == 404

        await eventually(closed)
        gone = await client.post(endpoint, json=ping)
        assert gone.headers["content-type"] == "application/json; charset=utf-8"
        assert gone.text == (
            '{"jsonrpc":"2.0","error":{"code":-32000,"message":"Session not found: '
            + session
            + '"},"id":null}'
        )
        missing = await client.post("/messages?sessionId=", json=ping)
        assert (missing.status_code, missing.text) == (
            400,
            '{"jsonrpc":"2.0","error":{"code":-32000,"message":"Missing sessionId parameter"},'
            '"id":null}',
        )


async def test_list_changed_reaches_every_legacy_session(hub: HubProcess) -> None:
    """(mcp-hub 4.2.1, observed) an upstream's tools/list_changed reaches each legacy
    session, one that never initialized too, framed as here."""
    changed = 'event: message\ndata: {"method":"notifications/tools/list_changed","jsonrpc":"2.0"}'
    async with legacy_wire(base(hub)) as idle, legacy_wire(base(hub)) as wire:
        await wire.initialize()
        added = await text_of(wire, "github_com_x_y__add_tool", {"name": "zz"})
        assert added == "added zz"
        with anyio.fail_after(20):
            frame = await idle.frames.receive()
        assert frame is not None and frame.raw == changed
        if not wire.notifications:  # unless it came before the call's answer
            with anyio.fail_after(20):
                frame = await wire.frames.receive()
            assert frame is not None and frame.raw == changed
        tools = [tool["name"] for tool in (await wire.request("tools/list"))["result"]["tools"]]
        assert "github_com_x_y__zz" in tools


async def test_idle_legacy_stream_carries_keepalive_comments(tmp_path: Path) -> None:
    """mcp-hub's legacy stream sends nothing while idle (observed for 20 s); ours a comment
    every ``--mcp-keepalive`` seconds (README table), which SSE clients skip."""
    servers = {"a": fixture("a")}
    with running_hub(tmp_path, servers, extra_args=("--mcp-keepalive", "1")) as process:
        async with legacy_wire(base(process)) as wire:
            await wire.initialize()
            with anyio.fail_after(10):
                frame = await wire.frames.receive()
            assert frame is not None and frame.raw == ": ping"
            assert (await wire.request("ping"))["result"] == {}


async def test_upstream_dying_mid_session(hub: HubProcess) -> None:
    async with legacy_wire(base(hub)) as wire:
        await wire.initialize()
        # (mcp-hub 4.2.1, observed) the call in flight is a tool error with this text, and
        # the client's stream stays open
        reply = await wire.request("tools/call", {"name": "crashy__crash", "arguments": {}})
        assert reply["result"] == {
            "content": [{"type": "text", "text": "MCP error -32000: Connection closed"}],
            "isError": True,
        }
        # mcp-hub then keeps listing the dead server's tools, answers "Not connected" and
        # never recovers; we re-sync and announce it (contract §17 "Safe improvements":
        # list_changed on every status change), and reconnect (README table)
        with anyio.fail_after(20):
            while not any(
                n.get("method") == "notifications/tools/list_changed" for n in wire.notifications
            ):
                message = await wire.next_message()
                assert message is not None, "the stream ended"
                wire.notifications.append(message)
        hub.wait_status("crashy", "connected")
        with anyio.fail_after(20):
            while True:
                tools = (await wire.request("tools/list"))["result"]["tools"]
                if "crashy__echo" in [tool["name"] for tool in tools]:
                    break
                await wire.next_message()  # the next list_changed
        assert await text_of(wire, "crashy__echo", {"message": "back"}) == "Echo: back"
