"""Cluster mode end to end: three real hubs, real Redis, real nginx from ``mcp-hub lb-config``.

The scenarios of the design's test plan (``shared/design/scale-out.md`` §6.2) against one
module-scoped cluster (:mod:`tests.cluster.harness`): h1..h3 with API keys, on a config of
two STDIO servers (``notes`` is ``stateful: true``, so sessions that reach it cannot be
adopted) and one HTTP server. Tests that kill a node or Redis start it again before they
end, so the order of the tests does not matter for correctness, only for time.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import signal
import sys
import time
from collections import Counter
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cluster.harness import (
    ALICE,
    BOB,
    SECRET,
    Cluster,
    Events,
    Load,
    call_tool,
    mcp_headers,
    open_session,
    rpc_result,
)
from tests.cluster.services import NginxServer
from tests.helpers import SERVERS, fixture_server, free_port, wait_until
from tornadohub.cluster.hop import HOP_HEADER, HopSigner
from tornadohub.cluster.secret import ClusterKeys

pytestmark = pytest.mark.timeout(120)

PORTABLE = "/servers/mock/mcp"  # reaches mock only: its sessions can be adopted
PINNED = "/mcp"  # reaches notes (stateful) too: its sessions die with their node
CONFIG_EVENTS = ("config.changed", "config.applied", "server.stopped", "server.started")


def stdio(script: str, **extra: Any) -> dict[str, Any]:
    return {"command": sys.executable, "args": [str(SERVERS / script)], **extra}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("cluster")
    with fixture_server("http_server.py") as remote:
        servers = {
            "mock": stdio("everything_stdio.py"),
            "notes": stdio("everything_stdio.py", stateful=True),
            "remote": {"url": remote.url},
        }
        hubs = Cluster(root, servers)
        try:
            hubs.start()
            yield hubs
        finally:
            hubs.stop()


def owner(session_id: str) -> str:
    return session_id.partition(".")[0]


def sessions_owned_by(cluster: Cluster, node: str, path: str, count: int) -> list[str]:
    """*count* sessions of *node*, opened on it directly (as its own clients would be)."""
    with cluster.client(node) as client:
        return [open_session(client, path, f"client-{i}") for i in range(count)]


def total(cluster: Cluster, name: str, **labels: str) -> float:
    return sum(cluster.metric(node, name, **labels) for node in cluster.alive())


def echo(client: httpx.Client, session_id: str, message: str, path: str = PORTABLE) -> str:
    response = call_tool(client, "echo", {"message": message}, path=path, session_id=session_id)
    text: str = rpc_result(response)["content"][0]["text"]
    assert response.headers["x-tornadohub-node"] in {"h1", "h2", "h3"}
    return text


# ------------------------------------------------------------------------------- S1
def test_stateless_calls_go_round_robin_and_never_touch_redis(cluster: Cluster) -> None:
    """S1: 2026-07-28 calls spread evenly over the nodes with 0 errors, and Redis sees
    only the nodes' own heartbeats, leases and stream reads, however many calls run."""
    with cluster.client() as client:
        for _ in range(6):  # each node opens its 2026-07-28 channel first (an event each)
            rpc_result(call_tool(client, "mock__echo", {"message": "warm"}))
    workers, per_worker = 8, 75
    served: Counter[str] = Counter()
    failures: list[str] = []

    def work(worker: int) -> None:
        with cluster.client() as client:
            for i in range(per_worker):
                response = call_tool(client, "mock__echo", {"message": f"{worker}-{i}"})
                if response.status_code != 200 or b"Echo: " not in response.content:
                    failures.append(response.text)
                served[response.headers.get("x-tornadohub-node", "?")] += 1

    background = {"heartbeat", "lease", "xread"}
    others = _redis_ops(cluster, exclude=background)
    commands = cluster.redis.commands_processed()
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        list(pool.map(work, range(workers)))
    elapsed = time.monotonic() - started
    delta = cluster.redis.commands_processed() - commands
    calls = workers * per_worker
    assert failures == []
    assert sum(served.values()) == calls
    for node in ("h1", "h2", "h3"):
        assert abs(served[node] / calls - 1 / 3) <= 0.05, served
    # No node used Redis for anything but its own loops, which on these timers (0.5 s
    # heartbeats and lease renewals, 2 s blocking reads) come to ~50 commands a second for
    # three nodes, scripts' inner commands included, whatever the load.
    assert _redis_ops(cluster, exclude=background) == others
    assert delta <= 30 + 60 * elapsed, (delta, elapsed, calls)


