"""The servers mcp-hub 4.2.1's captures (``tests/golden/``) were made with, for our hub.

``everything`` and ``memory`` are the npm reference servers at the captured versions
(STDIO), ``everything-http`` is server-everything over Streamable HTTP, and
``filesystem-disabled`` (disabled) is our STDIO fixture standing in for server-filesystem.
The npm servers come with the conformance tools (``python -m tests.conformance.install``).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.conformance.install import SERVER_EVERYTHING, SERVER_MEMORY
from tests.conformance.node import require_node
from tests.conftest import stdio_entry
from tests.helpers import ROOT, HubProcess, ServerProcess, free_port

GUARD = ROOT / "bench" / "loopback-guard.cjs"  # binds the HTTP upstream to 127.0.0.1
CAPTURED_PORT = "37373"  # the port mcp-hub listened on for the captures
FIXTURE = "filesystem-disabled"  # our fixture stands in for server-filesystem


@contextlib.contextmanager
def everything_http(node: Path) -> Iterator[str]:
    """server-everything over Streamable HTTP on a free loopback port; yields its URL."""
    port = free_port()
    argv = [str(node), "--require", str(GUARD), str(SERVER_EVERYTHING.path), "streamableHttp"]
    server = ServerProcess(argv, port, env={"PORT": str(port), "PATH": "/usr/bin:/bin"})
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


def golden_servers(
    root: Path, node: Path, http_url: str, *, gate: Path | None = None
) -> dict[str, Any]:
    """The capture's ``mcpServers``. With *gate* (a FIFO), ``everything`` starts only once
    a line is written to it, so that the hub stays ``starting`` until the test says; once
    the gate is removed, it starts at once."""
    everything: dict[str, Any] = {
        "command": str(node),
        "args": [str(SERVER_EVERYTHING.path), "stdio"],
    }
    if gate is not None:
        script = 'if [ -p "$0" ]; then read line < "$0"; fi; exec "$1" "$2" stdio'
        everything = {
            "command": "/bin/sh",
            "args": ["-c", script, str(gate), str(node), str(SERVER_EVERYTHING.path)],
        }
    return {
        "everything": everything,
        "memory": {
            "command": str(node),
            "args": [str(SERVER_MEMORY.path)],
            "env": {"MEMORY_FILE_PATH": str(root / "memory.jsonl")},
        },
        "everything-http": {"url": http_url},
        FIXTURE: stdio_entry("everything_stdio.py", disabled=True),
    }


def offline_marketplace() -> dict[str, str]:
    """Hub environment whose marketplace fetch fails at once, as it did offline for the
    captures (a closed loopback port instead of the internet)."""
    registry = f"http://127.0.0.1:{free_port()}/registry.json"
    return {"MCP_HUB_MARKETPLACE_URL": registry, "MCP_HUB_README_BASE_URL": registry}


@contextlib.contextmanager
def golden_hub(root: Path) -> Iterator[HubProcess]:
    """A ready hub on the capture's servers, run in *root*; stopped on exit."""
    node = require_node()
    (root / "home").mkdir()
    config = root / "servers.json"
    with everything_http(node) as url:
        config.write_text(json.dumps({"mcpServers": golden_servers(root, node, url)}))
        process = HubProcess([str(config)], home=root / "home", cwd=root, env=offline_marketplace())
        with process.running():
            yield process
