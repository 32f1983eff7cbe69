"""The child watcher and the orphan reaper each wait only for their own processes."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest

from tornadohub import processes

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or sys.version_info >= (3, 12),
    reason="watch_children installs a watcher on Linux with Python 3.11 only",
)

#: Exits with 3 once its stdin closes.
CHILD = "import sys; sys.stdin.read(); sys.exit(3)"


async def test_a_watched_child_is_never_an_orphan(monkeypatch: pytest.MonkeyPatch) -> None:
    if not hasattr(os, "pidfd_open"):
        pytest.skip("no pidfd_open")
    # Pretend to be the subreaper: adopted_orphans() then lists this process's children.
    # Nothing is killed here; only the list is read.
    monkeypatch.setattr(processes, "_subreaper", True)
    restore = processes.watch_children()
    child: asyncio.subprocess.Process | None = None
    try:
        assert isinstance(asyncio.get_child_watcher(), asyncio.PidfdChildWatcher)
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-c", CHILD, stdin=asyncio.subprocess.PIPE
        )
        # Not yet inside spawned(), as in the await of a server's start: still not an orphan.
        assert child.pid not in processes.adopted_orphans()
        assert child.stdin is not None
        child.stdin.close()
        async with asyncio.timeout(20):
            assert await child.wait() == 3  # the watcher read the real exit status
        assert child.pid not in processes._watched
    finally:
        if child is not None and child.returncode is None:
            child.kill()
            await child.wait()
        restore()
    assert not isinstance(asyncio.get_child_watcher(), asyncio.PidfdChildWatcher)


def test_no_child_passes_for_an_orphan_while_a_spawn_is_under_way(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A child whose pid nobody knows yet is a child of the hub, and the
    # reaper must leave it alone until the spawn is over.
    monkeypatch.setattr(processes, "_subreaper", True)
    child = subprocess.Popen([sys.executable, "-c", CHILD], stdin=subprocess.PIPE)
    try:
        with processes.spawning():
            assert processes.adopted_orphans() == set()
        assert child.pid in processes.adopted_orphans()  # unknown, no spawn: an orphan
        with processes.spawned(child.pid):
            assert child.pid not in processes.adopted_orphans()
    finally:
        assert child.stdin is not None
        child.stdin.close()
        assert child.wait(timeout=20) == 3