def _redis_ops(cluster: Cluster, *, exclude: set[str]) -> dict[tuple[str, str], float]:
    """Each node's count of control-plane Redis operations, by operation."""
    from tornadohub.metrics import RedisOp

    return {
        (node, op.value): cluster.metric(
            node, "mcphub_redis_op_duration_seconds_count", op=op.value
        )
        for node in cluster.alive()
        for op in RedisOp
        if op.value not in exclude
    }


# ------------------------------------------------------------------------------- S2
def test_sessions_are_always_served_by_their_owner_through_the_map(cluster: Cluster) -> None:
    """S2: handshake-era sessions opened through nginx are served by the node in their
    id's prefix on every request; nothing is forwarded."""
    forwarded = total(cluster, "mcphub_cluster_forwarded_requests_total", reason="misrouted")
    with cluster.client() as client:
        # Both views: /mcp's own sessions are answered by the hot route (handlers/hot.py).
        sessions = [
            (path, open_session(client, path, f"s2-{i}"))
            for i in range(12)
            for path in (PORTABLE, PINNED)
        ]
        assert {owner(sid) for _, sid in sessions} == {"h1", "h2", "h3"}
        for round_number in range(4):
            for path, sid in sessions:
                tool = "echo" if path == PORTABLE else "mock__echo"
                response = call_tool(
                    client, tool, {"message": f"{round_number}"}, path=path, session_id=sid
                )
                assert rpc_result(response)["content"][0]["text"] == f"Echo: {round_number}"
                assert response.headers["x-tornadohub-node"] == owner(sid)
    after = total(cluster, "mcphub_cluster_forwarded_requests_total", reason="misrouted")
    assert after == forwarded


# ------------------------------------------------------------------------------- S3
HASH_CONFIG = """\
upstream hub_hash {{
    hash $http_mcp_session_id consistent;
{servers}
    keepalive 16;
}}
server {{
    listen 127.0.0.1:{port};
    location / {{
        proxy_pass http://hub_hash;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $host;
        proxy_buffering off;
    }}
}}
"""


def test_a_hashing_balancer_works_through_forwarding(cluster: Cluster) -> None:
    """S3: behind ``hash $http_mcp_session_id`` most requests reach another node than the
    owner (2/3 with three nodes); they are forwarded and answer exactly the same."""
    port = free_port()
    servers = "\n".join(f"    server 127.0.0.1:{cluster.ports[n][0]};" for n in cluster.ids)
    nginx = NginxServer(HASH_CONFIG.format(servers=servers, port=port), port)
    nginx.start()
    try:
        forwarded = total(cluster, "mcphub_cluster_forwarded_requests_total", reason="misrouted")
        sessions = 45
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=ALICE, timeout=30) as c:
            for i in range(sessions):
                sid = open_session(c, PORTABLE, f"s3-{i}")  # the follow-up is hashed
                response = call_tool(c, "echo", {"message": f"h{i}"}, path=PORTABLE, session_id=sid)
                assert rpc_result(response)["content"][0]["text"] == f"Echo: h{i}"
                assert response.headers["x-tornadohub-node"] == owner(sid)
        # Two forwarded requests per misrouted session: notifications/initialized, the call.
        ratio = (total(cluster, "mcphub_cluster_forwarded_requests_total", reason="misrouted")
                 - forwarded) / (2 * sessions)  # fmt: skip
        assert 0.4 <= ratio <= 0.9, ratio
    finally:
        nginx.stop()


