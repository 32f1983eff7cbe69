"""Keeping every process the hub starts accountable, grandchildren included.

Servers run in their own process group, which ``killpg`` stops; but a grandchild that
starts its own session (as daemons do) leaves the group, and when its server dies it
is re-parented. On Linux the hub therefore makes itself a *child subreaper*: such
orphans are re-parented to the hub instead of init, and the hub stops and reaps them.
Processes the hub spawned itself are registered here so they are never mistaken for
orphans.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger("tornadohub.processes")

PR_SET_CHILD_SUBREAPER = 36

#: Pids of processes the hub spawned itself (servers, ``${cmd:}`` shells).
_own: set[int] = set()
_subreaper = False


def enable_subreaper() -> bool:
    """Adopt orphaned descendants (Linux); idempotent. False where unsupported."""
    global _subreaper
    if _subreaper or not sys.platform.startswith("linux"):
        return _subreaper
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        _subreaper = libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    return _subreaper


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
    if not _subreaper:
        return set()
    me = os.getpid()
    return {pid for pid, parent in _children_of().items() if parent == me and pid not in _own}


def kill_and_reap(pids: set[int]) -> None:
    """SIGKILL *pids*; reap those that are the hub's (adopted) children."""
    me = os.getpid()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    for pid in pids:
        if pid not in _own and _parent(pid) == me:
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(pid, 0)


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
