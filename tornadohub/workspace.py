"""The machine-wide workspace cache (``workspaces.json``) that hubs and mcphub.nvim share.

Every running hub keeps one entry keyed by its port string; the editor reads the file to
find a live hub for its cwd and config files. The file format and the lock protocol
(exclusive-create ``workspaces.json.lock`` holding the writer's pid) match mcp-hub 4.2.1 so
Node and Python hubs can share the file. Two deliberate improvements: a lock held by a
dead pid is removed at once, and a hub only ever deletes an entry carrying its own pid.

The API is synchronous and small; the hub calls it through ``asyncio.to_thread``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from tornadohub.clock import iso_timestamp
from tornadohub.errors import HubError
from tornadohub.paths import write_atomic

log = logging.getLogger("tornadohub.workspace")

WORKSPACE_ERROR = "WORKSPACE_ERROR"

#: Indirection so tests can observe the retry loop without real waiting.
_sleep: Callable[[float], None] = time.sleep

_thread_locks: dict[Path, threading.Lock] = {}
_thread_locks_guard = threading.Lock()


def _thread_lock(path: Path) -> threading.Lock:
    """One lock per file per process: the file lock alone cannot tell our threads apart."""
    key = path.absolute()
    with _thread_locks_guard:
        return _thread_locks.setdefault(key, threading.Lock())


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` names a running process (a process we may not signal counts as alive)."""
    if pid <= 0:
        return False
    if sys.platform == "win32":
        return True  # os.kill(pid, 0) would terminate the process on Windows; assume alive.
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