class SlowHeartbeats(Cluster):
    """Nodes that read the member table once a minute (after their first heartbeat)."""

    def node_args(self, node: str) -> tuple[str, ...]:
        return (*super().node_args(node), "--heartbeat-interval", "60", "--node-ttl", "180")


def test_a_session_of_a_node_that_joined_since_the_last_heartbeat_is_forwarded(
    tmp_path: Path,
) -> None:
    """S3b: l1's cached member table predates l2 (l1 beats once a minute). A request for
    one of l2's sessions on l1 is forwarded to l2, not adopted: l1 reads the table again
    before taking a session for a dead node's (both serving it would split it in two)."""
    late = SlowHeartbeats(tmp_path, {"mock": stdio("everything_stdio.py")}, ("l1", "l2"))
    try:
        late.redis.start()
        late.start_node("l1")
        late.start_node("l2")
        assert late.members("l1") == 1 and late.members("l2") == 2  # l1 has not seen l2
        with late.client("l2") as l2:
            sid = open_session(l2, PORTABLE)
        with late.client("l1") as l1:
            for round_number in range(3):
                response = call_tool(
                    l1, "echo", {"message": f"{round_number}"}, path=PORTABLE, session_id=sid
                )
                assert rpc_result(response)["content"][0]["text"] == f"Echo: {round_number}"
                assert response.headers["x-tornadohub-node"] == "l2"
        assert late.metric("l1", "mcphub_cluster_sessions_adopted_total") == 0
        assert late.metric("l1", "mcphub_cluster_forwarded_requests_total", reason="misrouted") == 3
    finally:
        late.stop()


# ------------------------------------------------------------------------------- S4
def test_forged_foreign_and_replayed_ids_and_hops_are_refused(cluster: Cluster) -> None:
    """S4: a tampered id, a relabelled prefix and another key's id get 404; a replayed
    hop and a hop with a wrong signature get 401; each is counted with its reason."""
    with cluster.client() as alice, cluster.client(**BOB) as bob:
        sid = open_session(alice, PORTABLE, "s4")
        node = owner(sid)
        other = next(n for n in cluster.ids if n != node)
        body = sid.rpartition(".")[2]
        flipped = body[:10] + ("A" if body[10] != "A" else "B") + body[11:]
        tampered = sid[: -len(body)] + flipped
        relabelled = other + sid[len(node) :]
        before = {
            reason: total(cluster, "mcphub_session_ids_rejected_total", reason=reason)
            for reason in ("tampered", "principal")
        }
        for client, bad in ((alice, tampered), (alice, relabelled), (bob, sid)):
            response = call_tool(client, "echo", {"message": "x"}, path=PORTABLE, session_id=bad)
            assert response.status_code == 404, response.text
        assert echo(alice, sid, "still mine") == "Echo: still mine"
        assert total(cluster, "mcphub_session_ids_rejected_total", reason="tampered") == (
            before["tampered"] + 2
        )
        assert total(cluster, "mcphub_session_ids_rejected_total", reason="principal") == (
            before["principal"] + 1
        )

    # A hop signed by "h9" for the owner: accepted once, refused when replayed.
    keys = ClusterKeys.from_secrets(SECRET.encode(), "test")
    call = {"jsonrpc": "2.0", "id": 7, "method": "tools/call"}
    call["params"] = {"name": "echo", "arguments": {"message": "hop"}}
    payload = json.dumps(call).encode()
    signed = HopSigner(keys, "h9").sign(
        target=node,
        method="POST",
        path=PORTABLE,
        session_id=sid,
        principal="alice",
        body=payload,
    )
    internal = f"http://127.0.0.1:{cluster.ports[node][1]}/_hub/hop{PORTABLE}"
    headers = {**mcp_headers(sid), **signed.headers}
    replays = cluster.metric(node, "mcphub_cluster_hop_rejected_total", reason="replay")
    macs = cluster.metric(node, "mcphub_cluster_hop_rejected_total", reason="mac")
    first = httpx.post(internal, content=payload, headers=headers, timeout=30)
    assert rpc_result(first)["content"][0]["text"] == "Echo: hop"
    assert httpx.post(internal, content=payload, headers=headers).status_code == 401
    wrong = dict(headers)
    wrong[HOP_HEADER] = signed.headers[HOP_HEADER][:-4] + "0000"
    assert httpx.post(internal, content=payload, headers=wrong).status_code == 401
    assert cluster.metric(node, "mcphub_cluster_hop_rejected_total", reason="replay") == replays + 1
    assert cluster.metric(node, "mcphub_cluster_hop_rejected_total", reason="mac") == macs + 1


