"""Fault and leak helpers, in one place: misbehaving upstreams, concurrent callers, leak checks.

The chaos suite is built on them; the lifecycle, shutdown, thread and limit tests use the
same calls on threads and the same ``/proc`` readings.

Leak checks read the hub from ``/proc`` only (nothing is added to product code):

* file descriptors: ``/proc/<pid>/fd``; every upstream pipe, socket, session stream and
  watcher holds one, so a leaked connection or a leaked task that owns one shows here;
* threads: ``/proc/<pid>/task``; the hub's worker-thread pools are bounded, so a per-event
  leak (a thread per call, per restart) exceeds the slack;
* child processes: :func:`tests.helpers.descendants`; exactly one process per live STDIO
  upstream may remain, every process that was killed, replaced or orphaned is gone, and no
  child of the hub is left unreaped (a zombie in ``/proc``).

asyncio tasks are not visible from outside. They are covered indirectly: a task that stays
blocked holds a pipe, a socket or a stream (fds) or a server slot, and the checks run after
*several rounds* of the same fault, comparing against a baseline taken after a warm-up round
of the same operations (which creates the one-time resources: thread pools, the MCP service,
lazily opened files). A per-fault leak grows with the rounds; one-time growth does not. The
slack (a few fds, a few threads) absorbs keep-alive connections of the test's own HTTP
clients and worker threads that are parked but not yet retired.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.helpers import (
    HubProcess,
    ServerProcess,
    alive,
    descendants,
    initialize_request,
    wait_until,
)

CHAOS_SERVERS = Path(__file__).resolve().parent / "chaos" / "servers"

StartHub = Callable[..., HubProcess]
WriteConfig = Callable[..., str]

#: Slack of the leak checks (see the module docstring).
FD_SLACK = 6
THREAD_SLACK = 8


def chaos_entry(**extra: Any) -> dict[str, Any]:
    """A config entry running ``tests/chaos/servers/chaos_stdio.py``."""
    return {"command": sys.executable, "args": [str(CHAOS_SERVERS / "chaos_stdio.py")], **extra}


# ----------------------------------------------------------------------------- /proc
def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def thread_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def status_kb(pid: int, field_name: str) -> int:
    """A ``kB`` field of ``/proc/<pid>/status`` (``VmRSS``, ``VmHWM``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field_name} for {pid}")


def zombies(pid: int) -> set[int]:
    """Children of *pid* that exited and were never reaped (state ``Z``)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] == "Z" and int(fields[1]) == pid:
            found.add(int(entry.name))
    return found


@dataclass
class Snapshot:
    fds: int
    threads: int
    children: set[int]

    @classmethod
    def of(cls, hub: HubProcess) -> Snapshot:
        return cls(fd_count(hub.pid), thread_count(hub.pid), descendants(hub.pid))


def assert_no_leaks(
    hub: HubProcess,
    baseline: Snapshot,
    *,
    children: int,
    gone: set[int] = frozenset(),  # type: ignore[assignment]
    timeout: float = 15.0,
) -> Snapshot:
    """Wait until the hub is back to *baseline* (within the slack) with *children* live
    children and no unreaped (zombie) ones.

    *gone*: pids that must not be alive any more (killed upstreams, grandchildren).
    """

    def settled() -> Snapshot | None:
        now = Snapshot.of(hub)
        ok = (
            now.fds <= baseline.fds + FD_SLACK
            and now.threads <= baseline.threads + THREAD_SLACK
            and len(now.children) == children
            and not any(alive(pid) for pid in gone)
            and not zombies(hub.pid)
        )
        return now if ok else None

    try:
        result: Snapshot = wait_until(settled, timeout=timeout, interval=0.2)
    except AssertionError:
        now = Snapshot.of(hub)
        survivors = sorted(pid for pid in gone if alive(pid))
        raise AssertionError(
            f"leak: fds {baseline.fds} -> {now.fds}, threads {baseline.threads} -> "
            f"{now.threads}, children {sorted(now.children)} (expected {children}), "
            f"still alive: {survivors}, zombies: {sorted(zombies(hub.pid))}"
        ) from None
    return result


# ----------------------------------------------------------------------------- calls
def tool_body(
    server: str,
    tool: str,
    arguments: dict[str, Any] | None = None,
    *,
    timeout_ms: int | None = None,
) -> dict[str, Any]:
    """The body of ``POST /api/servers/tools``."""
    body: dict[str, Any] = {"server_name": server, "tool": tool, "arguments": arguments or {}}
    if timeout_ms is not None:
        body["request_options"] = {"timeout": timeout_ms}
    return body


def rest_call(
    base_url: str,
    server: str,
    tool: str,
    arguments: dict[str, Any] | None = None,
    *,
    timeout_ms: int | None = None,
    client_timeout: float = 60.0,
) -> httpx.Response:
    with httpx.Client(base_url=base_url, timeout=client_timeout) as client:
        return client.post(
            "/api/servers/tools", json=tool_body(server, tool, arguments, timeout_ms=timeout_ms)
        )


def base_url(hub: HubProcess) -> str:
    return f"http://127.0.0.1:{hub.port}"


class RestCall(threading.Thread):
    """One REST call on its own client and thread (a hub's test client is not shared across
    threads), started at once, so that something else can race it; :meth:`result` joins it
    (bounded by *timeout*, which bounds the call too)."""

    def __init__(
        self, url: str, method: str, path: str, body: Any = None, *, timeout: float = 120.0
    ) -> None:
        super().__init__(daemon=True)
        self.url, self.method, self.path, self.body = url, method, path, body
        self.timeout = timeout
        self.response: httpx.Response | None = None
        self.error: Exception | None = None
        self.elapsed = 0.0
        self.start()

    def run(self) -> None:
        started = time.monotonic()
        try:
            with httpx.Client(base_url=self.url, timeout=self.timeout) as client:
                self.response = client.request(self.method, self.path, json=self.body)
        except Exception as exc:  # reported by result()
            self.error = exc
        self.elapsed = time.monotonic() - started

    def result(self, timeout: float | None = None) -> httpx.Response:
        self.join(self.timeout if timeout is None else timeout)
        assert not self.is_alive(), f"{self.method} {self.path} never returned"
        assert self.error is None, repr(self.error)
        assert self.response is not None
        return self.response


class Background(RestCall):
    """One REST tool call of *hub*'s on its own thread."""

    def __init__(self, hub: HubProcess, server: str, tool: str, **arguments: Any) -> None:
        body = tool_body(server, tool, arguments)
        super().__init__(base_url(hub), "POST", "/api/servers/tools", body, timeout=60.0)


