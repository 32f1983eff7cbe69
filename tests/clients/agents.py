"""Real MCP clients behind one small interface, for tests of what clients receive from ``/mcp``.

An agent is connected to the hub and records every notification its SDK accepted (method
and params) and every error its SDK reported about the messages it received:

* :class:`TsAgent`: the TypeScript SDK's ``Client`` (``ts_agent.mjs``, Node), over Streamable
  HTTP or legacy SSE. Its errors are what ``client.onerror`` got: a message that fails the
  SDK's schemas is dropped and reported only there.
* :class:`SdkAgent`: the Python SDK's client, handshake era over Streamable HTTP or legacy SSE
  (``ClientSession``), or 2026-07-28 (``mcp.Client`` with ``subscriptions/listen`` streams
  instead of ``resources/subscribe``). Its errors are the exceptions its ``message_handler``
  got and the warnings the SDK logged (it drops an invalid notification with a warning).

Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Protocol, Self

import mcp_types as types
from mcp import Client, ClientSession
from mcp.client.session import ClientRequestContext
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from tests.conformance.install import TS_SDK

SCRIPT = Path(__file__).with_name("ts_agent.mjs")
REPLY_TIMEOUT = 30.0
Transport = Literal["streamable", "sse", "2026-07-28"]


@dataclass
class Seen:
    """What one client received, in order: notifications and requests (method, params), errors."""

    notifications: list[tuple[str, Any]] = field(default_factory=list)
    requests: list[tuple[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def count(self, method: str) -> int:
        return sum(1 for seen, _ in self.notifications if seen == method)

    def params(self, method: str) -> list[Any]:
        return [params for seen, params in self.notifications if seen == method]


@dataclass(frozen=True)
class Called:
    """A tool's result (as JSON) and the progress updates received while it ran."""

    result: dict[str, Any]
    progress: list[dict[str, Any]]


class Agent(Protocol):
    """A connected client; use it as an async context manager."""

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    async def subscribe(self, uri: str) -> None:
        """Subscribe to updates of resource *uri*."""

    async def set_level(self, level: str) -> None:
        """Ask for log entries at *level* and above."""

    async def call(self, name: str, arguments: dict[str, Any] | None = None) -> Called:
        """Call a tool, with a progress callback."""

    async def wait(self, method: str, count: int, timeout: float = 20.0) -> int:
        """Until *count* notifications of *method* arrived or *timeout* s passed: how many did."""

    async def lists(self) -> dict[str, int]:
        """How many tools, resources, resource templates and prompts the lists have."""

    async def tools(self) -> list[dict[str, Any]]:
        """The tool definitions ``tools/list`` gives (every page), as JSON."""

    async def seen(self) -> Seen:
        """Everything received so far."""


class TsAgent:
    """``ts_agent.mjs`` as a subprocess, one JSON command and reply per line."""

    def __init__(self, node: Path, url: str, transport: Transport, stderr: Path) -> None:
        assert transport != "2026-07-28", "the TypeScript SDK 1.32.2 is a handshake-era client"
        self.argv = [str(node), str(SCRIPT), str(TS_SDK.path.parent), url, transport]
        self.stderr_path = stderr
        self.process: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> Self:
        with self.stderr_path.open("wb") as stderr:
            self.process = await asyncio.create_subprocess_exec(
                *self.argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=stderr,
            )
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        process = self.process
        if process is None:
            return
        try:
            if process.returncode is None:
                await self._command({"op": "close"})
                async with asyncio.timeout(REPLY_TIMEOUT):
                    await process.wait()
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()

    async def _command(self, command: dict[str, Any]) -> Any:
        process = self.process
        assert process is not None and process.stdin is not None and process.stdout is not None
        process.stdin.write(json.dumps(command).encode() + b"\n")
        async with asyncio.timeout(REPLY_TIMEOUT):
            await process.stdin.drain()
            line = await process.stdout.readline()
        if not line:
            raise AssertionError(f"ts_agent.mjs exited: {self.stderr_path.read_text()[-3000:]}")
        reply = json.loads(line)
        if "error" in reply:
            raise AssertionError(f"ts_agent.mjs {command['op']}: {reply['error']}")
        return reply["ok"]

    async def subscribe(self, uri: str) -> None:
        await self._command({"op": "subscribe", "uri": uri})

    async def set_level(self, level: str) -> None:
        await self._command({"op": "setLevel", "level": level})

    async def call(self, name: str, arguments: dict[str, Any] | None = None) -> Called:
        done = await self._command({"op": "call", "name": name, "arguments": arguments or {}})
        return Called(done["result"], done["progress"])

    async def wait(self, method: str, count: int, timeout: float = 20.0) -> int:
        command = {"op": "wait", "method": method, "count": count, "timeout": timeout * 1000}
        return int(await self._command(command))

    async def lists(self) -> dict[str, int]:
        return dict(await self._command({"op": "lists"}))

    async def tools(self) -> list[dict[str, Any]]:
        return list(await self._command({"op": "tools"}))

    async def seen(self) -> Seen:
        report = await self._command({"op": "report"})
        return Seen(
            [(entry["method"], entry["params"]) for entry in report["notifications"]],
            [(entry["method"], entry["params"]) for entry in report["requests"]],
            list(report["errors"]),
        )


