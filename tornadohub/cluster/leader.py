"""The leader lease: one node runs the once-only duties, with time fencing.

The lease is one key, ``<node>|<epoch>|<token>``, set ``NX PX ttl``; the holder renews it
every ``ttl/3`` by compare-and-``PEXPIRE`` (one Lua script does acquire-or-renew).
``token`` comes from a counter incremented on every new lease: it only grows, so any
write a leader makes elsewhere can carry it and be refused when a newer leader exists.

Time fencing: a holder counts itself leader only until ``ttl/2`` after it *sent* its
last successful renewal. The key cannot expire before ``ttl`` after Redis received it,
so a leader cut off from Redis stops its duties well before anyone else can take over.
A restarted node (new epoch) does not inherit its previous life's lease: it waits for
the key to expire like everyone else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from tornadohub import metrics
from tornadohub.cluster.control import RedisControl
from tornadohub.cluster.errors import ClusterCommandError, ClusterUnavailableError
from tornadohub.cluster.keyspace import Keyspace
from tornadohub.metrics import RedisOp

log = logging.getLogger("tornadohub.cluster")

# KEYS[1] lease, KEYS[2] fence counter. ARGV: holder ("node|epoch"), ttl ms, current
# value we hold ("" if none). Returns {1, value} when we hold it now, {0, value} if not.
ACQUIRE_LUA = """
local current = redis.call('GET', KEYS[1])
if current and ARGV[3] ~= '' and current == ARGV[3] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {1, current}
end
if current then return {0, current} end
local token = redis.call('INCR', KEYS[2])
local value = ARGV[1] .. '|' .. token
redis.call('SET', KEYS[1], value, 'PX', ARGV[2])
return {1, value}
"""

# KEYS[1] lease. ARGV: the value we hold. Deletes it only if it is still ours.
RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass(frozen=True)
class Lease:
    """Who holds the lease (as the key says)."""

    node_id: str
    epoch: str
    token: int

    @classmethod
    def parse(cls, value: str) -> Lease | None:
        parts = value.rsplit("|", 2)
        if len(parts) != 3 or not parts[2].isdigit():
            return None
        return cls(parts[0], parts[1], int(parts[2]))


class LeaderLease:
    """Acquire or renew the lease every ``ttl/3``; :attr:`is_leader` is time-fenced."""

    def __init__(
        self,
        control: RedisControl,
        keyspace: Keyspace,
        node_id: str,
        epoch: str,
        *,
        ttl: float = 15.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.control = control
        self.keyspace = keyspace
        self.node_id = node_id
        self.epoch = epoch
        self.ttl = ttl
        self._clock = clock
        self._held = ""  # the lease value while we hold it
        self._valid_until = 0.0
        self.holder: Lease | None = None  # as last seen in Redis
        self._acquire = control.script(ACQUIRE_LUA)
        self._release = control.script(RELEASE_LUA)
        self._listeners: list[Callable[[bool], None]] = []
        self._was_leader = False

    @property
    def is_leader(self) -> bool:
        """Whether this node may run leader duties now (fenced by time, not only Redis)."""
        return bool(self._held) and self._clock() < self._valid_until

    @property
    def token(self) -> int | None:
        """The fencing token of the lease we hold."""
        lease = Lease.parse(self._held) if self.is_leader else None
        return lease.token if lease else None

    def add_listener(self, listener: Callable[[bool], None]) -> Callable[[], None]:
        """Call *listener(is_leader)* whenever this node gains or loses the lease."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    async def step(self) -> bool:
        """One acquire-or-renew; whether we hold the lease afterwards.

        Raises :class:`ClusterUnavailableError` when Redis cannot be reached (the
        lease then lapses by time, see :attr:`is_leader`).
        """
        sent = self._clock()
        keys = [self.keyspace.leader, self.keyspace.leader_fence]
        args: list[str | int] = [f"{self.node_id}|{self.epoch}", int(self.ttl * 1000), self._held]
        try:
            won, value = await self.control.call(
                RedisOp.lease, lambda redis: self._acquire(keys=keys, args=args, client=redis)
            )
        except (ClusterUnavailableError, ClusterCommandError):
            self._notify()  # the fence may have run out meanwhile
            raise
        self.holder = Lease.parse(value)
        if won:
            self._held = value
            self._valid_until = sent + self.ttl / 2
        else:
            self._held = ""
        self._notify()
        return bool(won)

    def _notify(self) -> None:
        leader = self.is_leader
        metrics.CLUSTER_LEADER.set(1 if leader else 0)
        if leader is self._was_leader:
            return
        self._was_leader = leader
        log.info("this node %s the leader lease", "holds" if leader else "no longer holds")
        for listener in list(self._listeners):
            try:
                listener(leader)
            except Exception:
                log.exception("leader listener failed")

    async def run(self) -> None:
        """Acquire or renew every ``ttl/3`` until cancelled; outages just skip a round.

        Between rounds a timer re-checks the time fence, so duties stop on time even
        when no renewal comes back at all.
        """
        try:
            while True:
                with contextlib.suppress(ClusterUnavailableError):
                    try:
                        await self.step()
                    except ClusterCommandError:
                        log.exception("leader lease step failed")
                await self._sleep(self.ttl / 3)
        finally:
            self._notify()

    async def _sleep(self, seconds: float) -> None:
        deadline = self._clock() + seconds
        if self._held and self._valid_until < deadline:
            await asyncio.sleep(max(0.0, self._valid_until - self._clock()))
            self._notify()
        await asyncio.sleep(max(0.0, deadline - self._clock()))

    async def release(self) -> None:
        """Give the lease up (drain), so another node takes over without waiting."""
        held, self._held = self._held, ""
        self._notify()
        if not held:
            return
        keys = [self.keyspace.leader]
        with contextlib.suppress(ClusterUnavailableError, ClusterCommandError):
            await self.control.call(
                RedisOp.lease, lambda redis: self._release(keys=keys, args=[held], client=redis)
            )
