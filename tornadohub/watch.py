"""File watching for ``--watch``, dev mode and the shared workspace cache.

Built on ``watchfiles`` (native inotify/FSEvents, with debouncing). Directories are
watched rather than files, so a file that appears after start or is replaced by an
editor's rename-on-save is still seen.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from pathlib import Path

import anyio
from watchfiles import Change, DefaultFilter, awatch

from tornadohub.braces import matching_brace, split_top_level

log = logging.getLogger("tornadohub.watch")

#: mcp-hub's dev-mode defaults.
DEFAULT_DEV_GLOBS = ("**/*.js", "**/*.ts", "**/*.py", "**/*.json")
DEV_DEBOUNCE_MS = 500
CONFIG_DEBOUNCE_MS = 200

OnChange = Callable[[set[Path]], Awaitable[None]]


def glob_to_regex(pattern: str) -> re.Pattern[str]:
    """Translate a glob (relative, ``/``-separated) to a regex matching whole paths.

    ``**`` spans directories, ``*`` and ``?`` stay within one; ``{a,b}`` is either
    alternative (nested, in directory parts too: ``{src,lib}/**/*.{ts,js}``), as in
    the globs mcp-hub documents. A brace without a comma, or unclosed, is literal.
    """
    return re.compile(_translate(pattern) + r"\Z")


def _translate(pattern: str) -> str:
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "{" and (group := _brace_group(pattern, i)) is not None:
            alternatives, i = group
            out.append("(?:" + "|".join(_translate(a) for a in alternatives) + ")")
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return "".join(out)


def _brace_group(pattern: str, start: int) -> tuple[list[str], int] | None:
    """The alternatives of the ``{...}`` opening at *start* and the index after it.

    None when it is not closed or has no comma at its own level (then it is literal).
    """
    end = matching_brace(pattern, start + 1)
    if end < 0:
        return None
    alternatives = split_top_level(pattern[start + 1 : end])
    return (alternatives, end + 1) if len(alternatives) > 1 else None


class Watcher:
    """One background task watching directories and calling back with changed paths."""

    def __init__(
        self,
        name: str,
        directories: Iterable[Path],
        accept: Callable[[Path], bool],
        on_change: OnChange,
        *,
        debounce_ms: int,
        recursive: bool,
    ) -> None:
        self.name = name
        self.directories = sorted({d for d in directories if d.is_dir()})
        self.accept = accept
        self.on_change = on_change
        self.debounce_ms = debounce_ms
        self.recursive = recursive
        self._stop = anyio.Event()
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._settled = asyncio.Event()

    def start(self) -> None:
        if not self.directories:
            log.warning("%s: nothing to watch", self.name)
            return
        self._task = asyncio.create_task(self._run(), name=f"watch:{self.name}")

    async def wait_ready(self) -> None:
        """Until the OS watch is registered (tests rely on it, so edits are not missed)."""
        if self._task is not None:
            await self._ready.wait()

    async def settled(self) -> None:
        """Until the first pass is over: the first batch of changes handled, or the first
        idle timeout passed. A change made before the OS watch was registered is never
        seen; one made after it has been handled by then."""
        if self._task is not None:
            await self._settled.wait()

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        default_filter = DefaultFilter()

        def keep(change: Change, path: str) -> bool:
            # Any change seen means the OS watch is registered. awatch yields neither a
            # batch it filters out whole nor its idle timeout while such batches keep
            # coming, so a busy directory (a log written next to the config) would
            # otherwise keep the watcher, and the hub's start, waiting for ever.
            self._ready.set()
            return default_filter(change, path) and self.accept(Path(path))

        try:
            changes = awatch(
                *self.directories,
                watch_filter=keep,
                debounce=self.debounce_ms,
                stop_event=self._stop,
                recursive=self.recursive,
                yield_on_timeout=True,
                rust_timeout=200,
            )
            async for batch in changes:
                self._ready.set()
                if batch:
                    try:
                        await self.on_change({Path(path) for _, path in batch})
                    except Exception:
                        log.exception("%s: change handler failed", self.name)
                self._settled.set()
        finally:
            self._ready.set()
            self._settled.set()


def config_watcher(paths: Sequence[str], on_change: OnChange) -> Watcher:
    """Watch config files (by their directories) for edits, creation and replacement."""
    targets = {Path(p).absolute() for p in paths}
    return Watcher(
        "config",
        (p.parent for p in targets),
        lambda path: path.absolute() in targets,
        on_change,
        debounce_ms=CONFIG_DEBOUNCE_MS,
        recursive=False,
    )


def dev_watcher(name: str, cwd: str, globs: Sequence[str], on_change: OnChange) -> Watcher:
    """Dev mode: watch *globs* under *cwd*, including files created later."""
    root = Path(cwd)
    patterns = [glob_to_regex(g) for g in globs]

    def accept(path: Path) -> bool:
        try:
            relative = path.relative_to(root).as_posix()
        except ValueError:
            return False
        return any(p.match(relative) for p in patterns)

    return Watcher(
        f"dev:{name}", [root], accept, on_change, debounce_ms=DEV_DEBOUNCE_MS, recursive=True
    )


def file_watcher(path: Path, on_change: OnChange, *, debounce_ms: int = 100) -> Watcher:
    """Watch one file through its directory (atomic replaces change the inode)."""
    target = path.absolute()
    return Watcher(
        f"file:{path.name}",
        [target.parent],
        lambda p: p.absolute() == target,
        on_change,
        debounce_ms=debounce_ms,
        recursive=False,
    )
