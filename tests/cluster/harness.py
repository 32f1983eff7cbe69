"""A real cluster for the tests: Redis, N hub processes, nginx from ``mcp-hub lb-config``.

Everything listens on free loopback ports and is stopped by pid. Nodes run on short timers
(heartbeat 0.5 s, node and leader TTL 1.5 s, breaker reset 1 s) so that failures show within
seconds. A node can be killed and started again on the same ports (a new boot epoch).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx

from tests.cluster.services import NginxServer, RedisServer
from tests.helpers import ROOT, HubProcess, free_port, initialize_request, wait_until

SECRET = "a cluster secret for the tests, long enough for HKDF"
#: API keys of every node: each session belongs to the key that opened it.
TOKENS = {"alice": "alice-token-0123456789", "bob": "bob-token-0123456789"}
ALICE = {"Authorization": f"Bearer {TOKENS['alice']}"}
BOB = {"Authorization": f"Bearer {TOKENS['bob']}"}
ACCEPT = "application/json, text/event-stream"
TIMERS = (
    "--heartbeat-interval", "0.5",
    "--node-ttl", "1.5",
    "--leader-ttl", "1.5",
    "--redis-breaker-reset", "1",
    "--redis-breaker-failures", "2",
    "--mcp-keepalive", "0.5",  # a slow call's reply turns into a stream (headers) at once
)  # fmt: skip


def lb_config(nodes: dict[str, int], listen: str) -> str:
    """What ``mcp-hub lb-config --nginx`` prints for *nodes* (id -> public port)."""
    spec = ",".join(f"{node}=127.0.0.1:{port}" for node, port in nodes.items())
    argv = [sys.executable, "-m", "tornadohub", "lb-config", "--nginx", "--listen", listen]
    result = subprocess.run(
        [*argv, "--nodes", spec], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    return result.stdout


class Cluster:
    """Redis, hub nodes h1..hN on one config file, and nginx in front of them."""

    def __init__(
        self, root: Path, servers: dict[str, Any], nodes: Iterable[str] = ("h1", "h2", "h3")
    ) -> None:
        self.root = root
        self.redis = RedisServer(root / "redis")
        self.secret = root / "secret"
        self.secret.write_text(SECRET)
        self.config = root / "servers.json"
        self.write_config(servers)
        self.ids = list(nodes)
        self.ports = {node: (free_port(), free_port()) for node in self.ids}
        self.nodes: dict[str, HubProcess] = {}
        self.nginx_port = free_port()
        self.nginx: NginxServer | None = None

    # ------------------------------------------------------------- lifecycle
    def write_config(self, servers: dict[str, Any]) -> None:
        self.config.write_text(json.dumps({"mcpServers": servers}, indent=2))

    def node_args(self, node: str) -> tuple[str, ...]:
        internal = self.ports[node][1]
        return (
            "--redis-url", self.redis.url,
            "--node-id", node,
            "--cluster", "test",
            "--cluster-secret-file", str(self.secret),
            "--internal-listen", f"127.0.0.1:{internal}",
            *TIMERS,
        )  # fmt: skip

    def start_node(self, node: str, *, wait: bool = True) -> HubProcess:
        directory = self.root / node
        home = directory / "home"  # one machine each: nothing shared but Redis
        for sub in (".config", ".local/share", ".local/state"):
            (home / sub).mkdir(parents=True, exist_ok=True)
        hub = HubProcess(
            [str(self.config)],
            home=home,
            cwd=directory,
            extra_args=self.node_args(node),
            port=self.ports[node][0],
            env={"MCP_HUB_AUTH_TOKENS": ",".join(f"{k}:{v}" for k, v in TOKENS.items())},
        )
        hub.client.headers.update(ALICE)
        self.nodes[node] = hub
        hub.start()
        if wait:
            hub.wait_ready()
        return hub

    def start(self) -> None:
        self.redis.start()
        for node in self.ids:
            self.start_node(node, wait=False)
        for node in self.ids:
            self.nodes[node].wait_ready()
        self.wait_members(set(self.ids))
        public = {node: self.ports[node][0] for node in self.ids}
        nginx = NginxServer(lb_config(public, f"127.0.0.1:{self.nginx_port}"), self.nginx_port)
        checked = nginx.test_config()
        assert checked.returncode == 0, checked.stderr
        nginx.start()
        self.nginx = nginx

    def stop(self) -> None:
        try:
            for hub in self.nodes.values():
                if hub.proc is not None and hub.proc.poll() is None:
                    hub.stop()
        finally:
            if self.nginx is not None:
                self.nginx.stop()
            self.redis.stop()

    def kill(self, node: str, sig: int = signal.SIGKILL) -> None:
        """Signal *node*'s process and wait for it to exit (its children die with it)."""
        hub = self.nodes[node]
        assert hub.proc is not None
        hub.proc.send_signal(sig)
        hub.proc.wait(30)
        hub.stop()  # the child check: nothing it started survives

    # ----------------------------------------------------------------- views
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.nginx_port}"

    def base(self, node: str) -> str:
        """*node*'s own public address (not through nginx)."""
        return f"http://127.0.0.1:{self.ports[node][0]}"

    def client(self, node: str | None = None, **headers: str) -> httpx.Client:
        """A client of nginx (or of *node* directly), as alice unless *headers* say."""
        base = self.url if node is None else self.base(node)
        return httpx.Client(base_url=base, headers={**ALICE, **headers}, timeout=30)

    def redis_client(self) -> Any:
        """A plain redis-py client of the cluster's Redis (to look at its keys)."""
        import redis

        return redis.Redis.from_url(self.redis.url, decode_responses=True)

    def alive(self) -> list[str]:
        return [n for n, hub in self.nodes.items() if hub.proc and hub.proc.poll() is None]

    def metric(self, node: str, name: str, **labels: str) -> float:
        """One sample of *node*'s ``/metrics`` (0 when absent)."""
        text = self.nodes[node].client.get("/metrics").text
        wanted = name + (
            "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}" if labels else ""
        )
        for line in text.splitlines():
            if line.startswith(wanted + " "):
                return float(line.split()[-1])
        return 0.0

    def members(self, node: str) -> float:
        return self.metric(node, "mcphub_cluster_nodes")

    def wait_members(self, nodes: set[str], timeout: float = 15) -> None:
        wait_until(lambda: all(self.members(node) == len(nodes) for node in nodes), timeout)

    def leaders(self) -> list[str]:
        return [node for node in self.alive() if self.metric(node, "mcphub_cluster_leader") == 1]


