"""What a client sees of configuration, placeholders and failed connections, as mcp-hub
4.2.1 showed it when both hubs were started on the same files (contract sections 7, 8, 9).

Each expectation was observed from the real mcp-hub; where tornadohub deliberately differs
(README's table) the test says so.
"""

from __future__ import annotations

import json
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.api.test_cli import run_cli
from tests.api.test_env_references import child_env
from tests.api.test_rest import SERVER_INFO_KEYS, WORKSPACE_KEYS
from tests.conftest import stdio_entry
from tests.helpers import HubProcess, free_port, wait_until

StartHub = Callable[..., HubProcess]
WriteConfig = Callable[..., str]


def test_placeholders_resolve_and_the_child_gets_only_the_default_environment(
    start_hub: StartHub, write_config: WriteConfig
) -> None:
    env: dict[str, Any] = {
        "A": "${env:HUBVAR}",
        "B": "${HUBVAR}",
        "C": None,
        "D": "",
        "E": "${cmd: echo hi}",
        "F": "pre${cmd: echo x}post",
        "G": 5,
        "H": True,
        "I": "$HUBVAR",
        "J": "${workspaceFolderBasename}",
        "L": "${/}",
    }
    hub = start_hub(
        write_config({"s": stdio_entry("everything_stdio.py", env=env)}),
        HUBVAR="hv",
        C="cval",
        D="dval",
        OTHER="not-for-children",
        LANG="C.UTF-8",
    )
    assert hub.server("s")["status"] == "connected"
    # (mcp-hub 4.2.1, observed)
    expected = {
        "A": "hv",
        "B": "hv",
        "C": "cval",  # null: the hub's variable of that name
        "D": "dval",  # "" too
        "E": "hi",
        "F": "prexpost",
        "G": "5",
        "H": "true",
        "I": "$HUBVAR",  # the legacy whole-value form is for args only
        "J": hub.cwd.name,
        "L": "/",
        "HOME": str(hub.home),
        # only HOME, LOGNAME, PATH, SHELL, TERM, USER come from the hub's environment
        "HUBVAR": "<unset>",
        "OTHER": "<unset>",
        "LANG": "<unset>",
    }
    assert {name: child_env(hub, "s", name) for name in expected} == expected


def test_failed_connections_read_as_mcp_hub_words_them(
    start_hub: StartHub, write_config: WriteConfig, tmp_path: Path
) -> None:
    python = sys.executable
    nobody = free_port()
    servers: dict[str, Any] = {
        "missing-var": stdio_entry("everything_stdio.py", env={"A": "${NOPE}"}),
        "missing-arg": stdio_entry("everything_stdio.py", args=["x", "${env:NOPE2}"]),
        "legacy": stdio_entry("everything_stdio.py", args=["x", "$NOPE3"]),
        "empty-cmd": stdio_entry("everything_stdio.py", env={"A": "${cmd: }"}),
        "no-command": {"command": str(tmp_path / "no-such-program")},
        "not-on-path": {"command": "no-such-program-on-path"},
        "no-cwd": {"command": python, "cwd": str(tmp_path / "no-such-dir")},
        "header": {"url": f"http://127.0.0.1:{nobody}/mcp", "headers": {"X": "${NOHDR}"}},
        "refused": {"url": f"http://127.0.0.1:{nobody}/mcp"},
        "mixed": {"command": python, "url": f"http://127.0.0.1:{nobody}/mcp"},
        "later": {"command": str(tmp_path / "no-such-program"), "disabled": True},
    }
    hub = start_hub(write_config(servers))
    # (mcp-hub 4.2.1, observed)
    expected = {
        "missing-var": "Variable 'NOPE' not found",
        "missing-arg": "Variable 'NOPE2' not found",
        "legacy": "Legacy variable 'NOPE3' not found",
        "empty-cmd": "cmd execution failed: Empty command in cmd: cmd: ",
        "no-command": f"spawn {tmp_path / 'no-such-program'} ENOENT",
        "not-on-path": "spawn no-such-program-on-path ENOENT",
        "no-cwd": f"spawn {python} ENOENT",
        "header": "Variable 'NOHDR' not found",
        "refused": f"SSE error: TypeError: fetch failed: connect ECONNREFUSED 127.0.0.1:{nobody}",
    }
    listed = hub.api("GET", "/api/servers").json()["servers"]
    mixed = "Server 'mixed' cannot mix stdio and sse fields"
    assert {s["name"]: (s["status"], s["error"]) for s in listed} == {
        **{name: ("disconnected", error) for name, error in expected.items()},
        "mixed": ("disconnected", mixed),  # mcp-hub exits instead (README's table)
        "later": ("disabled", None),
    }
    started = hub.api("POST", "/api/servers/start", {"server_name": "later"})
    assert started.json()["code"] == "CONNECTION_ERROR"
    hub.stop()
    # (mcp-hub 4.2.1, observed) the invalid entry's message and code
    assert [(e["type"], e["data"]) for e in hub.log_entries() if e["message"] == mixed] == [
        ("error", {"server": "mixed"})
    ]
    # (mcp-hub 4.2.1, observed): each server failing at start-up is logged as an error a
    # client shows, with mcp-hub's code, message and data; a REST start (it answered
    # 500) and the retries that follow are not
    failures = [e for e in hub.log_entries() if e.get("code") == "CONNECTION_ERROR"]
    assert sorted(
        (e["type"], e["message"], json.dumps(e["data"], sort_keys=True)) for e in failures
    ) == sorted(
        (
            "error",
            f'Failed to connect to "{name}" MCP server: {error}',
            json.dumps({"error": error, "server": name}, sort_keys=True),
        )
        for name, error in expected.items()
    )


