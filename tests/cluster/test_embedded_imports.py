"""Embedded mode never imports redis-py; only the Redis-backed cluster modules do."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.helpers import ROOT

# Build the app as `serve` does without cluster options, serve one /mcp session id,
# then report which modules of redis (and of the cluster package) got imported.
EMBEDDED = """
import asyncio, json, sys
from tornadohub import cli, metrics
from tornadohub.app import make_app
from tornadohub.hub import Hub
from tornadohub.options import HubOptions
from tornadohub.cluster.secret import ClusterKeys
from tornadohub.cluster.session_ids import SessionIds

async def main():
    hub = Hub(HubOptions(config_paths=[], port=0))
    make_app(hub)
    unbind = metrics.bind_hub(hub)
    ids = SessionIds(ClusterKeys.ephemeral())
    ids.open(ids.mint(principal=None, protocol_version="2025-11-25"), principal=None)
    unbind()

asyncio.run(main())
print(json.dumps(sorted(m for m in sys.modules if m == "redis" or m.startswith(("redis.",
    "tornadohub.cluster")))))
"""


def imported(code: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    modules: list[str] = json.loads(result.stdout.splitlines()[-1])
    return modules


def test_embedded_hub_does_not_import_redis() -> None:
    modules = imported(EMBEDDED)
    assert not [m for m in modules if m == "redis" or m.startswith("redis.")], modules
    assert "tornadohub.cluster.session_ids" in modules  # the probe did run


def test_the_redis_backed_modules_do_import_it() -> None:
    """The control: the probe above would see redis if anything imported it."""
    code = EMBEDDED.replace(
        "from tornadohub.cluster.session_ids import SessionIds",
        "from tornadohub.cluster.session_ids import SessionIds\nimport tornadohub.cluster.streams",
    )
    assert "redis.asyncio" in imported(code)
