"""Adoption claims: exactly one node adopts each session of a dead owner.

nginx spreads a dead owner's sessions over the ``backup`` servers round-robin (measured),
so two nodes may see the same orphaned session at the same moment. The first
``SET adopt:<sha256(id)> <node> NX EX <idle timeout>`` wins; a loser learns the winner and
forwards to it. Written only on this failure path, never for a healthy session.
"""

from __future__ import annotations

from dataclasses import dataclass

from tornadohub.cluster.control import RedisControl
from tornadohub.cluster.keyspace import Keyspace
from tornadohub.metrics import RedisOp

# KEYS[1] claim. ARGV: node id, seconds. Returns {1, node} if ours (new or already), else
# {0, holder}.
CLAIM_LUA = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then return {1, ARGV[1]} end
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then return {1, holder} end
return {0, holder or ''}
"""


@dataclass(frozen=True)
class Claim:
    won: bool  # this node adopts the session (now, or it already had)
    holder: str  # the node that adopted it


class AdoptionClaims:
    def __init__(self, control: RedisControl, keyspace: Keyspace, node_id: str) -> None:
        self.control = control
        self.keyspace = keyspace
        self.node_id = node_id
        self._claim = control.script(CLAIM_LUA)

    async def claim(self, session_id: str, ttl: float) -> Claim:
        """Claim the orphaned *session_id* for this node, for *ttl* seconds (its idle timeout).

        Raises ClusterUnavailableError when Redis is out: then the caller adopts
        locally without a claim (degraded mode; a double adoption only duplicates
        per-client upstream sessions, both valid).
        """
        keys = [self.keyspace.adoption(session_id)]
        args: list[str | int] = [self.node_id, max(1, round(ttl))]
        won, holder = await self.control.call(
            RedisOp.adopt, lambda redis: self._claim(keys=keys, args=args, client=redis)
        )
        return Claim(won=bool(won), holder=str(holder))
