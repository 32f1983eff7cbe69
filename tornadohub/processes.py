"""Keeping every process the hub starts accountable, grandchildren included.

Servers run in their own process group, which ``killpg`` stops; but a grandchild that
starts its own session (as daemons do) leaves the group, and when its server dies it
is re-parented. On Linux the hub therefore makes itself a *child subreaper*: such
orphans are re-parented to the hub instead of init, and the hub stops and reaps them.
Processes the hub spawned itself are registered here so they are never mistaken for
orphans.

Exit statuses have two readers, and neither takes the other's: asyncio's child watcher
waits for the processes asyncio spawned, each by its pid, and the orphan reaper waits only
for adopted pids that are neither :func:`spawned` nor watched; nothing calls
``waitpid(-1)``. On Python 3.11 :func:`watch_children` replaces the watcher's thread per
child with pidfds on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVarTuple, Unpack

log = logging.getLogger("tornadohub.processes")

PR_SET_CHILD_SUBREAPER = 36

_Ts = TypeVarTuple("_Ts")

#: Pids of processes the hub spawned itself (servers, ``${cmd:}`` shells).
_own: set[int] = set()
#: Pids asyncio's child watcher waits for, from their spawn until it has reaped them.
_watched: set[int] = set()
_subreaper = False
#: The loop whose pidfds watch the children (see :func:`watch_children`).
_watching_loop: asyncio.AbstractEventLoop | None = None
#: Spawns under way, whose pid is not known yet: their child must not pass for an orphan.
_spawning = 0
_spawning_lock = threading.Lock()


def enable_subreaper() -> bool:
    """Adopt orphaned descendants (Linux); idempotent. False where unsupported."""
    global _subreaper
    if _subreaper or not sys.platform.startswith("linux"):
        return _subreaper
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        _subreaper = libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    return _subreaper


class _PidfdWatcher(asyncio.PidfdChildWatcher):
    """asyncio's pidfd watcher, which also keeps the orphan reaper off its children.

    A server is registered here in the same loop step asyncio spawns it, before the
    ``await`` that ends in :func:`spawned`; in between, another server's stop must not
    take the new child for an orphan, kill it and read its exit status.
    """

    def add_child_handler(
        self, pid: int, callback: Callable[[int, int, Unpack[_Ts]], object], *args: *_Ts
    ) -> None:
        def exited(pid: int, returncode: int, *args: *_Ts) -> None:
            _watched.discard(pid)
            callback(pid, returncode, *args)

        super().add_child_handler(pid, exited, *args)
        _watched.add(pid)

    def remove_child_handler(self, pid: int) -> bool:
        _watched.discard(pid)
        return super().remove_child_handler(pid)


def _pidfd_works() -> bool:
    """Whether ``pidfd_open`` exists and the kernel (5.3+) and sandbox allow it."""
    if not hasattr(os, "pidfd_open"):
        return False
    try:
        os.close(os.pidfd_open(os.getpid()))
    except OSError:
        return False
    return True


def watch_children() -> Callable[[], None]:
    """Wait for server processes through pidfds on the running loop; returns the undo.

    asyncio 3.11's default ``ThreadedChildWatcher`` parks a thread in ``waitpid`` per
    child: 100 servers, 100 threads. 3.12+ use pidfds by themselves, and elsewhere (no
    pidfd) the default stays. Call it before the first server starts; a second call on the
    same loop changes nothing (and its undo neither).
    """
    global _watching_loop
    loop = asyncio.get_running_loop()
    if sys.version_info >= (3, 12) or _watching_loop is loop or not _pidfd_works():
        return lambda: None
    watcher = _PidfdWatcher()
    watcher.attach_loop(loop)
    asyncio.set_child_watcher(watcher)
    _watching_loop = loop

    def restore() -> None:
        global _watching_loop
        _watching_loop = None
        asyncio.set_child_watcher(asyncio.ThreadedChildWatcher())  # asyncio's default; closes ours

    return restore


#: The waits of :func:`watched_until_reaped`.
_reaped_waits: set[asyncio.Future[int]] = set()


def watched_until_reaped(process: asyncio.subprocess.Process) -> None:
    """Count *process* among the watched until its loop has reaped it.

    asyncio's pidfd watcher marks its children itself (:class:`_PidfdWatcher`); uvloop
    reaps its children in libuv, unseen by any watcher, so each is marked here as well
    (from the spawn's own step: it is never an orphan, adopted by its upstream or not).
    """
    pid = process.pid
    _watched.add(pid)
    reaped = asyncio.ensure_future(process.wait())
    _reaped_waits.add(reaped)

    def done(future: asyncio.Future[int]) -> None:
        _reaped_waits.discard(future)
        _watched.discard(pid)

    reaped.add_done_callback(done)


def _is_own(pid: int) -> bool:
    return pid in _own or pid in _watched


@contextlib.contextmanager
def spawning() -> Iterator[None]:
    """Hold orphan reaping off while a child is created and not yet marked :func:`spawned`.

    Between fork and the moment the caller learns the pid (asyncio awaits the pipes
    first) the new child is a child of the hub that no set knows: a concurrent
    :func:`reap_orphans` would take it for an orphan. Orphans found meanwhile are
    reaped by the next call.
    """
    global _spawning
    with _spawning_lock:
        _spawning += 1
    try:
        yield
    finally:
        with _spawning_lock:
            _spawning -= 1


@contextlib.contextmanager
def spawned(pid: int) -> Iterator[None]:
    """Mark *pid* as the hub's own child while it lives."""
    _own.add(pid)
    try:
        yield
    finally:
        _own.discard(pid)


def _children_of() -> dict[int, int]:
    """pid -> ppid of every live process (from /proc)."""
    table: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (parent := _parent(int(entry.name))) is not None:
            table[int(entry.name)] = parent
    return table


def descendants(pid: int) -> set[int]:
    """Every process below *pid* right now (empty where /proc is missing)."""
    if not Path("/proc").is_dir():
        return set()
    table = _children_of()
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in table.items() if parent in frontier} - found
        found |= frontier
    return found


def adopted_orphans() -> set[int]:
    """Processes re-parented to the hub that it did not spawn itself."""
    if not _subreaper or _spawning:
        return set()
    me = os.getpid()
    return {pid for pid, parent in _children_of().items() if parent == me and not _is_own(pid)}


def kill_and_reap(pids: set[int]) -> None:
    """SIGKILL *pids*; reap those that are the hub's (adopted) children."""
    me = os.getpid()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    for pid in pids:
        if not _is_own(pid) and _parent(pid) == me:
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(pid, 0)


def kill_all_spawned() -> int:
    """Last step of a shutdown: SIGKILL the group of every child the hub still owns.

    Servers are stopped before this; what is left is a server past its stop deadline or a
    ``${cmd: ...}`` shell still running, whose worker thread would otherwise hold the
    process's exit until the command times out. Returns how many were killed.
    """
    pids = set(_own)
    for pid in pids:
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
    if pids:
        log.warning("killed %d process(es) still running at shutdown: %s", len(pids), pids)
    return len(pids)


def _parent(pid: int) -> int | None:
    """The parent pid from ``/proc/<pid>/stat`` (None once the process is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def reap_orphans() -> int:
    """Kill and reap every adopted orphan; returns how many there were."""
    orphans = adopted_orphans()
    if orphans:
        log.warning("stopping %d orphaned process(es) left by servers: %s", len(orphans), orphans)
        kill_and_reap(orphans)
    return len(orphans)
