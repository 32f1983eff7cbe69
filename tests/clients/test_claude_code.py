"""Claude Code (``@anthropic-ai/claude-code@2.1.332``) connects to ``/mcp`` and sees its names.

Claude Code is driven offline, with no Anthropic account, in a private ``HOME`` /
``CLAUDE_CONFIG_DIR`` / ``TMPDIR`` per test:

* ``claude mcp add --transport http|sse`` then ``claude mcp get`` and ``claude mcp list``, which
  connect to each server (over HTTP it probes the 2026-07-28 era first, over SSE it opens
  ``GET /mcp``) and print ``✔ Connected`` or ``✘ Failed to connect — <why>``;
* ``claude -p --output-format stream-json --verbose`` with ``--mcp-config``: its first line, the
  ``system``/``init`` message, lists each MCP server's status and the tools (``mcp__<server>__
  <tool>``) and prompts (as slash commands) it got, before any model call. The model is pointed
  at a closed loopback port, and the process is stopped as soon as that line arrives.

With API keys on, a key given with ``claude mcp add --header`` connects; without one, the 401
sends Claude Code into OAuth discovery (``/.well-known/...``, then ``POST /register``), which the
hub does not offer, and it reports ``Dynamic Client Registration rejected (HTTP 401)`` at once.

The binary is installed with the other Node tools (``python -m tests.conformance.install``);
without it these tests skip, unless ``TORNADOHUB_CONFORMANCE=1``.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conformance.install import CLAUDE_CODE
from tests.conformance.node import require_node
from tests.conftest import stdio_entry
from tests.helpers import HubProcess, free_port, terminate
from tests.hubs import running_hub

SERVER = "everything"
#: Every ``claude`` run must end within this; a hang is a failure, not a wait.
RUN_TIMEOUT = 60.0
#: A wrong URL must be reported well before that.
FAIL_FAST = 20.0
#: The environment variables a run inherits; everything else (proxies, API keys) is left out.
INHERITED = ("PATH", "LANG", "LC_ALL", "TERM")
TOKEN = "claude-code-test-key-0123456789"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    root = tmp_path_factory.mktemp("claude-code")
    with running_hub(root, {SERVER: stdio_entry("everything_stdio.py")}) as process:
        process.wait_status(SERVER, "connected")
        yield process


@pytest.fixture(scope="module")
def keyed_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    """A hub with an API key on ``/mcp`` (``MCP_HUB_AUTH_TOKENS``)."""
    root = tmp_path_factory.mktemp("claude-code-keyed")
    (root / "home").mkdir()
    config = root / "servers.json"
    config.write_text(json.dumps({"mcpServers": {SERVER: stdio_entry("everything_stdio.py")}}))
    env = {"MCP_HUB_AUTH_TOKENS": f"claude:{TOKEN}"}
    process = HubProcess([str(config)], home=root / "home", cwd=root, env=env)
    process.client.headers["Authorization"] = f"Bearer {TOKEN}"
    with process.running():
        process.wait_status(SERVER, "connected")
        yield process


@pytest.fixture(scope="module")
def hub_names(hub: HubProcess) -> dict[str, set[str]]:
    """The ``everything`` server's tools and prompts as the hub names them on ``/mcp``."""
    capabilities = hub.server(SERVER)["capabilities"]
    return {
        kind: {f"{SERVER}__{item['name']}" for item in capabilities[kind]}
        for kind in ("tools", "prompts")
    }


@pytest.fixture(scope="module")
def claude() -> Path:
    """Claude Code's native binary, checked to be the real one (not the postinstall stub)."""
    require_node()
    binary = CLAUDE_CODE.path
    done = subprocess.run(
        [str(binary), "--version"], capture_output=True, text=True, timeout=RUN_TIMEOUT
    )
    assert "(Claude Code)" in done.stdout, (
        f"{binary} is not Claude Code's binary (did its postinstall run?): "
        f"{done.stdout!r} {done.stderr[-500:]!r}"
    )
    return binary


