"""XDG and legacy-directory rules of tornadohub.paths, with an injected home and environ."""

from __future__ import annotations

from pathlib import Path

import pytest

from tornadohub import paths


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.mark.parametrize(
    ("kind", "default"),
    [
        ("data", Path(".local/share")),
        ("state", Path(".local/state")),
        ("config", Path(".config")),
    ],
)
def test_defaults_under_home(home: Path, kind: paths.XdgKind, default: Path) -> None:
    assert paths.xdg_dir(kind, home=home, environ={}) == home / default / "mcp-hub"
    assert paths.xdg_dir(kind, "logs", home=home, environ={}) == home / default / "mcp-hub/logs"


@pytest.mark.parametrize(
    ("kind", "var"),
    [("data", "XDG_DATA_HOME"), ("state", "XDG_STATE_HOME"), ("config", "XDG_CONFIG_HOME")],
)
def test_env_override(home: Path, tmp_path: Path, kind: paths.XdgKind, var: str) -> None:
    base = tmp_path / "xdg"
    assert paths.xdg_dir(kind, "x", home=home, environ={var: str(base)}) == base / "mcp-hub/x"


def test_empty_env_counts_as_unset(home: Path) -> None:
    assert paths.xdg_dir("state", home=home, environ={"XDG_STATE_HOME": ""}) == (
        home / ".local/state/mcp-hub"
    )


def test_legacy_subdir_wins_when_it_exists(home: Path, tmp_path: Path) -> None:
    env = {"XDG_STATE_HOME": str(tmp_path / "xdg")}
    assert paths.log_file_path(home=home, environ=env) == tmp_path / "xdg/mcp-hub/logs/mcp-hub.log"
    (home / ".mcp-hub/logs").mkdir(parents=True)
    assert paths.log_file_path(home=home, environ=env) == home / ".mcp-hub/logs/mcp-hub.log"


def test_legacy_root_only_affects_files_at_its_top(home: Path) -> None:
    (home / ".mcp-hub").mkdir()
    assert paths.workspaces_file_path(home=home, environ={}) == home / ".mcp-hub/workspaces.json"
    assert paths.oauth_storage_path(home=home, environ={}) == home / ".mcp-hub/oauth-storage.json"
    # Subdirectories have their own legacy check: ~/.mcp-hub/cache does not exist yet.
    assert paths.marketplace_cache_path(home=home, environ={}) == (
        home / ".local/share/mcp-hub/cache/registry.json"
    )
    assert (
        paths.log_file_path(home=home, environ={}) == home / ".local/state/mcp-hub/logs/mcp-hub.log"
    )
    (home / ".mcp-hub/cache").mkdir()
    assert paths.marketplace_cache_path(home=home, environ={}) == (
        home / ".mcp-hub/cache/registry.json"
    )


def test_file_paths_without_legacy(home: Path, tmp_path: Path) -> None:
    env = {"XDG_DATA_HOME": str(tmp_path / "data"), "XDG_STATE_HOME": str(tmp_path / "state")}
    assert paths.workspaces_file_path(home=home, environ=env) == (
        tmp_path / "state/mcp-hub/workspaces.json"
    )
    assert paths.oauth_storage_path(home=home, environ=env) == (
        tmp_path / "data/mcp-hub/oauth-storage.json"
    )
    assert paths.marketplace_cache_path(home=home, environ=env) == (
        tmp_path / "data/mcp-hub/cache/registry.json"
    )


def test_defaults_to_real_home_and_environ(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "st"))
    assert paths.workspaces_file_path() == tmp_path / "st/mcp-hub/workspaces.json"


def test_paths_are_not_created(home: Path) -> None:
    paths.log_file_path(home=home, environ={})
    assert list(home.iterdir()) == []
