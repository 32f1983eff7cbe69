"""Config revisions: the cluster's live config, changed only by compare-and-set.

The config lives in one hash (``rev``, ``sha256``, ``by``, ``config``), a hash rather
than one JSON string so a node can read the revision without the blob. One Lua script
publishes a change atomically:

* the same content (SHA-256) as the current revision: nothing happens, whatever
  revision the writer expected (SIGHUP on all N nodes after a rollout makes one
  revision, not N);
* the writer's expected revision is not current: a conflict (409, re-read and retry);
* otherwise ``rev + 1`` is stored and an entry ``{rev, sha256, by}`` is appended to the
  config log stream, which every node tails (:class:`~.streams.StreamTail`) to fetch
  the blob and diff-apply it; in the same step a ``config.changed`` event is appended to
  the cluster's event stream, so it comes before any node's reaction to the revision.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from tornadohub.clock import iso_now
from tornadohub.cluster.control import Redis, RedisControl
from tornadohub.cluster.errors import ConfigConflictError
from tornadohub.cluster.keyspace import Keyspace
from tornadohub.metrics import RedisOp

# KEYS[1] config hash, KEYS[2] config log, KEYS[3] events. ARGV: expected rev, sha256,
# config, by, log maxlen, events maxlen, ISO timestamp.
# Returns {"unchanged", rev} | {"conflict", rev} | {"ok", rev, log entry id}.
PUBLISH_LUA = """
local current = redis.call('HMGET', KEYS[1], 'rev', 'sha256')
local rev = tonumber(current[1]) or 0
if current[2] == ARGV[2] then return {'unchanged', rev} end
if rev ~= tonumber(ARGV[1]) then return {'conflict', rev} end
rev = rev + 1
redis.call('HSET', KEYS[1], 'rev', rev, 'sha256', ARGV[2], 'by', ARGV[4], 'config', ARGV[3])
local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[5], '*',
                      'rev', rev, 'sha256', ARGV[2], 'by', ARGV[4])
local event = cjson.encode({rev = rev, sha256 = ARGV[2], node = ARGV[4], timestamp = ARGV[7]})
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[6], '*',
           'n', 'config.changed', 'd', event, 'o', ARGV[4])
return {'ok', rev, id}
"""

#: The event every config revision appends to the cluster's event stream.
CONFIG_CHANGED = "config.changed"

#: Config log entries kept (each node only needs the newest; the rest is history).
LOG_MAXLEN = 1000


def config_digest(config: str) -> str:
    return hashlib.sha256(config.encode()).hexdigest()


@dataclass(frozen=True)
class ConfigRevision:
    rev: int
    sha256: str
    by: str
    config: str  # the config document, as published


@dataclass(frozen=True)
class Published:
    rev: int
    changed: bool  # False: the content was already current (no new revision)
    log_id: str | None = None


@dataclass(frozen=True)
class LogEntry:
    """One config log entry: revision *rev* was published by node *by*."""

    id: str
    rev: int
    sha256: str
    by: str

    @classmethod
    def from_entry(cls, entry_id: str, fields: Mapping[str, str]) -> LogEntry:
        return cls(entry_id, int(fields["rev"]), fields["sha256"], fields["by"])


class ConfigRevisions:
    """Read and publish the cluster's config revisions."""

    def __init__(
        self,
        control: RedisControl,
        keyspace: Keyspace,
        node_id: str,
        *,
        events_maxlen: int = 10_000,
    ) -> None:
        self.control = control
        self.keyspace = keyspace
        self.node_id = node_id
        self.events_maxlen = events_maxlen
        self._publish = control.script(PUBLISH_LUA)

    async def current(self) -> ConfigRevision | None:
        """The live revision, or None if none was ever published (or Redis lost it)."""

        async def read(redis: Redis) -> dict[str, str]:
            data = await redis.hgetall(self.keyspace.config)  # typed as bytes or str
            return {str(key): str(value) for key, value in data.items()}

        data = await self.control.call(RedisOp.config, read)
        if not data or "rev" not in data:
            return None
        return ConfigRevision(
            rev=int(data["rev"]),
            sha256=data.get("sha256", ""),
            by=data.get("by", ""),
            config=data.get("config", ""),
        )

    async def publish(self, config: str, *, expected_rev: int) -> Published:
        """Make *config* the next revision after *expected_rev* (0: the first).

        Raises :class:`ConfigConflictError` when *expected_rev* is not current and the
        content differs; ClusterUnavailableError when Redis is out (answer 503).
        """
        keys = [self.keyspace.config, self.keyspace.config_log, self.keyspace.events]
        args: list[str | int] = [
            expected_rev,
            config_digest(config),
            config,
            self.node_id,
            LOG_MAXLEN,
            self.events_maxlen,
            iso_now(),
        ]
        reply = await self.control.call(
            RedisOp.cas, lambda redis: self._publish(keys=keys, args=args, client=redis)
        )
        status, rev = str(reply[0]), int(reply[1])
        if status == "conflict":
            raise ConfigConflictError(expected_rev, rev)
        if status == "unchanged":
            return Published(rev=rev, changed=False)
        return Published(rev=rev, changed=True, log_id=str(reply[2]))
