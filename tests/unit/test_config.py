"""Config loading, validation and change detection (contract section 7)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import json5
import pytest

from tornadohub.config import (
    KEY_FIELDS,
    ConfigDiff,
    HubConfig,
    ServerEntry,
    check_config,
    diff_configs,
    load_config,
)
from tornadohub.errors import ConfigError


def write(tmp_path: Path, name: str, content: str | dict[str, Any]) -> str:
    """Write a config file and return its path as a string."""
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return str(path)


def servers_file(tmp_path: Path, servers: dict[str, Any], name: str = "c.json") -> str:
    return write(tmp_path, name, {"mcpServers": servers})


# --------------------------------------------------------------------------- #
# Parsing and merging
# --------------------------------------------------------------------------- #


def test_json5_features(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "c.json5",
        """
        // a comment
        {
          /* block */ mcpServers: {
            echo: { command: 'python', args: ['-m', 'echo',], },
          },
        }
        """,
    )
    cfg = load_config([path])
    assert list(cfg.servers) == ["echo"]
    assert cfg.servers["echo"].config["args"] == ["-m", "echo"]
    assert cfg.errors == []


@pytest.mark.parametrize(
    "value",
    ["1e400", "NaN", "-Infinity", "12345678901234567890123", "-0", '"\\ud800"', '"\u2028"'],
)
def test_plain_json_reads_as_json5_reads_it(tmp_path: Path, value: str) -> None:
    """Plain JSON takes the standard library's parser: same values as ``json5``'s."""
    text = f'{{"mcpServers": {{"a": {{"command": "x", "v": {value}, "v": [{value}]}}}}}}'
    expected = json5.loads(text)["mcpServers"]["a"]
    assert repr(load_config([write(tmp_path, "c.json", text)]).servers["a"].config["v"]) == repr(
        expected["v"]
    )


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + b'{"mcpServers": {}}')
    assert load_config([str(path)]).servers == {}


def test_vscode_servers_key_wins_and_is_kept(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "vscode.json",
        {
            "servers": {"remote": {"url": "https://example.com/mcp", "type": "http"}},
            "mcpServers": {"ignored": {"command": "x"}},
            "inputs": [{"id": "tok"}],
        },
    )
    cfg = load_config([path])
    assert list(cfg.servers) == ["remote"]
    assert cfg.data["servers"] == {"remote": {"url": "https://example.com/mcp", "type": "http"}}
    assert cfg.data["inputs"] == [{"id": "tok"}]
    assert cfg.data["mcpServers"]["remote"]["type"] == "sse"


def test_empty_servers_object_still_wins(tmp_path: Path) -> None:
    path = write(tmp_path, "c.json", {"servers": {}, "mcpServers": {"a": {"command": "x"}}})
    assert load_config([path]).servers == {}


def test_falsy_servers_key_is_ignored(tmp_path: Path) -> None:
    path = write(tmp_path, "c.json", {"servers": None, "mcpServers": {"a": {"command": "x"}}})
    assert list(load_config([path]).servers) == ["a"]


def test_normalisation_type_args_and_config_source(tmp_path: Path) -> None:
    path = servers_file(
        tmp_path,
        {
            "local": {"command": "node", "type": "sse"},
            "badargs": {"command": "node", "args": "not-a-list"},
            "remote": {"url": "http://localhost:3000/mcp", "type": "streamable-http"},
        },
    )
    cfg = load_config([path])
    local = cfg.servers["local"]
    assert local.config == {"command": "node", "type": "stdio", "args": [], "config_source": path}
    assert local.transport == "stdio"
    assert cfg.servers["badargs"].config["args"] == []
    remote = cfg.servers["remote"]
    assert remote.config["type"] == "sse"
    assert remote.transport == "sse"
    assert "args" not in remote.config
    assert cfg.data["mcpServers"]["local"] is local.config


def test_config_source_is_the_path_exactly_as_given(tmp_path: Path, monkeypatch: Any) -> None:
    servers_file(tmp_path, {"a": {"command": "x"}})
    monkeypatch.chdir(tmp_path)
    given = "./sub/../c.json"
    (tmp_path / "sub").mkdir()
    cfg = load_config([given])
    assert cfg.servers["a"].config["config_source"] == given
    assert cfg.paths == (given,)


def test_entries_are_copies(tmp_path: Path) -> None:
    path = servers_file(tmp_path, {"a": {"command": "x", "env": {"K": "v"}}})
    first = load_config([path])
    first.servers["a"].config["env"]["K"] = "changed"
    assert load_config([path]).servers["a"].config["env"] == {"K": "v"}


def test_later_file_replaces_whole_entry_and_top_level_keys(tmp_path: Path) -> None:
    one = write(
        tmp_path,
        "one.json",
        {
            "mcpServers": {
                "shared": {"command": "old", "env": {"A": "1"}, "description": "d"},
                "first": {"command": "f"},
            },
            "nativeMCPServers": {"neovim": {"disabled": True}},
            "keep": 1,
        },
    )
    two = write(
        tmp_path,
        "two.json",
        {
            "mcpServers": {"second": {"url": "https://x.test/"}, "shared": {"command": "new"}},
            "nativeMCPServers": {"other": {}},
        },
    )
    cfg = load_config([one, two])
    # A replaced entry keeps its first position, as in a JS object.
    assert list(cfg.servers) == ["shared", "first", "second"]
    shared = cfg.servers["shared"].config
    assert shared == {"command": "new", "type": "stdio", "args": [], "config_source": two}
    assert cfg.servers["first"].config["config_source"] == one
    assert cfg.data["nativeMCPServers"] == {"other": {}}
    assert cfg.data["keep"] == 1
    assert list(cfg.data) == ["mcpServers", "nativeMCPServers", "keep"]


def test_missing_files_are_skipped(tmp_path: Path) -> None:
    real = servers_file(tmp_path, {"a": {"command": "x"}})
    cfg = load_config([str(tmp_path / "nope.json"), real, str(tmp_path / "gone.json")])
    assert list(cfg.servers) == ["a"]
    empty = load_config([str(tmp_path / "nope.json")])
    assert empty.servers == {}
    assert empty.data == {"mcpServers": {}}


def test_no_paths() -> None:
    with pytest.raises(ConfigError, match="^No config paths specified$"):
        load_config([])
    assert check_config([]) == ["No config paths specified"]


def test_invalid_json5_raises_with_exact_prefix(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.json", "{ mcpServers: jjj }")
    with pytest.raises(ConfigError) as info:
        load_config([path])
    assert info.value.message.startswith(f"Failed to load config from {path}: ")
    assert info.value.code == "CONFIG_ERROR"
    assert info.value.data["configPath"] == path


@pytest.mark.parametrize(
    "document",
    [{}, {"mcpServers": "x"}, {"mcpServers": None}, [], 42, {"servers": 7}],
)
def test_mcpservers_must_be_an_object(tmp_path: Path, document: Any) -> None:
    path = write(tmp_path, "c.json", json.dumps(document))
    expected = (
        f"Failed to load config from {path}: "
        f"Invalid config format in {path}: 'mcpServers' must be an object"
    )
    with pytest.raises(ConfigError) as info:
        load_config([path])
    assert info.value.message == expected


def test_mcpservers_list_is_a_map_by_index(tmp_path: Path) -> None:
    # (mcp-hub 4.2.1, observed): a JavaScript array is an object, so [] is no server
    # and an entry's name is its index
    assert load_config([write(tmp_path, "e.json", '{"mcpServers": []}')]).servers == {}
    path = write(tmp_path, "c.json", {"servers": [{"command": "x", "disabled": True}]})
    entry = load_config([path]).servers["0"]
    assert entry.config["command"] == "x" and entry.config["config_source"] == path


def test_unreadable_path_is_a_file_error(tmp_path: Path) -> None:
    directory = tmp_path / "dir.json"
    directory.mkdir()
    with pytest.raises(ConfigError) as info:
        load_config([str(directory)])
    # (mcp-hub 4.2.1, observed)
    reason = "EISDIR: illegal operation on a directory, read"
    assert info.value.message == f"Failed to load config from {directory}: {reason}"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("", "invalid end of input at 1:1"),
        ("   ", "invalid end of input at 1:4"),
        ("{mcpServers: {jsonish", "invalid end of input at 1:22"),
        ('{"a": json}', "invalid character 'j' at 1:7"),
        ("{\n  a: 1,\n  b: @\n}", "invalid character '@' at 3:6"),
        ("[1,,2]", "invalid character ',' at 1:4"),
        ("{a: '\\x1'}", "invalid character '\\'' at 1:9"),
    ],
)
def test_json5_errors_read_as_the_javascript_parser_words_them(
    tmp_path: Path, content: str, reason: str
) -> None:
    # (mcp-hub 4.2.1, observed): mcp-hub's message for each of these documents
    path = write(tmp_path, "bad.json", content)
    with pytest.raises(ConfigError) as info:
        load_config([path])
    assert info.value.message == f"Failed to load config from {path}: JSON5: {reason}"


# --------------------------------------------------------------------------- #
# Per-server validation
# --------------------------------------------------------------------------- #


def errors_of(tmp_path: Path, entry: Any) -> list[str]:
    path = servers_file(tmp_path, {"s": entry})
    return list(load_config([path]).servers["s"].errors)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"command": "x", "url": "http://a.test"}, "Server 's' cannot mix stdio and sse fields"),
        (
            {"description": "nothing"},
            "Server 's' must include either command (for stdio) or url (for sse)",
        ),
        ({"command": ""}, "Server 's' missing command value"),
        ({"command": None}, "Server 's' missing command value"),
        ({"command": ["node"]}, "Server 's' has invalid command config"),
        ({"command": "x", "env": "A=1"}, "Server 's' has invalid environment config"),
        (
            {"command": "x", "env": {"A": "${B}", "B": "x${cmd: echo ${env:A}}"}},
            "Server 's' has a circular env reference: A -> B -> A",
        ),
        ({"url": "http://a.test", "headers": "x"}, "Server 's' has invalid headers config"),
        ({"url": "not a url"}, "Server 's' has invalid url"),
        ({"url": "localhost:3000"}, "Server 's' has invalid url"),
        ({"url": "http://"}, "Server 's' has invalid url"),
        ({"url": "http://exa mple.com/"}, "Server 's' has invalid url"),
        ({"url": "http://[::1/"}, "Server 's' has invalid url"),
        ({"url": "${URL}"}, "Server 's' has invalid url"),
        ({"url": None}, "Server 's' has invalid url"),
        ({"url": 42}, "Server 's' has invalid url"),
        (
            {"url": "http://a.test", "dev": {"cwd": "/abs"}},
            "Server 's' dev field is only supported for stdio servers",
        ),
        (
            {"command": "x", "dev": {"enabled": "yes", "cwd": "/abs"}},
            "Server 's' dev.enabled must be a boolean",
        ),
        (
            {"command": "x", "dev": {"watch": "src", "cwd": "/abs"}},
            "Server 's' dev.watch must be an array of strings",
        ),
        (
            {"command": "x", "dev": {"watch": [1], "cwd": "/abs"}},
            "Server 's' dev.watch must be an array of strings",
        ),
        (
            {"command": "x", "dev": {"cwd": "relative"}},
            "Server 's' dev.cwd must be an absolute path",
        ),
        ({"command": "x", "dev": {}}, "Server 's' dev.cwd must be an absolute path"),
        ({"command": "x", "dev": True}, "Server 's' dev.cwd must be an absolute path"),
        ({"command": "x", "cwd": ["/tmp"]}, "Server 's' has invalid cwd config"),
        (
            {"command": "x", "protocolVersion": "2099-01-01"},
            "Server 's' has invalid protocolVersion config (supported: 2024-11-05, 2025-03-26,"
            " 2025-06-18, 2025-11-25, 2026-07-28)",
        ),
        # (mcp-hub 4.2.1, observed): neither field is found in what is not an object
        ("just a string", "Server 's' must include either command (for stdio) or url (for sse)"),
        (None, "Server 's' must include either command (for stdio) or url (for sse)"),
        (["x"], "Server 's' must include either command (for stdio) or url (for sse)"),
    ],
)
def test_validation_messages(tmp_path: Path, entry: Any, message: str) -> None:
    assert errors_of(tmp_path, entry) == [message]


@pytest.mark.parametrize(
    "entry",
    [
        {"command": "x", "env": {"A": None, "B": "", "C": 1, "D": True, "E": "${X}"}},
        {"command": "x", "env": {"URL": "u:${PW}", "PW": "${cmd: pw}", "PATH": "/b:${PATH}"}},
        {"command": "x", "env": None, "cwd": None, "disabled": None},
        {"command": "x", "disabled": False, "name": "Shown", "autoApprove": ["t"]},
        {"command": "x", "dev": {"enabled": False, "watch": ["**/*.py"], "cwd": "/srv/app"}},
        {"url": "https://${DOMAIN}/mcp", "headers": {"Authorization": "Bearer ${TOKEN}", "N": 1}},
        {"url": "http://localhost:${PORT}/mcp"},
        {"url": "https://${cmd: echo host}/x"},
        {"url": "http://127.0.0.1:3000/sse", "env": {"A": "b"}},
        # (mcp-hub 4.2.1, observed): any value, made a string as JavaScript's String() does
        {"command": "x", "args": ["ok", 3, None, {"a": 1}], "env": {"A": {"n": 1}, "B": [1]}},
        {"url": "http://a.test", "args": "x", "headers": {"A": None, "B": [1, 2]}},
        {"command": "x", "disabled": "true"},
        {"command": "x", "disabled": 1},
        {"command": "x", "env": ["A"], "dev": None},  # an array is an object; no dev mode
        {"url": "http://a.test", "dev": False},
    ],
)
def test_valid_entries(tmp_path: Path, entry: dict[str, Any]) -> None:
    assert errors_of(tmp_path, entry) == []


def test_all_errors_of_one_entry_are_collected(tmp_path: Path) -> None:
    entry = {
        "command": "x",
        "env": "bad",
        "cwd": 3,
        "dev": {"enabled": "y", "watch": "w", "cwd": "r"},
    }
    path = servers_file(tmp_path, {"s": entry})
    server = load_config([path]).servers["s"]
    assert server.errors == (
        "Server 's' has invalid environment config",
        "Server 's' has invalid cwd config",
        "Server 's' dev.enabled must be a boolean",
        "Server 's' dev.watch must be an array of strings",
        "Server 's' dev.cwd must be an absolute path",
    )
    assert server.error == "Server 's' has invalid environment config"


def test_bad_entry_does_not_drop_good_ones(tmp_path: Path) -> None:
    path = servers_file(
        tmp_path,
        {"good": {"command": "x"}, "bad": {"command": ""}, "remote": {"url": "http://a.test"}},
    )
    cfg = load_config([path])
    assert list(cfg.servers) == ["good", "bad", "remote"]
    assert cfg.servers["good"].error is None
    assert cfg.servers["remote"].error is None
    assert cfg.servers["bad"].error == "Server 'bad' missing command value"
    assert cfg.errors == ["Server 'bad' missing command value"]


def test_check_config_reports_everything(tmp_path: Path) -> None:
    bad_json = write(tmp_path, "bad.json5", "{ oops")
    bad_shape = write(tmp_path, "shape.json", {"mcpServers": 1})
    entries = servers_file(
        tmp_path,
        {"a": {"command": "x", "url": "http://a.test"}, "b": {}, "ok": {"command": "y"}},
        name="entries.json",
    )
    errors = check_config([bad_json, str(tmp_path / "missing.json"), bad_shape, entries])
    assert len(errors) == 4
    assert errors[0].startswith(f"Failed to load config from {bad_json}: ")
    assert errors[1] == (
        f"Failed to load config from {bad_shape}: "
        f"Invalid config format in {bad_shape}: 'mcpServers' must be an object"
    )
    assert errors[2:] == [
        "Server 'a' cannot mix stdio and sse fields",
        "Server 'b' must include either command (for stdio) or url (for sse)",
    ]


def test_check_config_valid(tmp_path: Path) -> None:
    assert check_config([servers_file(tmp_path, {"a": {"command": "x"}})]) == []


def test_load_config_stops_at_first_bad_file(tmp_path: Path) -> None:
    good = servers_file(tmp_path, {"a": {"command": "x"}})
    bad = write(tmp_path, "bad.json", "{")
    with pytest.raises(ConfigError, match="Failed to load config from"):
        load_config([good, bad])


def test_server_entry_properties() -> None:
    assert ServerEntry("a", {"command": "x", "disabled": True}).disabled
    assert not ServerEntry("a", {"command": "x", "disabled": False}).disabled
    assert not ServerEntry("a", {"command": "x"}).disabled
    assert ServerEntry("a", {"command": "x"}).transport == "stdio"
    assert ServerEntry("a", {"url": "http://x"}).transport == "sse"
    only_error = ServerEntry("a", {}, error="boom")
    assert only_error.errors == ("boom",)
    only_errors = ServerEntry("a", {}, errors=("one", "two"))
    assert only_errors.error == "one"


# --------------------------------------------------------------------------- #
# Change detection
# --------------------------------------------------------------------------- #


def hub(servers: dict[str, dict[str, Any]]) -> HubConfig:
    entries = {name: ServerEntry(name, config) for name, config in servers.items()}
    return HubConfig(paths=("c.json",), data={"mcpServers": dict(servers)}, servers=entries)


def test_key_fields() -> None:
    assert KEY_FIELDS == (
        "command",
        "args",
        "env",
        "disabled",
        "url",
        "headers",
        "dev",
        "name",
        "cwd",
        "config_source",
        "protocolVersion",
    )


def test_diff_added_removed_modified_unchanged() -> None:
    old = hub(
        {
            "same": {"command": "x", "args": ["a"], "env": {"K": "v"}},
            "gone": {"command": "y"},
            "changed": {"command": "z", "args": ["1"], "env": {"A": "1"}},
        }
    )
    new = hub(
        {
            "fresh": {"url": "http://a.test"},
            "same": {"command": "x", "args": ["a"], "env": {"K": "v"}},
            "changed": {"command": "z2", "args": ["1"], "env": {"A": "2"}},
        }
    )
    diff = diff_configs(old, new)
    assert diff.added == ["fresh"]
    assert diff.removed == ["gone"]
    assert diff.modified == ["changed"]
    assert diff.unchanged == ["same"]
    assert diff.details == {
        "changed": {
            "modifiedFields": ["command", "env"],
            "oldValues": {"command": "z", "env": {"A": "1"}},
            "newValues": {"command": "z2", "env": {"A": "2"}},
        }
    }
    assert diff.significant
    assert diff.to_json() == {
        "added": ["fresh"],
        "removed": ["gone"],
        "modified": ["changed"],
        "unchanged": ["same"],
        "details": diff.details,
    }


def test_diff_presence_versus_absence_counts() -> None:
    diff = diff_configs(
        hub({"s": {"command": "x", "disabled": False}}), hub({"s": {"command": "x"}})
    )
    assert diff.modified == ["s"]
    assert diff.details["s"] == {
        "modifiedFields": ["disabled"],
        "oldValues": {"disabled": False},
        "newValues": {},
    }


def test_diff_disabled_toggle() -> None:
    diff = diff_configs(
        hub({"s": {"command": "x", "disabled": False}}),
        hub({"s": {"command": "x", "disabled": True}}),
    )
    assert diff.details["s"]["modifiedFields"] == ["disabled"]
    assert diff.details["s"]["newValues"] == {"disabled": True}


def test_diff_insignificant_change() -> None:
    diff = diff_configs(
        hub({"s": {"command": "x", "description": "old", "timeout": 1, "env": {"A": "1", "B": 2}}}),
        hub(
            {"s": {"command": "x", "description": "new", "timeout": 2, "env": {"B": 2.0, "A": "1"}}}
        ),
    )
    assert diff.unchanged == ["s"]
    assert not diff.significant
    assert diff.details == {}


def test_diff_bool_is_not_number() -> None:
    diff = diff_configs(hub({"s": {"env": {"A": True}}}), hub({"s": {"env": {"A": 1}}}))
    assert diff.modified == ["s"]


def test_diff_config_source_change_is_significant(tmp_path: Path) -> None:
    one = servers_file(tmp_path, {"s": {"command": "x"}}, name="one.json")
    two = servers_file(tmp_path, {"s": {"command": "x"}}, name="two.json")
    diff = diff_configs(load_config([one]), load_config([one, two]))
    assert diff.modified == ["s"]
    assert diff.details["s"]["modifiedFields"] == ["config_source"]


def test_diff_of_loaded_files_after_edit(tmp_path: Path) -> None:
    path = servers_file(tmp_path, {"a": {"command": "x"}, "b": {"command": "y"}})
    before = load_config([path])
    servers_file(tmp_path, {"a": {"command": "x", "description": "doc"}, "c": {"command": "z"}})
    diff = diff_configs(before, load_config([path]))
    assert isinstance(diff, ConfigDiff)
    assert (diff.added, diff.removed, diff.modified, diff.unchanged) == (["c"], ["b"], [], ["a"])


def test_absolute_dev_cwd_uses_platform_rules(tmp_path: Path) -> None:
    assert errors_of(tmp_path, {"command": "x", "dev": {"cwd": os.fspath(tmp_path)}}) == []
