"""Placeholder and child-environment resolution (contract section 8)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from tornadohub.errors import PlaceholderError
from tornadohub.placeholders import (
    CMD_TIMEOUT,
    DEFAULT_ENV_KEYS,
    ResolvedServer,
    env_cycle,
    parse_hub_env,
    predefined_variables,
    resolve_server,
    resolve_string,
    run_shell,
)

HUB_CWD = "/work/hubplay"
ENVIRON = {
    "HOME": "/home/me",
    "PATH": "/usr/bin:/bin",
    "USER": "me",
    "SHELL": "/bin/bash",
    "SECRET_HUB_ONLY": "do-not-leak",
    "API_KEY": "sk-live-1234",
}


class FakeCmd:
    """Records commands and answers from a table instead of running a shell."""

    def __init__(self, answers: Mapping[str, str] | None = None) -> None:
        self.answers = dict(answers or {})
        self.calls: list[str] = []

    def __call__(self, command: str) -> str:
        self.calls.append(command)
        if command not in self.answers:
            raise PlaceholderError(f"cmd execution failed: unknown fake command {command!r}")
        return self.answers[command]


def no_cmd(command: str) -> str:
    raise AssertionError(f"no command expected, got {command!r}")


def resolve(
    config: Mapping[str, Any],
    *,
    environ: Mapping[str, str] = ENVIRON,
    hub_env: Mapping[str, str] | None = None,
    run_cmd: Callable[[str], str] = no_cmd,
) -> ResolvedServer:
    return resolve_server(
        config, environ=environ, hub_env=hub_env or {}, cwd=HUB_CWD, run_cmd=run_cmd
    )


# --------------------------------------------------------------------------- #
# MCP_HUB_ENV and predefined variables
# --------------------------------------------------------------------------- #


def test_constants() -> None:
    assert DEFAULT_ENV_KEYS == ("HOME", "LOGNAME", "PATH", "SHELL", "TERM", "USER")
    assert CMD_TIMEOUT == 30.0


def test_parse_hub_env_object() -> None:
    raw = '{"A": "x", "N": 3, "F": 1.5, "B": true, "Z": null, "L": [1, 2], "O": {"k": 1}}'
    values, warning = parse_hub_env(raw)
    # (mcp-hub 4.2.1, observed in a child's environment)
    assert values == {
        "A": "x",
        "N": "3",
        "F": "1.5",
        "B": "true",
        "Z": "null",
        "L": "1,2",
        "O": "[object Object]",
    }
    assert warning is None


@pytest.mark.parametrize("raw", [None, ""])
def test_parse_hub_env_unset(raw: str | None) -> None:
    assert parse_hub_env(raw) == ({}, None)


@pytest.mark.parametrize("raw", ["{not json", '"text"', "null", "   "])
def test_parse_hub_env_invalid_is_a_warning(raw: str) -> None:
    values, warning = parse_hub_env(raw)
    assert values == {}
    # (mcp-hub 4.2.1, observed) its words; the parser's own message follows the colon
    assert warning is not None
    assert warning.startswith("Failed to parse MCP_HUB_ENV: ") or (
        warning == "MCP_HUB_ENV is not a valid object"
    )


def test_parse_hub_env_list_is_a_map_by_index() -> None:
    # (mcp-hub 4.2.1, observed: no warning) a JavaScript array is an object
    assert parse_hub_env('["a", 2]') == ({"0": "a", "1": "2"}, None)


def test_predefined_variables() -> None:
    assert predefined_variables("/work/hubplay") == {
        "workspaceFolder": "/work/hubplay",
        "cwd": "/work/hubplay",
        "userHome": os.path.expanduser("~"),
        "pathSeparator": os.sep,
        "/": os.sep,
        "workspaceFolderBasename": "hubplay",
    }
    assert predefined_variables("/work/hubplay/")["workspaceFolderBasename"] == "hubplay"


# --------------------------------------------------------------------------- #
# resolve_string
# --------------------------------------------------------------------------- #


def test_plain_env_and_input_placeholders() -> None:
    context = {"A": "1", "B": "2", "input:tok": "T"}
    assert resolve_string("${A}-${env:B}-${input:tok}", context, run_cmd=no_cmd) == "1-2-T"
    assert resolve_string("no placeholders", context, run_cmd=no_cmd) == "no placeholders"
    assert resolve_string("${A}${A}", context, run_cmd=no_cmd) == "11"


def test_unknown_variable_is_strict() -> None:
    with pytest.raises(PlaceholderError, match=r"^Variable 'MISSING' not found$"):
        resolve_string("x ${MISSING} y", {}, run_cmd=no_cmd)
    with pytest.raises(PlaceholderError, match=r"^Variable 'input:id' not found$"):
        resolve_string("${input:id}", {}, run_cmd=no_cmd)


def test_values_are_not_rescanned() -> None:
    context = {"A": "${B}", "B": "never"}
    assert resolve_string("${A}", context, run_cmd=no_cmd) == "${B}"


def test_unmatched_brace_is_literal() -> None:
    assert resolve_string("cost ${ and ${A}", {"A": "1"}, run_cmd=no_cmd) == "cost ${ and 1"
    assert resolve_string("tail ${", {}, run_cmd=no_cmd) == "tail ${"
    assert resolve_string("$A and {B}", {}, run_cmd=no_cmd) == "$A and {B}"


def test_cmd_with_text_around() -> None:
    fake = FakeCmd({"echo hi": "hi"})
    assert resolve_string("pre${cmd: echo hi}post", {}, run_cmd=fake) == "prehipost"
    assert fake.calls == ["echo hi"]


def test_cmd_inner_placeholders_resolve_first() -> None:
    fake = FakeCmd({"cat /run/user/1/tok": "secret", "echo a b": "a b"})
    context = {"XDG": "/run/user/1", "A": "a", "B": "b"}
    assert resolve_string("${cmd: cat ${XDG}/tok}", context, run_cmd=fake) == "secret"
    assert resolve_string("${cmd: echo ${A} ${B}}", context, run_cmd=fake) == "a b"


def test_cmd_nested_cmd_and_shell_braces() -> None:
    fake = FakeCmd({"echo inner": "x", "printf x": "X", "echo {a,b}": "a b"})
    assert resolve_string("${cmd: printf ${cmd: echo inner}}", {}, run_cmd=fake) == "X"
    assert resolve_string("${cmd: echo {a,b}}", {}, run_cmd=fake) == "a b"


def test_names_are_not_trimmed() -> None:
    # (mcp-hub 4.2.1, observed): the name is what stands between the braces
    context = {"A": "1", " A ": "spaced"}
    assert resolve_string("${ A }", context, run_cmd=no_cmd) == "spaced"
    for text, name in {
        "${ B }": " B ",
        "${env: B}": " B",
        "${ cmd: echo x}": " cmd: echo x",
    }.items():
        with pytest.raises(PlaceholderError) as raised:
            resolve_string(text, {"B": "2"}, run_cmd=no_cmd)
        assert raised.value.message == f"Variable '{name}' not found"


def test_empty_command() -> None:
    # (mcp-hub 4.2.1, observed): the placeholder, inner ones resolved, after the prefix
    cases = {"${cmd: }": "cmd: ", "${cmd:}": "cmd:", "${cmd: ${E}}": "cmd: "}
    for text, shown in cases.items():
        with pytest.raises(PlaceholderError) as raised:
            resolve_string(text, {"E": ""}, run_cmd=no_cmd)
        assert raised.value.message == f"cmd execution failed: Empty command in cmd: {shown}"


def test_cmd_failure_is_wrapped() -> None:
    def broken(command: str) -> str:
        raise RuntimeError("boom")

    with pytest.raises(PlaceholderError, match=r"^cmd execution failed: boom$"):
        resolve_string("${cmd: whatever}", {}, run_cmd=broken)


def test_max_nesting_depth() -> None:
    fake = FakeCmd({"echo": "ok"})

    def nested(levels: int) -> str:
        text = "echo"
        for _ in range(levels):
            text = "${cmd: " + text + "}"
        return text

    fake.answers.update({"ok": "ok"})
    assert resolve_string(nested(10), {}, run_cmd=fake) == "ok"
    with pytest.raises(PlaceholderError, match="nesting"):
        resolve_string(nested(12), {}, run_cmd=fake)


# --------------------------------------------------------------------------- #
# run_shell
# --------------------------------------------------------------------------- #


def test_run_shell_echo_is_trimmed() -> None:
    assert run_shell("echo '  hello  '") == "hello"
    assert resolve_string("v=${cmd: echo real}", {}) == "v=real"


def test_run_shell_failure() -> None:
    with pytest.raises(PlaceholderError) as info:
        run_shell("echo oops >&2; exit 3")
    assert info.value.message.startswith("cmd execution failed: ")
    assert "exit code 3" in info.value.message
    assert "oops" in info.value.message


def test_run_shell_timeout() -> None:
    with pytest.raises(PlaceholderError, match=r"^cmd execution failed: .*timed out"):
        run_shell("sleep 5; echo late", timeout=0.2)


# --------------------------------------------------------------------------- #
# resolve_server
# --------------------------------------------------------------------------- #


def test_context_priority_predefined_environ_hub_env() -> None:
    environ = {**ENVIRON, "cwd": "from-environ", "X": "environ"}
    resolved = resolve(
        {"command": "run", "args": ["${cwd}", "${X}", "${workspaceFolder}"]},
        environ=environ,
        hub_env={"X": "hub"},
    )
    assert resolved.args == ["from-environ", "hub", HUB_CWD]


def test_documented_example_resolves_references_between_env_entries() -> None:
    """mcp-hub's docs example; mcp-hub 4.2.1 fails it with "Variable 'DB_PASSWORD' not found"."""
    fake = FakeCmd({"op read op://vault/db/password": "s3cret-pw"})
    resolved = resolve(
        {
            "command": "x",
            "env": {
                "DB_URL": "postgresql://user:${DB_PASSWORD}@localhost/myapp",
                "DB_PASSWORD": "${cmd: op read op://vault/db/password}",
                "FALLBACK_VAR": None,
            },
        },
        environ={**ENVIRON, "FALLBACK_VAR": "from-hub"},
        run_cmd=fake,
    )
    assert resolved.env["DB_URL"] == "postgresql://user:s3cret-pw@localhost/myapp"
    assert resolved.env["DB_PASSWORD"] == "s3cret-pw"
    assert resolved.env["FALLBACK_VAR"] == "from-hub"
    assert fake.calls == ["op read op://vault/db/password"]  # once, though used twice
    assert resolved.redact("url postgresql://user:s3cret-pw@localhost/myapp") == "url ***"


