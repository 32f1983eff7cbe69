"""One supervisor per configured server: every change of that server goes through it.

REST start/stop, config reloads, ``/api/restart``, dev-mode restarts, OAuth
completion and shutdown all arrive here as a new *intent* (run, stop, disable,
replace the entry, reconnect). A single reconcile task per server moves the
actual state toward the latest intent, one step at a time, so two callers never
drive the same :class:`~tornadohub.upstreams.base.Upstream` at once:

* a start that meets a start in flight waits for the same outcome;
* a stop (or a new entry) that meets a start in flight cancels it;
* a caller returns once the loop has acted on its intent or on a later one; a
  caller whose intent was superseded reports the current state, not an error of
  the attempt it no longer wants.

Reconnects after a crash stay inside the upstream's owner task (with backoff):
they pursue the current intent and never change it. Every wait is bounded: a
start by the connect timeout or the next intent, a stop by :data:`STOP_SECONDS`,
and :meth:`Supervisor.close` (shutdown) by its deadline, after which the
process group is killed whatever state it was in.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Callable

from tornadohub.config import ServerEntry
from tornadohub.errors import ServerNotFoundError, UpstreamConnectionError
from tornadohub.state import UpstreamStatus
from tornadohub.upstreams.base import Upstream

log = logging.getLogger("tornadohub.upstream")

#: How long a shutdown gives every server to stop before their processes are killed.
CLOSE_SECONDS = 15.0


class Want(enum.StrEnum):
    """The state a server should be in."""

    running = "running"
    stopped = "stopped"  # disconnected, still enabled (REST stop without ``disable``)
    disabled = "disabled"


def connect_failure(upstream: Upstream) -> UpstreamConnectionError:
    """mcp-hub's CONNECTION_ERROR, always with a reason (never ``None``)."""
    reason = upstream.error or f"status is {upstream.status.value}"
    return UpstreamConnectionError(
        f'Failed to connect to "{upstream.name}" MCP server: {reason}',
        data={"server": upstream.name, "error": reason},
    )


