"""Measure dist/mcp-hub.pyz: size, ``--version`` time, time until ``/readyz`` answers 200.

    python3.11 zipapp/measure.py [dist/mcp-hub.pyz] [--runs 5]

Run it with a bare interpreter of the pyz's minor version (not a venv's), as users will.
"Cold" runs use a fresh SHIV_ROOT, so they include extracting the bundle; "warm" runs reuse
one. The hub serves the bundled demo config (one STDIO server, ``python -m
tornadohub.demo_server``). Standard library only; prints one line per figure.
"""

from __future__ import annotations

import argparse
import json
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

DEMO = {"mcpServers": {"demo": {"command": "python", "args": ["-m", "tornadohub.demo_server"]}}}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def environment(shiv_root: Path, home: Path) -> dict[str, str]:
    return {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "HOME": str(home),
        "SHIV_ROOT": str(shiv_root),
        "LANG": "C.UTF-8",
    }


def time_version(pyz: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    argv = [sys.executable, str(pyz), "--version"]
    subprocess.run(argv, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def time_ready(pyz: Path, env: dict[str, str], work: Path) -> tuple[float, int]:
    """Seconds from exec to /readyz 200, and the hub's RSS (KiB) then."""
    config = work / "demo.json"
    config.write_text(json.dumps(DEMO))
    port = free_port()
    argv = [sys.executable, str(pyz), "serve", "--port", str(port), "--config", str(config)]
    start = time.perf_counter()
    hub = subprocess.Popen(
        argv, env=env, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        while not ready(port):
            if hub.poll() is not None:
                raise SystemExit(f"hub exited with {hub.returncode}")
            if time.perf_counter() - start > 120:
                raise SystemExit("hub not ready within 120 s")
            time.sleep(0.02)
        elapsed = time.perf_counter() - start
        time.sleep(1)
        return elapsed, rss_kib(hub.pid)
    finally:
        hub.send_signal(signal.SIGTERM)
        hub.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pyz", nargs="?", default="dist/mcp-hub.pyz", type=Path)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    pyz = args.pyz.resolve()
    print(f"size: {pyz.stat().st_size / 2**20:.2f} MiB ({pyz})")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        home = work / "home"
        home.mkdir()
        cold_version, cold_ready, warm_version, warm_ready, rss = [], [], [], [], []
        for run in range(args.runs):
            cold_version.append(time_version(pyz, environment(work / f"v{run}", home)))
            seconds, _ = time_ready(pyz, environment(work / f"r{run}", home), work)
            cold_ready.append(seconds)
        warm = environment(work / "warm", home)
        time_version(pyz, warm)  # extract once
        for _ in range(args.runs):
            warm_version.append(time_version(pyz, warm))
            seconds, kib = time_ready(pyz, warm, work)
            warm_ready.append(seconds)
            rss.append(kib)
        extracted = sum(f.stat().st_size for f in (work / "warm").rglob("*") if f.is_file())

    def median(values: list[float]) -> str:
        return f"{statistics.median(values):.2f} s (min {min(values):.2f})"

    print(f"extracted: {extracted / 2**20:.1f} MiB (in SHIV_ROOT, after the first run)")
    print(f"--version cold: {median(cold_version)}")
    print(f"--version warm: {median(warm_version)}")
    print(f"/readyz 200 cold (demo config): {median(cold_ready)}")
    print(f"/readyz 200 warm (demo config): {median(warm_ready)}")
    print(f"hub RSS when ready (warm, 1 server): {statistics.median(rss) / 1024:.1f} MiB")


if __name__ == "__main__":
    main()
