"""The command line as editors and users run it: flags, fatal errors, exit codes."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.conftest import stdio_entry
from tests.helpers import ROOT, HubProcess, free_port

StartHub = Callable[..., HubProcess]
WriteConfig = Callable[..., str]


def run_cli(
    *args: str, cwd: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tornadohub", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HOME": str(cwd or ROOT)},
    )


def test_version_first_line_is_the_api_version() -> None:
    result = run_cli("--version")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "4.2.1"
    assert lines[1].startswith("tornadohub ")


def test_busy_port_is_fatal_with_eaddrinuse(tmp_path: Path, write_config: WriteConfig) -> None:
    config = write_config({})
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cli("--port", str(port), "--config", config, cwd=tmp_path)
    assert result.returncode == 1
    error_lines = result.stderr.strip().splitlines()
    assert len(error_lines) == 1
    assert "EADDRINUSE" in error_lines[0]
    assert f"127.0.0.1:{port}" in error_lines[0]


def test_invalid_config_file_is_fatal(tmp_path: Path) -> None:
    config = tmp_path / "bad.json"
    config.write_text('{"mcpServers": {jsonish')
    result = run_cli("serve", "-p", str(free_port()), "-c", str(config), cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith(f"Error: Failed to load config from {config}: ")
    assert len(result.stderr.strip().splitlines()) == 1


def test_check_config_reports_every_error(tmp_path: Path) -> None:
    good = tmp_path / "good.json5"
    good.write_text('// comment\n{mcpServers: {ok: {command: "x", args: ["a",],},},}\n')
    assert run_cli("check-config", "-c", str(good), cwd=tmp_path).returncode == 0
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {
                "mcpServers": {
                    "a": {"command": "x", "url": "http://h/"},
                    "b": {"env": "nope", "command": "y"},
                    "c": {},
                    "d": {"command": "z", "env": {"A": "${B}", "B": "${C}", "C": "${A}"}},
                }
            }
        )
    )
    result = run_cli("check-config", "-c", str(good), "-c", str(bad), cwd=tmp_path)
    assert result.returncode == 1
    assert "Server 'a' cannot mix stdio and sse fields" in result.stderr
    assert "Server 'b' has invalid environment config" in result.stderr
    assert "Server 'c' must include either command (for stdio) or url (for sse)" in result.stderr
    assert "Server 'd' has a circular env reference: A -> B -> C -> A" in result.stderr


def test_serve_subcommand_and_config_merge(
    start_hub: StartHub, write_config: WriteConfig, tmp_path: Path
) -> None:
    first = write_config(
        {"a": stdio_entry("everything_stdio.py"), "b": stdio_entry("everything_stdio.py")}
    )
    second = write_config({"b": stdio_entry("paginated_stdio.py")}, key="servers")
    missing = str(tmp_path / "not-there.json")
    hub = start_hub(first, second, missing)
    servers = {s["name"]: s for s in hub.api("GET", "/api/servers").json()["servers"]}
    assert list(servers) == ["a", "b"]
    assert servers["a"]["config_source"] == first
    assert servers["b"]["config_source"] == second
    assert servers["b"]["serverInfo"]["name"] == "fixture-paginated"
    assert hub.stop() == 0


def test_env_file_and_mcp_hub_env(
    start_hub: StartHub, write_config: WriteConfig, tmp_path: Path
) -> None:
    (tmp_path / "hub.env").write_text("FROM_DOTENV=dotenv-value\n")
    config = write_config(
        {"s": stdio_entry("everything_stdio.py", env={"X": "${FROM_DOTENV}", "Y": "${input:tok}"})}
    )
    hub = start_hub(
        config,
        extra_args=("--env-file", str(tmp_path / "hub.env")),
        MCP_HUB_ENV=json.dumps({"input:tok": "from-hub-env", "G": "g"}),
    )

    def env(name: str) -> str:
        body = hub.api(
            "POST",
            "/api/servers/tools",
            {"server_name": "s", "tool": "env", "arguments": {"name": name}},
        ).json()
        return str(body["result"]["content"][0]["text"])

    assert env("X") == "dotenv-value"
    assert env("Y") == "from-hub-env"
    assert env("G") == "g"  # MCP_HUB_ENV is injected into every server
    assert hub.stop() == 0


def test_workspace_entry_lifecycle(
    start_hub: StartHub, write_config: WriteConfig, hub_home: Path
) -> None:
    hub = start_hub(write_config({}))
    cache = hub_home / ".local" / "state" / "mcp-hub" / "workspaces.json"
    entries = json.loads(cache.read_text())
    entry = entries[str(hub.port)]
    assert entry["pid"] == hub.pid
    assert entry["config_files"] == hub.configs
    assert entry["state"] == "active"
    # Another hub's entry must survive our shutdown.
    entries["1"] = {**entry, "port": 1, "pid": 1}
    cache.write_text(json.dumps(entries))
    assert hub.stop() == 0
    left = json.loads(cache.read_text())
    assert str(hub.port) not in left
    assert "1" in left