def mcp_headers(session_id: str | None = None, **extra: str) -> dict[str, str]:
    headers = {"Accept": ACCEPT, "Content-Type": "application/json", **extra}
    if session_id is not None:
        headers["Mcp-Session-Id"] = session_id
    return headers


def rpc_result(response: httpx.Response) -> dict[str, Any]:
    """The JSON-RPC result of a POST answered as JSON or as an SSE stream."""
    assert response.status_code == 200, (response.status_code, response.text)
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        for line in response.text.splitlines():
            if line.startswith("data: "):
                message = json.loads(line[len("data: ") :])
                if "result" in message or "error" in message:
                    assert "result" in message, message
                    result: dict[str, Any] = message["result"]
                    return result
        raise AssertionError(f"no result in {response.text!r}")
    body = response.json()
    assert "result" in body, body
    return dict(body["result"])


def open_session(client: httpx.Client, path: str = "/mcp", name: str = "test") -> str:
    """``initialize`` + ``notifications/initialized``; the session id."""
    response = client.post(path, json=initialize_request(name, "2025-11-25"), headers=mcp_headers())
    rpc_result(response)
    session_id = response.headers["mcp-session-id"]
    done = client.post(
        path,
        json={"jsonrpc": "2.0", "method": "notifications/initialized"},
        headers=mcp_headers(session_id),
    )
    assert done.status_code == 202, done.text
    return session_id


def call_tool(
    client: httpx.Client,
    tool: str,
    arguments: dict[str, Any],
    *,
    path: str = "/mcp",
    session_id: str | None = None,
    request_id: int = 2,
) -> httpx.Response:
    """A ``tools/call``; without *session_id*, as a stateless 2026-07-28 request."""
    params: dict[str, Any] = {"name": tool, "arguments": arguments}
    body = {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}
    if session_id is not None:
        return client.post(path, json=body, headers=mcp_headers(session_id))
    params["_meta"] = {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
    }
    headers = mcp_headers(
        **{"MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/call", "Mcp-Name": tool}
    )
    return client.post(path, json=body, headers=headers)


class Events:
    """A real ``/api/events`` client (ids kept), read on a thread."""

    def __init__(self, base_url: str, *, last_event_id: str | None = None, **headers: str) -> None:
        import queue
        import threading

        self.items: queue.Queue[tuple[str | None, str, dict[str, Any]] | None] = queue.Queue()
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        self._client = httpx.Client(
            base_url=base_url, headers=headers, timeout=httpx.Timeout(30, read=None)
        )
        self._connected = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        assert self._connected.wait(20), "could not connect to /api/events"

    def _read(self) -> None:
        try:
            with self._client.stream("GET", "/api/events") as response:
                self._connected.set()
                event_id: str | None = None
                name: str | None = None
                for line in response.iter_lines():
                    if line.startswith("id: "):
                        event_id = line[4:]
                    elif line.startswith("event: "):
                        name = line[7:]
                    elif line.startswith("data: ") and name is not None:
                        self.items.put((event_id, name, json.loads(line[6:])))
                        event_id = name = None
        except Exception:
            pass
        finally:
            self._connected.set()
            self.items.put(None)

    def take(self, count: int, *, names: Iterable[str], timeout: float = 10) -> list[Any]:
        """The next *count* events named in *names*, as (id, name, payload)."""
        import queue
        import time

        wanted = set(names)
        found: list[Any] = []
        deadline = time.monotonic() + timeout
        while len(found) < count:
            try:
                item = self.items.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"only {found} within {timeout} s") from None
            if item is None:
                raise AssertionError(f"stream ended; got {found}")
            if item[1] in wanted:
                found.append(item)
        return found

    def close(self) -> None:
        self._client.close()


class Load:
    """Stateless ``tools/call``s through nginx on *workers* threads until :meth:`stop`."""

    def __init__(self, cluster: Cluster, workers: int = 4, tool: str = "mock__echo") -> None:
        import threading

        self.cluster = cluster
        self.tool = tool
        self.ok = 0
        self.failures: list[str] = []
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._work, args=(i,), daemon=True) for i in range(workers)
        ]

    def start(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def _work(self, worker: int) -> None:
        with self.cluster.client() as client:
            number = 0
            while not self._stopping.is_set():
                number += 1
                try:
                    response = call_tool(client, self.tool, {"message": f"{worker}-{number}"})
                    good = response.status_code == 200 and b"Echo: " in response.content
                    failure = "" if good else f"{response.status_code} {response.text[:200]}"
                except httpx.HTTPError as exc:
                    failure = f"{type(exc).__name__}: {exc}"
                with self._lock:
                    if failure:
                        self.failures.append(failure)
                    else:
                        self.ok += 1

    def wait_calls(self, count: int, timeout: float = 30) -> None:
        """Wait until *count* more calls have succeeded."""
        target = self.ok + count
        wait_until(lambda: self.ok >= target, timeout)

    def stop(self) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join(60)
