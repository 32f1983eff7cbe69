"""A minimal, cheap MCP client for benchmarks: HTTP/1.1 on asyncio streams, no SDK.

The load generator shares two cores with the hubs it measures, so it must cost
little CPU per call: a hand-written keep-alive HTTP/1.1 client (Content-Length and
chunked bodies, incremental SSE), and three MCP session kinds on top of it:

* :class:`StreamableSession`: Streamable HTTP, handshake era (``Mcp-Session-Id``);
* :class:`LegacySession`: the legacy HTTP+SSE transport (``GET /mcp`` announces
  ``/messages?sessionId=``), the only one mcp-hub 4.2.1 speaks;
* :class:`StdioSession`: newline-delimited JSON-RPC over a child's pipes (the
  direct-to-upstream floor for STDIO servers);

plus :class:`RestClient` for ``POST /api/servers/tools`` and :class:`FloorClient` for the
framework-floor servers. Standard library only;
every wait is bounded by a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol

PROTOCOL_VERSION = "2025-06-18"
CLIENT_INFO = {"name": "tornadohub-bench", "version": "1"}
TIMEOUT = 60.0
STREAM_LIMIT = 64 * 1024 * 1024


class McpCallError(Exception):
    """A JSON-RPC error, an unexpected HTTP status or a closed stream."""


@dataclass
class HttpResponse:
    status: int
    headers: dict[str, str]
    body: bytes = b""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


class HttpConnection:
    """One keep-alive HTTP/1.1 connection to a loopback server."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def connect(self) -> None:
        self._reader, self._writer = await asyncio.wait_for(
            asyncio.open_connection(self.host, self.port, limit=STREAM_LIMIT), TIMEOUT
        )

    @property
    def reader(self) -> asyncio.StreamReader:
        assert self._reader is not None, "not connected"
        return self._reader

    def send(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> None:
        assert self._writer is not None, "not connected"
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        for name, value in (headers or {}).items():
            lines.append(f"{name}: {value}")
        if body or method in ("POST", "PUT"):
            lines.append(f"Content-Length: {len(body)}")
        self._writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)

    async def read_head(self) -> tuple[int, dict[str, str]]:
        raw = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = raw.decode("latin-1").split("\r\n")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/"):
            raise McpCallError(f"bad status line {status_line!r}")
        headers: dict[str, str] = {}
        for line in header_lines:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        return int(parts[1]), headers

    async def read_body(self, headers: dict[str, str], status: int) -> bytes:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return b"".join([chunk async for chunk in self.iter_chunks()])
        length = headers.get("content-length")
        if length is not None:
            return await self.reader.readexactly(int(length)) if int(length) else b""
        if status in (204, 304) or 100 <= status < 200:
            return b""
        return await self.reader.read()  # until the server closes

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        """The pieces of a chunked body, as they arrive."""
        reader = self.reader
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                await reader.readuntil(b"\r\n")  # no trailers are expected
                return
            chunk = await reader.readexactly(size)
            await reader.readexactly(2)
            yield chunk

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> HttpResponse:
        self.send(method, path, body, headers)
        status, response_headers = await asyncio.wait_for(self.read_head(), TIMEOUT)
        data = await asyncio.wait_for(self.read_body(response_headers, status), TIMEOUT)
        return HttpResponse(status, response_headers, data)

    async def close(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 5)


def sse_messages(text: str) -> list[dict[str, Any]]:
    """The JSON payloads of the ``data:`` lines of complete SSE events."""
    out = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        data = "\n".join(
            line[5:].lstrip() for line in block.split("\n") if line.startswith("data:")
        )
        if data.strip():
            with contextlib.suppress(ValueError):
                out.append(json.loads(data))
    return out


class Session(Protocol):
    """What the benchmark needs of any MCP client session."""

    async def open(self) -> None: ...

    async def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]: ...

    async def close(self) -> None: ...


def _result(message: dict[str, Any]) -> dict[str, Any]:
    if "error" in message:
        raise McpCallError(f"JSON-RPC error {message['error']}")
    result = message.get("result")
    if not isinstance(result, dict):
        raise McpCallError(f"no result in {str(message)[:200]}")
    return result


def _initialize_params(version: str = PROTOCOL_VERSION) -> dict[str, Any]:
    return {"protocolVersion": version, "capabilities": {}, "clientInfo": CLIENT_INFO}