# ------------------------------------------------------------------------- S7 + S9
def test_one_event_order_on_every_node_and_resuming_elsewhere(cluster: Cluster) -> None:
    """S7: a stop sent to h3 is one config revision, stopped on every node, and h1 and h2
    show the same events in the same order. S9: a client resuming on h3 with the id of an
    event it saw on h1 gets exactly the events it missed."""
    streams = [Events(cluster.base(node), **ALICE) for node in ("h1", "h2")]
    try:
        stopped = cluster.nodes["h3"].api("POST", "/api/servers/stop", {"server_name": "mock"})
        assert stopped.status_code == 200, stopped.text
        # config.changed, then on each node server.stopped and config.applied: 7 events.
        seen = [stream.take(7, names=CONFIG_EVENTS) for stream in streams]
        assert [e[:2] for e in seen[0]] == [e[:2] for e in seen[1]]
        assert seen[0][0][1] == "config.changed" and seen[0][0][2]["node"] == "h3"
        stops = {e[2]["node"] for e in seen[0] if e[1] == "server.stopped"}
        assert stops == {"h1", "h2", "h3"}
        for node in cluster.ids:
            assert cluster.nodes[node].server("mock")["status"] == "disconnected"

        # S9: resume on h3 after the 3rd event seen on h1: the 4 that followed, once each.
        resumed = Events(cluster.base("h3"), last_event_id=seen[0][2][0], **ALICE)
        try:
            again = resumed.take(4, names=CONFIG_EVENTS)
            assert [e[0] for e in again] == [e[0] for e in seen[0][3:]]
            started = cluster.nodes["h1"].api("POST", "/api/servers/start", {"server_name": "mock"})
            assert started.status_code == 200, started.text
            # The next event on the resumed stream is the new revision, not a duplicate.
            assert resumed.take(1, names=CONFIG_EVENTS)[0][1] == "config.changed"
        finally:
            resumed.close()
        for node in cluster.ids:
            cluster.nodes[node].wait_status("mock", "connected")
    finally:
        for stream in streams:
            stream.close()


# ------------------------------------------------------------------------------- S8
def test_a_config_file_change_on_one_node_is_applied_by_all(cluster: Cluster) -> None:
    """S8: SIGHUP on h2 after an edit makes one revision that every node applies (and tells
    its /mcp sessions about); SIGHUP on every node without an edit makes none."""
    events = Events(cluster.base("h1"), **ALICE)
    with cluster.client() as client:
        sessions = {node: sessions_owned_by(cluster, node, PINNED, 1)[0] for node in cluster.ids}
        streams = [
            client.stream(
                "GET", PINNED, headers={"Accept": "text/event-stream", "Mcp-Session-Id": s}
            )
            for s in sessions.values()
        ]
        opened = [stream.__enter__() for stream in streams]
        try:
            config = json.loads(cluster.config.read_text())
            config["mcpServers"]["extra"] = stdio("everything_stdio.py")
            cluster.config.write_text(json.dumps(config))
            cluster.nodes["h2"].proc.send_signal(signal.SIGHUP)  # type: ignore[union-attr]
            applied = events.take(4, names=("config.changed", "config.applied"))
            rev = applied[0][2]["rev"]
            assert applied[0][2]["node"] == "h2"
            assert {(e[2]["node"], e[2]["rev"], e[2]["ok"]) for e in applied[1:]} == {
                (node, rev, True) for node in cluster.ids
            }
            for response in opened:  # each node told its sessions their lists changed
                assert _line_with(response, "tools/list_changed", timeout=10)
            for node in cluster.ids:
                cluster.nodes[node].wait_status("extra", "connected")
                with cluster.client(node) as direct:
                    listed = rpc_result(
                        direct.post(
                            PINNED,
                            json={"jsonrpc": "2.0", "id": 3, "method": "tools/list"},
                            headers=mcp_headers(sessions[node]),
                        )
                    )
                    assert "extra__echo" in {tool["name"] for tool in listed["tools"]}
        finally:
            for stream in streams:
                stream.__exit__(None, None, None)

    for node in cluster.ids:  # the same files everywhere: no new revision
        cluster.nodes[node].proc.send_signal(signal.SIGHUP)  # type: ignore[union-attr]
    wait_until(lambda: all(_logged(cluster, n, "already runs") for n in cluster.ids), timeout=10)
    assert int(cluster.redis_client().hget("th:{test}:config", "rev") or 0) == rev

    del config["mcpServers"]["extra"]  # back to the module's config
    cluster.config.write_text(json.dumps(config))
    cluster.nodes["h1"].proc.send_signal(signal.SIGHUP)  # type: ignore[union-attr]
    events.take(4, names=("config.changed", "config.applied"))
    events.close()


