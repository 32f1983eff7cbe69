"""tools/call answered in the transport (``tornadohub/mcp/fastpath.py``) behaves as the kernel.

One hub with ``everything`` and ``passthrough`` (STDIO). A ``tools/call`` whose params carry
only ``name``, ``arguments`` and a progress token takes the fast path; the same call with
another ``_meta`` key goes through the SDK kernel, so the two answers can be compared byte
for byte. On mcp-hub's legacy SSE transport (``GET /mcp`` + ``POST /messages``): progress
arrives before the result on the one stream, ``notifications/cancelled`` cancels the call
upstream and is answered -32800, and the upstream's sampling request reaches the caller.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import httpx
import mcp_types as types
import pytest
from mcp import ClientSession
from mcp.client.session import ClientRequestContext
from mcp.client.sse import sse_client

from tests.conftest import stdio_entry
from tests.helpers import HubProcess
from tests.hubs import running_hub
from tests.ops.conftest import scrape

ACCEPT = {"Accept": "application/json, text/event-stream"}
VERSION = "2025-11-25"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    servers = {
        "passthrough": stdio_entry("passthrough_stdio.py", disabled=True),
        "everything": stdio_entry("everything_stdio.py"),
    }
    root = tmp_path_factory.mktemp("fastpath")
    with running_hub(root, servers, late=["passthrough"]) as hub:
        yield hub


def initialize(rid: int = 0) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": rid,
        "method": "initialize",
        "params": {
            "protocolVersion": VERSION,
            "capabilities": {},
            "clientInfo": {"name": "fastpath-test", "version": "1"},
        },
    }


def call(rid: int, tool: str, arguments: dict[str, Any], **meta: Any) -> dict[str, Any]:
    params: dict[str, Any] = {"name": tool, "arguments": arguments}
    if meta:
        params["_meta"] = meta
    return {"jsonrpc": "2.0", "id": rid, "method": "tools/call", "params": params}


async def open_session(http: httpx.AsyncClient, url: str) -> dict[str, str]:
    """Initialize a session at *url* (then ``initialized``); the headers of its requests."""
    opened = await http.post(url, headers=ACCEPT, json=initialize())
    headers = {
        **ACCEPT,
        "Mcp-Session-Id": opened.headers["mcp-session-id"],
        "MCP-Protocol-Version": VERSION,
    }
    initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    await http.post(url, headers=headers, json=initialized)
    return headers


async def test_fast_and_kernel_answers_are_the_same_bytes(hub: HubProcess) -> None:
    url = f"http://127.0.0.1:{hub.port}/mcp"
    async with httpx.AsyncClient(timeout=20) as http:
        headers = await open_session(http, url)
        cases: list[tuple[str, dict[str, Any]]] = [
            ("everything__echo", {"message": "héllo ✓"}),
            ("everything__add", {"a": 2, "b": 40}),
            ("everything__fail", {"message": "broken"}),
            ("everything__echo", {}),  # the upstream's own invalid-params answer
            ("everything__nope", {}),  # unknown: the kernel answers either way
        ]
        for rid, (tool, arguments) in enumerate(cases, start=1):
            fast = await http.post(url, headers=headers, json=call(rid, tool, arguments))
            kernel = await http.post(
                url, headers=headers, json=call(rid, tool, arguments, trace="kernel")
            )
            assert fast.status_code == kernel.status_code == 200
            assert fast.headers["content-type"] == kernel.headers["content-type"]
            assert fast.content == kernel.content, (tool, fast.text, kernel.text)
        echoed = json.loads((await http.post(url, headers=headers, json=call(9, *cases[0]))).text)
        assert echoed["result"]["content"][0]["text"] == "Echo: héllo ✓"


async def test_fast_calls_are_counted_by_outcome(hub: HubProcess) -> None:
    """The fast path observes ``mcphub_tool_call_duration_seconds`` as the kernel's path does."""

    def counts() -> dict[str, float]:
        samples = scrape(hub)
        name = "mcphub_tool_call_duration_seconds_count"
        outcomes = ("success", "tool_error", "error")
        return {o: samples.value(name, server="everything", outcome=o) or 0.0 for o in outcomes}

    url = f"http://127.0.0.1:{hub.port}/mcp"
    async with httpx.AsyncClient(timeout=20) as http:
        headers = await open_session(http, url)
        before = counts()
        cases = [
            ("everything__echo", {"message": "hi"}),
            ("everything__echo", {"message": "again"}),
            ("everything__fail", {"message": "broken"}),
            ("everything__echo", {}),  # the upstream's invalid-arguments answer (isError)
        ]
        for rid, (tool, arguments) in enumerate(cases, start=1):
            answer = await http.post(url, headers=headers, json=call(rid, tool, arguments))
            assert answer.status_code == 200
    after = counts()
    assert {o: after[o] - before[o] for o in after} == {"success": 2, "tool_error": 2, "error": 0}


