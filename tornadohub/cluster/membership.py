"""Node heartbeats and the membership table.

Each node writes its record into one Redis hash (``th:{c}:nodes``) every heartbeat
interval, and the same round trip returns every live record: one Lua script stamps the
record's expiry from Redis's own clock (``TIME``, so node clocks may disagree), drops
expired records and answers the rest. Compared with one key per node (``EX``), one hash
lists the members without ``SCAN``/``KEYS`` and costs one command per beat whatever N.
The table is cached here; nothing reads Redis per request.

A node refuses to join while another live node heartbeats with the same id from
another address (two machines configured alike); the same id from the same address is
its own previous life (a restart) and is replaced. On drain, :meth:`leave` removes the
record at once so peers adopt its sessions without waiting for the TTL.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from tornadohub import metrics
from tornadohub.cluster.control import RedisControl
from tornadohub.cluster.errors import (
    ClusterCommandError,
    ClusterUnavailableError,
    NodeIdConflictError,
)
from tornadohub.cluster.keyspace import Keyspace
from tornadohub.metrics import RedisOp

log = logging.getLogger("tornadohub.cluster")

# KEYS[1] nodes hash. ARGV: node id, record JSON (no expiry), ttl ms, "join" or "beat".
# Returns {status, now_ms, record...}; status "ok", or "conflict" with the other record.
HEARTBEAT_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local mine = cjson.decode(ARGV[2])
local all = redis.call('HGETALL', KEYS[1])
local live = {}
for i = 1, #all, 2 do
  local id, raw = all[i], all[i + 1]
  local ok, rec = pcall(cjson.decode, raw)
  if not ok or type(rec) ~= 'table' or (tonumber(rec.expires) or 0) <= now then
    redis.call('HDEL', KEYS[1], id)
  elseif id == ARGV[1] then
    if rec.epoch ~= mine.epoch then
      if ARGV[4] == 'beat' or rec.advertise ~= mine.advertise then
        return {'conflict', tostring(now), raw}
      end
    end
  else
    table.insert(live, raw)
  end
end
mine.expires = now + tonumber(ARGV[3])
local encoded = cjson.encode(mine)
redis.call('HSET', KEYS[1], ARGV[1], encoded)
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) * 2)
table.insert(live, encoded)
local reply = {'ok', tostring(now)}
for _, raw in ipairs(live) do table.insert(reply, raw) end
return reply
"""

# KEYS[1] nodes hash. ARGV: node id, epoch. Removes the record only if it is ours.
LEAVE_LUA = """
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if raw then
  local ok, rec = pcall(cjson.decode, raw)
  if ok and type(rec) == 'table' and rec.epoch == ARGV[2] then
    return redis.call('HDEL', KEYS[1], ARGV[1])
  end
end
return 0
"""


@dataclass(frozen=True)
class NodeRecord:
    """What a node says about itself; ``expires`` is Redis time in ms (0 before a beat)."""

    node_id: str
    advertise_url: str | None
    epoch: str
    version: str
    started: float
    expires: int = 0

    def to_json(self) -> str:
        data = {
            "id": self.node_id,
            "advertise": self.advertise_url or "",
            "epoch": self.epoch,
            "version": self.version,
            "started": self.started,
        }
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str) -> NodeRecord:
        data = json.loads(raw)
        return cls(
            node_id=str(data["id"]),
            advertise_url=str(data["advertise"]) or None,
            epoch=str(data["epoch"]),
            version=str(data["version"]),
            started=float(data["started"]),
            expires=int(data.get("expires", 0)),
        )


class Membership:
    """This node's heartbeat, and the cached table of live members (itself included)."""

    def __init__(
        self,
        control: RedisControl,
        keyspace: Keyspace,
        me: NodeRecord,
        *,
        interval: float = 5.0,
        ttl: float = 15.0,
    ) -> None:
        self.control = control
        self.keyspace = keyspace
        self.me = me
        self.interval = interval
        self.ttl = ttl
        self.members: dict[str, NodeRecord] = {}
        #: monotonic time of the last table read from Redis (0: never).
        self.refreshed_at = 0.0
        self._heartbeat = control.script(HEARTBEAT_LUA)
        self._leave = control.script(LEAVE_LUA)
        self._listeners: list[Callable[[Mapping[str, NodeRecord]], None]] = []
        self.conflict: NodeRecord | None = None

    def add_listener(
        self, listener: Callable[[Mapping[str, NodeRecord]], None]
    ) -> Callable[[], None]:
        """Call *listener* with the table whenever its set of members or epochs changes."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    async def join(self) -> dict[str, NodeRecord]:
        """The first heartbeat; raises :class:`NodeIdConflictError` if the id is taken."""
        return await self._beat("join")

    async def beat(self) -> dict[str, NodeRecord]:
        """One heartbeat and table refresh (one Redis round trip)."""
        return await self._beat("beat")

    async def _beat(self, mode: str) -> dict[str, NodeRecord]:
        keys = [self.keyspace.nodes]
        args: list[str | int] = [self.me.node_id, self.me.to_json(), int(self.ttl * 1000), mode]
        reply = await self.control.call(
            RedisOp.heartbeat, lambda redis: self._heartbeat(keys=keys, args=args, client=redis)
        )
        status, *records = reply
        if status == "conflict":
            self.conflict = other = NodeRecord.from_json(records[1])
            raise NodeIdConflictError(
                f"node id {self.me.node_id!r} is in use by a live node at"
                f" {other.advertise_url or 'an unknown address'}",
                data={"node": self.me.node_id, "advertise": other.advertise_url},
            )
        table = {}
        for raw in records[1:]:
            record = NodeRecord.from_json(raw)
            table[record.node_id] = record
        self._update(table)
        return table

    def _update(self, table: dict[str, NodeRecord]) -> None:
        changed = {k: v.epoch for k, v in table.items()} != {
            k: v.epoch for k, v in self.members.items()
        }
        self.members = table
        self.refreshed_at = time.monotonic()
        metrics.CLUSTER_NODES.set(len(table))
        if changed:
            log.info("cluster members: %s", ", ".join(sorted(table)))
            for listener in list(self._listeners):
                try:
                    listener(table)
                except Exception:
                    log.exception("membership listener failed")

    def alive(self, node_id: str, epoch: str | None = None) -> NodeRecord | None:
        """The cached record of *node_id* (of that boot *epoch*, if given), if it is live."""
        record = self.members.get(node_id)
        if record is None or (epoch is not None and record.epoch != epoch):
            return None
        return record

    async def run(self) -> None:
        """Beat every interval until cancelled; outages and conflicts are logged, not fatal.

        While Redis is unavailable the loop waits for it; the first beat after it
        returns re-registers the node (the record may have expired meanwhile).
        """
        while True:
            try:
                await self.beat()
            except ClusterUnavailableError:
                await self.control.wait_available()
                continue
            except NodeIdConflictError as exc:
                log.error("%s: this node stops heartbeating", exc.message)
                return
            except ClusterCommandError:
                log.exception("heartbeat failed")
            await asyncio.sleep(self.interval)

    async def leave(self) -> bool:
        """Remove this node's record now (drain); False if Redis could not be reached."""
        keys = [self.keyspace.nodes]
        args = [self.me.node_id, self.me.epoch]
        try:
            await self.control.call(
                RedisOp.heartbeat, lambda redis: self._leave(keys=keys, args=args, client=redis)
            )
        except (ClusterUnavailableError, ClusterCommandError):
            return False
        self.members.pop(self.me.node_id, None)
        return True