def _line_with(response: httpx.Response, text: str, timeout: float) -> bool:
    """Whether a line with *text* comes on the stream within *timeout* (pings keep it going)."""
    deadline = time.monotonic() + timeout
    for line in response.iter_lines():
        if text in line:
            return True
        if time.monotonic() > deadline:
            return False
    return False


def _logged(cluster: Cluster, node: str, text: str) -> bool:
    return any(text in entry.get("message", "") for entry in cluster.nodes[node].log_entries())


# ------------------------------------------------------------------------------ S13
def test_one_oauth_refresh_for_the_whole_cluster(cluster: Cluster) -> None:
    """S13: a server behind OAuth, authorized once on h1: the other nodes, which were
    asking for an authorization of their own, stop asking and connect with its tokens,
    and through the window where each node finds them stale (its own refresh-early time,
    which differs per node) they are refreshed once for the cluster: the authorization
    server rotates refresh tokens, so a second node refreshing would be refused."""
    ttl = 12  # h1 refreshes at 6 s; the nodes that loaded the tokens later, before 12 s
    with _authorized_once(cluster, ttl) as (auth, issued):
        # A node that loaded the tokens r s before they expire finds them stale r/2 s
        # later: all by 8 s after issue. The new tokens are stale 5.5 s after the first
        # refresh (which is 5.5 s after issue or later), so the window below sees one.
        assert time.monotonic() - issued < 4, "the nodes connected too late to tell"
        assert auth.stats()["authorize"] == 1 and auth.stats()["refresh"] == 0
        rejected = auth.stats()["mcp_401"]
        renewed = "now at shared revision 2"
        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            while not all(_logged(cluster, node, renewed) for node in cluster.ids):
                assert time.monotonic() < issued + ttl - 2.5, "a node kept its stale tokens"
                calls = list(pool.map(_secure_echo, (cluster.nodes[n] for n in cluster.ids)))
                assert [status for status, _ in calls] == [200] * 3, calls
        assert auth.stats()["refresh"] == 1
        assert auth.stats()["mcp_401"] == rejected  # no node presented an expired token

        # The refresh refused (revoked) once the tokens are stale: a call fails at once
        # instead of waiting inside the SDK's flow for a user, and the node asks for one.
        # The refusal is shared: neither the node's reconnect nor another node sends the
        # spent refresh token again.
        auth.control("revoke")
        refreshes = auth.stats()["refresh"]
        renewed_by = time.monotonic()
        wait_until(lambda: time.monotonic() > renewed_by + ttl, timeout=ttl + 5)
        for node in ("h2", "h3"):
            failed = cluster.nodes[node].api("POST", "/api/servers/tools", _ECHO_SECURE, timeout=15)
            assert failed.json()["error"] == 'Server "secure" needs authorization again'
            wait_until(partial(_authorization_url, cluster.nodes[node]))
        assert auth.stats()["refresh"] == refreshes + 1