@pytest.mark.parametrize(
    "env",
    [
        {"A": "a", "B": "${A}-b", "C": "${B}-c"},
        {"C": "${B}-c", "B": "${A}-b", "A": "a"},
        {"B": "${env:A}-b", "C": "${B}-c", "A": "a"},
    ],
)
def test_env_entries_refer_to_each_other_in_any_order(env: dict[str, str]) -> None:
    resolved = resolve({"command": "x", "env": env, "args": ["${C}"]})
    assert {key: resolved.env[key] for key in "ABC"} == {"A": "a", "B": "a-b", "C": "a-b-c"}
    assert list(resolved.env)[-3:] == list(env)  # the child sees them in the file's order
    assert resolved.args == ["a-b-c"]


def test_env_entries_shadow_the_hub_and_their_own_name_inherits() -> None:
    resolved = resolve(
        {
            "command": "x",
            "env": {
                "PATH": "/opt/tool/bin:${PATH}",  # its own name: the hub's value
                "HOME": "/srv/tool",
                "CACHE": "${HOME}/cache",  # a sibling beats the hub's variable
                "ME": "${USER}",
                "USER": "",
            },
        },
    )
    assert resolved.env["PATH"] == "/opt/tool/bin:/usr/bin:/bin"
    assert resolved.env["CACHE"] == "/srv/tool/cache"
    assert resolved.env["ME"] == resolved.env["USER"] == "me"


