"""Which STDIO children get the bundle on PYTHONPATH (tornadohub.spawn)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tornadohub.spawn import bundled_site_packages, with_bundle_pythonpath

BUNDLE = "/shiv/mcp-hub.pyz_abc/site-packages"


def executable(directory: Path, name: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def bin_dir(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "bin"
    major, minor = sys.version_info[:2]
    for name in ("python", f"python{major}", f"python{major}.{minor}", "python3.99", "node"):
        executable(bin_dir, name)
    return bin_dir


@pytest.mark.parametrize("name", ["python", "python3", f"python3.{sys.version_info[1]}"])
def test_plain_pythons_get_the_bundle(bin_dir: Path, name: str) -> None:
    env = {"PATH": str(bin_dir)}
    assert with_bundle_pythonpath(name, env, BUNDLE) == {**env, "PYTHONPATH": BUNDLE}
    assert with_bundle_pythonpath(str(bin_dir / name), env, BUNDLE)["PYTHONPATH"] == BUNDLE


def test_the_hubs_own_interpreter_gets_it_under_any_name(tmp_path: Path) -> None:
    link = tmp_path / "my-interpreter"
    link.symlink_to(os.path.realpath(sys.executable))
    assert with_bundle_pythonpath(str(link), {}, BUNDLE) == {"PYTHONPATH": BUNDLE}


@pytest.mark.parametrize("name", ["node", "python3.99", "missing-command"])
def test_other_programs_do_not(bin_dir: Path, name: str) -> None:
    env = {"PATH": str(bin_dir)}
    assert with_bundle_pythonpath(name, env, BUNDLE) is env


def test_a_virtualenvs_python_does_not(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    python = executable(venv / "bin", "python")
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
    assert "PYTHONPATH" not in with_bundle_pythonpath(str(python), {}, BUNDLE)


def test_the_servers_own_pythonpath_wins(bin_dir: Path) -> None:
    env = {"PATH": str(bin_dir), "PYTHONPATH": "/mine"}
    assert with_bundle_pythonpath("python", env, BUNDLE)["PYTHONPATH"] == "/mine"


def test_nothing_changes_outside_a_zipapp(bin_dir: Path) -> None:
    assert "_bootstrap" not in sys.modules
    assert bundled_site_packages() is None
    env = {"PATH": str(bin_dir)}
    assert with_bundle_pythonpath("python", env) is env
    assert with_bundle_pythonpath(None, env, BUNDLE) is env