class StreamableSession:
    """Streamable HTTP (handshake era) on one keep-alive connection."""

    def __init__(
        self, host: str, port: int, path: str = "/mcp", version: str = PROTOCOL_VERSION
    ) -> None:
        self.conn = HttpConnection(host, port)
        self.path = path
        self.version = version
        self.session_id: str | None = None
        self._next_id = 0

    def _headers(self) -> dict[str, str]:
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
        }
        if self.session_id:
            headers["Mcp-Session-Id"] = self.session_id
            headers["Mcp-Protocol-Version"] = self.version
        return headers

    async def open(self) -> None:
        await self.conn.connect()
        await self.request("initialize", _initialize_params(self.version))
        await self.notify("notifications/initialized")

    async def notify(self, method: str) -> None:
        body = json.dumps({"jsonrpc": "2.0", "method": method}).encode()
        response = await self.conn.request("POST", self.path, body, self._headers())
        if response.status >= 300:
            raise McpCallError(f"notify {method}: HTTP {response.status}")

    async def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self._next_id += 1
        rid = self._next_id
        body = json.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
        response = await self.conn.request("POST", self.path, body.encode(), self._headers())
        if response.status >= 300:
            raise McpCallError(f"{method}: HTTP {response.status} {response.body[:200]!r}")
        if method == "initialize":
            self.session_id = response.header("mcp-session-id")
        if (response.header("content-type") or "").startswith("text/event-stream"):
            for message in sse_messages(response.body.decode()):
                if message.get("id") == rid:
                    return _result(message)
            raise McpCallError(f"{method}: no response in the SSE body")
        message = json.loads(response.body)
        return _result(message)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            if self.session_id:
                await asyncio.wait_for(
                    self.conn.request("DELETE", self.path, b"", self._headers()), 5
                )
        await self.conn.close()