class _Warnings(logging.Handler):
    """Collects the warnings the Python SDK logs (how it reports a message it dropped)."""

    def __init__(self, sink: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.append(f"{record.name}: {record.getMessage()}")


class SdkAgent:
    """The Python SDK's client in one era and transport; it answers as ``ts_agent.mjs`` does."""

    def __init__(self, url: str, transport: Transport) -> None:
        self.url = url
        self.transport = transport
        self._seen = Seen()
        self._arrived = asyncio.Event()
        self._stack = contextlib.AsyncExitStack()
        self._session: ClientSession | Client | None = None
        self._client: Client | None = None

    async def __aenter__(self) -> Self:
        stack = self._stack
        handler = _Warnings(self._seen.errors)
        sdk_log = logging.getLogger("mcp")
        sdk_log.addHandler(handler)
        stack.callback(sdk_log.removeHandler, handler)
        try:
            async with asyncio.timeout(REPLY_TIMEOUT):
                self._session = await stack.enter_async_context(self._connect())
        except BaseException:
            await stack.aclose()
            raise
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        async with asyncio.timeout(REPLY_TIMEOUT):
            await self._stack.aclose()

    @contextlib.asynccontextmanager
    async def _connect(self) -> AsyncIterator[ClientSession | Client]:
        callbacks: dict[str, Any] = {
            "message_handler": self._on_message,
            "sampling_callback": self._sampling,
            "elicitation_callback": self._elicitation,
            "list_roots_callback": self._roots,
        }
        if self.transport == "2026-07-28":
            client = Client(self.url, mode="2026-07-28", log_level="debug", **callbacks)
            async with client:
                self._client = client
                async with client.listen(
                    tools_list_changed=True, prompts_list_changed=True, resources_list_changed=True
                ):
                    yield client
            return
        opened = (
            sse_client(self.url) if self.transport == "sse" else streamable_http_client(self.url)
        )
        async with opened as (read, write):
            async with ClientSession(read, write, **callbacks) as session:
                await session.initialize()
                yield session

    async def _on_message(self, message: Any) -> None:
        if isinstance(message, Exception):
            self._seen.errors.append(repr(message))
            return
        if isinstance(message, types.SubscriptionsAcknowledgedNotification):
            return  # the listen stream's own handshake
        params = message.params and message.params.model_dump(
            by_alias=True, mode="json", exclude_none=True
        )
        self._seen.notifications.append((message.method, params))
        self._arrived.set()

    def _asked(self, method: str, params: Any) -> None:
        dumped = params and params.model_dump(by_alias=True, mode="json", exclude_none=True)
        self._seen.requests.append((method, dumped))

    async def _sampling(
        self, context: ClientRequestContext, params: types.CreateMessageRequestParams
    ) -> types.CreateMessageResult:
        self._asked("sampling/createMessage", params)
        prompt = params.messages[0].content
        said = prompt.text if isinstance(prompt, types.TextContent) else "?"
        return types.CreateMessageResult(
            role="assistant",
            content=types.TextContent(type="text", text=f"reply to {said}"),
            model="sdk-agent",
        )

    async def _elicitation(
        self, context: ClientRequestContext, params: types.ElicitRequestParams
    ) -> types.ElicitResult:
        self._asked("elicitation/create", params)
        return types.ElicitResult(action="accept", content={"name": "Ada"})

    async def _roots(self, context: ClientRequestContext) -> types.ListRootsResult:
        self._asked("roots/list", None)
        return types.ListRootsResult(
            roots=[types.Root.model_validate({"uri": "file:///work", "name": "work"})]
        )

    async def subscribe(self, uri: str) -> None:
        if self._client is not None:  # 2026-07-28: a listen stream of its own
            await self._stack.enter_async_context(self._client.listen(resource_subscriptions=[uri]))
            return
        assert isinstance(self._session, ClientSession)
        request = types.SubscribeRequest(params=types.SubscribeRequestParams(uri=uri))
        async with asyncio.timeout(REPLY_TIMEOUT):
            await self._session.send_request(request, types.EmptyResult)

    async def set_level(self, level: str) -> None:
        if self._client is not None:  # 2026-07-28: every request asks in its _meta
            return
        assert isinstance(self._session, ClientSession)
        params = types.SetLevelRequestParams.model_validate({"level": level})
        async with asyncio.timeout(REPLY_TIMEOUT):
            await self._session.send_request(
                types.SetLevelRequest(params=params), types.EmptyResult
            )

    async def call(self, name: str, arguments: dict[str, Any] | None = None) -> Called:
        updates: list[dict[str, Any]] = []

        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            updates.append({"progress": progress, "total": total, "message": message})

        assert self._session is not None
        async with asyncio.timeout(REPLY_TIMEOUT):
            result = await self._session.call_tool(
                name, arguments or {}, progress_callback=on_progress
            )
        return Called(result.model_dump(by_alias=True, mode="json", exclude_none=True), updates)

    async def wait(self, method: str, count: int, timeout: float = 20.0) -> int:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while self._seen.count(method) < count:
                    self._arrived.clear()
                    await self._arrived.wait()
        return self._seen.count(method)

    async def lists(self) -> dict[str, int]:
        session = self._session
        assert session is not None
        async with asyncio.timeout(REPLY_TIMEOUT):
            return {
                "tools": len((await session.list_tools()).tools),
                "resources": len((await session.list_resources()).resources),
                "resourceTemplates": len(
                    (await session.list_resource_templates()).resource_templates
                ),
                "prompts": len((await session.list_prompts()).prompts),
            }

    async def tools(self) -> list[dict[str, Any]]:
        session = self._session
        assert session is not None
        async with asyncio.timeout(REPLY_TIMEOUT):
            listed = await session.list_tools()  # one page: the fixtures' lists are short
        assert listed.next_cursor is None
        return [
            tool.model_dump(by_alias=True, mode="json", exclude_none=True) for tool in listed.tools
        ]

    async def seen(self) -> Seen:
        seen = self._seen
        return Seen(list(seen.notifications), list(seen.requests), list(seen.errors))
