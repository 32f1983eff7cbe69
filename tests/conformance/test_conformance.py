"""The official MCP conformance suites against the hub; the Inspector CLI and the TS SDK client.

The server behind the hub is ``tests/servers/conformance_server.py``: the fixtures the suites
call, in both protocol eras, as the MCP python-sdk's reference "everything" server has them
(that server is not installable from PyPI). Each suite first runs against that server directly
(Streamable HTTP, no hub): that is what the server scores, every check of
``@modelcontextprotocol/conformance@0.1.16 --suite all`` (2025 wire) and of
``@0.2.0-alpha.12 --suite all --spec-version 2026-07-28`` passing. Then through the hub, with
the server on *default* entries (no ``protocolVersion``), so that each client reaches it in
its own era:

* the per-server endpoint ``/servers/<id>/mcp``, with the server over Streamable HTTP and
  over STDIO, and the aggregated ``/mcp`` of a hub in unprefixed mode must score check for
  check what the server scores directly (44/0 and 152/0 as the suites count, but one check:
  ``server-sse-streams-functional`` counts only responses sent as SSE streams, and the hub
  sends a response that is ready at once as JSON, which the spec allows and the check
  reports as INFO: 43/0 through the hub);
* the aggregated ``/mcp`` of a hub in the default mode publishes ``<server>__<name>``, so the
  suites' calls of fixed names fail there: the failures must be exactly those listed in
  ``baselines/`` (the suites' ``--expected-failures`` enforce it, stale entries included),
  and each of them must pass where the names are unprefixed, which shows the prefix is
  their cause.

Also the Inspector CLI lists and calls tools through ``/mcp``, and the TypeScript SDK's client
(``ts_client.mjs``) lists, calls, reads and gets a prompt there, over Streamable HTTP and the
legacy SSE transport, with a second upstream (``everything``) alongside.

The suite runs start together when the first test needs them, against three hubs started
together (see :func:`hubs`). The Node tools live in ``build/conformance/``: ``make
conformance`` installs them
(``python -m tests.conformance.install``) and runs this module. Without them these tests skip,
unless ``TORNADOHUB_CONFORMANCE=1`` says they must run. ``pytest -s`` prints each run's totals.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conformance.install import (
    CONFORMANCE_2025,
    CONFORMANCE_2026,
    INSPECTOR,
    TS_SDK,
    Package,
)
from tests.conformance.node import require_node
from tests.conftest import stdio_entry
from tests.helpers import SERVERS, HubProcess, ServerProcess, free_port
from tests.hubs import running_hub

SERVER = "conformance"  # the fixture over STDIO
HTTP_SERVER = "conformance-http"  # the same fixture over Streamable HTTP
SCRIPT = "conformance_server.py"
BASELINES = Path(__file__).with_name("baselines")
TOTAL = re.compile(r"Total: (\d+) passed, (\d+) failed")
SUITE_TIMEOUT = 300
#: Suite runs at once: each is a Node process waiting on a hub or the fixture; all ten at once
#: load a shared 2-core machine enough to miss the suite's 600 ms first-frame budget.
PARALLEL_RUNS = 5
#: The one check that differs by design through the hub (see the module docstring).
JSON_NOT_SSE = ("server-sse-multiple-streams", "server-sse-streams-functional")
SUITES = {"2025": CONFORMANCE_2025, "2026": CONFORMANCE_2026}


@pytest.fixture(scope="module")
def node() -> Path:
    return require_node()


@pytest.fixture(scope="module")
def http_fixtures(node: Path) -> Iterator[dict[tuple[str, str], ServerProcess]]:
    """The fixture server over Streamable HTTP (both eras on one endpoint), one process per
    (target, suite) run that reaches it: ``direct`` and the per-server hub's ``hub``.

    Runs go on at the same time, and ``test_trigger_tool_change`` adds a tool to the
    process it reaches: a process shared by two runs would change one run's tool set
    between the probes of the other's ``tools-list-deterministic-order`` check (then
    reported as an untestable warning instead of a success).
    """
    servers: dict[tuple[str, str], ServerProcess] = {}
    try:
        for key in [(target, suite) for target in ("direct", "hub") for suite in SUITES]:
            port = free_port()
            server = ServerProcess(
                [sys.executable, str(SERVERS / SCRIPT), "--http", str(port)], port
            )
            servers[key] = server
            server.start()
        yield servers
    finally:
        for server in servers.values():
            server.stop()


def http_server(suite: str) -> str:
    """The per-server hub's entry for the HTTP fixture that *suite*'s run reaches."""
    return f"{HTTP_SERVER}-{suite}"


@pytest.fixture(scope="module")
def hubs(
    node: Path,
    http_fixtures: dict[tuple[str, str], ServerProcess],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, HubProcess]]:
    """Three hubs, started together, the fixture on default entries in each:

    * ``per-server``: the fixture over STDIO, and over HTTP once per suite (see
      :func:`http_fixtures`), for ``/servers/<id>/mcp``;
    * ``unprefixed``: the fixture over STDIO alone, in unprefixed mode (the config key);
    * ``prefixed``: the default mode, with a second upstream. It has a fixture of its own, as
      the others do: a ``test_trigger_tool_change`` that another run makes must not reach
      its listen streams, whose list change checks fail by design.

    Upstreams start once ``/mcp`` was used, so that they connect with sampling, elicitation
    and roots served by the hub's MCP endpoint.
    """
    stdio = stdio_entry(SCRIPT, disabled=True)
    http = {
        http_server(suite): {"url": http_fixtures[("hub", suite)].url, "disabled": True}
        for suite in SUITES
    }
    everything = stdio_entry("everything_stdio.py", disabled=True)
    plans: dict[str, tuple[dict[str, Any], dict[str, Any] | None]] = {
        "per-server": ({SERVER: stdio, **http}, None),
        "unprefixed": ({SERVER: stdio}, {"mcpEndpoint": {"unprefixed": True}}),
        "prefixed": ({SERVER: stdio, "everything": everything}, None),
    }
    roots = {name: tmp_path_factory.mktemp(name) for name in plans}

    def start(name: str) -> tuple[contextlib.AbstractContextManager[HubProcess], HubProcess]:
        servers, settings = plans[name]
        running = running_hub(roots[name], servers, late=servers, settings=settings)
        return running, running.__enter__()

    with contextlib.ExitStack() as stack:
        with ThreadPoolExecutor(max_workers=len(plans)) as pool:
            futures = {name: pool.submit(start, name) for name in plans}
            wait(futures.values())
        for future in futures.values():  # stop every hub that started, whatever else failed
            if future.exception() is None:
                stack.push(future.result()[0].__exit__)
        yield {name: future.result()[1] for name, future in futures.items()}


@pytest.fixture(scope="module")
def hub(hubs: dict[str, HubProcess]) -> HubProcess:
    """The hub in the default mode (Inspector and TypeScript clients)."""
    return hubs["prefixed"]


Checks = collections.Counter[tuple[str, str, str]]


@dataclass(frozen=True)
class SuiteRun:
    """One suite's run against one URL: its output and every check's outcome."""

    returncode: int
    stdout: str
    checks: Checks  # (scenario, check id, status) -> how many

    @property
    def totals(self) -> tuple[int, int]:
        found = TOTAL.findall(self.stdout)
        assert found, self.stdout[-3000:]
        passed, failed = found[-1]
        return int(passed), int(failed)

    def failing(self) -> set[tuple[str, str]]:
        """(scenario, check id) that failed or warned (what ``--expected-failures`` counts)."""
        return {(s, c) for (s, c, status) in self.checks if status in ("FAILURE", "WARNING")}


def run_node(
    node: Path, package: Package, *args: str, cwd: Path
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{node.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run(
        [str(node), str(package.path), *args],
        capture_output=True,
        text=True,
        timeout=SUITE_TIMEOUT,
        cwd=cwd,
        env=env,
        check=False,
    )


def run_suite(node: Path, suite: str, url: str, out: Path, baseline: Path | None) -> SuiteRun:
    out.mkdir(parents=True)
    args = ["server", "--url", url, "--suite", "all", "-o", str(out)]
    if suite == "2026":
        args += ["--spec-version", "2026-07-28"]
    if baseline is not None:
        args += ["--expected-failures", str(baseline)]
    done = run_node(node, SUITES[suite], *args, cwd=out)
    checks: Checks = collections.Counter()
    for result in out.glob("server-*/checks.json"):
        scenario = re.sub(r"^server-(.*)-\d{4}-\d\d-\d\dT[\d-]+Z$", r"\1", result.parent.name)
        for check in json.loads(result.read_text()):
            checks[(scenario, check["id"], check["status"])] += 1
    return SuiteRun(done.returncode, done.stdout, checks)


def baseline(suite: str) -> Path:
    return BASELINES / f"aggregated-prefixed-{suite}.yml"


@pytest.fixture(scope="module")
def runs(
    node: Path,
    http_fixtures: dict[tuple[str, str], ServerProcess],
    hubs: dict[str, HubProcess],
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[tuple[str, str], SuiteRun]:
    """Every suite run, keyed by (target, suite); started together."""
    base = {name: f"http://127.0.0.1:{hub.port}" for name, hub in hubs.items()}

    def targets(suite: str) -> dict[str, tuple[str, bool]]:
        return {
            "direct": (http_fixtures[("direct", suite)].url, False),
            "per-server-http": (f"{base['per-server']}/servers/{http_server(suite)}/mcp", False),
            "per-server-stdio": (f"{base['per-server']}/servers/{SERVER}/mcp", False),
            "aggregated-unprefixed": (f"{base['unprefixed']}/mcp", False),
            "aggregated-prefixed": (f"{base['prefixed']}/mcp", True),
        }

    out = tmp_path_factory.mktemp("suites")
    with ThreadPoolExecutor(max_workers=PARALLEL_RUNS) as pool:
        futures = {
            (target, suite): pool.submit(
                run_suite,
                node,
                suite,
                url,
                out / f"{target}-{suite}",
                baseline(suite) if expected else None,
            )
            for suite in SUITES
            for target, (url, expected) in targets(suite).items()
        }
        results = {key: future.result() for key, future in futures.items()}
    for (target, suite), run in sorted(results.items()):
        passed, failed = run.totals
        print(f"conformance {suite} {target}: {passed} passed, {failed} failed")
    return results


@pytest.mark.parametrize("suite", SUITES)
def test_the_fixture_scores_what_the_reference_server_scores(
    runs: dict[tuple[str, str], SuiteRun], suite: str
) -> None:
    run = runs[("direct", suite)]
    assert run.returncode == 0, run.stdout[-5000:]
    assert run.totals == {"2025": (44, 0), "2026": (152, 0)}[suite]


@pytest.mark.parametrize("target", ["per-server-http", "per-server-stdio", "aggregated-unprefixed"])
@pytest.mark.parametrize("suite", SUITES)
def test_the_hub_scores_what_the_server_scores(
    runs: dict[tuple[str, str], SuiteRun], target: str, suite: str
) -> None:
    """Default entries: each client reaches the dual-era server in its own era.

    Every check that passes or fails directly does the same through the hub, and the hub
    adds no warning. Only ``server-sse-*`` checks that look at SSE responses report INFO
    (or nothing) where the hub answered with JSON.
    """
    direct, through = runs[("direct", suite)], runs[(target, suite)]
    assert through.returncode == 0 and not through.failing(), through.stdout[-5000:]
    expected, seen = counted(direct), counted(through)
    assert seen == expected, {"only here": seen - expected, "only direct": expected - seen}
    assert {key for key in through.checks if key[:2] == JSON_NOT_SSE} <= {
        (*JSON_NOT_SSE, "SUCCESS"),
        (*JSON_NOT_SSE, "INFO"),
    }


def counted(run: SuiteRun) -> Checks:
    """The checks a run's totals count (passed or failed), but :data:`JSON_NOT_SSE`."""
    return collections.Counter(
        {
            key: n
            for key, n in run.checks.items()
            if key[2] in ("SUCCESS", "FAILURE") and key[:2] != JSON_NOT_SSE
        }
    )


