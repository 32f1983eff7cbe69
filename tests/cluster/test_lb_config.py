"""``mcp-hub lb-config --nginx`` run by a real nginx in front of three stand-in nodes.

The stand-ins are tiny Tornado apps that answer with their node id, so each test sees
where nginx sent a request: sessions to the node in their id's prefix (header or legacy
query), everything else round-robin, the owner's backups when it is down, SSE relayed
unbuffered, ``/metrics`` not served.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from tornado import httpserver, netutil, web

from tests.cluster.services import NginxServer, nginx_program
from tests.helpers import ROOT, free_port
from tornadohub.cluster.lb_config import parse_nodes, render_nginx

NODES = ("h1", "h2", "h3")


@dataclass
class StandIn:
    node_id: str
    port: int
    server: httpserver.HTTPServer
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def stop(self) -> None:
        self.server.stop()
        await self.server.close_all_connections()


class WhoAmI(web.RequestHandler):
    """Any request: ``X-Node`` says which stand-in served it; GET /mcp SSE waits for release."""

    def initialize(self, stand_in: StandIn) -> None:
        self.stand_in = stand_in

    def prepare(self) -> None:
        self.set_header("X-Node", self.stand_in.node_id)

    async def get(self) -> None:
        if self.request.headers.get("Accept") == "text/event-stream":
            self.set_header("Content-Type", "text/event-stream")
            self.write("data: first\n\n")
            await self.flush()
            await self.stand_in.release.wait()
            self.write("data: second\n\n")
            return
        self.write(self.stand_in.node_id)

    def post(self) -> None:
        self.write(self.stand_in.node_id)

    delete = post


def stand_in(node_id: str) -> StandIn:
    [sock] = netutil.bind_sockets(0, "127.0.0.1")
    port = sock.getsockname()[1]
    node = StandIn(node_id, port, httpserver.HTTPServer(web.Application()))
    node.server.request_callback = web.Application([(r"/.*", WhoAmI, {"stand_in": node})])
    node.server.add_sockets([sock])
    return node


def lb_config_cli(nodes: dict[str, int], listen: str) -> str:
    spec = ",".join(f"{name}=127.0.0.1:{port}" for name, port in nodes.items())
    result = subprocess.run(
        [sys.executable, "-m", "tornadohub", "lb-config", "--nginx", "--nodes", spec,
         "--listen", listen],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
async def stand_ins() -> AsyncIterator[dict[str, StandIn]]:
    nodes = {name: stand_in(name) for name in NODES}
    yield nodes
    for node in nodes.values():
        node.release.set()
        await node.stop()


@pytest.fixture
def nginx(stand_ins: dict[str, StandIn]) -> Iterator[NginxServer]:
    nginx_program()
    port = free_port()
    config = lb_config_cli({n: s.port for n, s in stand_ins.items()}, f"127.0.0.1:{port}")
    server = NginxServer(config, port)
    check = server.test_config()
    assert check.returncode == 0, check.stderr
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def client(nginx: NginxServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{nginx.port}", timeout=10) as c:
        yield c


async def served_by(client: httpx.AsyncClient, method: str, path: str, **kwargs: object) -> str:
    response = await client.request(method, path, **kwargs)  # type: ignore[arg-type]
    assert response.status_code == 200, (response.status_code, response.text)
    return response.headers["X-Node"]


async def test_sessions_go_to_the_node_in_their_prefix(client: httpx.AsyncClient) -> None:
    for node in NODES:
        header = {"Mcp-Session-Id": f"{node}.1abcd.c2VhbGVk"}
        for path in ("/mcp", "/MCP/", "/servers/github/mcp", "/profiles/dev/mcp/"):
            seen = {await served_by(client, "POST", path, headers=header) for _ in range(6)}
            assert seen == {node}
        assert await served_by(client, "GET", "/mcp", headers=header) == node
        assert await served_by(client, "DELETE", "/mcp", headers=header) == node
        legacy = {await served_by(client, "POST", f"/messages?sessionId={node}.1abcd.x")}
        assert legacy == {node}


async def test_everything_else_is_round_robin(client: httpx.AsyncClient) -> None:
    stateless = Counter([await served_by(client, "POST", "/mcp") for _ in range(30)])
    assert stateless == {"h1": 10, "h2": 10, "h3": 10}
    foreign = {"Mcp-Session-Id": "3f2a9c1e-uuid-from-elsewhere"}
    unknown_prefix = {"Mcp-Session-Id": "h9.1abcd.x"}
    for headers in (foreign, unknown_prefix):
        spread = Counter(
            [await served_by(client, "POST", "/mcp", headers=headers) for _ in range(9)]
        )
        assert spread == {"h1": 3, "h2": 3, "h3": 3}
    api = Counter([await served_by(client, "GET", "/api/health") for _ in range(9)])
    assert api == {"h1": 3, "h2": 3, "h3": 3}


async def test_metrics_are_not_served_through_the_balancer(client: httpx.AsyncClient) -> None:
    response = await client.get("/metrics")
    assert response.status_code == 404 and "X-Node" not in response.headers


async def test_a_dead_owners_sessions_reach_its_backups(
    client: httpx.AsyncClient, stand_ins: dict[str, StandIn]
) -> None:
    header = {"Mcp-Session-Id": "h2.1abcd.c2VhbGVk"}
    assert await served_by(client, "POST", "/mcp", headers=header) == "h2"
    await stand_ins["h2"].stop()
    seen = Counter([await served_by(client, "POST", "/mcp", headers=header) for _ in range(10)])
    assert set(seen) <= {"h1", "h3"} and sum(seen.values()) == 10


async def test_sse_is_relayed_unbuffered(
    client: httpx.AsyncClient, stand_ins: dict[str, StandIn]
) -> None:
    headers = {"Mcp-Session-Id": "h3.1abcd.x", "Accept": "text/event-stream"}
    async with client.stream("GET", "/mcp", headers=headers) as response:
        assert response.headers["X-Node"] == "h3"
        chunks = response.aiter_text()
        async with asyncio.timeout(10):
            first = await anext(chunks)
        assert "first" in first and "second" not in first  # arrived before the node went on
        stand_ins["h3"].release.set()
        async with asyncio.timeout(10):
            rest = "".join([chunk async for chunk in chunks])
        assert "second" in rest


def test_node_list_validation() -> None:
    assert [n.node_id for n in parse_nodes("h1=a:1, h2=[::1]:2")] == ["h1", "h2"]
    for bad, message in [
        ("", "no nodes"),
        ("h1", "NODE_ID=HOST:PORT"),
        ("H1=a:1", "NODE_ID=HOST:PORT"),
        ("h1=a", "not HOST:PORT"),
        ("h1=a:0", "not HOST:PORT"),
        ("h1=a:1,h1=b:2", "twice"),
        ("h1=a b:1", "not HOST:PORT"),
    ]:
        with pytest.raises(ValueError, match=message):
            parse_nodes(bad)
    config = render_nginx(parse_nodes("node-a=a:1"))
    assert '"~^node\\-a\\."  hub_node_node_a;' in config  # names generated, never from input


def test_cli_rejects_bad_nodes() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tornadohub", "lb-config", "--nginx", "--nodes", "h1=nowhere"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2 and "not HOST:PORT" in result.stderr and not result.stdout
