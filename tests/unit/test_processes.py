"""The child watcher and the orphan reaper each wait only for their own processes."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest

from tornadohub import processes
from tornadohub.placeholders import ResolvedServer
from tornadohub.spawn import spawn_server

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


def test_a_server_spawned_on_uvloop_is_never_an_orphan(monkeypatch: pytest.MonkeyPatch) -> None:
    # uvloop reaps its children in libuv, out of any asyncio watcher's sight: a server's
    # child is marked watched from its spawn until reaped, adopted by its upstream or not.
    uvloop = pytest.importorskip("uvloop")
    monkeypatch.setattr(processes, "_subreaper", True)  # adopted_orphans() lists our children
    resolved = ResolvedServer(
        command=sys.executable,
        args=["-c", CHILD],
        env=dict(os.environ),
        cwd=None,
        url=None,
        headers={},
        secrets=frozenset(),
    )

    async def spawn_and_stop() -> None:
        process = await spawn_server(resolved)
        try:
            assert process.pid not in processes.adopted_orphans()
            assert process.stdin is not None
            process.stdin.close()
            async with asyncio.timeout(20):
                assert await process.wait() == 3
            for _ in range(100):  # the mark goes in the loop turns after the exit
                if process.pid not in processes._watched:
                    break
                await asyncio.sleep(0)
            assert process.pid not in processes._watched
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(spawn_and_stop())