@contextlib.asynccontextmanager
async def legacy_session(port: int) -> AsyncIterator[tuple[httpx.AsyncClient, str, Any]]:
    """A raw legacy SSE session: (client, POST endpoint, iterator over the stream's messages)."""
    async with httpx.AsyncClient(timeout=20, base_url=f"http://127.0.0.1:{port}") as http:
        async with http.stream("GET", "/mcp", headers={"Accept": "text/event-stream"}) as stream:
            lines = stream.aiter_lines()

            async def events() -> AsyncIterator[tuple[str, str]]:
                name, data = "message", []
                async for line in lines:
                    if line.startswith("event:"):
                        name = line[6:].strip()
                    elif line.startswith("data:"):
                        data.append(line[5:].strip())
                    elif not line and data:
                        yield name, "\n".join(data)
                        name, data = "message", []

            stream_events = events()
            with anyio.fail_after(10):
                kind, endpoint = await anext(stream_events)
            assert kind == "endpoint"

            async def messages() -> AsyncIterator[dict[str, Any]]:
                async for _kind, data in stream_events:
                    yield json.loads(data)

            incoming = messages()
            await http.post(endpoint, json=initialize())
            with anyio.fail_after(10):
                assert (await anext(incoming))["id"] == 0
            await http.post(
                endpoint, json={"jsonrpc": "2.0", "method": "notifications/initialized"}
            )
            yield http, endpoint, incoming


async def test_legacy_progress_precedes_the_result_and_cancel_answers(hub: HubProcess) -> None:
    async with legacy_session(hub.port) as (http, endpoint, incoming):
        posted = await http.post(
            endpoint, json=call(1, "passthrough__progress", {"steps": 3}, progressToken="p")
        )
        assert posted.status_code == 202
        seen: list[dict[str, Any]] = []
        with anyio.fail_after(20):
            while not seen or seen[-1].get("id") != 1:
                seen.append(await anext(incoming))
        assert [m.get("method") for m in seen] == ["notifications/progress"] * 3 + [None]
        assert [m["params"]["progress"] for m in seen[:3]] == [1, 2, 3]
        assert seen[-1]["result"]["content"][0]["text"] == "done 3"

        waiting = call(2, "passthrough__wait", {"seconds": 30}, progressToken="w")
        await http.post(endpoint, json=waiting)
        with anyio.fail_after(10):  # its progress 0: the wait is running upstream
            started = await anext(incoming)
        assert started["method"] == "notifications/progress", started
        cancel = {
            "jsonrpc": "2.0",
            "method": "notifications/cancelled",
            "params": {"requestId": 2, "reason": "test"},
        }
        await http.post(endpoint, json=cancel)
        with anyio.fail_after(10):
            answer = await anext(incoming)
        assert answer == {
            "jsonrpc": "2.0",
            "id": 2,
            "error": {"code": -32800, "message": "Request cancelled"},
        }
        await http.post(endpoint, json=call(3, "passthrough__cancelled", {}))
        with anyio.fail_after(20):
            listed = await anext(incoming)
        assert json.loads(listed["result"]["content"][0]["text"]), listed  # upstream saw it


async def test_an_upstream_request_during_a_legacy_call_reaches_the_caller(
    hub: HubProcess,
) -> None:
    async def sampling(
        context: ClientRequestContext, params: types.CreateMessageRequestParams
    ) -> types.CreateMessageResult:
        prompt = params.messages[0].content
        assert isinstance(prompt, types.TextContent)
        return types.CreateMessageResult(
            role="assistant",
            content=types.TextContent(type="text", text=f"reply to {prompt.text}"),
            model="test-model",
        )

    async with sse_client(f"http://127.0.0.1:{hub.port}/mcp") as (read, write):
        async with ClientSession(read, write, sampling_callback=sampling) as session:
            with anyio.fail_after(10):
                await session.initialize()
            with anyio.fail_after(20):
                result = await session.call_tool("passthrough__sample", {"prompt": "hi"})
    content = result.content[0]
    assert isinstance(content, types.TextContent) and content.text == "sampled: reply to hi"


