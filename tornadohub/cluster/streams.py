"""``/api/events`` as one cluster-wide Redis Stream, and the loop that tails streams.

Any node publishes with ``XADD … MAXLEN ~ N``; every node tails the stream with one
``XREAD BLOCK`` loop (:class:`StreamTail`, which also tails the config log) and delivers
each entry to its local SSE clients, its own entries included, so every node shows the
same events in the same order. A stream id (``<ms>-<seq>``) is the SSE event id: a
client that reconnects anywhere with ``Last-Event-ID`` gets exactly what it missed
(:meth:`ClusterEvents.after`), or learns that the stream was trimmed past it (None).

Unlike pub/sub, a stream keeps what was published while a node could not read: the
tail resumes from the last id it delivered when Redis comes back, and catches up.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tornadohub import metrics
from tornadohub.cluster.control import Redis, RedisControl
from tornadohub.cluster.errors import ClusterCommandError, ClusterUnavailableError
from tornadohub.cluster.keyspace import Keyspace
from tornadohub.metrics import RedisOp

log = logging.getLogger("tornadohub.cluster")

STREAM_ID = re.compile(r"([0-9]{1,20})-([0-9]{1,20})")
#: Most events one resume replays; a client further behind starts over (like a gap).
MAX_REPLAY = 10_000

Fields = dict[str, str]
Entry = tuple[str, Fields]


def parse_stream_id(text: str) -> tuple[int, int]:
    """``<ms>-<seq>`` as a comparable pair; ValueError for anything else."""
    match = STREAM_ID.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"not a stream id: {text!r}")
    return int(match.group(1)), int(match.group(2))


@dataclass(frozen=True)
class ClusterEvent:
    """One ``/api/events`` event as the stream holds it."""

    id: str  # the stream id: the SSE ``id:`` and a valid ``Last-Event-ID``
    name: str
    payload: dict[str, Any]
    origin: str  # the node that published it

    @property
    def published_at(self) -> float:
        """Unix time of the ``XADD`` (Redis's clock)."""
        return parse_stream_id(self.id)[0] / 1000

    @classmethod
    def from_entry(cls, entry_id: str, fields: Mapping[str, str]) -> ClusterEvent:
        payload = json.loads(fields.get("d", "{}"))
        return cls(
            id=entry_id,
            name=fields.get("n", ""),
            payload=payload if isinstance(payload, dict) else {},
            origin=fields.get("o", ""),
        )


def _entries(reply: Any) -> list[Entry]:
    return [(str(entry_id), dict(fields or {})) for entry_id, fields in reply or []]


class ClusterEvents:
    """Publish to and replay from the cluster's event stream."""

    def __init__(
        self, control: RedisControl, keyspace: Keyspace, node_id: str, *, maxlen: int = 10_000
    ) -> None:
        self.control = control
        self.key = keyspace.events
        self.node_id = node_id
        self.maxlen = maxlen

    async def publish(self, name: str, payload: Mapping[str, Any]) -> str:
        """Append one event; its stream id. Raises ClusterUnavailableError when degraded."""
        fields = {
            "n": name,
            "d": json.dumps(payload, separators=(",", ":")),
            "o": self.node_id,
        }
        entry_id = await self.control.call(
            RedisOp.xadd,
            lambda redis: redis.xadd(self.key, fields, maxlen=self.maxlen, approximate=True),  # type: ignore[arg-type]  # redis-py's field type is invariant
        )
        return str(entry_id)

    async def publish_many(self, events: Sequence[tuple[str, Mapping[str, Any]]]) -> list[str]:
        """Append several events in order, in one round trip; their stream ids."""

        async def send(redis: Redis) -> list[Any]:
            async with redis.pipeline(transaction=False) as pipe:
                for name, payload in events:
                    fields = {
                        "n": name,
                        "d": json.dumps(payload, separators=(",", ":")),
                        "o": self.node_id,
                    }
                    pipe.xadd(self.key, fields, maxlen=self.maxlen, approximate=True)  # type: ignore[arg-type]  # invariant field type
                return list(await pipe.execute())

        return [str(entry_id) for entry_id in await self.control.call(RedisOp.xadd, send)]

    async def after(self, last_id: str, limit: int = MAX_REPLAY) -> list[ClusterEvent] | None:
        """The events after *last_id*; None when the stream no longer reaches back to it.

        Raises ValueError for a malformed id (answer 400 or start over), and
        ClusterUnavailableError when Redis is out.
        """
        seen = parse_stream_id(last_id)

        async def read(redis: Redis) -> list[Any]:
            async with redis.pipeline(transaction=True) as pipe:
                pipe.xrange(self.key, "-", "+", count=1)
                pipe.xrange(self.key, f"({seen[0]}-{seen[1]}", "+", count=limit + 1)
                return list(await pipe.execute())

        first, rest = await self.control.call(RedisOp.xrange, read)
        oldest = _entries(first)
        if not oldest or parse_stream_id(oldest[0][0]) > seen:
            return None  # trimmed past it, or the stream is gone (Redis restarted)
        entries = _entries(rest)
        if len(entries) > limit:
            return None
        return [ClusterEvent.from_entry(entry_id, fields) for entry_id, fields in entries]

    def deliver_with(self, deliver: Callable[[ClusterEvent], None]) -> Callable[[Entry], None]:
        """A :class:`StreamTail` handler: parse, measure the fan-out lag, deliver."""

        def handle(entry: Entry) -> None:
            event = ClusterEvent.from_entry(*entry)
            metrics.EVENTS_FANOUT_LAG.observe(max(0.0, time.time() - event.published_at))
            deliver(event)

        return handle


def _newest(key: str) -> Callable[[Redis], Awaitable[Any]]:
    def command(redis: Redis) -> Awaitable[Any]:
        return redis.xrevrange(key, "+", "-", count=1)

    return command


class StreamTail:
    """One ``XREAD BLOCK`` loop over several streams, each entry to its stream's handler.

    Starts after each stream's newest entry (or after *positions*), keeps the id of
    the last entry it delivered per stream, and resumes from there after an outage.
    """

    def __init__(
        self,
        control: RedisControl,
        handlers: Mapping[str, Callable[[Entry], None]],
        *,
        positions: Mapping[str, str] | None = None,
        block: float = 2.0,
        count: int = 256,
    ) -> None:
        self.control = control
        self.handlers = dict(handlers)
        self.positions: dict[str, str] = {key: "$" for key in handlers}
        self.positions.update(positions or {})
        self.block = block
        self.count = count
        self.started = asyncio.Event()  # positions are concrete ids: nothing can be missed

    async def _resolve_positions(self) -> None:
        """Turn ``$`` into the newest id now, so an outage before the first read loses nothing."""
        for key, position in self.positions.items():
            if position == "$":
                entries = _entries(await self.control.call(RedisOp.xrange, _newest(key)))
                self.positions[key] = entries[0][0] if entries else "0-0"

    async def run(self) -> None:
        """Deliver entries until cancelled; waits out Redis outages."""
        while True:
            await self.control.wait_available()
            try:
                if not self.started.is_set():
                    await self._resolve_positions()
                    self.started.set()
                reply = await self.control.call(
                    RedisOp.xread,
                    lambda redis: redis.xread(
                        dict(self.positions),  # type: ignore[arg-type]  # invariant dict type
                        count=self.count,
                        block=int(self.block * 1000),
                    ),
                    block=self.block,
                )
            except ClusterUnavailableError:
                continue
            except ClusterCommandError:
                log.exception("reading the cluster streams failed")
                await asyncio.sleep(self.block)
                continue
            self._dispatch(reply)

    def _dispatch(self, reply: Any) -> None:
        streams = reply.items() if isinstance(reply, dict) else (reply or [])
        for key, raw_entries in streams:
            handler = self.handlers.get(str(key))
            for entry in _entries(raw_entries):
                self.positions[str(key)] = entry[0]
                if handler is None:
                    continue
                try:
                    handler(entry)
                except Exception:
                    log.exception("stream handler for %s failed", key)
