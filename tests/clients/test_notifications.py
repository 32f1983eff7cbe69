"""Real clients receive every notification ``/mcp`` sends them, and reject none (issue 11 §2).

The TypeScript SDK 1.32.2 (the client inside Claude Code, Cursor, VS Code and the Inspector)
drops a message that fails its schemas, e.g. ``"params": null`` where the schema has an optional
object, and reports it only through ``onerror``. So each client below goes through the same
scenario against one real hub and must see every notification with no error reported:

* ``resources/updated`` for a subscribed resource (``passthrough``'s ``touch``);
* the requests an upstream sends its caller during a call, and the call's progress
  (``passthrough``'s ``interview``: elicitation, progress, sampling; ``roots``);
* a call's log entries (``passthrough``'s ``log``, after ``logging/setLevel``);
* ``tools/list_changed`` and ``prompts/list_changed`` when an upstream's lists change
  (``conformance``'s ``test_trigger_tool_change`` / ``test_trigger_prompt_change``);
* ``tools``, ``resources`` and ``prompts`` ``list_changed`` when an upstream stops, and again
  when it is started (``everything``, through the REST API).

Clients: the TypeScript SDK over Streamable HTTP and legacy SSE; the Python SDK over the same
two in the handshake era, and in the 2026-07-28 era (``subscriptions/listen`` streams, logs asked
for per request). The hub lives for the module; every client counts what it saw from its own
start, so the order of the tests does not matter.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.clients.agents import Agent, Called, SdkAgent, Transport, TsAgent
from tests.conformance.node import require_node
from tests.conftest import stdio_entry
from tests.helpers import HubProcess, initialize_request
from tests.hubs import running_hub, set_upstream

TOOLS_CHANGED = "notifications/tools/list_changed"
RESOURCES_CHANGED = "notifications/resources/list_changed"
PROMPTS_CHANGED = "notifications/prompts/list_changed"
UPDATED = "notifications/resources/updated"
LOG = "notifications/message"
COUNTER_UPSTREAM = "passthrough://counter"
COUNTER = f"passthrough__{COUNTER_UPSTREAM}"
STOPPED = "everything"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    """``passthrough`` starts once ``/mcp`` exists, so it may ask the hub's clients for input."""
    servers = {
        "passthrough": stdio_entry("passthrough_stdio.py", disabled=True),
        "conformance": stdio_entry("conformance_server.py"),
        STOPPED: stdio_entry("everything_stdio.py"),
    }
    root = tmp_path_factory.mktemp("clients")
    with running_hub(root, servers, late=["passthrough"]) as process:
        for name in servers:
            process.wait_status(name, "connected")
        yield process


def agent(client: str, hub: HubProcess, tmp_path: Path) -> Agent:
    language, _, transport = client.partition("-")
    url = f"http://127.0.0.1:{hub.port}/mcp"
    kind: Transport = "streamable"
    if transport in ("sse", "2026-07-28"):
        kind = "sse" if transport == "sse" else "2026-07-28"
    if language == "ts":
        return TsAgent(require_node(), url, kind, tmp_path / "ts_agent.err")
    return SdkAgent(url, kind)


async def expect(client: Agent, method: str, count: int) -> None:
    """At least *count* notifications of *method* arrive (within 20 s)."""
    arrived = await client.wait(method, count)
    assert arrived >= count, f"{arrived} {method} of {count}: {await client.seen()}"


def text(called: Called) -> str:
    content = called.result["content"][0]
    assert content["type"] == "text", called.result
    return str(content["text"])


@pytest.mark.parametrize(
    "client", ["ts-streamable", "ts-sse", "py-streamable", "py-sse", "py-2026-07-28"]
)
async def test_client_sees_every_notification_and_rejects_none(
    client: str, hub: HubProcess, tmp_path: Path
) -> None:
    async with agent(client, hub, tmp_path) as session:
        listed = await session.lists()
        assert all(listed.values()), listed
        await session.subscribe(COUNTER)
        await session.set_level("debug")

        # elicitation, then progress, then sampling: the progress is handled before the result
        # (a report right before a result races in the clients themselves: the TypeScript
        # SDK's legacy SSE transport handles a response before a notification of the same read)
        called = await session.call("passthrough__interview")
        assert text(called) == "Ada: reply to greet Ada"
        assert [(p["progress"], p["total"]) for p in called.progress] == [(1, 2)]
        assert text(await session.call("passthrough__roots")) == "file:///work"

        await session.call("passthrough__log", {"level": "warning", "message": "hello"})
        await expect(session, LOG, 1)

        assert text(await session.call("passthrough__touch", {"uri": COUNTER_UPSTREAM})) == (
            "touched"
        )
        await expect(session, UPDATED, 1)

        await session.call("conformance__test_trigger_tool_change")
        await expect(session, TOOLS_CHANGED, 1)
        await session.call("conformance__test_trigger_prompt_change")
        await expect(session, PROMPTS_CHANGED, 1)

        for status in ("disconnected", "connected"):
            before = await session.seen()
            await set_upstream(hub, STOPPED, status)
            for method in (TOOLS_CHANGED, RESOURCES_CHANGED, PROMPTS_CHANGED):
                await expect(session, method, before.count(method) + 1)
        assert await session.lists() == {
            **listed,
            "tools": listed["tools"] + 1,  # the tool test_trigger_tool_change added
            "prompts": listed["prompts"] + 1,
        }
        seen = await session.seen()
    assert seen.errors == []
    assert seen.params(UPDATED)[0]["uri"] == COUNTER
    logged = [(p["level"], p.get("logger"), p["data"]) for p in seen.params(LOG)]
    assert ("warning", "passthrough__fixture", "hello") in logged
    assert [method for method, _ in seen.requests] == [
        "elicitation/create",
        "sampling/createMessage",
        "roots/list",
    ]