class LegacySession:
    """mcp-hub's transport: a GET event stream plus POSTs to the announced endpoint."""

    def __init__(self, host: str, port: int, path: str = "/mcp") -> None:
        self.stream = HttpConnection(host, port)
        self.posts = HttpConnection(host, port)
        self.path = path
        self.endpoint: str | None = None
        self._next_id = 0
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._reader: asyncio.Task[None] | None = None

    async def open(self) -> None:
        await self.stream.connect()
        await self.posts.connect()
        self.stream.send("GET", self.path, headers={"Accept": "text/event-stream"})
        status, headers = await asyncio.wait_for(self.stream.read_head(), TIMEOUT)
        if status != 200:
            raise McpCallError(f"GET {self.path}: HTTP {status}")
        got_endpoint: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._reader = asyncio.create_task(self._read(headers, got_endpoint))
        self.endpoint = await asyncio.wait_for(got_endpoint, TIMEOUT)
        await self.request("initialize", _initialize_params())
        await self._post({"jsonrpc": "2.0", "method": "notifications/initialized"})

    async def _read(self, headers: dict[str, str], got_endpoint: asyncio.Future[str]) -> None:
        chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        pieces: AsyncIterator[bytes] = (
            self.stream.iter_chunks() if chunked else _raw_pieces(self.stream.reader)
        )
        # Bytes throughout, each event cut out once: the client's own parsing is part of
        # every latency measured here, so it must cost as little as a real client's (the
        # two pages of a 1,300-tool list cost this loop ~2.5 ms more as str than as bytes).
        buffer = b""
        try:
            async for piece in pieces:
                buffer = buffer + piece if buffer else piece
                if b"\r" in buffer:
                    buffer = buffer.replace(b"\r\n", b"\n")
                while (cut := buffer.find(b"\n\n")) >= 0:
                    event, buffer = buffer[:cut], buffer[cut + 2 :]
                    self._dispatch(event, got_endpoint)
        except (OSError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(McpCallError("SSE stream closed"))
            if not got_endpoint.done():
                got_endpoint.set_exception(McpCallError("SSE stream closed before endpoint"))

    def _dispatch(self, event: bytes, got_endpoint: asyncio.Future[str]) -> None:
        name = b"message"
        data: list[bytes] = []
        for line in event.split(b"\n"):
            if line.startswith(b"data:"):
                data.append(line[5:])
            elif line.startswith(b"event:"):
                name = line[6:].strip()
        if not data:
            return
        if name == b"endpoint":
            if not got_endpoint.done():
                got_endpoint.set_result(data[0].strip().decode())
            return
        try:
            message = json.loads(data[0] if len(data) == 1 else b"\n".join(data))
        except ValueError:
            return
        rid = message.get("id") if isinstance(message, dict) else None
        future = self._pending.pop(rid, None) if isinstance(rid, int) else None
        if future is not None and not future.done():
            future.set_result(message)

    async def _post(self, message: dict[str, Any]) -> None:
        assert self.endpoint is not None
        response = await self.posts.request(
            "POST",
            self.endpoint,
            json.dumps(message).encode(),
            {"Content-Type": "application/json"},
        )
        if response.status >= 300:
            raise McpCallError(f"POST {self.endpoint}: HTTP {response.status}")

    async def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self._next_id += 1
        rid = self._next_id
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[rid] = future
        try:
            await self._post({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
            return _result(await asyncio.wait_for(future, TIMEOUT))
        finally:
            self._pending.pop(rid, None)

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(BaseException):
                await self._reader
        await self.stream.close()
        await self.posts.close()


async def _raw_pieces(reader: asyncio.StreamReader) -> AsyncIterator[bytes]:
    while piece := await reader.read(65536):
        yield piece


class StdioSession:
    """A child process speaking newline-delimited JSON-RPC (the STDIO floor)."""

    def __init__(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        self.argv = argv
        self.env = env
        self.process: asyncio.subprocess.Process | None = None
        self._next_id = 0
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._reader: asyncio.Task[None] | None = None

    async def open(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            *self.argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env=self.env,
            limit=STREAM_LIMIT,
        )
        self._reader = asyncio.create_task(self._read())
        await self.request("initialize", _initialize_params())
        self._write({"jsonrpc": "2.0", "method": "notifications/initialized"})

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    async def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        try:
            while line := await self.process.stdout.readline():
                with contextlib.suppress(ValueError):
                    message = json.loads(line)
                    rid = message.get("id") if isinstance(message, dict) else None
                    if isinstance(rid, int):
                        future = self._pending.pop(rid, None)
                        if future is not None and not future.done():
                            future.set_result(message)
        finally:
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(McpCallError("child closed stdout"))

    def _write(self, message: dict[str, Any]) -> None:
        assert self.process is not None and self.process.stdin is not None
        self.process.stdin.write(json.dumps(message).encode() + b"\n")

    async def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self._next_id += 1
        rid = self._next_id
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[rid] = future
        self._write({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
        return _result(await asyncio.wait_for(future, TIMEOUT))

    async def close(self) -> None:
        process = self.process
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), 5)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await asyncio.wait_for(process.wait(), 5)
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(BaseException):
                await self._reader


@dataclass
class RestClient:
    """``POST /api/servers/tools`` on one keep-alive connection."""

    host: str
    port: int
    server: str
    conn: HttpConnection = field(init=False)

    def __post_init__(self) -> None:
        self.conn = HttpConnection(self.host, self.port)

    async def open(self) -> None:
        await self.conn.connect()

    async def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        if method != "tools/call":
            raise McpCallError(f"REST client only calls tools, not {method}")
        body = {
            "server_name": self.server,
            "tool": params["name"],
            "arguments": params.get("arguments", {}),
        }
        response = await self.conn.request(
            "POST",
            "/api/servers/tools",
            json.dumps(body).encode(),
            {"Content-Type": "application/json"},
        )
        if response.status != 200:
            raise McpCallError(f"REST HTTP {response.status}: {response.body[:200]!r}")
        result = json.loads(response.body).get("result")
        if not isinstance(result, dict):
            raise McpCallError("REST answer without result")
        return result

    async def close(self) -> None:
        await self.conn.close()


@dataclass
class FloorClient:
    """One JSON POST per call to a framework-floor server (``bench/servers/floor_*``)."""

    host: str
    port: int
    path: str = "/floor"
    conn: HttpConnection = field(init=False)
    _next_id: int = 0

    def __post_init__(self) -> None:
        self.conn = HttpConnection(self.host, self.port)

    async def open(self) -> None:
        await self.conn.connect()

    async def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self._next_id += 1
        body = json.dumps(
            {"jsonrpc": "2.0", "id": self._next_id, "method": method, "params": params}
        )
        response = await self.conn.request(
            "POST", self.path, body.encode(), {"Content-Type": "application/json"}
        )
        if response.status != 200:
            raise McpCallError(f"floor HTTP {response.status}: {response.body[:200]!r}")
        return _result(json.loads(response.body))

    async def close(self) -> None:
        await self.conn.close()


async def list_all_tools(session: Session) -> int:
    """``tools/list`` following every cursor; the number of tools."""
    total = 0
    cursor: str | None = None
    for _ in range(10_000):  # bounded: a hub that hands out cursors forever fails here
        result = await session.request("tools/list", {"cursor": cursor} if cursor else {})
        total += len(result.get("tools") or [])
        cursor = result.get("nextCursor")
        if not cursor:
            return total
    raise McpCallError("tools/list: too many pages")


def echo_ok(result: dict[str, Any], message: str) -> bool:
    if result.get("isError"):
        return False
    content = result.get("content") or []
    return bool(content) and content[0].get("text") == f"Echo: {message}"


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k in ("PATH", "HOME", "LANG", "TERM", "TORNADOHUB_HTTP_SERVER", "TORNADOHUB_LOOP")
    }
    env.update(extra or {})
    return env
