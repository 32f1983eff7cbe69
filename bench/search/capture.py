"""Capture the tool definitions of the bench's servers through the MCP Python SDK client.

Each installed npm server (:mod:`bench.search.servers`) and each of the project's own
fixture servers is started over STDIO, initialised and asked for ``tools/list`` (every
page). The result is cached in ``build/search-bench/tools.json`` (``{server id: [tool
JSON, ...]}``, never committed); ``--refresh`` captures again. Servers run in a private
temporary HOME and cwd, with ``guard.cjs`` refusing every non-loopback connection.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp_types import PaginatedRequestParams

from bench.search.install import BUILD, ROOT, entry_point, install_all, node_binary
from bench.search.servers import NpmServer

CACHE = BUILD / "tools.json"
GUARD = Path(__file__).with_name("guard.cjs")
CAPTURE_TIMEOUT = 90.0  # seconds per server; large packages start slowly on a busy machine

# The project's own fixture servers (Python, started with this interpreter).
FIXTURES: dict[str, list[str]] = {
    "fixture_everything": [str(ROOT / "tests" / "servers" / "everything_stdio.py")],
    "fixture_conformance": [str(ROOT / "tests" / "servers" / "conformance_server.py")],
    "demo": ["-m", "tornadohub.demo_server"],
}


@dataclass(frozen=True)
class Launch:
    id: str
    command: str
    args: list[str]
    env: dict[str, str]


def _npm_launch(server: NpmServer, node: str, home: str) -> Launch:
    def fill(text: str) -> str:
        return text.replace("{tmp}", home)

    env = {
        "HOME": home,
        "PATH": f"{Path(node).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "DO_NOT_TRACK": "1",
        "NO_UPDATE_NOTIFIER": "1",
        "NODE_OPTIONS": f"--require {GUARD}",
        **{key: fill(value) for key, value in server.env.items()},
    }
    args = [str(entry_point(server)), *(fill(arg) for arg in server.args)]
    return Launch(server.id, node, args, env)


def _fixture_launch(name: str, args: list[str], home: str) -> Launch:
    env = {"HOME": home, "PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT)}
    return Launch(name, sys.executable, args, env)


async def _list_tools(launch: Launch, cwd: str, errlog: Any) -> list[dict[str, Any]]:
    params = StdioServerParameters(
        command=launch.command, args=launch.args, env=launch.env, cwd=cwd
    )
    tools: list[dict[str, Any]] = []
    async with stdio_client(params, errlog=errlog) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            cursor: str | None = None
            while True:
                page = await session.list_tools(
                    params=PaginatedRequestParams(cursor=cursor) if cursor else None
                )
                tools.extend(
                    tool.model_dump(mode="json", by_alias=True, exclude_none=True)
                    for tool in page.tools
                )
                cursor = page.next_cursor
                if not cursor:
                    return tools


async def _capture_one(
    launch: Launch, cwd: str, errlog: Any, limit: asyncio.Semaphore
) -> tuple[str, list[dict[str, Any]] | str]:
    async with limit:
        started = time.monotonic()
        try:
            async with asyncio.timeout(CAPTURE_TIMEOUT):
                tools = await _list_tools(launch, cwd, errlog)
        except Exception as exc:  # one broken server must not stop the bench
            return launch.id, f"{type(exc).__name__}: {exc}"
        print(f"  {launch.id}: {len(tools)} tools ({time.monotonic() - started:.1f} s)")
        return launch.id, tools


LOG = BUILD / "capture-stderr.log"


async def capture(servers: tuple[NpmServer, ...], errlog: Any) -> dict[str, list[dict[str, Any]]]:
    """Every server's tools (servers that fail are reported and left out)."""
    node = node_binary()
    with tempfile.TemporaryDirectory(prefix="search-bench-") as home:
        launches = [_npm_launch(server, node, home) for server in servers]
        launches += [_fixture_launch(name, args, home) for name, args in FIXTURES.items()]
        limit = asyncio.Semaphore(3)
        results = await asyncio.gather(
            *(_capture_one(launch, home, errlog, limit) for launch in launches)
        )
    captured: dict[str, list[dict[str, Any]]] = {}
    for server_id, outcome in results:
        if isinstance(outcome, str):
            print(f"  {server_id}: not captured: {outcome} (see {LOG})", file=sys.stderr)
        elif outcome:
            captured[server_id] = outcome
    return captured


def load_catalog(refresh: bool = False) -> dict[str, list[dict[str, Any]]]:
    """``{server id: tools}``: from the cache, else installed and captured now."""
    if CACHE.is_file() and not refresh:
        data: dict[str, list[dict[str, Any]]] = json.loads(CACHE.read_text())
        return data
    servers = tuple(install_all())
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    with open(LOG, "w") as errlog:
        catalog = asyncio.run(capture(servers, errlog))
    CACHE.write_text(json.dumps(catalog, indent=1, sort_keys=True))
    return catalog


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--refresh", action="store_true", help="capture again, ignoring the cache")
    args = parser.parse_args()
    catalog = load_catalog(refresh=args.refresh)
    total = sum(len(tools) for tools in catalog.values())
    print(f"{total} tools from {len(catalog)} servers in {CACHE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