@pytest.mark.parametrize(
    ("env", "cycle"),
    [
        ({"A": "${B}", "B": "${A}"}, "A -> B -> A"),
        ({"X": "x", "A": "${B}", "B": "${C}-${X}", "C": "pre-${A}"}, "A -> B -> C -> A"),
        ({"A": "${cmd: echo ${B}}", "B": "${env:A}"}, "A -> B -> A"),
        # a name computed from another entry: found while resolving
        ({"WHICH": "B", "A": "${${WHICH}}", "B": "${A}"}, "A -> B -> A"),
    ],
)
def test_env_circle_is_an_error_naming_it(env: dict[str, str], cycle: str) -> None:
    with pytest.raises(PlaceholderError) as info:
        resolve({"command": "x", "env": env}, run_cmd=no_cmd)
    assert info.value.message == f"Circular env reference: {cycle}"


def test_env_cycle_is_found_without_resolving() -> None:
    assert env_cycle({"A": "${B}", "B": "${cmd: never-run ${A}}"}) == "A -> B -> A"
    assert env_cycle({"A": "${A}", "B": "${A}", "C": None, "D": 1}) is None
    assert env_cycle({"A": "${${B}}", "B": "A"}) is None  # only known once resolved


def test_env_null_and_empty_inherit() -> None:
    resolved = resolve({"command": "x", "env": {"API_KEY": None, "USER": ""}})
    assert resolved.env["API_KEY"] == "sk-live-1234"
    assert resolved.env["USER"] == "me"
    with pytest.raises(PlaceholderError, match=r"^Variable 'NOPE' not found$"):
        resolve({"command": "x", "env": {"NOPE": None}})