def test_an_authorization_during_a_redis_outage_reaches_every_node(cluster: Cluster) -> None:
    """Every node asks for an authorization; Redis goes away; the user authorizes on h1,
    which cannot share the tokens then. When Redis is back (empty) h1 shares them, and h2
    and h3 stop asking and connect with them: one authorization for the cluster."""
    from tests.oauth.test_oauth import AuthServer, to_loopback, user_approves

    auth = AuthServer()
    config = json.loads(cluster.config.read_text())
    try:
        config["mcpServers"]["secure"] = {"url": auth.mcp_url}
        _reload(cluster, config)
        for node in cluster.ids:
            cluster.nodes[node].wait_status("secure", "unauthorized")
        cluster.redis.stop(signal.SIGTERM)
        wait_until(lambda: _breakers(cluster) == {2}, timeout=10)
        h1 = cluster.nodes["h1"]
        location = user_approves(h1.server("secure")["authorizationUrl"], h1)
        assert httpx.get(to_loopback(location), timeout=60).status_code == 200
        h1.wait_status("secure", "connected")
        for node in ("h2", "h3"):
            assert cluster.nodes[node].server("secure")["status"] == "unauthorized"

        cluster.redis.start()  # empty, on the same port
        wait_until(lambda: _breakers(cluster) == {0}, timeout=15)
        for node in ("h2", "h3"):
            assert (
                cluster.nodes[node].wait_status("secure", "connected")["authorizationUrl"] is None
            )
            assert _secure_echo(cluster.nodes[node])[0] == 200
        assert auth.stats()["authorize"] == 1
    finally:
        config["mcpServers"].pop("secure", None)
        _reload(cluster, config)
        auth.stop()
    cluster.wait_members(set(cluster.ids))


def test_tokens_due_during_a_redis_outage_serve_until_they_expire(cluster: Cluster) -> None:
    """Tokens come due for their early refresh while Redis is out: each node used to
    refresh on its own, and with rotating refresh tokens all but the first were refused
    (those nodes asked for a new authorization). A token due is still valid: the nodes
    keep using it, and once Redis is back one node refreshes it for all."""
    ttl = 30  # due 15 s after issue on h1, up to ~17 s on nodes that loaded it later
    with _authorized_once(cluster, ttl) as (auth, issued):
        assert time.monotonic() - issued < 8, "the nodes connected too late to tell"
        rejected = auth.stats()["mcp_401"]

        cluster.redis.stop(signal.SIGTERM)
        wait_until(lambda: _breakers(cluster) == {2}, timeout=10)
        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            while time.monotonic() < issued + ttl / 2 + 4:  # due on every node by now
                calls = list(pool.map(_secure_echo, (cluster.nodes[n] for n in cluster.ids)))
                assert [status for status, _ in calls] == [200] * 3, calls
            assert auth.stats()["refresh"] == 0, "a node refreshed on its own"

            cluster.redis.start()  # empty, on the same port
            wait_until(lambda: _breakers(cluster) == {0}, timeout=15)
            for _ in range(5):  # each node's next call refreshes (one node) or takes the new set
                calls = list(pool.map(_secure_echo, (cluster.nodes[n] for n in cluster.ids)))
                assert [status for status, _ in calls] == [200] * 3, calls
        assert time.monotonic() < issued + ttl - 2, "too slow to tell"
        assert auth.stats()["refresh"] == 1
        assert auth.stats()["mcp_401"] == rejected  # no node presented an expired token
    cluster.wait_members(set(cluster.ids))


