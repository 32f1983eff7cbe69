"""STDIO upstreams: a child process speaking newline-delimited JSON-RPC.

The hub spawns the child itself (rather than through the SDK's ``stdio_client``)
because it must know the pid and process group: stopping a server kills the whole
group and reaps it, a dead child flips the status at once, stderr lines go to the
hub log with the server name (redacted), and garbage or oversized stdout lines are
dropped without killing the session (a flood of them is logged as a count). A server
that dies says why: its exit code and the last lines of its stderr become its error.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
import mcp_types as types
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp.shared.message import SessionMessage

from tornadohub import jsontext
from tornadohub.placeholders import ResolvedServer
from tornadohub.processes import descendants, kill_and_reap, reap_orphans, spawned
from tornadohub.spawn import ChildStdout, spawn_server
from tornadohub.upstreams.base import Upstream
from tornadohub.upstreams.core import UnreadableList
from tornadohub.upstreams.diagnostics import NoiseLimiter, OutputTail
from tornadohub.upstreams.ordering import relay_in_order
from tornadohub.upstreams.raw import RawChannel
from tornadohub.upstreams.wire import describe_exception, innermost, invalid_answer

log = logging.getLogger("tornadohub.upstream")

#: A single JSON-RPC line larger than this is dropped (a runaway server must not eat memory).
MAX_LINE_BYTES = 64 * 1024 * 1024
READ_CHUNK = 256 * 1024
#: Close stdin, then wait this long before SIGTERM, then as long again before SIGKILL.
GRACE_SECONDS = 2.0
#: After the process is gone, how long its stderr may take to reach EOF (grandchildren
#: may hold it open).
STDERR_DRAIN_SECONDS = 1.0


class ChildProcess:
    """A spawned server in its own process group."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.pid = process.pid
        #: Set once the hub signalled the group: an exit after that is not the server's own.
        self.signalled = False

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    def signal_group(self, signum: int) -> bool:
        """Signal every process in the child's group; False when none is left."""
        try:
            os.killpg(self.pid, signum)
        except (ProcessLookupError, PermissionError):
            return False
        return True

    async def terminate(self) -> None:
        """Close stdin, then SIGTERM and SIGKILL the whole group, and reap the child.

        Descendants that left the group (their own session) are killed too: those still
        below the server now, and orphans of servers that died, which the hub adopts.
        """
        tree = descendants(self.pid)
        stdin = self.process.stdin
        if stdin is not None and not stdin.is_closing():
            stdin.close()
        if not await self._wait(GRACE_SECONDS):
            self.signalled = True
            self.signal_group(signal.SIGTERM)
            if not await self._wait(GRACE_SECONDS):
                self.signal_group(signal.SIGKILL)
                await self._wait(GRACE_SECONDS)
        # Grandchildren may outlive the leader in its group; they must not survive it.
        if self.signal_group(signal.SIGTERM):
            await asyncio.sleep(0)
            self.signal_group(signal.SIGKILL)
        kill_and_reap(tree)
        reap_orphans()

    async def _wait(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self.process.wait(), timeout)
        except TimeoutError:
            return False
        return True


#: Buffered bytes above which a writer waits for the pipe to drain (the child reads slowly).
WRITE_HIGH_WATER = 1024 * 1024


def _coalescing_writer(
    stdin: asyncio.StreamWriter, busy: Callable[[], bool]
) -> Callable[[bytes], Awaitable[None]]:
    """The raw channel's writes, gathered per event-loop turn into one write of the pipe
    while other calls are in flight (*busy*).

    Under load many calls are forwarded in the same turn of the loop; one ``write`` for all
    of them costs the hub one system call and the child one wake-up instead of one each. A
    lone call is written at once: waiting for the end of the turn would cost it a turn.
    """
    pending: list[bytes] = []
    loop = asyncio.get_running_loop()

    def flush() -> None:
        data = b"".join(pending)
        pending.clear()
        if not stdin.is_closing():
            stdin.write(data)

    async def write_line(data: bytes) -> None:
        if pending:
            pending.append(data)
        elif busy():
            pending.append(data)
            loop.call_soon(flush)
        else:
            stdin.write(data)
        if stdin.transport.get_write_buffer_size() > WRITE_HIGH_WATER:
            await stdin.drain()

    return write_line


#: How much of a line over the limit is read for the id of the answer it would have been.
_DROPPED_HEAD_BYTES = 4096


