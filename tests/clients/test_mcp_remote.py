"""mcp-remote 0.15.1, the stdio bridge Claude Desktop runs for remote servers, on ``/mcp``.

mcp-remote is spawned as Claude Desktop spawns it (``mcp-remote <url> --transport <mode>``) and
spoken to as Claude Desktop speaks to it: newline-delimited JSON-RPC on its stdin and stdout.
Before it bridges anything it probes the URL for OAuth (a ``GET`` of the endpoint, then the
``/.well-known/`` documents, all 404 here), then connects with the transport its mode picks:
Streamable HTTP (``http-only``, ``http-first``), or the legacy HTTP+SSE transport the hub
serves on ``GET /mcp`` plus ``POST /messages`` (``sse-only``, ``sse-first``); ``--protocol
auto`` lets it negotiate 2026-07-28 and answer its stdio client's handshake itself.

* Every mode, one session: the handshake, lists, a tool's success (a 600 KB one too) and its
  tool error, an unknown tool, a resource, a prompt, the requests an upstream sends its
  caller mid-call (``passthrough``'s ``interview`` and ``roots``, over an HTTP upstream)
  answered on mcp-remote's stdio, log entries, progress, a subscribed resource's update, and
  ``tools/list_changed`` when ``everything`` is stopped and started through the REST API;
  mcp-remote's keep-alive pings are answered and never reach stdio.
* A hub restart on the same port: mcp-remote carries on in a new session by itself.
* API keys: the key in ``--header`` (from the environment, as desktop configs pass it) opens
  the session; without it mcp-remote stops at once with the 401, instead of waiting on a
  browser sign-in.

Its state directory (``~/.mcp-auth``) is a temporary one; every read is bounded; its process
group is killed at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conformance.install import MCP_REMOTE
from tests.conformance.node import require_node
from tests.conftest import stdio_entry
from tests.helpers import HubProcess, fixture_server
from tests.hubs import running_hub, set_upstream

REPLY_TIMEOUT = 30.0
#: The longest line read from mcp-remote (one JSON-RPC message).
MAX_LINE = 16 * 1024 * 1024
TOOLS_CHANGED = "notifications/tools/list_changed"
UPDATED = "notifications/resources/updated"
LOG = "notifications/message"
PROGRESS = "notifications/progress"
COUNTER = "passthrough+passthrough://counter"
STOPPED = "everything"
#: How long an EventSource waits before it reconnects a stream that ended (its default; the
#: hub sends no ``retry:``).
EVENTSOURCE_RETRY = 3.0
TOKEN = "desktop-token-0123456789"
#: (``--transport``, ``--protocol``): every way mcp-remote 0.15.1 reaches a server.
MODES = [
    ("http-only", "legacy"),
    ("http-first", "legacy"),
    ("sse-only", "legacy"),
    ("sse-first", "legacy"),
    ("http-only", "auto"),
    ("http-first", "auto"),
]
INITIALIZE = {
    "protocolVersion": "2025-06-18",
    "capabilities": {"sampling": {}, "elicitation": {}, "roots": {}},
    "clientInfo": {"name": "desktop", "version": "1"},
}


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    """``everything`` over STDIO and ``passthrough`` over Streamable HTTP, started once ``/mcp``
    exists so that it may ask the hub's clients for input."""
    with fixture_server("passthrough_http.py") as upstream:
        servers = {
            STOPPED: stdio_entry("everything_stdio.py"),
            "passthrough": {"url": upstream.url, "disabled": True},
        }
        root = tmp_path_factory.mktemp("mcp-remote")
        with running_hub(root, servers, late=["passthrough"]) as process:
            process.wait_status(STOPPED, "connected")
            yield process


