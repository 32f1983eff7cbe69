"""Multi-round-trip requests (SEP-2322) through /mcp, for every pairing of eras.

One hub with two upstreams: ``passthrough`` (``tests/servers/passthrough_stdio.py``, handshake
era: it asks with server-to-client requests) and ``modern`` (``tests/servers/conformance_server.py``
connected with ``protocolVersion: 2026-07-28``: its ``test_input_required_result_*`` tools answer
with an ``InputRequiredResult``). Clients are the SDK's own, plus raw HTTP for the wire details.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import mcp_types as types
import pytest
from mcp import Client, ClientSession
from mcp.client.session import ClientRequestContext
from mcp.client.subscriptions import ResourceUpdated

from tests.conftest import stdio_entry
from tests.helpers import HubProcess
from tests.hubs import running_hub
from tests.mcp.clients import handshake, modern_post

OLD = "passthrough"
NEW = "modern"
MODERN = "2026-07-28"
ACCEPT = "application/json, text/event-stream"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    servers = {
        OLD: stdio_entry("passthrough_stdio.py", disabled=True),
        NEW: {**stdio_entry("conformance_server.py"), "protocolVersion": MODERN},
    }
    with running_hub(tmp_path_factory.mktemp("rounds"), servers, late=[OLD]) as process:
        process.wait_status(NEW, "connected")
        yield process


@pytest.fixture
def url(hub: HubProcess) -> str:
    return f"http://127.0.0.1:{hub.port}/mcp"


# ------------------------------------------------------------------ callbacks
async def sampling(
    context: ClientRequestContext, params: types.CreateMessageRequestParams
) -> types.CreateMessageResult:
    prompt = params.messages[0].content
    assert isinstance(prompt, types.TextContent)
    return types.CreateMessageResult(
        role="assistant",
        content=types.TextContent(type="text", text=f"hello from the model ({prompt.text})"),
        model="test-model",
    )


async def elicitation(
    context: ClientRequestContext, params: types.ElicitRequestParams
) -> types.ElicitResult:
    return types.ElicitResult(action="accept", content={"name": "Ada", "color": "teal"})


async def roots(context: ClientRequestContext) -> types.ListRootsResult:
    return types.ListRootsResult(
        roots=[types.Root.model_validate({"uri": "file:///work", "name": "work"})]
    )


CALLBACKS: dict[str, Any] = {
    "sampling_callback": sampling,
    "elicitation_callback": elicitation,
    "list_roots_callback": roots,
}


async def text_of(client: Client | ClientSession, tool: str, **arguments: Any) -> str:
    with anyio.fail_after(20):
        result = await client.call_tool(tool, arguments)
    assert not result.is_error, result
    content = result.content[0]
    assert isinstance(content, types.TextContent)
    return content.text


# -------------------------------------------- modern client, older upstream
async def test_a_modern_client_answers_an_older_upstreams_requests_in_rounds(url: str) -> None:
    reported: list[float] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        reported.append(progress)

    async with Client(url, mode=MODERN, **CALLBACKS) as client:
        assert await text_of(client, f"{OLD}__sample", prompt="hi") == (
            "sampled: hello from the model (hi)"
        )
        assert await text_of(client, f"{OLD}__elicit", message="who?") == (
            'accept {"color": "teal", "name": "Ada"}'
        )
        assert await text_of(client, f"{OLD}__roots") == "file:///work"
        # two requests one after the other: two rounds, progress reaches the round in flight
        with anyio.fail_after(20):
            result = await client.call_tool(f"{OLD}__interview", {}, progress_callback=on_progress)
        assert result.content[0] == types.TextContent(
            type="text", text="Ada: hello from the model (greet Ada)"
        )
    assert reported == [1]


ALL_CAPS: dict[str, Any] = {"sampling": {}, "elicitation": {}, "roots": {}}


def test_bridged_rounds_on_the_wire(url: str) -> None:
    tool = f"{OLD}__elicit"
    first = modern_post(url, tool, ALL_CAPS, arguments={"message": "who?"})["result"]
    assert first["resultType"] == "input_required"
    (key,) = first["inputRequests"]
    assert first["inputRequests"][key]["method"] == "elicitation/create"
    assert first["inputRequests"][key]["params"]["message"] == "who?"
    state = first["requestState"]
    assert isinstance(state, str) and len(state) >= 32

    tampered = modern_post(url, tool, ALL_CAPS, requestState=state + "x", inputResponses={})
    assert tampered["error"]["code"] == types.INVALID_PARAMS
    assert "requestState" in tampered["error"]["message"]

    other_tool = modern_post(url, f"{OLD}__roots", ALL_CAPS, requestState=state)
    assert other_tool["error"]["code"] == types.INVALID_PARAMS  # a state is bound to its request

    answer = {"action": "accept", "content": {"name": "Bo"}}
    wrong_key = modern_post(
        url, tool, ALL_CAPS, requestState=state, inputResponses={"unknown": answer}
    )["result"]
    assert wrong_key["resultType"] == "input_required"  # asked again, not an error
    assert list(wrong_key["inputRequests"]) == [key] and wrong_key["requestState"] == state

    done = modern_post(
        url, tool, ALL_CAPS, requestState=state, inputResponses={key: answer, "extra": answer}
    )["result"]
    assert done["resultType"] == "complete"
    assert done["content"] == [{"type": "text", "text": 'accept {"name": "Bo"}'}]

    replayed = modern_post(url, tool, ALL_CAPS, requestState=state, inputResponses={key: answer})
    assert replayed["error"]["code"] == types.INVALID_PARAMS  # a finished exchange is gone


def test_bridged_request_needs_the_declared_capability(url: str) -> None:
    # The upstream's request fails with -32021 and the fixture reports how it failed.
    reply = modern_post(url, f"{OLD}__sample", {"elicitation": {}}, arguments={"prompt": "x"})
    assert reply["result"]["content"] == [
        {"type": "text", "text": "refused: Missing required client capability: sampling"}
    ]


# ------------------------------------------------ modern client, modern upstream
async def test_rounds_pass_through_between_modern_peers(url: str) -> None:
    async with Client(url, mode=MODERN, **CALLBACKS) as client:
        assert await text_of(client, f"{NEW}__test_input_required_result_multi_round") == (
            "Favourite colour: teal"
        )
        with anyio.fail_after(20):
            prompt = await client.get_prompt(f"{NEW}__test_input_required_result_prompt")
        assert prompt.messages[0].content == types.TextContent(
            type="text", text="Use this context: Ada"
        )


def test_modern_upstream_state_and_errors_pass_through(url: str) -> None:
    tool = f"{NEW}__test_input_required_result_request_state"
    first = modern_post(url, tool, ALL_CAPS)["result"]
    assert list(first["inputRequests"]) == ["confirm"]  # the upstream's own keys and state
    state = first["requestState"]
    assert state.startswith("confirm-pending.")
    answers = {"confirm": {"action": "accept", "content": {"ok": True}}}
    tampered = modern_post(url, tool, ALL_CAPS, requestState=state + "x", inputResponses=answers)
    assert tampered["error"] == {
        "code": types.INVALID_PARAMS,
        "message": "requestState failed its integrity check",
    }
    done = modern_post(url, tool, ALL_CAPS, requestState=state, inputResponses=answers)
    assert done["result"]["content"] == [{"type": "text", "text": "state-ok: confirmed"}]


def test_the_upstream_sees_the_clients_capabilities(url: str) -> None:
    tool = f"{NEW}__test_input_required_result_capabilities"
    asked = modern_post(url, tool, {"sampling": {}})["result"]
    assert list(asked["inputRequests"]) == ["greeting"]
    nothing = modern_post(url, tool, {})["result"]
    assert nothing["content"] == [{"type": "text", "text": "Asked for: nothing"}]


# ------------------------------------------- older client, modern upstream
async def test_an_older_client_is_asked_for_a_modern_upstreams_input(url: str) -> None:
    async with handshake(url, **CALLBACKS) as session:
        assert await text_of(session, f"{NEW}__test_input_required_result_elicitation") == (
            "Hello, Ada!"
        )
        assert await text_of(session, f"{NEW}__test_input_required_result_multiple_inputs") == (
            "Hello, Ada: all three received"
        )
        assert await text_of(session, f"{NEW}__test_input_required_result_list_roots") == (
            "Roots: file:///work"
        )


async def test_an_older_client_without_the_capability_gets_an_error(url: str) -> None:
    async with handshake(url) as session:
        with anyio.fail_after(20):
            result = await session.call_tool(f"{NEW}__test_input_required_result_sampling", {})
    assert result.is_error
    content = result.content[0]
    assert isinstance(content, types.TextContent)
    assert content.text == "The MCP client does not support sampling"


def test_an_unanswered_exchange_ends_with_the_request_timeout(tmp_path: Path) -> None:
    (tmp_path / "home").mkdir()
    config = tmp_path / "servers.json"
    config.write_text(json.dumps({"mcpServers": {OLD: stdio_entry("passthrough_stdio.py")}}))
    hub = HubProcess(
        [str(config)],
        home=tmp_path / "home",
        cwd=tmp_path,
        env={"TORNADOHUB_MCP_REQUEST_TIMEOUT": "1.5"},
    )
    hub.start()
    try:
        hub.wait_ready()
        url = f"http://127.0.0.1:{hub.port}/mcp"
        httpx.post(url, json={}, headers={"Accept": ACCEPT}, timeout=10)  # the endpoint exists
        # reconnect, so that the upstream is offered the hub's elicitation now
        stopped = hub.api("POST", "/api/servers/stop", {"server_name": OLD})
        assert stopped.status_code == 200, stopped.text
        started = hub.api("POST", "/api/servers/start", {"server_name": OLD})
        assert started.status_code == 200, started.text
        hub.wait_status(OLD, "connected")
        tool = f"{OLD}__elicit"
        first = modern_post(url, tool, ALL_CAPS, arguments={"message": "who?"})["result"]
        state = first["requestState"]
        outcome: dict[str, Any] = first
        deadline = time.monotonic() + 20  # retries without the answer, until the call timed out
        while outcome.get("resultType") == "input_required":
            assert time.monotonic() < deadline, outcome
            reply = modern_post(url, tool, ALL_CAPS, requestState=state)
            assert "result" in reply, reply
            outcome = reply["result"]
        assert outcome["isError"] is True
        assert "timed out" in outcome["content"][0]["text"]
        gone = modern_post(url, tool, ALL_CAPS, requestState=state)
        assert gone["error"]["code"] == types.INVALID_PARAMS
    finally:
        hub.stop()


# ------------------------------------------- subscriptions at a modern upstream
WATCHED = "test://watched-resource"


async def test_subscriptions_at_a_modern_upstream_go_through_its_listen_stream(url: str) -> None:
    updates: list[str] = []
    arrived = anyio.Event()

    async def on_message(message: Any) -> None:
        if isinstance(message, types.ResourceUpdatedNotification):
            updates.append(message.params.uri)
            arrived.set()

    public = f"{NEW}+{WATCHED}"
    async with handshake(url, message_handler=on_message) as session:
        request = types.SubscribeRequest(params=types.SubscribeRequestParams(uri=public))
        with anyio.fail_after(10):
            await session.send_request(request, types.EmptyResult)
        # The hub re-opens its listen stream with the new filter; touch until it is heard.
        with anyio.fail_after(20):
            while not arrived.is_set():
                await text_of(session, f"{NEW}__touch_resource", uri=WATCHED)
                with anyio.move_on_after(0.2):
                    await arrived.wait()
        assert set(updates) == {public}

    async with Client(url, mode=MODERN) as client:
        async with client.listen(resource_subscriptions=[public]) as subscription:
            assert subscription.honored.resource_subscriptions == [public]
            with anyio.fail_after(20):
                while True:
                    await text_of(client, f"{NEW}__touch_resource", uri=WATCHED)
                    event = None
                    with anyio.move_on_after(0.2):
                        event = await subscription.__anext__()
                    if event is not None:
                        break
    assert event == ResourceUpdated(uri=public)
