"""Domain errors of cluster mode (no tornado import; the base handler maps them)."""

from __future__ import annotations

from tornadohub.errors import ConfigError, HubError


class ClusterConfigError(ConfigError):
    """The cluster flags or environment are invalid; every problem is in the message."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("Invalid cluster settings: " + "; ".join(problems))
        self.problems = problems


class ClusterUnavailableError(HubError):
    """Redis cannot be used now (breaker open, or the call failed): 503.

    Cluster-scoped writes answer this rather than diverge from the other nodes.
    """

    status = 503
    default_code = "CLUSTER_UNAVAILABLE"


class ClusterCommandError(HubError):
    """Redis answered a command with an error (a bug or an incompatible server), not an outage."""

    default_code = "CLUSTER_ERROR"


class NodeIdConflictError(HubError):
    """Another live node heartbeats with this node id from another address."""

    status = 409
    default_code = "NODE_ID_CONFLICT"


class ConfigConflictError(HubError):
    """A config push expected a revision that is no longer current: 409, retry on top of it."""

    status = 409
    default_code = "CONFIG_CONFLICT"

    def __init__(self, expected: int, current: int) -> None:
        super().__init__(
            f"Config revision {expected} is not current (current: {current})",
            data={"expected": expected, "current": current},
        )
        self.expected = expected
        self.current = current
