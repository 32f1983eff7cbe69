"""``GET /api/stats``: the hub's uptime and each server's tool calls, from its own metrics."""

from __future__ import annotations

import time

from tornadohub import metrics
from tornadohub import schemas as s
from tornadohub.clock import iso_from_epoch
from tornadohub.handlers.base import APIHandler
from tornadohub.handlers.docs import RouteDoc, ok
from tornadohub.openapi import Operation


class StatsHandler(APIHandler):
    """GET /api/stats: hub uptime, calls in flight, and per server the tool calls so far.

    Per server: calls by outcome, error rate (every outcome but success), p50 and p95 in
    seconds, and the duration histogram itself, all read from the Prometheus histogram
    ``mcphub_tool_call_duration_seconds`` (REST and ``/mcp`` calls), so a client can work
    out rates and quantiles over any window from two answers.
    """

    openapi = RouteDoc({"get": Operation({200: ok(s.StatsSchema)})})

    def get(self) -> None:
        started = metrics.process_start_time()
        hub = {
            "startedAt": iso_from_epoch(started) if started else None,
            "uptime": max(0.0, time.time() - started) if started is not None else None,
            "callsInFlight": self.hub.calls.count,
        }
        servers = metrics.tool_call_stats(self.hub.upstreams)
        self.write_json({"hub": hub, "servers": servers})


default_handlers = [(r"/api/stats", StatsHandler)]
