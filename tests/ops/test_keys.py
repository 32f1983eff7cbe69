"""Unit tests of tornadohub.keys: key sources, their errors, and the token check."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tornadohub.keys import (
    AUTH_TOKENS_ENV,
    ApiKey,
    AuthConfigError,
    Keyring,
    challenge,
    drop_from_environment,
    is_loopback_host,
    load_keyring,
    parse_env_tokens,
    presented_token,
    read_token_file,
)

TOKEN_A = "a" * 16 + "-first"
TOKEN_B = "b" * 16 + "-second"


def write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


def test_token_file_names_comments_and_bare_tokens(tmp_path: Path) -> None:
    file = write(tmp_path / "t", f"# keys\n\nci : {TOKEN_A}\n  {TOKEN_B}  \n")
    keys = read_token_file(file)
    assert [key.name for key in keys] == ["ci", "file-4"]
    assert keys[0] == ApiKey.from_token("ci", TOKEN_A)
    assert TOKEN_A not in repr(keys) and TOKEN_B not in repr(keys)


def test_env_tokens() -> None:
    keys = parse_env_tokens(f"ci:{TOKEN_A}, ,laptop:{TOKEN_B}")
    assert [key.name for key in keys] == ["ci", "laptop"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (f"bad name:{TOKEN_A}", "line 1: invalid key name"),
        ("ci:", "line 1: the token is empty or has spaces or non-ASCII"),
        ("ci:short-token", "line 1: the token is shorter than 16 characters"),
        (f"ci:{TOKEN_A} x", "line 1: the token is empty or has spaces or non-ASCII"),
        (f"ci:{TOKEN_A}é", "line 1: the token is empty or has spaces or non-ASCII"),
        (f"ci:{TOKEN_A}\nci:{TOKEN_B}", "API key name 'ci' is used twice"),
        (f"ci:{TOKEN_A}\nother:{TOKEN_A}", "API keys 'ci' and 'other' are equal"),
        ("# nothing but a comment\n", "has no tokens"),
    ],
)
def test_token_file_errors_never_show_tokens(tmp_path: Path, text: str, message: str) -> None:
    file = write(tmp_path / "t", text)
    with pytest.raises(AuthConfigError) as raised:
        load_keyring(str(file), {})
    assert message in str(raised.value)
    for secret in (TOKEN_A, TOKEN_B, "short-token"):
        assert secret not in str(raised.value)


def test_unreadable_token_file(tmp_path: Path) -> None:
    with pytest.raises(AuthConfigError, match="cannot read token file .*: No such file"):
        load_keyring(str(tmp_path / "missing"), {})


def test_world_readable_token_file_warns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    file = write(tmp_path / "t", f"ci:{TOKEN_A}\n", mode=0o644)
    with caplog.at_level(logging.WARNING, logger="tornadohub.auth"):
        read_token_file(file)
    assert [r.getMessage() for r in caplog.records] == [
        f"Token file {file} is readable by other users; chmod 600 it"
    ]


def test_keyring_sources_and_check(tmp_path: Path) -> None:
    assert load_keyring(None, {}) is None
    assert load_keyring(None, {AUTH_TOKENS_ENV: " "}) is None
    file = write(tmp_path / "t", f"ci:{TOKEN_A}\n")
    keyring = load_keyring(str(file), {AUTH_TOKENS_ENV: f"laptop:{TOKEN_B}"})
    assert keyring is not None and keyring.names == ["ci", "laptop"] and len(keyring) == 2
    found = keyring.authenticate(TOKEN_B)
    assert found is not None and found.name == "laptop"
    assert keyring.authenticate(TOKEN_A[:-1]) is None
    assert keyring.authenticate(TOKEN_A + "x") is None
    assert keyring.authenticate("") is None
    with pytest.raises(AuthConfigError):
        Keyring([])


@pytest.mark.parametrize(
    ("authorization", "api_key", "expected"),
    [
        ("Bearer abc", None, "abc"),
        ("bearer   abc  ", None, "abc"),
        ("BEARER abc", "other", "abc"),
        ("Basic abc", "key", "key"),
        ("Bearer ", None, None),
        (None, " key ", "key"),
        (None, "", None),
        (None, None, None),
    ],
)
def test_presented_token(authorization: str | None, api_key: str | None, expected: str) -> None:
    assert presented_token(authorization, api_key) == expected


def test_challenge() -> None:
    assert challenge(invalid=False) == 'Bearer realm="mcp-hub"'
    assert challenge(invalid=True) == 'Bearer realm="mcp-hub", error="invalid_token"'


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("::", False),
        ("", False),
        ("192.168.1.10", False),
        ("example.com", False),
    ],
)
def test_is_loopback_host(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


def test_drop_from_environment() -> None:
    environ = {AUTH_TOKENS_ENV: "x", "HOME": "/h"}
    drop_from_environment(environ)
    assert environ == {"HOME": "/h"}