def test_env_scalars_become_strings() -> None:
    resolved = resolve({"command": "x", "env": {"N": 8080, "F": 1.0, "T": True, "O": False}})
    assert {k: resolved.env[k] for k in ("N", "F", "T", "O")} == {
        "N": "8080",
        "F": "1",
        "T": "true",
        "O": "false",
    }


def test_any_value_becomes_a_string_as_javascript_makes_it() -> None:
    # (mcp-hub 4.2.1, observed in the child's argv and environment and in the headers sent)
    values = [[1, None, "a", [2, 3]], [], {"a": 1}, 1.0, 1e21, -0.0, None, 1e-7, 0.00001]
    shown = ["1,,a,2,3", "", "[object Object]", "1", "1e+21", "0", "null", "1e-7", "0.00001"]
    stdio = resolve({"command": "x", "args": values, "env": {"O": {"a": 1}, "R": [1, None]}})
    assert stdio.args == shown
    assert (stdio.env["O"], stdio.env["R"]) == ("[object Object]", "1,")
    headers = {"N": None, "O": {"a": 1}, "L": [1, 2], "B": False}
    remote = resolve({"url": "http://a.test/", "headers": headers})
    assert remote.headers == {"N": "null", "O": "[object Object]", "L": "1,2", "B": "false"}


def test_resolved_env_is_context_for_other_fields() -> None:
    fake = FakeCmd({"fetch-token abc": "tok-xyz"})
    resolved = resolve(
        {
            "url": "https://${HOST}/mcp",
            "env": {"HOST": "api.test", "ID": "abc"},
            "headers": {"Authorization": "Bearer ${cmd: fetch-token ${ID}}", "X-N": 5},
        },
        run_cmd=fake,
    )
    assert resolved.url == "https://api.test/mcp"
    assert resolved.headers == {"Authorization": "Bearer tok-xyz", "X-N": "5"}


def test_command_cwd_args_resolved() -> None:
    resolved = resolve(
        {
            "command": "${HOME}/bin/tool",
            "args": ["--root", "${workspaceFolder}", "${/}tmp", "${workspaceFolderBasename}"],
            "cwd": "${userHome}",
        }
    )
    assert resolved.command == "/home/me/bin/tool"
    assert resolved.args == ["--root", HUB_CWD, f"{os.sep}tmp", "hubplay"]
    assert resolved.cwd == os.path.expanduser("~")
    assert resolved.url is None
    assert resolved.headers == {}


def test_absent_fields() -> None:
    resolved = resolve({"command": "x"})
    assert resolved.args == []
    assert resolved.cwd is None
    assert resolved.headers == {}