@dataclass
class Bystander:
    """Calls ``echo`` on another server in a loop while the chaos happens (bounded)."""

    hub: HubProcess
    server: str
    max_seconds: float = 60.0
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> Bystander:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        deadline = time.monotonic() + self.max_seconds
        with httpx.Client(base_url=base_url(self.hub), timeout=10) as client:
            i = 0
            while not self._stop.is_set() and time.monotonic() < deadline:
                i += 1
                body = {"server_name": self.server, "tool": "echo", "arguments": {"message": i}}
                started = time.monotonic()
                try:
                    response = client.post("/api/servers/tools", json=body)
                    if _echo_text(response) != f"Echo: {i}":
                        self.failures.append(f"{response.status_code} {response.text[:300]}")
                except Exception as exc:
                    self.failures.append(repr(exc))
                self.latencies.append(time.monotonic() - started)
                time.sleep(0.02)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(15)

    def check(self, max_latency: float = 5.0) -> None:
        """The bystander kept serving: every call succeeded, none took long."""
        assert self.latencies, "the bystander made no call"
        assert not self.failures, self.failures[:5]
        assert max(self.latencies) < max_latency, max(self.latencies)


def _echo_text(response: httpx.Response) -> str | None:
    """The text of a successful REST tool call, None for anything else."""
    if response.status_code != 200:
        return None
    try:
        return str(response.json()["result"]["content"][0]["text"])
    except (ValueError, KeyError, IndexError, TypeError):
        return None


def tool_text(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    return str(response.json()["result"]["content"][0]["text"])


def set_mode(proxy: ServerProcess, mode: str) -> None:
    response = httpx.post(f"http://127.0.0.1:{proxy.port}/__chaos/{mode}", timeout=10)
    assert response.status_code == 200, response.text


def wait_gone(pids: set[int], timeout: float = 10.0) -> None:
    wait_until(lambda: not any(alive(pid) for pid in pids), timeout=timeout)


# ----------------------------------------------------------------------------- /mcp client
INITIALIZE = initialize_request("chaos")
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


class McpHttp:
    """A minimal Streamable HTTP client session on ``/mcp`` (handshake era), synchronous."""

    def __init__(
        self, hub: HubProcess, *, session_id: str | None = None, first_id: int = 1
    ) -> None:
        """A new session (call :meth:`open`), or another client of *session_id*."""
        self.url = f"{base_url(hub)}/mcp"
        self.client = httpx.Client(timeout=30)
        self.session_id = session_id
        self._next_id = first_id

    def headers(self) -> dict[str, str]:
        extra = {"Mcp-Session-Id": self.session_id} if self.session_id else {}
        return {**MCP_HEADERS, **extra}

    def open(self) -> McpHttp:
        response = self.client.post(self.url, json=INITIALIZE, headers=self.headers())
        assert response.status_code == 200, response.text
        self.session_id = response.headers["mcp-session-id"]
        note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        assert self.client.post(self.url, json=note, headers=self.headers()).status_code == 202
        return self

    def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self._next_id += 1
        body = {"jsonrpc": "2.0", "id": self._next_id, "method": method, "params": params}
        response = self.client.post(self.url, json=body, headers=self.headers())
        assert response.status_code == 200, response.text
        if response.headers.get("content-type", "").startswith("text/event-stream"):
            for line in response.text.splitlines():
                if line.startswith("data: ") and line[6:].strip():
                    message = json.loads(line[6:])
                    if message.get("id") == self._next_id:
                        return dict(message)
            raise AssertionError(f"no response in {response.text[:300]}")
        return dict(response.json())

    def call_tool(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        message = self.request("tools/call", {"name": name, "arguments": arguments})
        assert "result" in message, message
        return dict(message["result"])

    def close(self, *, end_session: bool = True) -> None:
        if self.session_id and end_session:
            self.client.delete(self.url, headers=self.headers())
        self.client.close()
