"""The single-file ``mcp-hub.pyz``, built once per session and run like on a bare machine.

The hub and its STDIO servers run with the base interpreter (not this venv's), from a clean
environment: ``PYTHONPATH`` empty, ``SHIV_ROOT`` and ``HOME`` in tmp_path, the working
directory tmp_path. The servers are Python scripts that import ``mcp`` (and, for the demo,
``tornadohub``), which only the bundle provides. Marked ``slow`` (about 20 s): ``make test``
and CI run it; ``pytest -m 'not slow'`` skips it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import ROOT, SERVERS, HubProcess

pytestmark = pytest.mark.slow


def base_interpreter() -> str:
    """The interpreter this venv was made from: no project packages in its site-packages."""
    return str(getattr(sys, "_base_executable", sys.executable))


@pytest.fixture(scope="session")
def pyz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pyz")
    target = out / "mcp-hub.pyz"
    env = {**os.environ, "PYTHON": sys.executable, "OUT": str(target), "BUILD": str(out / "b")}
    build = subprocess.run(
        ["bash", str(ROOT / "zipapp" / "build.sh")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    return target


class PyzHub(HubProcess):
    """``<base python> mcp-hub.pyz serve`` with nothing of the project's environment."""

    def __init__(self, pyz: Path, python: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pyz = pyz
        self.python = python

    @property
    def argv(self) -> list[str]:
        args = [self.python, str(self.pyz), "serve", "--port", str(self.port)]
        for config in self.configs:
            args += ["--config", config]
        return args

    @property
    def env(self) -> dict[str, str]:
        return clean_env(self.python, self.cwd, home=self.home)


def clean_env(python: str, tmp: Path, *, home: Path) -> dict[str, str]:
    return {
        "PATH": f"{Path(python).parent}:/usr/bin:/bin",
        "HOME": str(home),
        "SHIV_ROOT": str(tmp / "shiv"),
        "PYTHONPATH": "",
        "LANG": "C.UTF-8",
    }


@pytest.fixture
def pyz_hub(pyz: Path, tmp_path: Path, hub_home: Path) -> Iterator[PyzHub]:
    python = base_interpreter()
    config = tmp_path / "hub.json"
    servers = {
        # -S: not even the base interpreter's own site-packages; mcp can only come from the pyz.
        "everything": {"command": python, "args": ["-S", str(SERVERS / "everything_stdio.py")]},
        # The quick start's demo server, found as plain "python" on PATH.
        "demo": {"command": "python", "args": ["-m", "tornadohub.demo_server"]},
    }
    config.write_text(json.dumps({"mcpServers": servers}))
    hub = PyzHub(pyz, python, configs=[str(config)], home=hub_home, cwd=tmp_path)
    hub.start()
    try:
        yield hub
    finally:
        hub.stop()


def call(hub: HubProcess, server: str, tool: str, **arguments: Any) -> str:
    body = {"server_name": server, "tool": tool, "arguments": arguments}
    response = hub.api("POST", "/api/servers/tools", body)
    assert response.status_code == 200, response.text
    return str(response.json()["result"]["content"][0]["text"])


def test_bare_interpreter_has_no_mcp(tmp_path: Path, hub_home: Path) -> None:
    """Precondition of the other tests: without the bundle, `import mcp` fails."""
    python = base_interpreter()
    probe = subprocess.run(
        [python, "-S", "-c", "import mcp"],
        env=clean_env(python, tmp_path, home=hub_home),
        capture_output=True,
        timeout=30,
    )
    assert probe.returncode != 0


def test_pyz_is_reproducible_and_starts(pyz: Path, tmp_path: Path, hub_home: Path) -> None:
    with zipfile.ZipFile(pyz) as archive:
        entries = archive.infolist()
        names = {entry.filename for entry in entries}
        assert "site-packages/tornadohub/cli.py" in names and "__main__.py" in names
        dashboard = {name for name in names if name.startswith("site-packages/tornadohub/ui/")}
        shipped = {
            f"site-packages/tornadohub/ui/{p.name}" for p in (ROOT / "tornadohub" / "ui").iterdir()
        }
        assert dashboard == shipped and "site-packages/tornadohub/ui/app.js" in dashboard
        # --reproducible: every entry has the same fixed time (SOURCE_DATE_EPOCH, default 1980).
        (stamp,) = {entry.date_time for entry in entries}
        assert stamp[0] == 1980
        assert not [name for name in names if name.endswith(".pyc")]
    python = base_interpreter()
    version = subprocess.run(
        [python, str(pyz), "--version"],
        cwd=tmp_path,
        env=clean_env(python, tmp_path, home=hub_home),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert version.returncode == 0, version.stderr
    assert version.stdout.splitlines() == ["4.2.1", "tornadohub 0.1.0"]


def test_pyz_bundles_cluster_mode(pyz: Path, tmp_path: Path, hub_home: Path) -> None:
    """The cluster extra (redis-py) is in the pyz: one file runs embedded or in a cluster."""
    python = base_interpreter()
    env = clean_env(python, tmp_path, home=hub_home)
    probe = subprocess.run(
        [python, "-S", str(pyz), "-c", "import tornadohub.cluster.streams, redis; print('ok')"],
        cwd=tmp_path,
        env={**env, "SHIV_INTERPRETER": "1"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert probe.returncode == 0 and probe.stdout.strip() == "ok", probe.stderr
    lb = subprocess.run(
        [python, str(pyz), "lb-config", "--nginx", "--nodes", "h1=10.0.0.1:8080"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert lb.returncode == 0 and '"~^h1\\."  hub_node_h1;' in lb.stdout, lb.stderr


def test_pyz_serves_python_stdio_servers_from_the_bundle(pyz_hub: PyzHub, tmp_path: Path) -> None:
    health = pyz_hub.wait_ready(timeout=60)
    assert {s["name"]: s["status"] for s in health["servers"]} == {
        "everything": "connected",
        "demo": "connected",
    }
    ready = pyz_hub.client.get("/readyz")
    assert ready.status_code == 200, ready.text

    assert call(pyz_hub, "everything", "echo", message="from the pyz") == "Echo: from the pyz"
    for path in ("/", "/ui/app.js", "/ui/style.css"):  # the dashboard comes with the pyz
        assert pyz_hub.client.get(path).status_code == 200, path
    assert call(pyz_hub, "demo", "echo", message="demo") == "Echo: demo"
    bundle = Path(call(pyz_hub, "everything", "env", name="PYTHONPATH"))
    assert bundle.name == "site-packages" and bundle.is_relative_to(tmp_path / "shiv")
    assert (bundle / "mcp" / "__init__.py").is_file()
    # Nothing else of the hub's environment reaches the child.
    assert call(pyz_hub, "everything", "env", name="SHIV_ROOT") == "<unset>"
    assert pyz_hub.stop() == 0
