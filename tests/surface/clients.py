"""What the tool-surface tests share: real clients of both SDKs on any endpoint, config edits.

Client kinds are named ``<language>-<transport>``: ``ts-streamable``, ``ts-sse`` (the
TypeScript SDK 1.32.2, handshake era), ``py-streamable``, ``py-sse`` (the Python SDK,
handshake era) and ``py-2026-07-28``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from tests.clients.agents import Agent, SdkAgent, Transport, TsAgent
from tests.conformance.node import require_node
from tests.helpers import HubProcess

TOOLS_CHANGED = "notifications/tools/list_changed"
PROMPTS_CHANGED = "notifications/prompts/list_changed"
RESOURCES_CHANGED = "notifications/resources/list_changed"
CLIENTS = ["ts-streamable", "ts-sse", "py-streamable", "py-sse", "py-2026-07-28"]
PY_CLIENTS = [client for client in CLIENTS if client.startswith("py-")]
TS_CLIENTS = [client for client in CLIENTS if client.startswith("ts-")]
LISTEN_ATTEMPTS = 10


def agent(client: str, hub: HubProcess, path: str, tmp_path: Path) -> Agent:
    """A client of kind *client* for the hub's endpoint *path* (``/mcp``, ``/profiles/x/mcp``)."""
    language, _, transport = client.partition("-")
    url = f"http://127.0.0.1:{hub.port}{path}"
    kind: Transport = "streamable"
    if transport in ("sse", "2026-07-28"):
        kind = "sse" if transport == "sse" else "2026-07-28"
    if language == "ts":
        stderr = tmp_path / f"ts_agent-{path.strip('/').replace('/', '-')}-{transport}.err"
        return TsAgent(require_node(), url, kind, stderr)
    return SdkAgent(url, kind)


async def expect(client: Agent, method: str, count: int) -> None:
    """At least *count* notifications of *method* arrive (within 20 s)."""
    arrived = await client.wait(method, count)
    assert arrived >= count, f"{arrived} {method} of {count}: {await client.seen()}"


async def listening(
    clients: Sequence[Agent], method: str, trigger: Callable[[], Awaitable[None]]
) -> None:
    """*trigger* (a change that sends *method* to every client) until each client got one.

    A handshake-era client opens the GET stream that carries ``list_changed`` some time after
    ``initialize``, and a notification sent before that is dropped (as the spec allows): this
    makes "every client listens" observable instead of assumed.
    """
    for _ in range(LISTEN_ATTEMPTS):
        await trigger()
        if all([await client.wait(method, 1, timeout=3) for client in clients]):
            return
    raise AssertionError(f"no {method} reached every client after {LISTEN_ATTEMPTS} changes")


async def tool_names(client: Agent) -> set[str]:
    return {tool["name"] for tool in await client.tools()}


async def refused(client: Agent, name: str, arguments: dict[str, Any] | None = None) -> str:
    """The error message of a ``tools/call`` that must fail with a JSON-RPC error."""
    try:
        called = await client.call(name, arguments)
    except Exception as exc:  # MCPError (Python SDK), AssertionError (ts_agent.mjs's error)
        return str(exc)
    raise AssertionError(f"{name} was called: {called.result}")


def text(result: dict[str, Any]) -> str:
    content = result["content"][0]
    assert content["type"] == "text", result
    return str(content["text"])


def write_config(path: Path, document: dict[str, Any]) -> None:
    """Save *document* as editors do (rename over the file), for a ``--watch`` hub."""
    staged = path.with_suffix(".tmp")
    staged.write_text(json.dumps(document))
    staged.replace(path)


async def rest(hub: HubProcess, method: str, path: str, body: Any = None) -> Any:
    """One REST call off the event loop; the decoded answer (status 200 asserted)."""
    response = await asyncio.to_thread(hub.api, method, path, body)
    assert response.status_code == 200, response.text
    return response.json()