class ClaudeCode:
    """One private Claude Code installation: its own HOME, config directory and project."""

    def __init__(self, binary: Path, root: Path) -> None:
        self.binary = binary
        self.project = root / "project"
        self.project.mkdir()
        self.env = {name: os.environ[name] for name in INHERITED if name in os.environ}
        self.env.update(
            HOME=str(root),
            CLAUDE_CONFIG_DIR=str(root / ".claude"),
            TMPDIR=str(root),
            CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
            DISABLE_AUTOUPDATER="1",
            # -p makes a model call after its init line: to a closed loopback port
            ANTHROPIC_BASE_URL=f"http://127.0.0.1:{free_port()}",
            ANTHROPIC_API_KEY="not-a-key",
        )

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``claude *args`` in the project; it must exit 0 within RUN_TIMEOUT."""
        done = subprocess.run(
            [str(self.binary), *args],
            cwd=self.project,
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
        )
        assert done.returncode == 0, (done.stdout, done.stderr)
        return done

    def add(self, name: str, transport: str, url: str, *headers: str) -> None:
        options = [option for header in headers for option in ("--header", header)]
        added = self.run("mcp", "add", "--transport", transport, name, url, *options)
        assert f"MCP server {name} with URL: {url}" in added.stdout, added.stdout

    def get(self, name: str) -> dict[str, str]:
        """``claude mcp get``'s ``Key: value`` lines."""
        shown = self.run("mcp", "get", name).stdout
        fields = (line.strip().partition(": ") for line in shown.splitlines())
        return {key: value for key, sep, value in fields if sep}

    def init(self, servers: dict[str, dict[str, str]]) -> dict[str, Any]:
        """The ``system``/``init`` message of ``claude -p`` with *servers* as its MCP config."""
        config = self.project / "mcp.json"
        config.write_text(json.dumps({"mcpServers": servers}))
        argv = [str(self.binary), "-p", "--output-format", "stream-json", "--verbose"]
        argv += ["--strict-mcp-config", f"--mcp-config={config}", "--", "hello"]
        process = subprocess.Popen(
            argv,
            cwd=self.project,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        lines: queue.Queue[str | None] = queue.Queue()

        def pump() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                lines.put(line)
            lines.put(None)

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        deadline = time.monotonic() + RUN_TIMEOUT
        try:
            while True:
                try:
                    line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    raise AssertionError(f"no init line within {RUN_TIMEOUT} s") from None
                assert line is not None, f"claude exited with {process.wait(10)} before init"
                message = json.loads(line)
                if message.get("type") == "system" and message.get("subtype") == "init":
                    return dict(message)
        finally:
            terminate(process)
            reader.join(10)


@pytest.fixture
def claude_code(claude: Path, tmp_path: Path) -> ClaudeCode:
    return ClaudeCode(claude, tmp_path)


@pytest.mark.parametrize(("transport", "kind"), [("http", "http"), ("sse", "sse")])
def test_claude_code_reports_the_hub_connected(
    claude_code: ClaudeCode, hub: HubProcess, transport: str, kind: str
) -> None:
    """Streamable HTTP and mcp-hub's legacy SSE, both on ``/mcp``, as the README says."""
    url = f"http://127.0.0.1:{hub.port}/mcp"
    claude_code.add("hub", transport, url)
    shown = claude_code.get("hub")
    assert shown["Status"] == "✔ Connected", shown
    assert (shown["Type"], shown["URL"]) == (kind, url), shown
    listed = claude_code.run("mcp", "list").stdout
    assert f"hub: {url} ({transport.upper()}) - ✔ Connected" in listed, listed


@pytest.mark.parametrize(
    ("transport", "path", "why"),
    [
        ("http", "/nope", "MCP endpoint not found"),
        ("http", "/servers/nosuch/mcp", "MCP endpoint not found"),
        ("sse", "/nope", "HTTP 404"),
        ("sse", "/servers/nosuch/mcp", "HTTP 404"),
    ],
)
def test_claude_code_reports_a_wrong_path_failed_at_once(
    claude_code: ClaudeCode, hub: HubProcess, transport: str, path: str, why: str
) -> None:
    """A 404 from the hub is a failure Claude Code names, not a hang nor an OAuth dance."""
    claude_code.add("hub", transport, f"http://127.0.0.1:{hub.port}{path}")
    started = time.monotonic()
    shown = claude_code.get("hub")
    assert time.monotonic() - started < FAIL_FAST
    assert shown["Status"] == "✘ Failed to connect", shown
    assert why in shown["Issue"], shown


@pytest.mark.parametrize("transport", ["http", "sse"])
@pytest.mark.parametrize("header", [f"Authorization: Bearer {TOKEN}", f"X-API-Key: {TOKEN}"])
def test_claude_code_connects_with_the_hub_s_api_key(
    claude_code: ClaudeCode, keyed_hub: HubProcess, transport: str, header: str
) -> None:
    """An API key given with ``claude mcp add --header`` is sent on every request."""
    claude_code.add("hub", transport, f"http://127.0.0.1:{keyed_hub.port}/mcp", header)
    shown = claude_code.get("hub")
    assert shown["Status"] == "✔ Connected", shown


@pytest.mark.parametrize(
    ("header", "why"),
    [
        # no key: the 401 sends Claude Code into OAuth discovery, which the hub does not offer
        (None, "(HTTP 401)"),
        ("Authorization: Bearer not-the-key-0123456789", "Invalid API key"),
    ],
)
def test_claude_code_reports_a_missing_or_wrong_api_key_failed_at_once(
    claude_code: ClaudeCode, keyed_hub: HubProcess, header: str | None, why: str
) -> None:
    url = f"http://127.0.0.1:{keyed_hub.port}/mcp"
    claude_code.add("hub", "http", url, *([header] if header else []))
    started = time.monotonic()
    shown = claude_code.get("hub")
    assert time.monotonic() - started < FAIL_FAST
    assert shown["Status"] == "✘ Failed to connect", shown
    assert why in shown["Issue"], shown


def test_claude_code_sees_the_hub_s_namespaced_tools_and_prompts(
    claude_code: ClaudeCode, hub: HubProcess, hub_names: dict[str, set[str]]
) -> None:
    """Both transports give Claude Code every ``<server>__<name>`` the hub publishes."""
    url = f"http://127.0.0.1:{hub.port}/mcp"
    init = claude_code.init(
        {
            "hub": {"type": "http", "url": url},
            "hubsse": {"type": "sse", "url": url},
            "wrong": {"type": "http", "url": f"http://127.0.0.1:{hub.port}/nope"},
        }
    )
    statuses = {server["name"]: server["status"] for server in init["mcp_servers"]}
    assert statuses == {"hub": "connected", "hubsse": "connected", "wrong": "failed"}, statuses
    for name in ("hub", "hubsse"):
        prefix = f"mcp__{name}__"
        tools = {tool.removeprefix(prefix) for tool in init["tools"] if tool.startswith(prefix)}
        assert tools == hub_names["tools"], (name, init["tools"])
        prompts = {
            command.removeprefix(prefix)
            for command in init["slash_commands"]
            if command.startswith(prefix)
        }
        assert prompts == hub_names["prompts"], (name, init["slash_commands"])
    assert not any(tool.startswith("mcp__wrong__") for tool in init["tools"])