@contextlib.contextmanager
def _authorized_once(cluster: Cluster, ttl: int) -> Iterator[tuple[Any, float]]:
    """A server ``secure`` behind OAuth (access tokens live *ttl* s), authorized by the
    user on h1 only; yields its authorization server and when the tokens were issued, once
    every node is connected with them (the others stopped asking: no user, no restart)."""
    from tests.oauth.test_oauth import AuthServer, to_loopback, user_approves

    auth = AuthServer()
    config = json.loads(cluster.config.read_text())
    try:
        auth.control("ttl", {"seconds": ttl})
        config["mcpServers"]["secure"] = {"url": auth.mcp_url}
        _reload(cluster, config)
        for node in cluster.ids:
            cluster.nodes[node].wait_status("secure", "unauthorized")
        h1 = cluster.nodes["h1"]
        location = user_approves(h1.server("secure")["authorizationUrl"], h1)
        issued = time.monotonic()
        assert httpx.get(to_loopback(location), timeout=60).status_code == 200
        for node in cluster.ids:
            info = cluster.nodes[node].wait_status("secure", "connected")
            assert info["authorizationUrl"] is None, info
        yield auth, issued
    finally:
        config["mcpServers"].pop("secure", None)
        _reload(cluster, config)
        auth.stop()


def _authorization_url(hub: Any) -> Any:
    return hub.server("secure")["authorizationUrl"]


_ECHO_SECURE = {"server_name": "secure", "tool": "echo", "arguments": {"message": "hi"}}


def _secure_echo(hub: Any) -> tuple[int, str]:
    response = hub.api("POST", "/api/servers/tools", _ECHO_SECURE)
    return int(response.status_code), response.text


def _reload(cluster: Cluster, config: dict[str, Any]) -> None:
    """Write *config*, SIGHUP h1, and wait until every node applied the revision."""
    events = Events(cluster.base("h1"), **ALICE)
    try:
        cluster.config.write_text(json.dumps(config))
        cluster.nodes["h1"].proc.send_signal(signal.SIGHUP)  # type: ignore[union-attr]
        events.take(4, names=("config.changed", "config.applied"), timeout=30)
    finally:
        events.close()


# ------------------------------------------------------------------------------ S10
def test_redis_outage_under_load_fails_no_call(cluster: Cluster) -> None:
    """S10: Redis stopped and started again under load: no tool call fails; every node
    serves as a single node meanwhile (ready, ``degraded``), refuses cluster-wide writes
    (503) but not writes for itself, then rejoins and re-seeds the config."""
    events = Events(cluster.base("h1"), **ALICE)
    load = Load(cluster).start()
    try:
        load.wait_calls(20)
        cluster.redis.stop(signal.SIGTERM)
        wait_until(lambda: _breakers(cluster) == {2}, timeout=10)
        for node in cluster.ids:
            ready = cluster.nodes[node].client.get("/readyz")
            assert ready.status_code == 200, ready.text
            assert (ready.json()["mode"], ready.json()["redis"]) == ("degraded", "down")
        load.wait_calls(50)
        with cluster.client() as client:
            refused = client.post("/api/servers/stop", json={"server_name": "remote"})
            assert (refused.status_code, refused.json()["code"]) == (503, "CLUSTER_UNAVAILABLE")
        h1 = cluster.nodes["h1"]
        for action in ("stop", "start"):
            local = h1.api("POST", f"/api/servers/{action}?node=h1", {"server_name": "remote"})
            assert local.status_code == 200, local.text

        cluster.redis.start()  # empty, on the same port
        wait_until(lambda: _breakers(cluster) == {0}, timeout=15)
        rejoined = events.take(3, names=("cluster.rejoined",), timeout=15)
        assert {e[2]["node"] for e in rejoined} == set(cluster.ids)
        wait_until(lambda: cluster.redis_client().hget("th:{test}:config", "rev"), timeout=10)
        load.wait_calls(50)
    finally:
        load.stop()
        events.close()
    assert load.failures == []
    cluster.wait_members(set(cluster.ids))


def _breakers(cluster: Cluster) -> set[float]:
    return {cluster.metric(node, "mcphub_redis_breaker_state") for node in cluster.ids}


