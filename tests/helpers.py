"""Process helpers for tests: a real hub and real servers, stopped by pid, waits bounded."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx

ROOT = Path(__file__).resolve().parent.parent
SERVERS = ROOT / "tests" / "servers"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(predicate: Callable[[], Any], timeout: float = 20.0, interval: float = 0.05) -> Any:
    """Poll *predicate* until it returns a truthy value; fail after *timeout* seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s (last value: {last!r})")


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 10) -> None:
    """Poll an upstream-side fact until it holds (bounded in time)."""
    with anyio.fail_after(timeout):
        for _ in range(1000):
            if await check():
                return
            await anyio.sleep(0.05)
    raise AssertionError("condition not met")


def descendants(pid: int) -> set[int]:
    """Every live process whose ancestry leads to *pid* (from /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] == "Z":
            continue
        parents[int(entry.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        children = {child for child, parent in parents.items() if parent in frontier}
        children -= found
        found |= children
        frontier = children
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def terminate(proc: subprocess.Popen[Any]) -> None:
    """Stop *proc* by SIGTERM, by SIGKILL after 10 s, and reap it."""
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


class ServerProcess:
    """A fixture server listening on a loopback port (*env*: its whole environment)."""

    def __init__(self, argv: list[str], port: int, env: dict[str, str] | None = None) -> None:
        self.argv = argv
        self.port = port
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            self.argv, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

        def listening() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.argv} exited with {self.proc.returncode}")
            with socket.socket() as sock:
                return sock.connect_ex(("127.0.0.1", self.port)) == 0

        wait_until(listening)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            terminate(self.proc)


@contextlib.contextmanager
def fixture_server(script: str, *args: str, port: int | None = None) -> Iterator[ServerProcess]:
    """``tests/servers/<script> PORT *args`` listening on *port* (a free one by default)."""
    port = free_port() if port is None else port
    server = ServerProcess([sys.executable, str(SERVERS / script), str(port), *args], port)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def initialize_request(client: str, version: str = "2025-06-18") -> dict[str, Any]:
    """A raw handshake-era ``initialize`` request (id 1) from client *client*."""
    return {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": version,
            "capabilities": {},
            "clientInfo": {"name": client, "version": "1"},
        },
    }


class HubProcess:
    """``python -m tornadohub serve`` on a free loopback port, in a private HOME."""

    def __init__(
        self,
        configs: list[str],
        *,
        home: Path,
        cwd: Path,
        extra_args: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
        port: int | None = None,
    ) -> None:
        self.configs = configs
        self.home = home
        self.cwd = cwd
        self.port = port or free_port()
        self.extra_args = extra_args
        self.env_overrides = env or {}
        self.proc: subprocess.Popen[str] | None = None
        self.stdout_path = cwd / f"hub-{self.port}.out"
        self.stderr_path = cwd / f"hub-{self.port}.err"
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=30)
        self.children_seen: set[int] = set()

    @property
    def argv(self) -> list[str]:
        args = [sys.executable, "-m", "tornadohub", "--port", str(self.port)]
        for config in self.configs:
            args += ["--config", config]
        return [*args, *self.extra_args]

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "MCP_HUB"))}
        env.update(HOME=str(self.home), PYTHONPATH=str(ROOT), **self.env_overrides)
        return env

    def start(self) -> None:
        self.proc = subprocess.Popen(
            self.argv,
            cwd=self.cwd,
            env=self.env,
            stdout=self.stdout_path.open("w"),
            stderr=self.stderr_path.open("w"),
            text=True,
        )

    @contextlib.contextmanager
    def running(self) -> Iterator[HubProcess]:
        """Started and ready inside the block; stopped on the way out, however it ends."""
        self.start()
        try:
            self.wait_ready()
            yield self
        finally:
            self.stop()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def health(self) -> dict[str, Any] | None:
        try:
            response = self.client.get("/api/health", timeout=2)
        except httpx.TransportError:
            return None
        return response.json() if response.status_code == 200 else None

    def wait_ready(self, timeout: float = 60.0) -> dict[str, Any]:
        def ready() -> dict[str, Any] | None:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"hub exited with {self.proc.returncode}: {self.stderr_path.read_text()}"
                )
            health = self.health()
            return health if health and health["state"] in ("ready", "restarted") else None

        health: dict[str, Any] = wait_until(ready, timeout)
        self.children_seen |= descendants(self.pid)
        return health

    def api(self, method: str, path: str, body: Any = None, **kwargs: Any) -> httpx.Response:
        """One REST call; every answer must be JSON."""
        if body is not None:
            kwargs["json"] = body
        response = self.client.request(method, path, **kwargs)
        assert "application/json" in response.headers.get("content-type", ""), response.text
        return response

    def server(self, name: str) -> dict[str, Any]:
        response = self.api("POST", "/api/servers/info", {"server_name": name})
        assert response.status_code == 200, response.text
        info: dict[str, Any] = response.json()["server"]
        return info

    def wait_status(self, name: str, status: str, timeout: float = 20.0) -> dict[str, Any]:
        result: dict[str, Any] = wait_until(
            lambda: (info := self.server(name))["status"] == status and info, timeout
        )
        return result

    def log_text(self) -> str:
        return self.stdout_path.read_text() + self.stderr_path.read_text()

    def log_entries(self) -> list[dict[str, Any]]:
        entries = []
        for line in self.log_text().splitlines():
            try:
                entries.append(json.loads(line))
            except ValueError:
                continue
        return entries

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int | None:
        """Stop the hub by pid; then no process it started may survive."""
        self.client.close()
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.children_seen |= descendants(self.pid)
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
                raise AssertionError("hub did not stop within the timeout") from None
        try:
            wait_until(lambda: not any(alive(pid) for pid in self.children_seen), 20)
        except AssertionError:
            survivors = [pid for pid in self.children_seen if alive(pid)]
            raise AssertionError(f"hub left processes behind: {survivors}") from None
        return self.proc.returncode


class EventLines:
    """A real ``/api/events`` client read on a thread: each line, as sent, goes to
    :meth:`_line`; :meth:`_ended` runs once the stream is over."""

    def __init__(self, base_url: str) -> None:
        import threading

        #: The response headers, in wire order.
        self.header_items: list[tuple[str, str]] = []
        self._connected = threading.Event()
        self._client = httpx.Client(base_url=base_url, timeout=httpx.Timeout(30, read=None))
        self._response: httpx.Response | None = None
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        if not self._connected.wait(20):
            raise AssertionError("could not connect to /api/events")

    @property
    def headers(self) -> dict[str, str]:
        return dict(self.header_items)

    def _read(self) -> None:
        try:
            with self._client.stream("GET", "/api/events") as response:
                self._response = response
                self.header_items = list(response.headers.items())
                self._connected.set()
                for line in response.iter_lines():
                    self._line(line)
        except Exception:  # closed by close(), or the hub went away: both are EOF
            pass
        finally:
            self._connected.set()
            self._ended()

    def _line(self, line: str) -> None:
        raise NotImplementedError

    def _ended(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Disconnect now: shut the socket down so the blocked reader wakes up."""
        stream = self._response.extensions.get("network_stream") if self._response else None
        sock = stream.get_extra_info("socket") if stream is not None else None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._thread.join(10)
        self._client.close()