def test_files_merge_in_order_with_paths_as_given(
    start_hub: StartHub, tmp_path: Path, hub_home: Path
) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.json5").write_text(
        "// global\n{mcpServers: {\n"
        f"  zeta: {{command: {json.dumps(sys.executable)}, type: 'http', unknown: 1,"
        " description: 'from a', disabled: true},\n"
        "  shared: {command: 'x', env: {FROM: 'a'}},\n"
        "  alpha: {url: 'http://127.0.0.1:1/mcp', type: 'stdio', name: 'Alpha', disabled: true},\n"
        "}, nativeMCPServers: {x: 1},}\n"
    )
    (tmp_path / "sub" / "b.json").write_text(
        json.dumps(
            {
                "servers": {"shared": {"command": "y", "disabled": True}},
                "mcpServers": {"ignored": {"command": "z"}},
            }
        )
    )
    configs = ["a.json5", "sub/b.json", "./missing.json"]
    hub = start_hub(*configs)
    listed = hub.api("GET", "/api/servers").json()
    # (mcp-hub 4.2.1, observed): first-seen order, a later file's entry replaces the
    # whole entry, "servers" wins over "mcpServers", type is stdio or sse whatever it says
    assert list(listed) == ["servers", "timestamp"]
    assert [
        (s["name"], s["displayName"], s["description"], s["transportType"], s["config_source"])
        for s in listed["servers"]
    ] == [
        ("zeta", "zeta", "from a", "stdio", "a.json5"),
        ("shared", "shared", "", "stdio", "sub/b.json"),
        ("alpha", "Alpha", "", "sse", "a.json5"),
    ]
    assert all(list(s) == SERVER_INFO_KEYS for s in listed["servers"])
    info = hub.api("POST", "/api/servers/info", {"server_name": "shared"}).json()
    assert list(info) == ["server", "timestamp"] and list(info["server"]) == SERVER_INFO_KEYS
    cache = json.loads((hub_home / ".local/state/mcp-hub/workspaces.json").read_text())
    assert list(cache[str(hub.port)]) == WORKSPACE_KEYS
    assert cache[str(hub.port)]["config_files"] == configs