class Supervisor:
    """The intent for one server and the single task that reconciles toward it.

    *make* builds a new :class:`Upstream` for an entry; *replaced* is told when the
    supervisor swapped its upstream for a new one (the hub's registry follows).
    """

    def __init__(
        self,
        upstream: Upstream,
        make: Callable[[ServerEntry], Upstream],
        replaced: Callable[[Upstream, Upstream], None],
    ) -> None:
        self.upstream = upstream
        self._make = make
        self._replaced = replaced
        self.want = Want.disabled if upstream.disabled else Want.stopped
        #: An entry to swap in (a modified config) before the next step; None: keep.
        self._new_entry: ServerEntry | None = None
        #: Reconnect even when already running with the same entry (dev restart).
        self._restart = False
        self._generation = 0
        self._acted = 0
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def name(self) -> str:
        return self.upstream.name

    @property
    def busy(self) -> bool:
        """Whether an intent is being carried out (status changes are not spontaneous)."""
        return self._task is not None and not self._task.done()

    # ---------------------------------------------------------------- intents
    async def start(self) -> None:
        """Run the server; raise :class:`UpstreamConnectionError` if this start failed.

        A start superseded by a later intent returns without error.
        """
        generation = self._intend(Want.running)
        await self._reached(generation)
        if generation != self._generation or self.want is not Want.running:
            return  # superseded: the caller reports the current state
        upstream = self.upstream
        if upstream.status not in (UpstreamStatus.connected, UpstreamStatus.unauthorized):
            raise connect_failure(upstream)

    async def stop(self, *, disable: bool = False) -> None:
        """Stop the server (``disabled`` or ``disconnected``); cancels a start in flight."""
        await self._reached(self._intend(Want.disabled if disable else Want.stopped))

    async def apply(self, entry: ServerEntry) -> None:
        """A modified config entry: a new upstream, running unless the entry is disabled."""
        self._new_entry = entry
        await self._reached(self._intend(Want.disabled if entry.disabled else Want.running))

    async def restart(self) -> None:
        """Reconnect (dev mode: the server's files changed)."""
        self._restart = True
        await self._reached(self._intend(Want.running))

    async def resume(self, trigger: Callable[[], None], timeout: float) -> None:
        """OAuth completion: hand the code to the attempt in flight and wait for it.

        Refused unless the intent is still "running"; a stop that arrives meanwhile
        ends the wait (the caller then reports the current state).
        """
        if self.want is not Want.running or self._closed:
            raise UpstreamConnectionError(
                f'Server "{self.name}" is not being started', data={"server": self.name}
            )
        generation = self._generation
        attempt = asyncio.ensure_future(self.upstream.resume_attempt(trigger, timeout))
        superseded = asyncio.ensure_future(self._superseded(generation))
        try:
            done, _ = await asyncio.wait({attempt, superseded}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            superseded.cancel()
        if attempt not in done:
            attempt.cancel()
            await asyncio.gather(attempt, return_exceptions=True)
            return
        attempt.result()

    async def close(self, deadline: float | None = None) -> None:
        """Stop for good (shutdown, or the server left the config), within *deadline*.

        Past the deadline (a ``time.monotonic()`` value; default :data:`CLOSE_SECONDS`
        from now) the reconcile task and the owner task are cancelled and the server's
        processes killed, whatever they were doing.
        """
        deadline = time.monotonic() + CLOSE_SECONDS if deadline is None else deadline
        if self._closed:
            generation = self._generation
        else:
            generation = self._intend(Want.disabled if self.want is Want.disabled else Want.stopped)
            self._closed = True
        try:
            async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                await self._reached(generation)
        except TimeoutError:
            log.warning("%s did not stop in time; killing it", self.name)
            task = self._task
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            await self.upstream.kill()

    # ------------------------------------------------------------ reconciling
    def _intend(self, want: Want) -> int:
        """Record *want* as the latest intent; the generation a caller waits for.

        A start while a start is in flight (nothing else pending) joins it.
        """
        if self._closed:  # removed from the config, or the hub is stopping
            raise ServerNotFoundError(self.name)
        joining = (
            self.busy
            and want is Want.running
            and self.want is Want.running
            and self._new_entry is None
            and not self._restart
        )
        if joining:
            return self._generation
        self.want = want
        self._generation += 1
        self._changed.set()
        if not self.busy:
            self._task = asyncio.create_task(self._run(), name=f"supervise:{self.name}")
        return self._generation

    async def _reached(self, generation: int) -> None:
        if self._acted >= generation:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append((generation, waiter))
        await asyncio.shield(waiter)

    async def _superseded(self, generation: int) -> None:
        while self._generation == generation:
            self._changed.clear()
            await self._changed.wait()

    def _settle(self, generation: int) -> None:
        self._acted = max(self._acted, generation)
        keep = []
        for wanted, waiter in self._waiters:
            if wanted <= self._acted:
                if not waiter.done():
                    waiter.set_result(None)
            else:
                keep.append((wanted, waiter))
        self._waiters = keep

    async def _run(self) -> None:
        try:
            while self._acted < self._generation:
                generation = self._generation
                self._changed.clear()
                try:
                    await self._step()
                except Exception:  # a step must never kill the loop; the state says why
                    log.exception("%s: lifecycle step failed", self.name)
                self._settle(generation)
        finally:  # cancelled at a shutdown deadline: nobody may wait forever
            self._settle(self._generation)

    async def _step(self) -> None:
        """One move toward the latest intent."""
        entry, self._new_entry = self._new_entry, None
        restart, self._restart = self._restart, False
        if entry is not None:
            await self.upstream.stop(disable=self.want is Want.disabled)
            old, self.upstream = self.upstream, self._make(entry)
            self._replaced(old, self.upstream)
        elif restart:
            await self.upstream.stop()
        if self.want is Want.running:
            await self._start()
        else:
            await self.upstream.stop(disable=self.want is Want.disabled)

    async def _start(self) -> None:
        """Start the upstream; stop waiting as soon as a different intent arrives."""
        try:
            attempt = self.upstream.launch()  # synchronous: the owner exists from here on
        except UpstreamConnectionError:
            return  # an invalid entry: its status and error say so
        generation = self._generation
        superseded = asyncio.ensure_future(self._superseded(generation))
        try:
            while True:
                await asyncio.wait({attempt, superseded}, return_when=asyncio.FIRST_COMPLETED)
                if attempt.done():
                    return  # the outcome is in the upstream's status and error
                if self.want is not Want.running or self._new_entry or self._restart:
                    return  # the next step stops the attempt
                generation = self._generation  # another start: same outcome
                superseded = asyncio.ensure_future(self._superseded(generation))
        finally:
            superseded.cancel()