class EventStream(EventLines):
    """``/api/events`` parsed with mcphub.nvim's rules."""

    def __init__(self, base_url: str) -> None:
        import queue

        self.events: queue.Queue[tuple[str, dict[str, Any]] | None] = queue.Queue()
        self._name: str | None = None
        super().__init__(base_url)

    def _line(self, line: str) -> None:
        if line.startswith("event: "):
            self._name = line[len("event: ") :]
        elif line.startswith("data: ") and self._name is not None:
            self.events.put((self._name, json.loads(line[len("data: ") :])))
            self._name = None

    def _ended(self) -> None:
        self.events.put(None)  # EOF: the hub ended the stream

    def next(self, timeout: float = 20.0) -> tuple[str, dict[str, Any]] | None:
        import queue

        try:
            return self.events.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no event within {timeout} s") from None

    def wait_for(self, name: str, timeout: float = 20.0, **match: Any) -> dict[str, Any]:
        """Skip events until one named *name* whose payload contains *match*."""
        deadline = time.monotonic() + timeout
        seen: list[tuple[str, Any]] = []
        while (left := deadline - time.monotonic()) > 0:
            item = self.next(left)
            if item is None:
                raise AssertionError(f"stream ended waiting for {name} {match}; saw {seen}")
            event, payload = item
            seen.append((event, payload.get("type") or payload.get("state")))
            if event == name and all(payload.get(k) == v for k, v in match.items()):
                return payload
        raise AssertionError(f"no {name} {match} within {timeout} s; saw {seen}")

    def subscription_events(
        self,
        timeout: float = 20.0,
        *,
        until: str,
        ignore: tuple[str, ...] = ("workspaces_updated",),
    ) -> list[dict[str, Any]]:
        """Collect subscription events up to and including the first of type *until*."""
        collected = []
        while True:
            payload = self.wait_for("subscription_event", timeout)
            if payload["type"] in ignore:
                continue
            collected.append(payload)
            if payload["type"] == until:
                return collected

    def wait_eof(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            if self.next(left) is None:
                return
        raise AssertionError("stream did not end")


@contextlib.contextmanager
def churning(directory: Path) -> Iterator[Path]:
    """*directory* with a file in it rewritten every 20 ms (a busy log) while inside."""
    stop = threading.Event()

    def churn() -> None:
        count = 0
        while not stop.wait(0.02):
            (directory / "noise.log").write_text(str(count))
            count += 1

    thread = threading.Thread(target=churn, daemon=True)
    thread.start()
    try:
        yield directory
    finally:
        stop.set()
        thread.join(timeout=5)