class McpRemote:
    """One mcp-remote process: requests out, replies and notifications in, and the requests
    the hub forwards (elicitation, sampling, roots) answered as a desktop client would."""

    def __init__(self, process: asyncio.subprocess.Process, stderr: Path) -> None:
        self.process = process
        self.stderr = stderr
        self.next_id = 0
        self.pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.notifications: list[dict[str, Any]] = []
        self.asked: list[str] = []
        #: Replies to no request of ours (e.g. to mcp-remote's own pings): there must be none.
        self.strays: list[dict[str, Any]] = []
        self.arrived = asyncio.Event()
        self.reader = asyncio.create_task(self._read())

    def output(self) -> str:
        return self.stderr.read_text(errors="replace")[-4000:]

    async def _send(self, message: dict[str, Any]) -> None:
        stdin = self.process.stdin
        assert stdin is not None
        stdin.write(json.dumps({"jsonrpc": "2.0", **message}).encode() + b"\n")
        async with asyncio.timeout(REPLY_TIMEOUT):
            await stdin.drain()

    async def _read(self) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        while line := await stdout.readline():
            message = json.loads(line)
            if "method" not in message:
                future = self.pending.pop(message.get("id"), None)
                if future is None:
                    self.strays.append(message)
                elif not future.done():
                    future.set_result(message)
            elif "id" in message:
                self.asked.append(message["method"])
                await self._send({"id": message["id"], "result": answer(message)})
            else:
                self.notifications.append(message)
                self.arrived.set()
        for future in self.pending.values():
            future.set_exception(AssertionError(f"mcp-remote exited:\n{self.output()}"))

    async def request(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """The whole reply (``result`` or ``error``) to one request."""
        self.next_id += 1
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending[self.next_id] = future
        message: dict[str, Any] = {"id": self.next_id, "method": method}
        if params is not None:
            message["params"] = params
        await self._send(message)
        try:
            async with asyncio.timeout(REPLY_TIMEOUT):
                return await future
        except TimeoutError:
            raise AssertionError(f"no reply to {method}:\n{self.output()}") from None

    async def result(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        reply = await self.request(method, params)
        assert "result" in reply, reply
        return dict(reply["result"])

    async def open(self) -> dict[str, Any]:
        """The handshake, as Claude Desktop does it: the ``initialize`` result."""
        opened = await self.result("initialize", INITIALIZE)
        await self._send({"method": "notifications/initialized"})
        return opened

    def of(self, method: str) -> list[dict[str, Any]]:
        return [message for message in self.notifications if message["method"] == method]

    def count(self, method: str) -> int:
        return len(self.of(method))

    async def arrives(
        self, method: str, after: Callable[[], Awaitable[Any]], within: float = 1.0
    ) -> bool:
        """Whether a notification of *method* arrives within *within* s of awaiting *after*."""
        before = self.count(method)
        await after()
        with contextlib.suppress(AssertionError):
            await self.wait(method, before + 1, timeout=within)
        return self.count(method) > before

    async def wait(self, method: str, count: int, timeout: float = 20.0) -> None:
        """Until *count* notifications of *method* arrived (within *timeout* s)."""
        try:
            async with asyncio.timeout(timeout):
                while self.count(method) < count:
                    self.arrived.clear()
                    await self.arrived.wait()
        except TimeoutError:
            seen = [message["method"] for message in self.notifications]
            raise AssertionError(
                f"{method} x{count} never came; saw {seen}:\n{self.output()}"
            ) from None


def answer(request: dict[str, Any]) -> dict[str, Any]:
    """What the desktop client answers the upstream's questions with."""
    method = request["method"]
    if method == "elicitation/create":
        return {"action": "accept", "content": {"name": "Ada"}}
    if method == "sampling/createMessage":
        said = request["params"]["messages"][0]["content"]["text"]
        return {
            "role": "assistant",
            "content": {"type": "text", "text": f"reply to {said}"},
            "model": "desktop",
        }
    if method == "roots/list":
        return {"roots": [{"uri": "file:///work", "name": "work"}]}
    return {}


@contextlib.asynccontextmanager
async def mcp_remote(
    url: str, tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> AsyncIterator[McpRemote]:
    """mcp-remote on *url* in its own process group, with its state in *tmp_path*."""
    node = require_node()
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DISPLAY", "WAYLAND_DISPLAY", "DBUS_SESSION_BUS_ADDRESS")
    }
    environment.update(
        HOME=str(home),
        MCP_REMOTE_CONFIG_DIR=str(home / ".mcp-auth"),
        BROWSER="false",  # should it ever try a browser sign-in, nothing opens
        **(env or {}),
    )
    stderr_path = tmp_path / "mcp-remote.err"
    with stderr_path.open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            str(node),
            str(MCP_REMOTE.path),
            url,
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
            env=environment,
            start_new_session=True,
            limit=MAX_LINE,
        )
    client = McpRemote(process, stderr_path)
    try:
        yield client
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        async with asyncio.timeout(REPLY_TIMEOUT):
            await process.wait()
        client.reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await client.reader


def text(result: dict[str, Any]) -> str:
    content = result["content"][0]
    assert content["type"] == "text", result
    return str(content["text"])


@pytest.mark.parametrize(("transport", "protocol"), MODES)
async def test_mcp_remote_bridges_the_hub(
    transport: str, protocol: str, hub: HubProcess, tmp_path: Path
) -> None:
    url = f"http://127.0.0.1:{hub.port}/mcp"
    args = ("--transport", transport, "--protocol", protocol, "--ping-interval", "1")
    async with mcp_remote(url, tmp_path, *args) as remote:
        opened = await remote.open()
        assert opened["protocolVersion"] == "2025-06-18", opened
        assert opened["capabilities"]["tools"]["listChanged"] is True, opened

        listed = await remote.result("tools/list")
        names = {tool["name"] for tool in listed["tools"]}
        assert {"everything__echo", "passthrough__interview"} <= names, names

        echoed = await remote.result(
            "tools/call", {"name": "everything__echo", "arguments": {"message": "hi"}}
        )
        assert (text(echoed), echoed.get("isError", False)) == ("Echo: hi", False)
        big = "é" * 300_000 + "\u2028"  # events far over the 64 KiB write chunks, in pieces
        echoed = await remote.result(
            "tools/call", {"name": "everything__echo", "arguments": {"message": big}}
        )
        assert text(echoed) == f"Echo: {big}"
        failed = await remote.result(
            "tools/call", {"name": "everything__fail", "arguments": {"message": "no"}}
        )
        assert (text(failed), failed["isError"]) == ("no", True)
        unknown = await remote.request("tools/call", {"name": "nope__x", "arguments": {}})
        assert unknown["error"]["code"] == -32602, unknown
        assert "nope__x" in unknown["error"]["message"], unknown

        read = await remote.result("resources/read", {"uri": "everything+fixture://readme"})
        assert [item["text"] for item in read["contents"]] == ["fixture readme"], read
        prompt = await remote.result(
            "prompts/get", {"name": "everything__weather", "arguments": {"city": "a", "state": "b"}}
        )
        assert prompt["messages"][0]["content"]["text"] == "What's weather in a, b?", prompt

        interview = await remote.result("tools/call", {"name": "passthrough__interview"})
        assert text(interview) == "Ada: reply to greet Ada", interview
        roots = await remote.result("tools/call", {"name": "passthrough__roots"})
        assert text(roots) == "file:///work", roots
        assert remote.asked == ["elicitation/create", "sampling/createMessage", "roots/list"]

        await remote.result("logging/setLevel", {"level": "debug"})
        called = {"name": "passthrough__log", "arguments": {"level": "warning", "message": "hi"}}
        assert text(await remote.result("tools/call", called)) == "logged"
        await remote.wait(LOG, 2)
        logged = [(entry["params"]["level"], entry["params"]["data"]) for entry in remote.of(LOG)]
        assert logged[:2] == [("warning", "hi"), ("debug", "detail")], logged
        called = {"name": "passthrough__progress", "arguments": {"steps": 2}}
        called["_meta"] = {"progressToken": "steps"}
        assert text(await remote.result("tools/call", called)) == "done 2"
        await remote.wait(PROGRESS, 2)
        reported = [
            (entry["params"]["progressToken"], entry["params"]["progress"])
            for entry in remote.of(PROGRESS)
        ]
        assert reported == [("steps", 1), ("steps", 2)], reported

        await remote.result("resources/subscribe", {"uri": COUNTER})
        await touch_until_updated(remote)
        assert {entry["params"]["uri"] for entry in remote.of(UPDATED)} == {COUNTER}

        for count, status in enumerate(("disconnected", "connected"), start=1):
            await set_upstream(hub, STOPPED, status)
            await remote.wait(TOOLS_CHANGED, count)
        relisted = await remote.result("tools/list")
        assert {tool["name"] for tool in relisted["tools"]} == names
    assert remote.strays == []
    assert "Keep-alive ping failed" not in remote.output()


async def touch_until_updated(remote: McpRemote, timeout: float = 20.0) -> None:
    """Touch the subscribed counter until its ``resources/updated`` reaches the client.

    With ``--protocol auto`` mcp-remote answers ``resources/subscribe`` itself at once and
    subscribes (a new ``subscriptions/listen`` stream) 2 s later: a change before that is
    not the client's to see. The upstream's own answer cannot tell (the sessions of earlier
    clients may hold its subscription), so the client touches until an update arrives.
    """
    touch = {"name": "passthrough__touch", "arguments": {"uri": "passthrough://counter"}}
    try:
        async with asyncio.timeout(timeout):
            while not await remote.arrives(
                UPDATED, after=lambda: remote.result("tools/call", touch)
            ):
                pass
    except TimeoutError:
        raise AssertionError(f"no {UPDATED}:\n{remote.output()}") from None


async def echo_until_answered(remote: McpRemote, message: str, timeout: float = 30.0) -> None:
    """Call ``everything__echo`` until a call succeeds (within *timeout* s).

    mcp-remote answers at once, with an error, each request the old session cannot take, and
    takes up a new session by itself (after a 404 on Streamable HTTP; once the legacy
    stream reconnects), so the client polls as a user retrying would."""
    failures: list[str] = []
    call = {"name": "everything__echo", "arguments": {"message": message}}
    try:
        async with asyncio.timeout(timeout):
            while "result" not in (reply := await remote.request("tools/call", call)):
                failures.append(reply["error"]["message"][:200])
                await asyncio.sleep(0.5)
    except TimeoutError:
        raise AssertionError(
            f"never answered again; last: {failures[-1:]}\n{remote.output()}"
        ) from None
    assert text(reply["result"]) == f"Echo: {message}", reply


def timed_stop(hub: HubProcess) -> float:
    """SIGTERM *hub* and wait for its exit (code 0): how long it took."""
    started = time.monotonic()
    assert hub.stop() == 0
    return time.monotonic() - started


@pytest.mark.parametrize("transport", ["sse-only", "http-only"])
async def test_mcp_remote_outlives_a_hub_restart(
    transport: str,
    start_hub: Callable[..., HubProcess],
    write_config: Callable[..., str],
    tmp_path: Path,
) -> None:
    """The hub stops, slower than an EventSource waits to reconnect (one of its servers
    cleans up for 4 s, as real ones may), and a new hub starts on its port: mcp-remote
    carries on in a new session, with nothing asked of its client.

    An EventSource gives up for good on any answer but 200: a stopping hub must not answer
    the legacy stream's reconnect with 503, it drops it and the EventSource tries again."""
    slow = stdio_entry("lingering_stdio.py")
    slow["args"].append("--ignore-sigterm")
    config = write_config({STOPPED: stdio_entry("everything_stdio.py"), "slow-to-stop": slow})
    first = start_hub(config)
    url = f"http://127.0.0.1:{first.port}/mcp"
    async with mcp_remote(url, tmp_path, "--transport", transport) as remote:
        await remote.open()
        before = {"name": "everything__echo", "arguments": {"message": "before"}}
        assert text(await remote.result("tools/call", before)) == "Echo: before"

        stopped_in = await asyncio.to_thread(timed_stop, first)
        assert stopped_in > EVENTSOURCE_RETRY, "the stop must outlast the reconnect delay"
        await asyncio.to_thread(start_hub, config, port=first.port)
        await echo_until_answered(remote, "after")


@pytest.mark.parametrize("transport", ["http-only", "sse-only"])
async def test_mcp_remote_presents_the_api_key_it_is_given(
    transport: str,
    start_hub: Callable[..., HubProcess],
    write_config: Callable[..., str],
    tmp_path: Path,
) -> None:
    config = write_config({STOPPED: stdio_entry("everything_stdio.py")})
    keyed = start_hub(config, wait=False, MCP_HUB_AUTH_TOKENS=f"desktop:{TOKEN}")
    keyed.client.headers["Authorization"] = f"Bearer {TOKEN}"
    keyed.wait_ready()
    url = f"http://127.0.0.1:{keyed.port}/mcp"

    with_key = ("--transport", transport, "--header", "Authorization:Bearer ${HUB_TOKEN}")
    async with mcp_remote(url, tmp_path, *with_key, env={"HUB_TOKEN": TOKEN}) as remote:
        await remote.open()
        keyed_call = {"name": "everything__echo", "arguments": {"message": "keyed"}}
        assert text(await remote.result("tools/call", keyed_call)) == "Echo: keyed"

    without_key = tmp_path / "without-key"
    without_key.mkdir()
    async with mcp_remote(url, without_key, "--transport", transport) as refused:
        async with asyncio.timeout(REPLY_TIMEOUT):
            assert await refused.process.wait() == 1
        assert "(HTTP 401)" in refused.output()
