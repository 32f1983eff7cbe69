"""Starting STDIO server processes: the one spawn call, and the children started early.

A hub's start is its servers' start: the children (often Node or Python programs that take
a quarter of a second of CPU each to boot) are what a client waits for. The hub's own
imports (the MCP SDK, pydantic models, Tornado) take longer than that, so ``serve``
starts the children of the config first, from this module, which imports only the
standard library, the config loader and the placeholder resolver; the hub built
afterwards adopts them (:meth:`EarlyChildren.take`). Nothing else changes: each upstream
still resolves its entry itself and adopts a child only when its resolution is the one
the child was started with; a child nobody adopted is stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import shutil
import signal
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import SupportsIndex

from tornadohub.config import HubConfig
from tornadohub.errors import PlaceholderError
from tornadohub.placeholders import ResolvedServer, resolve_server
from tornadohub.processes import enable_subreaper, spawning, watched_until_reaped

log = logging.getLogger("tornadohub.upstream")

#: How long an early child that nobody adopted gets to exit on SIGTERM before SIGKILL.
UNADOPTED_GRACE_SECONDS = 2.0


def bundled_site_packages() -> str | None:
    """The site-packages directory extracted from the ``mcp-hub.pyz`` we run from, else None.

    shiv's loader module ``_bootstrap`` exists only inside a zipapp, and there this package
    lies directly in the site-packages directory shiv extracted.
    """
    if "_bootstrap" not in sys.modules:
        return None
    site_packages = Path(__file__).resolve().parents[1]
    return str(site_packages) if site_packages.name == "site-packages" else None


def with_bundle_pythonpath(
    command: str | None, env: dict[str, str], bundle: str | None = None
) -> dict[str, str]:
    """*env*, plus ``PYTHONPATH=<bundle>`` for a child that runs the hub's own Python.

    From the zipapp, a STDIO server written in Python (the bundled demo server, or any script
    that only needs ``mcp``) imports the SDK from the bundle, as it would from the hub's venv.
    Only children running a plain interpreter of the hub's version get it: other programs, and
    the Python tools they start (uvx, a venv's python), must not import our packages ahead of
    their own, nor our compiled extensions built for this CPython. That is also why the pyz is
    not built with shiv's ``-E``, which would hand it to ``${cmd: ...}`` commands as well. A
    ``PYTHONPATH`` in the server's own ``env`` always wins.
    """
    bundle = bundle if bundle is not None else bundled_site_packages()
    if bundle is None or command is None or "PYTHONPATH" in env:
        return env
    if not _runs_hub_python(command, env.get("PATH")):
        return env
    return {**env, "PYTHONPATH": bundle}


def _runs_hub_python(command: str, search_path: str | None) -> bool:
    """Whether *command* is ``python``, ``python3``, ``python3.<minor>`` or our interpreter.

    A virtualenv's interpreter does not count, whatever its name.
    """
    executable = shutil.which(command, path=search_path)
    if executable is None:
        return False
    location = Path(executable)
    if (location.parent.parent / "pyvenv.cfg").is_file():
        return False  # a virtualenv's interpreter brings its own packages
    major, minor = sys.version_info[:2]
    names = {"python", f"python{major}", f"python{major}.{minor}"}
    return location.name in names or os.path.realpath(location) == os.path.realpath(sys.executable)


def _die_with_parent() -> None:
    """Linux: the child gets SIGTERM if the hub dies, even by SIGKILL (no orphans)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


#: The stdout reader's buffer limit (asyncio's subprocess default).
STDOUT_LIMIT = 2**16


async def spawn_server(resolved: ResolvedServer) -> asyncio.subprocess.Process:
    """Start *resolved*'s command with piped stdio, in its own process group."""
    if not resolved.command:
        raise ValueError("missing command")
    enable_subreaper()
    read_end, write_end = os.pipe()
    try:
        with spawning():
            process = await asyncio.create_subprocess_exec(
                resolved.command,
                *resolved.args,
                stdin=asyncio.subprocess.PIPE,
                stdout=write_end,
                stderr=asyncio.subprocess.PIPE,
                env=with_bundle_pythonpath(resolved.command, resolved.env),
                cwd=resolved.cwd or None,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
            watched_until_reaped(process)
    except BaseException as exc:
        os.close(read_end)
        if isinstance(exc, OSError) and exc.filename is None:
            exc.filename = resolved.command  # uvloop's spawn leaves it out; asyncio's names it
        raise
    finally:
        os.close(write_end)
    process.stdout = await _direct_reader(read_end)
    return process


async def _direct_reader(fd: int) -> ChildStdout:
    """A reader of the child's stdout fed straight from the pipe's read callback.

    asyncio's subprocess transport hands each chunk of a child's pipe to its protocol in a
    ``call_soon`` of its own; a pipe of our own skips that hop: one loop turn less for every
    answer a child writes.
    """
    loop = asyncio.get_running_loop()
    reader = ChildStdout(loop)
    pipe = os.fdopen(fd, "rb", buffering=0)
    try:
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader, loop=loop), pipe)
    except BaseException:
        pipe.close()
        raise
    return reader


