"""The HTTP/1.1 wire, spoken raw, on both wire layers (``--http-server``): the same answers.

Every test runs on :mod:`tornadohub.httpfront` (``httptools``, the default) and on
Tornado's own HTTP server (the fallback), on the real application in this process: what a
client sees on the socket (keep-alive, pipelining, HTTP/1.0, malformed requests, chunked
bodies, ``Expect: 100-continue``, timeouts, limits, flow control, shutdown) may not depend on
which layer serves it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import eventually, initialize_request
from tests.inprocess import InProcessHub, in_process_hub
from tornadohub.listener import HARD_HEADER_LIMIT
from tornadohub.options import ConnectionLimits
from tornadohub.policy import MAX_BODY_BYTES, MAX_HEADER_BYTES

WIRES = ["httptools", "tornado"]
#: Bounds every read: a test that waits longer has failed.
WAIT = 10.0
BAD_REQUEST = b"HTTP/1.1 400 Bad Request\r\n\r\n"


async def settled(fact: bool) -> bool:
    return fact


class Response:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)


class Client:
    """One raw connection to the hub."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def response(self) -> Response:
        async with asyncio.timeout(WAIT):
            head = await self.reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin1").split("\r\n")
            status = int(lines[0].split(" ")[1])
            headers = {}
            for line in lines[1:]:
                if line:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
            if headers.get("transfer-encoding") == "chunked":
                body = b""
                while size := int((await self.reader.readuntil(b"\r\n"))[:-2], 16):
                    body += (await self.reader.readexactly(size + 2))[:-2]
                await self.reader.readexactly(2)
            elif "content-length" in headers:
                body = await self.reader.readexactly(int(headers["content-length"]))
            else:
                body = await self.reader.read()
        return Response(status, headers, body)

    async def read_past(self, marker: bytes) -> None:
        """Read (and drop) everything up to *marker*."""
        tail = b""
        async with asyncio.timeout(WAIT):
            while marker not in tail:
                chunk = await self.reader.read(1 << 20)
                assert chunk, "the connection closed"
                tail = tail[-len(marker) :] + chunk

    async def rest(self) -> bytes:
        """Everything until the hub closes the connection."""
        async with asyncio.timeout(WAIT):
            return await self.reader.read()

    async def closed(self) -> bool:
        """Whether the hub ends the connection (within WAIT) without sending anything."""
        return await self.rest() == b""


@contextlib.asynccontextmanager
async def connect(hub: InProcessHub) -> AsyncIterator[Client]:
    host, port = hub.base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        yield Client(reader, writer)
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