# ---------------------------------------------------------------- the wire itself
ACCEPT = {"Accept": "application/json, text/event-stream"}
MODERN = "2026-07-28"
#: Requests of both eras; the fixtures answer none of them with a null anywhere.
REQUESTS: list[tuple[str, dict[str, Any]]] = [
    ("tools/list", {}),
    ("resources/list", {}),
    ("resources/templates/list", {}),
    ("prompts/list", {}),
    ("tools/call", {"name": "everything__add", "arguments": {"a": 1, "b": 2}}),
    ("tools/call", {"name": "everything__fail", "arguments": {"message": "no"}}),
    ("tools/call", {"name": "nope__x", "arguments": {}}),
    (
        "tools/call",
        {"name": "conformance__test_tool_with_progress", "_meta": {"progressToken": "p"}},
    ),
    ("resources/read", {"uri": "everything__fixture://items/3"}),
    ("resources/read", {"uri": "conformance__test://nope"}),
    ("prompts/get", {"name": "everything__weather", "arguments": {"city": "a", "state": "b"}}),
    (
        "completion/complete",
        {
            "ref": {"type": "ref/prompt", "name": "conformance__test_prompt_with_arguments"},
            "argument": {"name": "arg1", "value": "pa"},
        },
    ),
    ("tools/list", {"cursor": "garbage"}),
    ("nope/method", {}),
]
HANDSHAKE_ONLY: list[tuple[str, dict[str, Any] | None]] = [
    ("ping", None),
    ("logging/setLevel", {"level": "debug"}),
    ("resources/subscribe", {"uri": COUNTER}),
    ("resources/unsubscribe", {"uri": COUNTER}),
    ("tools/call", {"name": "passthrough__log", "arguments": {"level": "info", "message": "m"}}),
]


def nulls(value: Any, path: str = "$") -> Iterator[str]:
    """The path of every null in a decoded JSON value."""
    if value is None:
        yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from nulls(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from nulls(item, f"{path}[{index}]")


def decoded(response: httpx.Response) -> list[dict[str, Any]]:
    """The JSON-RPC messages of one reply, a JSON body or an SSE stream."""
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        data = [line[6:] for line in response.text.splitlines() if line.startswith("data: ")]
        return [json.loads(item) for item in data if item.strip()]
    return [response.json()] if response.content else []


async def test_nothing_the_hub_writes_carries_a_null_of_its_own(hub: HubProcess) -> None:
    """Every message of both eras, JSON and SSE (the fixtures never send a null themselves)."""
    written: list[dict[str, Any]] = []
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{hub.port}", timeout=30) as http:
        opened = await http.post(
            "/mcp", json=initialize_request("wire", "2025-11-25"), headers=ACCEPT
        )
        written += decoded(opened)
        session = {**ACCEPT, "Mcp-Session-Id": opened.headers["mcp-session-id"]}
        initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        assert (await http.post("/mcp", json=initialized, headers=session)).status_code == 202
        async with http.stream("GET", "/mcp", headers=session) as stream:
            for number, (method, params) in enumerate([*REQUESTS, *HANDSHAKE_ONLY]):
                body = {"jsonrpc": "2.0", "id": number, "method": method}
                if params is not None:
                    body["params"] = params
                written += decoded(await http.post("/mcp", json=body, headers=session))
            trigger = {"name": "conformance__test_trigger_tool_change", "arguments": {}}
            body = {"jsonrpc": "2.0", "id": "change", "method": "tools/call", "params": trigger}
            written += decoded(await http.post("/mcp", json=body, headers=session))
            async with asyncio.timeout(20):
                async for line in stream.aiter_lines():
                    if line.startswith("data: "):
                        written.append(json.loads(line[6:]))
                        if written[-1].get("method") == TOOLS_CHANGED:
                            break
        await http.delete("/mcp", headers=session)

        for number, (method, params) in enumerate(REQUESTS):
            meta = {
                **params.get("_meta", {}),
                "io.modelcontextprotocol/protocolVersion": MODERN,
                "io.modelcontextprotocol/clientCapabilities": {},
            }
            body = {"jsonrpc": "2.0", "id": number, "method": method}
            body["params"] = {**params, "_meta": meta}
            headers = {**ACCEPT, "MCP-Protocol-Version": MODERN, "Mcp-Method": method}
            name = params.get("name", params.get("uri"))
            if method in ("tools/call", "prompts/get", "resources/read") and name:
                headers["Mcp-Name"] = name
            written += decoded(await http.post("/mcp", json=body, headers=headers))

    kinds = {
        message.get("method", "error" if "error" in message else "result") for message in written
    }
    assert {"result", "error", "notifications/progress", LOG, TOOLS_CHANGED} <= kinds
    assert len(written) >= 2 * len(REQUESTS) + len(HANDSHAKE_ONLY)
    assert [(message, list(nulls(message))) for message in written if any(nulls(message))] == []
