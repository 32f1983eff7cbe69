"""GET /metrics: every metric of :mod:`tornadohub.metrics` in Prometheus' text format."""

from __future__ import annotations

from prometheus_client.exposition import choose_encoder

from tornadohub import metrics
from tornadohub.handlers.base import APIHandler
from tornadohub.handlers.docs import RouteDoc
from tornadohub.openapi import Operation, Response


class MetricsHandler(APIHandler):
    """GET /metrics: Prometheus text (or OpenMetrics when the scraper asks for it).

    Open unless the hub runs with ``--metrics-auth``.
    """

    openapi = RouteDoc(
        {
            "get": Operation(
                {
                    200: Response(
                        "Prometheus text format (OpenMetrics when the Accept header asks)",
                        {"text/plain": None, "application/openmetrics-text": None},
                    )
                }
            )
        }
    )

    def requires_auth(self) -> bool:
        return self.hub_options.metrics_auth

    def get(self) -> None:
        metrics.refresh()
        encoder, content_type = choose_encoder(self.request.headers.get("Accept", ""))
        self.set_header("Content-Type", content_type)
        self.finish(encoder(metrics.REGISTRY))


default_handlers = [(r"/metrics", MetricsHandler)]
