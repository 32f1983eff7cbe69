"""A watcher is ready once its OS watch is registered, however busy its directory.

The hub's start waits for its watchers (edits made right after ready must not be missed);
a directory written to all the time (a log next to the config) must not hold it up.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.helpers import churning
from tornadohub.watch import config_watcher


async def test_a_watcher_in_a_busy_directory_becomes_ready_and_sees_edits(
    tmp_path: Path,
) -> None:
    config = tmp_path / "mcp.json"
    config.write_text("{}")
    seen: list[set[Path]] = []
    edited = asyncio.Event()

    async def on_change(paths: set[Path]) -> None:
        seen.append(paths)
        edited.set()

    watcher = config_watcher([str(config)], on_change)
    with churning(tmp_path):
        watcher.start()
        try:
            async with asyncio.timeout(10):
                await watcher.wait_ready()
            config.write_text('{"mcpServers": {}}')
            async with asyncio.timeout(10):
                await edited.wait()
        finally:
            await watcher.stop()
    assert seen == [{config.absolute()}]
