"""A seeded fuzz pass over every route of a real hub: bad input gets a clear error, in the
documented shape, never a hang, a traceback or lost state.

One hub with real upstreams: ``everything``, ``garbage`` (prints junk before serving) and
``cut`` (its text has lone surrogates, as a Node server's can) over STDIO, and ``remote``
(Streamable HTTP). The marketplace points at a closed
loopback port, so its routes fail as documented without leaving the machine.

* REST (:mod:`tests.fuzz.rest_cases`): every route of the route table with wrong methods,
  odd query encodings, malformed JSON, every wrong type at the top and for each field (and
  inside object fields), lone surrogates, 10,000-deep nesting, duplicate keys, extra
  fields and wrong content types. Answers: mcp-hub's envelope, no 5xx but an upstream's.
* MCP (:mod:`tests.fuzz.mcp_cases`): JSON-RPC edge cases on a 2025-11-25 session, without
  a session, on the stateless 2026-07-28 wire and on legacy SSE ``/messages``, plus
  header cases. Answers: JSON-RPC errors with spec codes and statuses, a response for
  every request with a good id, 202 for notifications and responses, never a 5xx.

Each pass runs twice (MCP: on ``/mcp``, then on ``/servers/everything/mcp``): the first
round opens what the hub opens once (the 2026-07-28
channels to the upstreams), the second must leave the hub's file descriptors where the
first left them. After each round: no traceback in the hub's log, ``/api/health`` ready, a
normal tool call works, and every server is in the state it was in before.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import time
from collections.abc import Iterator

import pytest

from tests.conftest import stdio_entry
from tests.fuzz.harness import McpRunner, hub_problems, open_session
from tests.fuzz.mcp_cases import ACCEPT, mcp_cases
from tests.fuzz.rest_cases import rest_cases, rest_problems
from tests.fuzz.wire import Answer, exchange
from tests.helpers import HubProcess, fixture_server, wait_until
from tests.hubs import running_hub

SEED = 20261205
#: REST cases per round (of ~2,000 built): a share of every route's cases, seeded.
REST_CASES = 1500
#: The slowest answer a fuzz case may take (a hang is a failure, not a slow pass).
CASE_SECONDS = 5.0


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    with fixture_server("http_server.py") as remote:
        servers = {
            "everything": stdio_entry("everything_stdio.py"),
            "garbage": stdio_entry("garbage_stdio.py"),
            "cut": stdio_entry("odd_json_stdio.py"),
            "remote": {"url": remote.url},
        }
        closed = "http://127.0.0.1:9"  # the discard port: nothing listens there
        args = ("--marketplace-url", f"{closed}/registry.json", "--registry-url", f"{closed}/v0")
        root = tmp_path_factory.mktemp("fuzz")
        with running_hub(root, servers, extra_args=args) as process:
            for name in servers:
                process.wait_status(name, "connected")
            yield process


def states(hub: HubProcess) -> dict[str, str]:
    return {s["name"]: s["status"] for s in hub.api("GET", "/api/servers").json()["servers"]}


def fds(hub: HubProcess) -> int:
    return len(os.listdir(f"/proc/{hub.pid}/fd"))


def report(problems: list[str]) -> str:
    return f"{len(problems)} problems:\n" + "\n".join(problems[:40])


def test_rest_routes_answer_bad_input_with_the_envelope(hub: HubProcess) -> None:
    before = states(hub)
    cases = rest_cases(SEED, REST_CASES)
    problems: list[str] = []
    opened: int | None = None  # the first round may open what the hub opens once
    for _round in range(2):
        for case in cases:
            started = time.monotonic()
            answer = exchange(
                hub.port, case.method, case.target, headers=list(case.headers), body=case.body
            )
            found = rest_problems(case, answer)
            if (took := time.monotonic() - started) > CASE_SECONDS:
                found.append(f"took {took:.1f} s")
            problems += [f"{case.name}: {answer.status} {problem}" for problem in found]
        problems += hub_problems(hub, before, opened)
        opened = fds(hub)
    assert not problems, report(problems)


def test_mcp_wires_answer_bad_messages_per_spec(hub: HubProcess) -> None:
    before = states(hub)
    cases = mcp_cases(SEED, 1000)
    problems: list[str] = []
    opened: int | None = None  # the first round may open what the hub opens once
    # The per-server endpoint has the same wires over one server's names, unprefixed.
    for path in ("/mcp", "/servers/everything/mcp"):
        runner = McpRunner(hub, path)
        try:
            for case in cases:
                started = time.monotonic()
                answer, found = runner.send(case)
                if (took := time.monotonic() - started) > CASE_SECONDS:
                    found.append(f"took {took:.1f} s")
                problems += [f"{path} {case.name}: {answer.status} {p}" for p in found]
        finally:
            runner.close()
        problems += hub_problems(hub, before, opened)
        opened = fds(hub)
    assert not problems, report(problems)


def test_a_repeated_id_in_flight_is_refused_and_the_first_call_answered(hub: HubProcess) -> None:
    """Two ``tools/call`` with one id in one session, the first still running: the second
    is a 400 at once, the first gets its result."""
    session = open_session(hub.port)
    headers = [("Accept", ACCEPT), ("Content-Type", "application/json")]
    headers.append(("Mcp-Session-Id", session))
    params = {"name": "everything__slow", "arguments": {"seconds": 1.5}}
    call = {"jsonrpc": "2.0", "id": "same", "method": "tools/call", "params": params}
    body = json.dumps(call).encode()

    def send() -> Answer:
        return exchange(hub.port, "POST", "/mcp", headers=headers, body=body, stream=True)

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        first = pool.submit(send)
        wait_until(lambda: hub.api("GET", "/api/stats").json()["hub"]["callsInFlight"] >= 1, 10)
        second = send()
        answered = first.result(timeout=10)
    assert second.status == 400, second
    assert json.loads(second.body)["error"]["code"] == -32600
    assert answered.status == 200 and b"slept 1.5" in answered.body, answered