def request(method: str, path: str, body: bytes = b"", **headers: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    if body:
        lines.append(f"Content-Length: {len(body)}")
        lines.append("Content-Type: application/json")
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


TOOL_CALL = json.dumps({"server_name": "nope", "tool": "echo", "arguments": {}}).encode()


@pytest.fixture(params=WIRES)
async def hub(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[InProcessHub]:
    limits = ConnectionLimits(http_server=request.param)
    async with in_process_hub(tmp_path, limits=limits) as served:
        yield served


@pytest.fixture(params=WIRES)
async def quick_hub(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[InProcessHub]:
    """Timeouts of a fraction of a second, and at most two connections."""
    limits = ConnectionLimits(
        max_connections=2, header_timeout=0.3, body_timeout=0.3, http_server=request.param
    )
    async with in_process_hub(tmp_path, limits=limits) as served:
        yield served


async def test_keep_alive_serves_requests_in_turn(hub: InProcessHub) -> None:
    async with connect(hub) as client:
        for _ in range(3):
            await client.send(request("GET", "/api/health"))
            response = await client.response()
            assert response.status == 200
            assert response.json()["status"] == "ok"
            assert "connection" not in response.headers
        await client.send(request("GET", "/api/health", Connection="close"))
        response = await client.response()
        assert (response.status, response.headers["connection"]) == (200, "close")
        assert await client.closed()


async def test_whitespace_around_header_values_is_not_part_of_them(hub: InProcessHub) -> None:
    async with connect(hub) as client:
        await client.send(b"GET /api/health HTTP/1.1\r\nHost: \t127.0.0.1 \t \r\n\r\n")
        assert (await client.response()).status == 200


async def test_pipelined_requests_are_answered_in_order(hub: InProcessHub) -> None:
    """Five requests in one write: an MCP handshake (its answer takes longest), the hot
    route, handlers, and a closing request."""
    handshake = json.dumps(initialize_request("pipeliner")).encode()
    mcp_headers = {"Accept": "application/json, text/event-stream"}
    async with connect(hub) as client:
        await client.send(
            request("POST", "/mcp", handshake, **mcp_headers)
            + request("POST", "/api/servers/tools", TOOL_CALL)
            + request("GET", "/api/health")
            + request("POST", "/api/servers/tools", b"[]")
            + request("GET", "/api/servers", Connection="close")
        )
        initialized, call, health, invalid, servers = [await client.response() for _ in range(5)]
        assert initialized.status == 200
        assert b'"serverInfo"' in initialized.body
        assert (call.status, call.json()["code"]) == (404, "SERVER_NOT_FOUND")
        assert (health.status, health.json()["status"]) == (200, "ok")
        assert invalid.status == 400
        assert (servers.status, servers.json()["servers"]) == (200, [])
        assert servers.headers["connection"] == "close"
        assert await client.closed()


async def test_a_burst_of_pipelined_requests(hub: InProcessHub) -> None:
    """More requests in one write than the layer parses ahead: all answered, in turn."""
    count = 1500
    async with connect(hub) as client:
        await client.send(request("GET", "/api/health") * (count - 1) + request("GET", "/nope"))
        statuses = [(await client.response()).status for _ in range(count)]
    assert statuses == [200] * (count - 1) + [404]


async def test_http_1_0_closes_unless_asked_to_keep_alive(hub: InProcessHub) -> None:
    async with connect(hub) as client:
        await client.send(b"GET /api/health HTTP/1.0\r\n\r\n")
        response = await client.response()
        assert response.status == 200
        assert "connection" not in response.headers
        assert await client.closed()
    async with connect(hub) as client:
        for _ in range(2):
            await client.send(b"GET /api/health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            response = await client.response()
            assert (response.status, response.headers["connection"]) == (200, "Keep-Alive")


@pytest.mark.parametrize(
    "raw",
    [
        b"GARBAGE\r\n\r\n",
        b"GET /api/health HTTP/7.1\r\n\r\n",
        b"GET /api/health HTTP/1.1\r\nNo colon here\r\n\r\n",
        b"POST /api/servers/tools HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: many\r\n\r\n",
        b"POST /api/servers/tools HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
        b"Content-Type: application/json\r\n\r\nzz\r\n",
        b"GET /api/health HTTP/1.1\r\n\r\n",
    ],
    ids=["request-line", "version", "header-line", "content-length", "chunk-size", "no-host"],
)
async def test_malformed_requests_get_400_and_close(hub: InProcessHub, raw: bytes) -> None:
    async with connect(hub) as client:
        await client.send(request("GET", "/api/health") + raw)
        assert (await client.response()).status == 200  # the good request before it
        assert await client.rest() == BAD_REQUEST


async def test_upgrade_offers_are_ignored(hub: InProcessHub) -> None:
    """An h2c offer on a POST with a body (as some clients send): served as HTTP/1.1."""
    offer = {"Connection": "Upgrade, HTTP2-Settings", "Upgrade": "h2c", "HTTP2-Settings": "AAA"}
    async with connect(hub) as client:
        data = request("POST", "/api/servers/tools", TOOL_CALL, **offer)
        await client.send(data[:-9])
        await client.send(data[-9:] + request("GET", "/api/health"))
        call, health = await client.response(), await client.response()
    assert (call.status, call.json()["code"]) == (404, "SERVER_NOT_FOUND")
    assert (health.status, health.json()["status"]) == (200, "ok")


async def test_a_method_llhttp_does_not_know_reaches_the_application(hub: InProcessHub) -> None:
    """Tornado takes any token as a method; the routes answer 405."""
    async with connect(hub) as client:
        await client.send(request("BREW", "/api/servers", b"{}"))
        response = await client.response()
    assert (response.status, response.json()["code"]) == (405, "METHOD_NOT_ALLOWED")


async def test_chunked_request_body_is_assembled(hub: InProcessHub) -> None:
    head = b"POST /api/servers/tools HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    head += b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    parts = [TOOL_CALL[:7], TOOL_CALL[7:30], TOOL_CALL[30:]]
    chunks = b"".join(b"%x\r\n%b\r\n" % (len(part), part) for part in parts)
    async with connect(hub) as client:
        await client.send(head + chunks + b"0\r\n\r\n")
        response = await client.response()
    assert (response.status, response.json()["code"]) == (404, "SERVER_NOT_FOUND")
    assert response.json()["data"]["server"] == "nope"


async def test_expect_100_continue(hub: InProcessHub) -> None:
    async with connect(hub) as client:
        head = request("POST", "/api/servers/tools", TOOL_CALL, Expect="100-continue")
        await client.send(head[: -len(TOOL_CALL)])
        async with asyncio.timeout(WAIT):
            interim = await client.reader.readuntil(b"\r\n\r\n")
        assert interim == b"HTTP/1.1 100 (Continue)\r\n\r\n"
        await client.send(TOOL_CALL)
        response = await client.response()
    assert (response.status, response.json()["code"]) == (404, "SERVER_NOT_FOUND")


async def test_header_timeout_ends_stalled_and_idle_connections(quick_hub: InProcessHub) -> None:
    async with connect(quick_hub) as client:
        await client.send(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never ends
        assert await client.closed()
    async with connect(quick_hub) as client:
        await client.send(request("GET", "/api/health"))
        assert (await client.response()).status == 200
        assert await client.closed()  # idle keep-alive


async def test_body_timeout_ends_the_connection_unanswered(quick_hub: InProcessHub) -> None:
    async with connect(quick_hub) as client:
        await client.send(request("POST", "/api/servers/tools", TOOL_CALL)[:-5])
        assert await client.closed()


async def test_closed_connections_free_their_slots(quick_hub: InProcessHub) -> None:
    """At most two connections: two that go away (one mid-body) make room for the next."""
    for _ in range(3):
        async with connect(quick_hub) as idle, connect(quick_hub) as mid_body:
            await idle.send(request("GET", "/api/health"))
            assert (await idle.response()).status == 200
            await mid_body.send(request("POST", "/mcp", b"{" * 64)[:-10])
    async with connect(quick_hub) as client:
        await client.send(request("GET", "/api/health"))
        assert (await client.response()).status == 200


async def test_headers_past_the_hard_limit_end_the_connection(hub: InProcessHub) -> None:
    async with connect(hub) as client:
        await client.send(request("GET", "/api/health", X_Big="b" * (MAX_HEADER_BYTES + 1024)))
        assert (await client.response()).status == 431
    async with connect(hub) as client:
        with contextlib.suppress(ConnectionError):
            await client.send(request("GET", "/api/health", X_Big="b" * (HARD_HEADER_LIMIT + 1)))
        with contextlib.suppress(ConnectionError):
            assert await client.closed()


async def test_one_header_that_never_ends_ends_the_connection(hub: InProcessHub) -> None:
    async with connect(hub) as client:
        await client.send(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ")
        with contextlib.suppress(ConnectionError):
            for _ in range(HARD_HEADER_LIMIT // 65536 + 2):
                await client.send(b"b" * 65536)
        with contextlib.suppress(ConnectionError):
            assert await client.closed()


async def test_declared_body_over_the_limit_is_refused_and_closed(hub: InProcessHub) -> None:
    """The handlers' 413 comes first (the server's own 400 stays behind it)."""
    async with connect(hub) as client:
        head = b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        await client.send(head + b"Content-Length: %d\r\n\r\n" % (MAX_BODY_BYTES + 1))
        response = await client.response()
        assert (response.status, response.json()["code"]) == (413, "PAYLOAD_TOO_LARGE")
        assert response.headers["connection"] == "close"
        assert await client.closed()


async def test_sse_to_a_reader_that_stalls_waits_for_it(hub: InProcessHub) -> None:
    """/api/events: while the client reads nothing, the next event waits in its queue
    (the write of the one before has not drained); when it reads, both arrive."""
    payload = {"blob": "x" * (16 * 1024 * 1024)}
    async with connect(hub) as client:
        await client.send(request("GET", "/api/events"))
        async with asyncio.timeout(WAIT):
            head = await client.reader.readuntil(b"\r\n\r\n")
            assert b"\r\nTransfer-Encoding: chunked\r\n" in head
            size = int(await client.reader.readuntil(b"\r\n"), 16)
            assert (await client.reader.readexactly(size)).startswith(b"event: hub_state")
        await eventually(lambda: settled(bool(hub.hub.events.subscribers)))
        subscriber = hub.hub.events.subscribers[0]
        hub.hub.events.publish("big_one", payload)
        await eventually(lambda: settled(subscriber.queue.empty()))  # taken and being written
        hub.hub.events.publish("after_it", {})
        for _ in range(20):  # the writer had every chance to take it
            await asyncio.sleep(0)
        assert subscriber.queue.qsize() == 1
        await client.read_past(b"event: after_it")
        assert subscriber.queue.empty()


async def test_a_big_event_is_one_chunk_framed_like_a_small_one(hub: InProcessHub) -> None:
    """A chunk past httpfront's copy threshold (written as size line, chunk, CRLF) frames
    exactly as a small one: one chunk per event, its size, its bytes, CRLF, then the next."""
    blob = "y" * (300 * 1024)

    async def next_chunk(client: Client) -> bytes:
        size = int(await client.reader.readuntil(b"\r\n"), 16)
        chunk = await client.reader.readexactly(size)
        assert await client.reader.readexactly(2) == b"\r\n"
        return chunk

    async with connect(hub) as client:
        await client.send(request("GET", "/api/events"))
        async with asyncio.timeout(WAIT):
            await client.reader.readuntil(b"\r\n\r\n")
            assert (await next_chunk(client)).startswith(b"event: hub_state")
            await eventually(lambda: settled(bool(hub.hub.events.subscribers)))
            subscriber = hub.hub.events.subscribers[0]
            hub.hub.events.publish("big_one", {"blob": blob})
            await eventually(lambda: settled(subscriber.queue.empty()))
            hub.hub.events.publish("after_it", {})
            big = await next_chunk(client)
            after = await next_chunk(client)
    name, data = big.removesuffix(b"\n\n").split(b"\n")
    assert name == b"event: big_one"
    assert json.loads(data.removeprefix(b"data: "))["blob"] == blob
    assert after.startswith(b"event: after_it\ndata: ") and after.endswith(b"\n\n")


@pytest.mark.parametrize("wire", WIRES)
async def test_shutdown_closes_open_connections(tmp_path: Path, wire: str) -> None:
    serving = in_process_hub(tmp_path, limits=ConnectionLimits(http_server=wire))
    served = await serving.__aenter__()
    stopped = False
    try:
        async with connect(served) as client:
            await client.send(request("GET", "/api/health"))
            assert (await client.response()).status == 200
            stopped = True
            async with asyncio.timeout(WAIT):  # an idle connection does not hold it up
                await serving.__aexit__(None, None, None)
            assert await client.closed()
    finally:
        if not stopped:
            await serving.__aexit__(None, None, None)


async def test_a_client_that_goes_away_ends_its_stream(hub: InProcessHub) -> None:
    """/api/events: the handler learns of the close at once (not at its next write)."""
    async with connect(hub) as client:
        await client.send(request("GET", "/api/events"))
        await client.read_past(b"event: hub_state")
        await eventually(lambda: settled(bool(hub.hub.events.subscribers)))
    await eventually(lambda: settled(not hub.hub.events.subscribers))