@pytest.mark.parametrize("suite", SUITES)
def test_the_prefix_alone_makes_aggregated_checks_fail(
    runs: dict[tuple[str, str], SuiteRun], suite: str
) -> None:
    """The failures of the prefixed /mcp are the baseline's, and pass unprefixed."""
    prefixed = runs[("aggregated-prefixed", suite)]
    assert prefixed.returncode == 0, prefixed.stdout[-5000:]  # no unexpected, no stale entry
    assert prefixed.failing(), "the baseline should list the failures the prefix causes"
    unprefixed = runs[("aggregated-unprefixed", suite)]
    for scenario in {scenario for scenario, _check in prefixed.failing()}:
        outcomes = {status for (s, _check, status) in unprefixed.checks if s == scenario}
        assert "SUCCESS" in outcomes and not outcomes & {"FAILURE", "WARNING"}, scenario


def test_inspector_cli_lists_and_calls_tools_through_mcp(
    node: Path, hub: HubProcess, tmp_path: Path
) -> None:
    url = f"http://127.0.0.1:{hub.port}/mcp"
    listed = run_node(
        node, INSPECTOR, "--cli", url, "--transport", "http", "--method", "tools/list", cwd=tmp_path
    )
    assert listed.returncode == 0, listed.stderr
    names = {tool["name"] for tool in json.loads(listed.stdout)["tools"]}
    assert f"{SERVER}__test_simple_text" in names
    called = run_node(
        node,
        INSPECTOR,
        "--cli",
        url,
        "--transport",
        "http",
        "--method",
        "tools/call",
        "--tool-name",
        f"{SERVER}__test_simple_text",
        cwd=tmp_path,
    )
    assert called.returncode == 0, called.stderr
    result = json.loads(called.stdout)
    assert result["content"] == [
        {"type": "text", "text": "This is a simple text response for testing."}
    ]