@pytest.fixture(scope="module")
def quick_keepalive_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    servers = {"passthrough": stdio_entry("passthrough_stdio.py", disabled=True)}
    root = tmp_path_factory.mktemp("fastpath-keepalive")
    extra = ("--mcp-keepalive", "0.3")
    with running_hub(root, servers, late=["passthrough"], extra_args=extra) as hub:
        yield hub


async def test_a_streamable_fast_call_answers_json_or_streams_what_comes_first(
    quick_keepalive_hub: HubProcess,
) -> None:
    """A fast call's response is written as JSON when it comes first; progress, or a quiet
    keep-alive, turn the response into an SSE stream that ends with the result."""
    url = f"http://127.0.0.1:{quick_keepalive_hub.port}/mcp"
    async with httpx.AsyncClient(timeout=20) as http:
        headers = await open_session(http, url)

        quick = await http.post(url, headers=headers, json=call(1, "passthrough__cancelled", {}))
        assert quick.headers["content-type"] == "application/json"
        assert json.loads(quick.text)["id"] == 1

        progress = call(2, "passthrough__progress", {"steps": 2}, progressToken="p")
        streamed = await http.post(url, headers=headers, json=progress)
        assert streamed.headers["content-type"].startswith("text/event-stream")
        messages = sse_messages(streamed.text)
        assert [m.get("method") for m in messages] == ["notifications/progress"] * 2 + [None]
        assert messages[-1]["result"]["content"][0]["text"] == "done 2"

        quiet = await http.post(
            url, headers=headers, json=call(3, "passthrough__wait", {"seconds": 1})
        )
        assert quiet.headers["content-type"].startswith("text/event-stream")
        # The headers went at the first keep-alive, a ping with them, the result later.
        assert 0 <= quiet.text.find(": ping") < quiet.text.find('"waited"'), quiet.text
        [answer] = sse_messages(quiet.text)
        assert answer["id"] == 3 and answer["result"]["content"][0]["text"] == "waited"


def sse_messages(body: str) -> list[dict[str, Any]]:
    """The JSON messages of an SSE body (comments and priming events left out)."""
    messages = []
    for event in body.replace("\r\n", "\n").split("\n\n"):
        data = [line[5:].strip() for line in event.split("\n") if line.startswith("data:")]
        if data and any(data):
            messages.append(json.loads("\n".join(data)))
    return messages


async def test_a_legacy_stream_pings_when_quiet_after_answers_written_at_once(
    quick_keepalive_hub: HubProcess,
) -> None:
    """Answers written straight to an idle legacy stream count as traffic: the ``: ping``
    comes once the stream has been quiet for the keep-alive, not never."""
    async with httpx.AsyncClient(timeout=20) as http:
        url = f"http://127.0.0.1:{quick_keepalive_hub.port}/mcp"
        async with http.stream("GET", url, headers={"Accept": "text/event-stream"}) as stream:
            lines = stream.aiter_lines()

            async def data_line() -> str:
                while not (line := await anext(lines)).startswith("data:"):
                    pass
                return line[5:].strip()

            with anyio.fail_after(10):
                endpoint = await data_line()
            base = f"http://127.0.0.1:{quick_keepalive_hub.port}"
            await http.post(base + endpoint, json=initialize())
            with anyio.fail_after(10):
                assert json.loads(await data_line())["id"] == 0
            initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
            await http.post(base + endpoint, json=initialized)
            for rid in (1, 2, 3):
                posted = await http.post(
                    base + endpoint, json=call(rid, "passthrough__cancelled", {})
                )
                assert posted.status_code == 202
                with anyio.fail_after(10):
                    assert json.loads(await data_line())["id"] == rid
            with anyio.fail_after(10):  # 0.3 s of quiet
                while (line := await anext(lines)) != ": ping":
                    assert not line.startswith("data:"), line
