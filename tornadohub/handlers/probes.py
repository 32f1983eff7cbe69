"""Health probes for load balancers and orchestrators: cheap, open, no upstream I/O.

``/healthz`` (liveness) answers as long as the process serves HTTP; ``/readyz`` (readiness)
answers 200 only when the hub can take work. Both answer HEAD too, need no API key, and
are logged at debug. ``/api/health`` is mcp-hub's richer status and is not a probe.

Cluster mode adds ``mode`` (``cluster`` or ``degraded``), ``redis`` and ``node`` to the
``/readyz`` body. Redis down does not make a node unready (no request needs Redis), unless
``--require-redis``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tornadohub import schemas as s
from tornadohub.handlers.base import APIHandler
from tornadohub.handlers.docs import RouteDoc, ok
from tornadohub.hub import Hub
from tornadohub.openapi import Operation, Response
from tornadohub.policy import Check
from tornadohub.state import HubState, UpstreamStatus

if TYPE_CHECKING:
    from tornadohub.cluster.runtime import ClusterRuntime

#: Hub states in which the hub takes work.
READY_STATES = frozenset({HubState.ready, HubState.restarted})


def readiness(hub: Hub, cluster: ClusterRuntime | None = None) -> tuple[bool, dict[str, Any]]:
    """Whether *hub* (and in cluster mode, its node) is ready, and the JSON body saying why."""
    connected = sum(1 for u in hub.upstreams.values() if u.status is UpstreamStatus.connected)
    required = hub.options.min_ready_servers
    body: dict[str, Any] = {
        "state": hub.state.value,
        "servers": {"connected": connected, "required": required, "total": len(hub.upstreams)},
    }
    node_ready, node_body = cluster.readiness() if cluster is not None else (True, {})
    node_reason = node_body.pop("reason", None)
    body.update(node_body)
    if hub.shutdown_requested.is_set() or hub.state in (HubState.stopping, HubState.stopped):
        reason = "shutting down"
    elif hub.state not in READY_STATES:
        reason = f"hub is {hub.state.value}"
    elif connected < required:
        reason = f"{connected} of the required {required} servers connected"
    elif not node_ready:
        reason = str(node_reason)
    else:
        return True, {"status": "ready", **body}
    return False, {"status": "unavailable", "reason": reason, **body}


class _ProbeHandler(APIHandler):
    #: Probes carry no API key, and load balancers probe by address or by their own name for
    #: the backend; the answer reveals nothing (Origin is still checked).
    auth_required = False
    exempt_from = frozenset({Check.host})


class HealthzHandler(_ProbeHandler):
    """GET|HEAD /healthz: liveness; 200 whenever the process answers HTTP."""

    openapi = RouteDoc(
        {
            "get": Operation({200: ok(s.LivenessSchema)}, public=True),
            "head": Operation({200: Response("Alive")}, public=True),
        }
    )

    def get(self) -> None:
        self.write_json({"status": "ok"})

    head = get


class ReadyzHandler(_ProbeHandler):
    """GET|HEAD /readyz: 200 when ready; 503 with the reason while starting, restarting,
    shutting down, or with fewer than ``--min-ready-servers`` servers connected."""

    openapi = RouteDoc(
        {
            "get": Operation(
                {
                    200: ok(s.ReadinessSchema, "Ready"),
                    503: ok(s.ReadinessSchema, "Not ready, with the reason"),
                },
                public=True,
            ),
            "head": Operation({200: Response("Ready"), 503: Response("Not ready")}, public=True),
        }
    )

    def get(self) -> None:
        ready, body = readiness(self.hub, self.app_state.cluster)
        if not ready:
            self.set_status(503)
        self.write_json(body)

    head = get


default_handlers = [
    (r"/healthz", HealthzHandler),
    (r"/readyz", ReadyzHandler),
]