class _LineSplitter:
    """A child's stdout cut into lines; a line over :data:`MAX_LINE_BYTES` is dropped. When
    its start shows it answers a request (:func:`jsontext.broken_answer_id`), an error
    answer stands in for it at once: the request would wait for its timeout."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.pending = bytearray()  # the start of a line whose newline has not arrived yet
        self.skipping = False  # inside a line already over the limit: drop up to its newline

    def split(self, chunk: bytes) -> list[bytes]:
        """The lines *chunk* completes (without their newlines)."""
        complete: list[bytes] = []
        pending = self.pending
        start = 0
        while (newline := chunk.find(b"\n", start)) != -1:
            if self.skipping:
                self.skipping = False
            elif pending:
                pending += chunk[start:newline]
                complete.append(bytes(pending))
            else:
                complete.append(chunk[start:newline])
            pending.clear()
            start = newline + 1
        if not self.skipping:
            pending += chunk[start:]
            if len(pending) > MAX_LINE_BYTES:
                log.warning("%s wrote a line over %d bytes; dropped", self.name, MAX_LINE_BYTES)
                answer_id = jsontext.broken_answer_id(bytes(pending[:_DROPPED_HEAD_BYTES]))
                if answer_id is not None:
                    message = f"Response over {MAX_LINE_BYTES} bytes: dropped"
                    answer = jsontext.error_answer(answer_id, types.INTERNAL_ERROR, message)
                    complete.append(json.dumps(answer).encode())
                pending.clear()
                self.skipping = True
        return complete


class StdioUpstream(Upstream):
    """An upstream started as a local process."""

    transport_type = "stdio"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.child: ChildProcess | None = None
        #: The last stderr lines of the current (or last) process, redacted.
        self.stderr_tail = OutputTail()
        self._junk = NoiseLimiter()
        self._junk_report: asyncio.TimerHandle | None = None

    @property
    def pid(self) -> int | None:
        return self.child.pid if self.child is not None else None

    def lost_reason(self) -> str:
        code = self.child.returncode if self.child is not None else None
        if code is None:
            reason = "Connection closed"
        elif code < 0:
            reason = f"Server process exited on signal {-code}"
        else:
            reason = f"Server process exited with code {code}"
        return self._with_stderr(reason)

    def describe_failure(self, exc: BaseException) -> str:
        """A process that died by itself is the cause: say its exit code and stderr. Not when
        the hub ended the connection for a list it could not read (the child then exits as
        its stdin closes)."""
        child = self.child
        died = child is not None and child.returncode is not None and not child.signalled
        if isinstance(innermost(exc), UnreadableList):
            died = False
        if died and describe_exception(exc) != "Connection timed out":
            return self.lost_reason()
        return self._with_stderr(describe_exception(exc))

    def _with_stderr(self, reason: str) -> str:
        tail = self.stderr_tail.text()
        return f"{reason}; stderr: {tail}" if tail else reason

    async def kill(self) -> None:
        """Shutdown deadline passed: SIGKILL the whole group at once, then drop the owner."""
        child = self.child
        if child is not None and child.returncode is None:
            child.signalled = True
            kill_and_reap(descendants(child.pid))
            child.signal_group(signal.SIGKILL)
        await super().kill()

    @contextlib.asynccontextmanager
    async def _open_transport(
        self, resolved: ResolvedServer, lost: anyio.Event
    ) -> AsyncIterator[tuple[Any, Any]]:
        early = self.env.early_children
        process = early.take(self.name, resolved) if early is not None else None
        if process is None:
            process = await spawn_server(resolved)
        child = ChildProcess(process)
        self.child = child
        self.stderr_tail.clear()
        log.debug("%s started, pid %d", self.name, child.pid)
        read_send, read_recv = anyio.create_memory_object_stream[SessionMessage | Exception](16)
        write_send, write_recv = anyio.create_memory_object_stream[SessionMessage](16)
        stdin = process.stdin
        assert stdin is not None

        raw = self.raw = RawChannel(_coalescing_writer(stdin, lambda: raw.in_flight > 1))
        # stderr is read to its end after the process is gone: its last lines say why.
        stderr = asyncio.create_task(self._pump_stderr(process))
        with spawned(child.pid):
            try:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(self._pump_stdout, process, read_send, lost)
                    tg.start_soon(self._pump_stdin, process, write_recv, lost)
                    try:
                        yield read_recv, write_send
                    finally:
                        tg.cancel_scope.cancel()
            finally:
                self.raw.close()
                self.raw = None
                with anyio.CancelScope(shield=True):
                    await child.terminate()
                    await asyncio.wait({stderr}, timeout=STDERR_DRAIN_SECONDS)
                    stderr.cancel()
                    for stream in (read_send, read_recv, write_send, write_recv):
                        await stream.aclose()
                log.debug("%s stopped, pid %d, exit %s", self.name, child.pid, child.returncode)

    async def _pump_stdout(
        self,
        process: asyncio.subprocess.Process,
        sink: MemoryObjectSendStream[SessionMessage | Exception],
        lost: anyio.Event,
    ) -> None:
        stdout = process.stdout
        assert stdout is not None
        lines = _LineSplitter(self.name)

        def take_now(data: bytes) -> bool:
            """The pump waits and nothing is buffered: handle *data* in the read callback
            when the sink has room for every message in it."""
            stats = sink.statistics()
            room = stats.max_buffer_size - stats.current_buffer_used
            # One more than its newlines: a dropped answer's stand-in (_LineSplitter).
            if not stats.open_receive_streams or data.count(b"\n") >= room:
                return False
            for line in lines.split(data):
                message = self._parse_line(line)
                if message is not None:
                    sink.send_nowait(message)
            return True

        if isinstance(stdout, ChildStdout):
            stdout.tap = take_now
        try:
            while chunk := await stdout.read(READ_CHUNK):
                if len(chunk) == READ_CHUNK:
                    await asyncio.sleep(0)  # a flooding server must not hold the loop
                for line in lines.split(chunk):
                    message = self._parse_line(line)
                    if message is not None:
                        await sink.send(message)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            pass
        finally:
            if isinstance(stdout, ChildStdout):
                stdout.tap = None
            if self._junk_report is not None:
                self._junk_report.cancel()
                self._junk_report = None
            self._report_junk(self._junk.flush())
            lost.set()
            await sink.aclose()

    def _parse_line(self, line: bytes) -> SessionMessage | None:
        """One stdout line: a message for the SDK session, or None (a raw reply, or junk).

        An answer that is not JSON (``{"jsonrpc":"2.0","id":3,"result":{oops``) or not of
        the shape of one (``"result": 5``) is logged as junk and becomes an error answer
        (-32700, -32603) for its request, which would otherwise wait for its timeout
        (minutes, for a call)."""
        stripped = line.lstrip()
        if not stripped:
            return None
        try:
            if stripped[:1] not in (b"{", b"["):
                raise ValueError("not JSON-RPC")  # most junk, without a JSON parse
            try:
                decoded = jsontext.loads(line)  # a lone surrogate would break the hub's writers
            except (ValueError, RecursionError) as exc:
                answer_id = jsontext.broken_answer_id(line)
                if answer_id is None:
                    raise
                self._note_junk(line)
                decoded = jsontext.error_answer(
                    answer_id, jsontext.PARSE_ERROR, f"Failed to parse JSON response: {exc}"
                )
            raw = self.raw
            if raw is not None and raw.take(decoded):
                return None
            if isinstance(decoded, dict) and "id" not in decoded:
                if relay_in_order(self, decoded.get("method"), decoded.get("params")):
                    return None
            try:
                message = types.jsonrpc_message_adapter.validate_python(decoded, by_name=False)
            except ValueError:
                answer = invalid_answer(decoded)
                if answer is None:
                    raise
                self._note_junk(line)
                message = types.jsonrpc_message_adapter.validate_python(answer, by_name=False)
            return SessionMessage(message)
        except (ValueError, RecursionError):
            self._note_junk(line)
            return None

    def _note_junk(self, line: bytes) -> None:
        """Log a line that is not JSON-RPC, within the junk limit (a count when over it)."""
        admitted, suppressed = self._junk.admit()
        self._report_junk(suppressed)
        if admitted:
            text = self._redact(line[:200].decode("utf-8", "replace"))
            log.warning("%s wrote non-JSON-RPC output to stdout: %s", self.name, text)
        elif self._junk_report is None:  # the count is due when the window ends
            self._junk_report = asyncio.get_running_loop().call_later(
                self._junk.seconds_left(), self._junk_window_ended
            )

    def _junk_window_ended(self) -> None:
        self._junk_report = None
        self._report_junk(self._junk.flush())

    def _report_junk(self, suppressed: int) -> None:
        if suppressed:
            log.warning(
                "%s: %d non-JSON lines suppressed",
                self.name,
                suppressed,
                extra={"data": {"server": self.name, "suppressed": suppressed}},
            )

    async def _pump_stdin(
        self,
        process: asyncio.subprocess.Process,
        source: MemoryObjectReceiveStream[SessionMessage],
        lost: anyio.Event,
    ) -> None:
        assert process.stdin is not None
        try:
            async for session_message in source:
                data = session_message.message.model_dump_json(by_alias=True, exclude_unset=True)
                process.stdin.write(data.encode() + b"\n")
                await process.stdin.drain()
        except (ConnectionError, anyio.ClosedResourceError, anyio.BrokenResourceError):
            lost.set()

    async def _pump_stderr(self, process: asyncio.subprocess.Process) -> None:
        assert process.stderr is not None
        while True:
            try:
                line = await process.stderr.readline()
            except ValueError:  # a line beyond the stream limit: skip what is buffered
                continue
            if not line:
                return
            text = self._redact(line.decode("utf-8", "replace").rstrip())
            if text:
                self.stderr_tail.add(text)
                log.warning("%s stderr: %s", self.name, text, extra={"data": {"server": self.name}})
