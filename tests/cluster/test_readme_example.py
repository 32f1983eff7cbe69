"""The README's "Running several hubs" example is ``examples/three-hubs.sh``, and it works:
run as written, it starts Redis, three hubs and nginx, and MCP clients reach the hubs
through nginx (stateless calls and sessions). Everything it started is stopped by pid."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.cluster.harness import call_tool, open_session, rpc_result
from tests.cluster.services import nginx_program, redis_server_program
from tests.helpers import ROOT, alive, descendants, free_port, wait_until
from tests.nginx import readme_block

SCRIPT = ROOT / "examples" / "three-hubs.sh"

pytestmark = pytest.mark.timeout(120)


def test_the_readme_shows_the_script() -> None:
    assert readme_block("## Running several hubs", "sh") == SCRIPT.read_text()


@pytest.fixture
def workdir() -> Iterator[Path]:
    """Under the system temp dir, traversable by nginx's workers (they may run as nobody)."""
    directory = Path(tempfile.mkdtemp(prefix="tornadohub-three-hubs-"))
    directory.chmod(0o755)
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def test_three_hubs_behind_nginx_as_the_readme_says(workdir: Path) -> None:
    paths = {Path(redis_server_program()).parent, Path(nginx_program()).parent}
    config = workdir / "servers.json"
    demo = {"command": sys.executable, "args": ["-m", "tornadohub.demo_server"]}
    config.write_text(json.dumps({"mcpServers": {"demo": demo}}))
    hubs, hops = [free_port() for _ in range(3)], [free_port() for _ in range(3)]
    home = workdir / "home"
    home.mkdir()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("MCP_HUB", "TORNADOHUB"))},
        "HOME": str(home),
        "PYTHONPATH": str(ROOT),
        "PATH": os.pathsep.join([*map(str, paths), os.environ.get("PATH", "")]),
        "MCP_HUB": f"{sys.executable} -m tornadohub",
        "REDIS_PORT": str(free_port()),
        "NGINX_PORT": str(nginx_port := free_port()),
        "HUB_PORTS": " ".join(map(str, hubs)),
        "HOP_PORTS": " ".join(map(str, hops)),
    }
    started = subprocess.run(
        ["sh", str(SCRIPT), str(workdir / "run"), str(config)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    pids = _pids(workdir / "run")
    try:
        assert started.returncode == 0, started.stderr
        wait_until(lambda: all(_ready(port) for port in hubs), timeout=60)
        base = f"http://127.0.0.1:{nginx_port}"
        wait_until(lambda: _answers(base), timeout=20)
        with httpx.Client(base_url=base, timeout=30) as client:
            served = set()
            for _ in range(3):
                response = call_tool(client, "demo__echo", {"message": "hi"})
                assert rpc_result(response)["content"][0]["text"] == "Echo: hi"
                served.add(response.headers["x-tornadohub-node"])
            assert served == {"h1", "h2", "h3"}
            session = open_session(client)
            for _ in range(3):
                reply = call_tool(client, "demo__echo", {"message": "s"}, session_id=session)
                assert reply.headers["x-tornadohub-node"] == session.partition(".")[0]
    finally:
        _stop(_pids(workdir / "run") or pids)


def _pids(directory: Path) -> dict[str, int]:
    found = {}
    for path in directory.glob("*.pid"):
        text = path.read_text().strip()
        if text.isdigit():
            found[path.stem] = int(text)
    return found


def _ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _answers(base: str) -> bool:
    try:
        return httpx.get(f"{base}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _stop(pids: dict[str, int]) -> None:
    """Everything the script started, by pid (the hubs' servers go with them)."""
    hubs = [pid for name, pid in pids.items() if name.startswith("h")]
    everything = set(pids.values()).union(*(descendants(pid) for pid in hubs))
    for name, pid in pids.items():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGQUIT if name == "nginx" else signal.SIGTERM)
    wait_until(lambda: not any(alive(pid) for pid in everything), timeout=30)