def test_typescript_sdk_client_works_through_mcp_on_both_transports(
    node: Path, hub: HubProcess, tmp_path: Path
) -> None:
    script = Path(__file__).with_name("ts_client.mjs")
    done = subprocess.run(
        [
            str(node),
            str(script),
            str(TS_SDK.path.parent),
            f"http://127.0.0.1:{hub.port}/mcp",
            f"{SERVER}__test_simple_text",
            f"{SERVER}+test://static-text",
            f"{SERVER}__test_simple_prompt",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert set(report) == {"streamable", "sse"}
    for kind, seen in report.items():
        assert seen["server"]["name"] == "mcp-hub-internal-endpoint", kind
        names = set(seen["tools"])
        # the fixture's tools and the other upstream's, each under its server's prefix
        assert {name for name in names if name.endswith("__test_simple_text")} == {
            f"{SERVER}__test_simple_text"
        }
        assert any(name.startswith("everything__") for name in names), kind
        assert seen["call"]["content"] == [
            {"type": "text", "text": "This is a simple text response for testing."}
        ]
        contents = seen["read"]["contents"][0]
        assert contents["text"] == "This is the content of the static text resource."
        assert contents["uri"] == f"{SERVER}+test://static-text"  # the URI read
        assert seen["prompt"]["messages"][0]["content"]["text"] == (
            "This is a simple prompt for testing."
        )