# ------------------------------------------------------------------------------- S6
def test_a_new_leader_takes_over_when_the_leader_dies(cluster: Cluster) -> None:
    """S6: SIGKILL the leader: another node announces ``leader.changed`` and exactly one
    node leads."""
    leader = wait_until(lambda: (found := cluster.leaders()) and found[0])
    assert cluster.leaders() == [leader]
    watcher = next(node for node in cluster.ids if node != leader)
    events = Events(cluster.base(watcher), **ALICE)
    try:
        cluster.kill(leader)
        announced = events.take(1, names=("leader.changed",), timeout=15)[0][2]
        assert announced["leader"] != leader
        wait_until(lambda: cluster.leaders() == [announced["leader"]], timeout=10)
    finally:
        events.close()
        cluster.start_node(leader)
        cluster.wait_members(set(cluster.ids))
    assert len(cluster.leaders()) == 1


# ------------------------------------------------------------------------------- S5
def test_a_node_killed_under_load(cluster: Cluster) -> None:
    """S5: SIGKILL h2 under stateless load: at most the calls in flight to it fail, later
    ones succeed; each of its portable sessions is adopted by exactly one node and goes on;
    each of its other sessions gets 404, and its client re-initializes."""
    portable = sessions_owned_by(cluster, "h2", PORTABLE, 3)
    pinned = sessions_owned_by(cluster, "h2", PINNED, 2)
    adopted = total(cluster, "mcphub_cluster_sessions_adopted_total")
    workers = 8
    load = Load(cluster, workers=workers).start()
    try:
        load.wait_calls(50)
        cluster.kill("h2")
        load.wait_calls(150)
    finally:
        load.stop()
    assert len(load.failures) <= workers, load.failures
    try:
        with cluster.client() as client:
            for round_number in range(2):  # the second time another backup may take it
                for sid in portable:
                    assert echo(client, sid, f"{round_number}") == f"Echo: {round_number}"
            assert total(cluster, "mcphub_cluster_sessions_adopted_total") == adopted + len(
                portable
            )
            for sid in pinned:
                gone = call_tool(client, "mock__echo", {"message": "x"}, session_id=sid)
                assert gone.status_code == 404, gone.text
                fresh = open_session(client, PINNED, "again")
                response = call_tool(client, "mock__echo", {"message": "y"}, session_id=fresh)
                assert rpc_result(response)["content"][0]["text"] == "Echo: y"
        wait_until(lambda: cluster.members("h1") == cluster.members("h3") == 2, timeout=10)
    finally:
        cluster.start_node("h2")
        cluster.wait_members(set(cluster.ids))


# ------------------------------------------------------------------------------ S11
def test_a_node_drains_on_sigterm(cluster: Cluster) -> None:
    """S11: SIGTERM h1 during a call: at once unready, the call completes, h1 leaves the
    cluster before it exits, and its sessions go on elsewhere right away."""
    sessions = sessions_owned_by(cluster, "h1", PORTABLE, 3)
    hub = cluster.nodes["h1"]
    assert hub.proc is not None
    peers = ("h2", "h3")
    adopted = sum(cluster.metric(n, "mcphub_cluster_sessions_adopted_total") for n in peers)
    with cluster.client() as client:
        slow = {"jsonrpc": "2.0", "id": 9, "method": "tools/call"}
        slow["params"] = {"name": "slow", "arguments": {"seconds": 2}}
        with client.stream("POST", PORTABLE, json=slow, headers=mcp_headers(sessions[0])) as reply:
            assert reply.headers["x-tornadohub-node"] == "h1"  # in flight: the stream is open
            hub.proc.send_signal(signal.SIGTERM)
            wait_until(lambda: hub.client.get("/readyz").status_code == 503, timeout=5)
            body = reply.read().decode()
        assert '"slept 2"' in body, body
        hub.proc.wait(30)
        assert not cluster.redis_client().hexists("th:{test}:nodes", "h1")
        try:
            for sid in sessions[1:]:
                assert echo(client, sid, "moved") == "Echo: moved"
            after = sum(cluster.metric(n, "mcphub_cluster_sessions_adopted_total") for n in peers)
            assert after == adopted + 2
        finally:
            hub.stop()
            cluster.start_node("h1")
            cluster.wait_members(set(cluster.ids))