class ChildStdout(asyncio.StreamReader):
    """A child's stdout, read with :meth:`read` only.

    With a :attr:`tap`, bytes that arrive while nothing is buffered and the reader's consumer
    waits in :meth:`read` go to the tap in the pipe's read callback itself: an answer reaches
    the call waiting for it without first waking the consumer's task (one loop turn less
    per answer). The tap returns False to leave the bytes to :meth:`read`, as without it.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(limit=STDOUT_LIMIT, loop=loop)
        self.tap: Callable[[bytes], bool] | None = None
        self._unread = 0  # bytes fed and not yet returned by read()
        self._reading = False

    def feed_data(self, data: Iterable[SupportsIndex]) -> None:
        chunk = data if isinstance(data, bytes) else bytes(data)  # bytes, from the protocol
        tap = self.tap
        if tap is not None and self._reading and not self._unread and tap(chunk):
            return
        self._unread += len(chunk)
        super().feed_data(chunk)

    async def read(self, n: int = -1) -> bytes:
        self._reading = True
        try:
            data = await super().read(n)
        finally:
            self._reading = False
        self._unread -= len(data)
        return data


def _refuse_commands(command: str) -> str:
    """An early start never runs a ``${cmd: ...}``: its upstream runs it, once."""
    raise PlaceholderError("a ${cmd: ...} is left to the upstream")


class EarlyChildren:
    """The STDIO servers of the config, started before the hub exists, until adopted."""

    def __init__(self) -> None:
        self._children: dict[str, tuple[ResolvedServer, asyncio.subprocess.Process]] = {}
        #: Children started differently from what their upstream resolved, to be stopped.
        self._unwanted: list[asyncio.subprocess.Process] = []

    async def start(
        self,
        config: HubConfig,
        *,
        environ: Mapping[str, str],
        hub_env: Mapping[str, str],
        cwd: str,
    ) -> None:
        """Start every enabled, valid STDIO entry whose resolution runs no command.

        Anything that fails here (a missing variable, a missing program, whatever else) is
        left to the upstream, which meets the same failure and reports it as it always
        does: starting early must never make a start fail.
        """
        for name, entry in config.servers.items():
            if entry.transport != "stdio" or entry.disabled or entry.error is not None:
                continue
            try:
                resolved = resolve_server(
                    entry.config,
                    environ=environ,
                    hub_env=hub_env,
                    cwd=cwd,
                    run_cmd=_refuse_commands,
                )
                process = await spawn_server(resolved)
            except Exception:  # the upstream meets it again, and reports it its own way
                continue
            self._children[name] = (resolved, process)

    def pids(self) -> list[int]:
        """The children started early that no upstream has taken yet."""
        return [process.pid for _, process in self._children.values()]

    def take(self, name: str, resolved: ResolvedServer) -> asyncio.subprocess.Process | None:
        """*name*'s early child if it was started exactly as *resolved* says; else None.

        A child started differently (the config changed in between) is stopped by
        :meth:`close`.
        """
        early = self._children.pop(name, None)
        if early is None:
            return None
        started_as, process = early
        if started_as == resolved:
            return process
        self._unwanted.append(process)
        return None

    async def close(self) -> None:
        """Stop and reap every child nobody adopted (its server is gone or started anew)."""
        children = [process for _, process in self._children.values()] + self._unwanted
        self._children.clear()
        self._unwanted.clear()
        for process in children:
            if process.stdin is not None:
                process.stdin.close()
            _stop_group(process, signal.SIGTERM)
        for process in children:
            try:
                await asyncio.wait_for(process.wait(), UNADOPTED_GRACE_SECONDS)
            except TimeoutError:
                _stop_group(process, signal.SIGKILL)
                await process.wait()
            _stop_group(process, signal.SIGKILL)  # what is left of its group


def _stop_group(process: asyncio.subprocess.Process, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)