def test_legacy_dollar_var_args() -> None:
    resolved = resolve({"command": "x", "args": ["$API_KEY", "${USER}", "plain"]})
    assert resolved.args == ["sk-live-1234", "me", "plain"]
    with pytest.raises(PlaceholderError, match=r"^Legacy variable 'MISSING' not found$"):
        resolve({"command": "x", "args": ["$MISSING"]})


def test_child_env_default_keys_hub_env_and_resolved() -> None:
    environ = {**ENVIRON, "TERM": "() { evil; }"}
    resolved = resolve(
        {"command": "x", "env": {"OWN": "1", "PATH": "/custom", "SHARED": "server"}},
        environ=environ,
        hub_env={"SHARED": "hub", "input:tok": "T", "GLOBAL": "g"},
    )
    assert resolved.env == {
        "HOME": "/home/me",
        "PATH": "/custom",
        "SHELL": "/bin/bash",
        "USER": "me",
        "SHARED": "server",
        "input:tok": "T",
        "GLOBAL": "g",
        "OWN": "1",
    }


def test_hub_env_injected_and_predefined_never_leak() -> None:
    resolved = resolve({"url": "http://a.test/"}, hub_env={"G": "gval"})
    assert resolved.env["G"] == "gval"
    for name in ("workspaceFolder", "cwd", "userHome", "pathSeparator", "/"):
        assert name not in resolved.env
    assert "SECRET_HUB_ONLY" not in resolved.env


def test_cmd_sees_hub_env() -> None:
    fake = FakeCmd({"echo gval": "gval"})
    resolved = resolve({"command": "${cmd: echo ${G}}"}, hub_env={"G": "gval"}, run_cmd=fake)
    assert resolved.command == "gval"


def test_cmd_failure_in_server() -> None:
    with pytest.raises(PlaceholderError, match=r"^cmd execution failed:"):
        resolve({"command": "x", "args": ["${cmd: not-in-table}"]}, run_cmd=FakeCmd())


# --------------------------------------------------------------------------- #
# Secrets and redaction
# --------------------------------------------------------------------------- #


def test_secrets_and_redact() -> None:
    fake = FakeCmd({"op read op://v/t": "tok-9876"})
    resolved = resolve(
        {
            "url": "https://api.test/${API_KEY}",
            "env": {"LITERAL": "plain-value", "FROM_HUB": "${API_KEY}", "SHORT": "${X}"},
            "headers": {"Authorization": "Bearer ${cmd: op read op://v/t}"},
            "args": ["${workspaceFolder}"],
        },
        hub_env={"X": "abc"},
        run_cmd=fake,
    )
    assert "sk-live-1234" in resolved.secrets
    assert "tok-9876" in resolved.secrets
    assert "Bearer tok-9876" in resolved.secrets
    assert "https://api.test/sk-live-1234" in resolved.secrets
    assert "plain-value" not in resolved.secrets  # literal, not from a placeholder
    assert "abc" not in resolved.secrets  # too short to redact safely
    assert HUB_CWD not in resolved.secrets  # predefined variables are not secret
    text = "GET https://api.test/sk-live-1234 with Bearer tok-9876 from /work/hubplay"
    assert resolved.redact(text) == "GET *** with *** from /work/hubplay"


def test_legacy_and_inherited_values_are_secret() -> None:
    resolved = resolve(
        {"command": "x", "env": {"API_KEY": None}, "args": ["$USER_TOKEN"]},
        hub_env={"USER_TOKEN": "ut-5555"},
    )
    assert {"sk-live-1234", "ut-5555"} <= resolved.secrets


def test_error_message_is_redacted() -> None:
    def leaky(command: str) -> str:
        raise PlaceholderError(f"cmd execution failed: could not use {command}")

    with pytest.raises(PlaceholderError) as info:
        resolve(
            {"url": "http://a.test/", "headers": {"A": "${cmd: use ${API_KEY}}"}}, run_cmd=leaky
        )
    assert "sk-live-1234" not in info.value.message
    assert info.value.message == "cmd execution failed: could not use use ***"