def test_an_empty_list_of_servers_is_no_server(start_hub: StartHub, tmp_path: Path) -> None:
    (tmp_path / "c.json").write_text('{"mcpServers": []}')
    hub = start_hub("c.json")  # (mcp-hub 4.2.1, observed): it starts, with no server
    assert hub.api("GET", "/api/servers").json()["servers"] == []


def test_unloadable_files_name_the_reason_as_mcp_hub(tmp_path: Path) -> None:
    (tmp_path / "empty.json").write_text("")
    (tmp_path / "broken.json").write_text('{"a": json}')
    (tmp_path / "dir.json").mkdir()
    # (mcp-hub 4.2.1, observed); it exits 0, tornadohub 1 (README: fatal errors exit 1)
    reasons = {
        "empty.json": "JSON5: invalid end of input at 1:1",
        "broken.json": "JSON5: invalid character 'j' at 1:7",
        "dir.json": "EISDIR: illegal operation on a directory, read",
    }
    for name, reason in reasons.items():
        result = run_cli("--port", str(free_port()), "--config", name, cwd=tmp_path)
        assert result.returncode == 1
        assert result.stderr == f"Error: Failed to load config from {name}: {reason}\n"


def test_a_busy_port_says_eaddrinuse_on_stderr(tmp_path: Path) -> None:
    (tmp_path / "c.json").write_text("{mcpServers: {}}")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cli("--port", str(port), "--config", "c.json", cwd=tmp_path)
    # (mcp-hub 4.2.1, observed): the message mcphub.nvim greps for "EADDRINUSE"
    assert f"listen EADDRINUSE: address already in use 127.0.0.1:{port}" in result.stderr
    assert not (tmp_path / ".local/state/mcp-hub/workspaces.json").exists()


def test_watched_reload_errors_are_logged_as_mcp_hub(start_hub: StartHub, tmp_path: Path) -> None:
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"mcpServers": {}}))
    hub = start_hub("c.json", extra_args=("--watch",))

    def logged(message: str) -> dict[str, Any] | None:
        return next((e for e in hub.log_entries() if e["message"] == message), None)

    # (mcp-hub 4.2.1, observed): a file that does not parse keeps the running config
    config.write_text("{not json")
    reason = "JSON5: invalid character 'j' at 1:6"
    entry = wait_until(
        lambda: logged(
            f"Error reloading config after change: Failed to load config from c.json: {reason}"
        )
    )
    assert (entry["type"], entry["code"]) == ("error", "CONFIG_ERROR")
    assert entry["data"] == {"configPath": "c.json", "error": reason}
    # (mcp-hub 4.2.1, observed) the message and code of an invalid entry; mcp-hub then
    # keeps the old config, tornadohub runs the valid entries (README's table)
    config.write_text(json.dumps({"mcpServers": {"bad": {"command": "x", "url": "http://h/"}}}))
    message = "Error reloading config after change: Server 'bad' cannot mix stdio and sse fields"
    entry = wait_until(lambda: logged(message))
    assert (entry["type"], entry["code"], entry["data"]) == (
        "error",
        "CONFIG_ERROR",
        {"server": "bad"},
    )


def test_values_of_any_type_are_taken_as_javascript_takes_them(
    start_hub: StartHub, write_config: WriteConfig
) -> None:
    env = {"O": {"a": 1}, "L": [1, None, "x"], "N": 8080}
    script = stdio_entry("everything_stdio.py")["args"]
    servers = {
        "yes": stdio_entry("everything_stdio.py", disabled="yes"),
        "zero": stdio_entry("everything_stdio.py", disabled=0),
        "typed": stdio_entry("everything_stdio.py", env=env, args=[*script, 5, None]),
    }
    hub = start_hub(write_config(servers))
    # (mcp-hub 4.2.1, observed): a truthy "disabled" disables, 0 does not; no value is
    # an invalid entry, each becomes a string as JavaScript's String() makes it
    assert [hub.server(name)["status"] for name in servers] == [
        "disabled",
        "connected",
        "connected",
    ]
    assert [child_env(hub, "typed", name) for name in env] == ["[object Object]", "1,,x", "8080"]
