"""``mcp-hub add``: entries from the marketplace written into config files, comments kept."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import json5
import pytest

from tests.helpers import ROOT, HubProcess, wait_until
from tests.marketplace.fakeregistry import EVERYTHING_CONFIG, RegistryServer
from tornadohub.marketplace.install import InstallError, build_entry, insert_server, parse_params

StartHub = Callable[..., HubProcess]

JSON5_CONFIG = """\
// My MCP servers (edited by hand)
{
  /* servers the hub starts */
  mcpServers: {
    echo: {
      command: "echo", // a comment after a value
      args: ['a', 'b',],
    }, // the last one
    // "disabled-one": {"command": "x"},
  },
  nativeMCPServers: {},
}
"""


def run_add(
    home: Path, registry: RegistryServer, *args: str, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "MCP_HUB"))}
    env.update(
        HOME=str(home),
        PYTHONPATH=str(ROOT),
        MCP_HUB_MARKETPLACE_URL=registry.catalog_url,
        **(extra_env or {}),
    )
    return subprocess.run(
        [sys.executable, "-m", "tornadohub", "add", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def load(path: Path) -> Any:
    return json5.loads(path.read_text())


# --------------------------------------------------------------------------- #
# Building entries
# --------------------------------------------------------------------------- #


def test_params_fill_placeholders_and_the_rest_stay(registry: RegistryServer) -> None:
    alpha = registry.catalog["servers"][0]
    entry, used, unresolved = build_entry(alpha, params={"ALPHA_KEY": "secret"})
    assert used == "npx"
    assert entry == {
        "command": "npx",
        "args": ["-y", "alpha-mcp", "--region", "${ALPHA_REGION}"],
        "env": {"ALPHA_KEY": "secret"},
    }
    assert unresolved == ["ALPHA_REGION"]

    entry, used, unresolved = build_entry(alpha, installation="docker", params={})
    assert used == "Docker"
    assert entry["command"] == "docker"
    assert unresolved == ["ALPHA_KEY"]


def test_unknown_params_and_installations_are_refused(registry: RegistryServer) -> None:
    alpha = registry.catalog["servers"][0]
    with pytest.raises(InstallError, match="unknown parameter.*ALPA_KEY.*ALPHA_KEY"):
        build_entry(alpha, params={"ALPA_KEY": "x"})
    with pytest.raises(InstallError, match="no installation 'pip'.*'npx', 'Docker'"):
        build_entry(alpha, installation="pip", params={})
    with pytest.raises(InstallError, match="KEY=VALUE"):
        parse_params(["ALPHA_KEY"])
    assert parse_params(["A=b=c", "B="]) == {"A": "b=c", "B": ""}


def test_a_whole_file_config_is_unwrapped() -> None:
    wrapped = {"mcpServers": {"x": {"command": "run"}}}
    server = {"id": "x", "installations": [{"name": "n", "config": json.dumps(wrapped)}]}
    assert build_entry(server, params={})[0] == {"command": "run"}


# --------------------------------------------------------------------------- #
# Editing config text
# --------------------------------------------------------------------------- #

NEW = {"command": "npx", "args": ["-y", "pkg"], "env": {"KEY": "${KEY}"}}


def test_json5_comments_and_layout_are_kept() -> None:
    text = insert_server(JSON5_CONFIG, "new-server", NEW)
    for line in JSON5_CONFIG.splitlines():
        assert line in text.splitlines()
    document = json5.loads(text)
    assert document["mcpServers"]["new-server"] == NEW
    assert document["mcpServers"]["echo"] == {"command": "echo", "args": ["a", "b"]}
    assert document["nativeMCPServers"] == {}
    # Appended last in the server map, indented like its siblings, after the comment.
    lines = text.splitlines()
    at = lines.index('    "new-server": {')
    assert lines[at - 1] == '    // "disabled-one": {"command": "x"},'
    assert lines[at + 1] == '      "command": "npx",'


def test_plain_json_without_trailing_commas() -> None:
    original = json.dumps({"mcpServers": {"a": {"url": "http://x/mcp"}}}, indent=4) + "\n"
    text = insert_server(original, "b", {"url": "http://y/mcp"})
    assert json.loads(text) == {
        "mcpServers": {"a": {"url": "http://x/mcp"}, "b": {"url": "http://y/mcp"}}
    }
    assert '        "b": {\n            "url": "http://y/mcp"\n        }\n    }\n}\n' in text


def test_vs_code_servers_key_is_used() -> None:
    original = '{\n\t"inputs": [],\n\t"servers": {}\n}\n'
    text = insert_server(original, "b", {"url": "http://y/mcp"})
    assert json5.loads(text) == {"inputs": [], "servers": {"b": {"url": "http://y/mcp"}}}
    assert '\t"servers": {\n\t\t"b": {\n\t\t\t"url"' in text


def test_a_file_without_a_server_map_gets_one() -> None:
    assert json5.loads(insert_server('{"other": 1}', "b", NEW)) == {
        "other": 1,
        "mcpServers": {"b": NEW},
    }
    assert json5.loads(insert_server("", "b", NEW)) == {"mcpServers": {"b": NEW}}


def test_existing_key_needs_force() -> None:
    with pytest.raises(InstallError, match="'echo' already exists in 'mcpServers'"):
        insert_server(JSON5_CONFIG, "echo", NEW)
    text = insert_server(JSON5_CONFIG, "echo", NEW, force=True)
    assert json5.loads(text)["mcpServers"]["echo"] == NEW
    assert "}, // the last one" in text
    assert "// My MCP servers (edited by hand)" in text


def test_unparseable_files_are_refused() -> None:
    with pytest.raises(InstallError, match="cannot parse"):
        insert_server("{mcpServers: ", "b", NEW)
    with pytest.raises(InstallError, match="not an object"):
        insert_server('{"mcpServers": []}', "b", NEW)


# --------------------------------------------------------------------------- #
# The command
# --------------------------------------------------------------------------- #


def test_add_to_a_json5_file(tmp_path: Path, hub_home: Path, registry: RegistryServer) -> None:
    config = tmp_path / "servers.json5"
    config.write_text(JSON5_CONFIG)
    result = run_add(hub_home, registry, "alpha-search", "-c", str(config))
    assert result.returncode == 0, result.stderr
    assert f"Added 'alpha-search' (alpha-search, installation 'npx') in {config}" in result.stdout
    assert "(or pass --param KEY=VALUE): ALPHA_REGION, ALPHA_KEY\n" in result.stdout
    text = config.read_text()
    assert "/* servers the hub starts */" in text and "// the last one" in text
    assert load(config)["mcpServers"]["alpha-search"] == {
        "command": "npx",
        "args": ["-y", "alpha-mcp", "--region", "${ALPHA_REGION}"],
        "env": {"ALPHA_KEY": "${ALPHA_KEY}"},
    }

    before = config.read_bytes()
    result = run_add(hub_home, registry, "alpha-search", "-c", str(config))
    assert result.returncode == 1
    assert "already exists" in result.stderr and "--force" in result.stderr
    assert config.read_bytes() == before

    result = run_add(
        hub_home,
        registry,
        "alpha-search",
        "--config",
        str(config),
        "--installation",
        "docker",
        "--param",
        "ALPHA_KEY=ak-123",
        "--force",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Replaced 'alpha-search'")
    assert "Set these" not in result.stdout
    assert load(config)["mcpServers"]["alpha-search"]["env"] == {"ALPHA_KEY": "ak-123"}
    assert registry.count("/registry.json") == 1  # the later runs used the cache file


def test_add_with_a_servers_key_and_a_custom_name(
    tmp_path: Path, hub_home: Path, registry: RegistryServer
) -> None:
    config = tmp_path / "mcp.json"
    config.write_text('{\n  "servers": {\n    "x": {"url": "http://x/mcp"}\n  }\n}\n')
    result = run_add(hub_home, registry, "beta-git", "-c", str(config), "--name", "git")
    assert result.returncode == 0, result.stderr
    assert "under 'servers'" in result.stdout
    assert load(config) == {
        "servers": {"x": {"url": "http://x/mcp"}, "git": {"command": "uvx", "args": ["beta-git"]}}
    }


def test_add_to_the_default_config(hub_home: Path, registry: RegistryServer) -> None:
    result = run_add(hub_home, registry, "beta-git")
    assert result.returncode == 0, result.stderr
    config = hub_home / ".config" / "mcphub" / "servers.json"
    assert load(config) == {"mcpServers": {"beta-git": {"command": "uvx", "args": ["beta-git"]}}}


def test_add_from_the_official_registry(
    tmp_path: Path, hub_home: Path, registry: RegistryServer
) -> None:
    config = tmp_path / "c.json"
    result = run_add(
        hub_home,
        registry,
        "io.github.acme/weather",
        "-c",
        str(config),
        "--registry-url",
        registry.base,
        "--param",
        "WEATHER_API_KEY=w-1",
    )
    assert result.returncode == 0, result.stderr
    assert load(config)["mcpServers"]["weather"] == {
        "command": "npx",
        "args": ["-y", "@acme/weather@1.2.0", "--verbose"],
        "env": {"WEATHER_API_KEY": "w-1", "UNITS": "metric"},
    }


def test_add_errors(tmp_path: Path, hub_home: Path, registry: RegistryServer) -> None:
    config = tmp_path / "c.json"
    result = run_add(hub_home, registry, "nope", "-c", str(config))
    assert result.returncode == 1
    assert "'nope' is not in the marketplace" in result.stderr
    result = run_add(hub_home, registry, "beta-git", "-c", str(config), "--param", "X=1")
    assert result.returncode == 1
    assert "unknown parameter(s) X" in result.stderr
    assert not config.exists()

    registry.modes["*"] = "500"
    result = run_add(tmp_path, registry, "beta-git", "-c", str(config))  # another HOME: no cache
    assert result.returncode == 1
    assert result.stderr == (
        "Error: Failed to fetch marketplace registry: HTTP 500 Internal Server Error\n"
    )


def test_a_watched_hub_starts_the_added_server(
    tmp_path: Path, hub_home: Path, registry: RegistryServer, start_hub: StartHub
) -> None:
    config = tmp_path / "servers.json"
    config.write_text("// watched by the hub\n{\n  mcpServers: {},\n}\n")
    hub = start_hub(str(config), extra_args=("--watch",))
    assert hub.api("GET", "/api/servers").json()["servers"] == []

    result = run_add(hub_home, registry, "fixture-everything", "-c", str(config))
    assert result.returncode == 0, result.stderr
    assert load(config)["mcpServers"]["fixture-everything"] == EVERYTHING_CONFIG
    assert config.read_text().startswith("// watched by the hub\n")

    def listed() -> bool:
        servers = hub.api("GET", "/api/servers").json()["servers"]
        return [s["name"] for s in servers] == ["fixture-everything"]

    wait_until(listed, timeout=30)
    info = hub.wait_status("fixture-everything", "connected", timeout=60)
    assert "echo" in [tool["name"] for tool in info["capabilities"]["tools"]]
