"""The official MCP conformance suite and the Inspector CLI against a real hub.

The hub runs ``tests/servers/conformance_server.py`` (the fixtures the suite calls) twice: as
``conformance``, connected in the handshake era, and as ``conformance-2026``, connected in the
2026-07-28 era (``protocolVersion``), so each suite reaches an upstream of its own era through
the hub. The suite talks to the per-server endpoint ``/servers/<id>/mcp``, where the names
pass unprefixed:

* ``@modelcontextprotocol/conformance@0.1.16 server --suite all`` (2025 wire) against
  ``conformance``: no failure;
* ``@0.2.0-alpha.12 --suite all --spec-version 2026-07-28`` against ``conformance-2026``: no
  failure and no warning (multi-round-trip requests pass through between the two 2026-07-28
  peers; the bridging of eras is tested in ``tests/mcp/test_rounds.py``);
* the Inspector CLI lists and calls tools through the aggregated ``/mcp``, and the TypeScript
  SDK's client (``ts_client.mjs``) lists, calls, reads and gets a prompt there, over Streamable
  HTTP and over the legacy SSE transport, with a third upstream (``everything``) alongside.

The Node tools live in ``build/conformance/``: ``make conformance`` installs them
(``python -m tests.conformance.install``) and runs this module. Without them these tests
skip, unless ``TORNADOHUB_CONFORMANCE=1`` says they must run. Each test prints the suite's
totals (``pytest -s`` shows them).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

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
from tests.helpers import HubProcess
from tests.hubs import running_hub

SERVER = "conformance"
SERVER_2026 = "conformance-2026"
TOTAL = re.compile(r"Total: (\d+) passed, (\d+) failed")
SUITE_TIMEOUT = 300


@pytest.fixture(scope="module")
def node() -> Path:
    return require_node()


@pytest.fixture(scope="module")
def hub(node: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    """A hub whose upstreams are the conformance fixture server, once per era.

    The upstreams start disabled and are started once ``/mcp`` was used, so that they
    connect with sampling, elicitation and roots served by the hub's MCP endpoint.
    """
    entry = stdio_entry("conformance_server.py", disabled=True)
    servers = {
        SERVER: entry,
        SERVER_2026: {**entry, "protocolVersion": "2026-07-28"},
        "everything": stdio_entry("everything_stdio.py", disabled=True),
    }
    with running_hub(tmp_path_factory.mktemp("conformance"), servers, late=servers) as hub:
        yield hub


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


def totals(output: str) -> tuple[int, int]:
    found = TOTAL.findall(output)
    assert found, output[-3000:]
    passed, failed = found[-1]
    return int(passed), int(failed)


def test_2025_wire_suite_passes(node: Path, hub: HubProcess, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{hub.port}/servers/{SERVER}/mcp"
    done = run_node(
        node,
        CONFORMANCE_2025,
        "server",
        "--url",
        url,
        "--suite",
        "all",
        "-o",
        str(tmp_path),
        cwd=tmp_path,
    )
    passed, failed = totals(done.stdout)
    print(f"conformance 0.1.16 (2025 wire): {passed} passed, {failed} failed")
    assert done.returncode == 0 and failed == 0, done.stdout[-5000:]
    assert passed >= 43


def test_2026_wire_suite_passes(node: Path, hub: HubProcess, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{hub.port}/servers/{SERVER_2026}/mcp"
    done = run_node(
        node,
        CONFORMANCE_2026,
        "server",
        "--url",
        url,
        "--suite",
        "all",
        "--spec-version",
        "2026-07-28",
        "-o",
        str(tmp_path),
        cwd=tmp_path,
    )
    passed, failed = totals(done.stdout)
    print(f"conformance 0.2.0-alpha.12 (2026-07-28): {passed} passed, {failed} failed")
    assert done.returncode == 0 and failed == 0, done.stdout[-5000:]
    assert passed >= 152


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
        # both fixture servers (the second one's id sanitised), and the third upstream
        assert {name for name in names if name.endswith("__test_simple_text")} == {
            f"{SERVER}__test_simple_text",
            f"{SERVER_2026.replace('-', '_')}__test_simple_text",
        }
        assert any(name.startswith("everything__") for name in names), kind
        assert seen["call"]["content"] == [
            {"type": "text", "text": "This is a simple text response for testing."}
        ]
        assert (
            seen["read"]["contents"][0]["text"]
            == "This is the content of the static text resource."
        )
        assert seen["prompt"]["messages"][0]["content"]["text"] == (
            "This is a simple prompt for testing."
        )