class WorkspaceCache:
    """Read and update this hub's entry in the shared ``workspaces.json``."""

    def __init__(
        self,
        path: Path,
        port: int,
        pid: int | None = None,
        *,
        lock_attempts: int = 10,
        lock_interval: float = 0.1,
    ) -> None:
        self.path = path
        self.port = port
        self.pid = os.getpid() if pid is None else pid
        self.lock_path = path.with_name(path.name + ".lock")
        self.lock_attempts = max(1, lock_attempts)
        self.lock_interval = lock_interval

    @property
    def key(self) -> str:
        """Entries are keyed by the port as a string, as in mcp-hub."""
        return str(self.port)

    def register(
        self, *, cwd: str, config_files: list[str], start_time: datetime | None = None
    ) -> dict[str, Any]:
        """Write (or overwrite) the entry for our port and return it."""
        entry: dict[str, Any] = {
            "cwd": cwd,
            "config_files": list(config_files),
            "pid": self.pid,
            "port": self.port,
            "startTime": iso_timestamp(start_time),
            "state": "active",
            "activeConnections": 0,
            "shutdownStartedAt": None,
            "shutdownDelay": None,
        }
        with self._locked():
            workspaces = self.read_all()
            workspaces[self.key] = entry
            self._write(workspaces)
        log.debug(
            "Registered workspace on port %s",
            self.port,
            extra={"data": {"port": self.port, "path": str(self.path)}},
        )
        return dict(entry)

    def update(self, **fields: Any) -> None:
        """Merge ``fields`` into our entry; datetimes become ISO strings.

        Does nothing when our entry is gone, now belongs to another process, or
        already holds these values (the file is then not rewritten).
        """
        values = {
            name: iso_timestamp(value) if isinstance(value, datetime) else value
            for name, value in fields.items()
        }
        with self._locked():
            workspaces = self.read_all()
            entry = workspaces.get(self.key)
            if entry is None or not self._is_ours(entry):
                return
            if all(name in entry and entry[name] == value for name, value in values.items()):
                return  # an unchanged file spares every watcher a workspaces_updated event
            entry.update(values)
            self._write(workspaces)

    def deregister(self) -> None:
        """Remove our entry, but never one another hub registered on the same port."""
        with self._locked():
            workspaces = self.read_all()
            entry = workspaces.get(self.key)
            if entry is None:
                return
            if not self._is_ours(entry):
                log.debug(
                    "Leaving workspace entry for port %s: it belongs to pid %s",
                    self.port,
                    entry.get("pid"),
                )
                return
            del workspaces[self.key]
            self._write(workspaces)
        log.debug("Deregistered workspace on port %s", self.port)

    def read_all(self) -> dict[str, dict[str, Any]]:
        """The whole map; ``{}`` when the file is missing, unreadable or not a JSON object."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError) as exc:
            log.warning("Cannot read workspace cache %s: %s", self.path, exc)
            return {}
        try:
            data = json.loads(text)
        except ValueError:
            if text.strip():
                log.warning("Ignoring corrupt workspace cache %s", self.path)
            return {}
        if not isinstance(data, dict):
            return {}
        return {str(key): value for key, value in data.items() if isinstance(value, dict)}

    def _is_ours(self, entry: dict[str, Any]) -> bool:
        return entry.get("pid") == self.pid

    def _write(self, workspaces: dict[str, dict[str, Any]]) -> None:
        """Replace the file atomically so readers never see a half-written map."""
        text = json.dumps(workspaces, indent=2, ensure_ascii=False)
        try:
            write_atomic(self.path, text, durable=True)
        except OSError as exc:
            raise HubError(
                f"Failed to write workspace cache: {exc}",
                code=WORKSPACE_ERROR,
                data={"path": str(self.path)},
            ) from exc

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold both the in-process lock and the cross-process lock file."""
        with _thread_lock(self.path):
            self._acquire_file_lock()
            try:
                yield
            finally:
                self._release_file_lock()

    def _try_create_lock(self) -> bool:
        """Exclusively create the lock file with our pid; ``False`` if someone holds it."""
        try:
            fd = os.open(self.lock_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        try:
            os.write(fd, str(self.pid).encode("ascii"))
        finally:
            os.close(fd)
        return True

    def _lock_holder(self) -> int | None:
        """The pid recorded in the lock file, or ``None`` if unknown (e.g. not yet written)."""
        try:
            text = self.lock_path.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            return None
        return int(text) if text.isdigit() else None

    def _remove_dead_lock(self) -> bool:
        """Remove the lock at once when its holder is known to be dead (mcp-hub waits 1 s)."""
        holder = self._lock_holder()
        if holder is None or holder <= 0 or pid_alive(holder):
            return False
        log.debug(
            "Removing lock file of dead pid %s",
            holder,
            extra={"data": {"lockFile": str(self.lock_path), "pid": holder}},
        )
        with contextlib.suppress(OSError):
            self.lock_path.unlink()
        return True

    def _acquire_file_lock(self) -> None:
        """mcp-hub 4.2.1's protocol: N tries, then remove a possibly stale lock and retry once."""
        try:
            self.lock_path.parent.mkdir(parents=True, exist_ok=True)
            for attempt in range(self.lock_attempts):
                if self._try_create_lock():
                    return
                if self._remove_dead_lock() and self._try_create_lock():
                    return
                if attempt + 1 < self.lock_attempts:
                    _sleep(self.lock_interval)
        except OSError as exc:
            raise self._lock_error(f"Failed to acquire workspace lock: {exc}") from exc
        log.warning(
            "removing potentially stale lock file",
            extra={"data": {"lockFile": str(self.lock_path), "pid": self._lock_holder()}},
        )
        try:
            with contextlib.suppress(FileNotFoundError):
                self.lock_path.unlink()
            if self._try_create_lock():
                return
            reason = f"lock file {self.lock_path} is still held"
        except OSError as exc:
            reason = str(exc)
        raise self._lock_error(
            f"Failed to acquire lock after {self.lock_attempts} attempts and cleanup: {reason}"
        )

    def _lock_error(self, message: str) -> HubError:
        return HubError(message, code=WORKSPACE_ERROR, data={"lockFile": str(self.lock_path)})

    def _release_file_lock(self) -> None:
        """Delete the lock only while it still records our pid (it may have been taken over)."""
        if self._lock_holder() != self.pid:
            return
        with contextlib.suppress(OSError):
            self.lock_path.unlink()
