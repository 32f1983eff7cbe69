"""Every Redis key of one cluster, all under the ``{<cluster>}`` hash tag.

One hash tag puts every key in one Redis Cluster slot, so the Lua scripts and the
multi-stream ``XREAD`` that touch several keys work on Redis Cluster too, and several
clusters can share one Redis (``--cluster``). Nothing else builds key names.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


def _digest(text: str) -> str:
    """A fixed-length key part for free text (session ids, upstream names)."""
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Keyspace:
    cluster: str

    @property
    def prefix(self) -> str:
        return f"th:{{{self.cluster}}}:"

    @property
    def nodes(self) -> str:
        """Hash: node id -> JSON record with its expiry (membership)."""
        return self.prefix + "nodes"

    @property
    def events(self) -> str:
        """Stream: the cluster-wide ``/api/events``."""
        return self.prefix + "events"

    @property
    def config(self) -> str:
        """Hash: the live config (``rev``, ``sha256``, ``by``, ``config``)."""
        return self.prefix + "config"

    @property
    def config_log(self) -> str:
        """Stream: one entry per published config revision."""
        return self.prefix + "config:log"

    @property
    def leader(self) -> str:
        """String ``<node>|<epoch>|<fencing token>`` with a TTL: the leader lease."""
        return self.prefix + "leader"

    @property
    def leader_fence(self) -> str:
        """Counter: the fencing token of each new lease."""
        return self.prefix + "leader:fence"

    def adoption(self, session_id: str) -> str:
        """String: the node that adopted an orphaned session."""
        return self.prefix + "adopt:" + _digest(session_id)

    def oauth(self, upstream: str) -> str:
        """Hash: an upstream's sealed OAuth tokens and their revision."""
        return self.prefix + "oauth:" + _digest(upstream)

    def oauth_lock(self, upstream: str) -> str:
        """String with a TTL: who refreshes an upstream's tokens now."""
        return self.prefix + "lock:oauth:" + _digest(upstream)
