"""The internal hop listener's routes (cluster mode): ``/_hub/hop`` + an MCP route.

Served only on ``--internal-listen``, never behind the load balancer. A peer node forwards
here a request for a session this node owns (:mod:`tornadohub.cluster.forwarding`); the
request counts only with a valid hop signature for this node (else 401 and
``mcphub_cluster_hop_rejected_total{reason}``), and is then served exactly as on the public
routes, as the principal the forwarding node authenticated. Every reply is signed for the
sender (``X-Tornadohub-Hop-Reply``), so that no one else can answer a hop.
"""

from __future__ import annotations

from typing import Any

from tornado import web

from tornadohub import metrics
from tornadohub.cluster.hop import Hop, HopError
from tornadohub.handlers.mcp import McpBaseHandler
from tornadohub.mcp.http import HttpRequest, McpRequestError
from tornadohub.policy import Check

HOP_PREFIX = "/_hub/hop"


class HopHandler(McpBaseHandler):
    """POST|GET|DELETE /_hub/hop/mcp, /_hub/hop/servers/<id>/mcp, /_hub/hop/messages."""

    #: The hop's signature authenticates the sending node, which authenticated the client.
    auth_required = False
    #: Peers address this node by its advertise URL; the client's Origin was checked by the
    #: node it reached first, and the signature covers the request.
    exempt_from = frozenset({Check.host, Check.site})

    def initialize(self) -> None:
        super().initialize()
        self.hop: Hop | None = None

    def verified(self) -> HttpRequest:
        """The request as the client sent it, once its hop signature checks out (else 401)."""
        cluster = self.app_state.cluster
        if cluster is None:  # pragma: no cover - the listener exists in cluster mode only
            raise web.HTTPError(404)
        uri = (self.request.uri or "").removeprefix(HOP_PREFIX)
        request = self.http_request()
        session_id = request.header("mcp-session-id") or request.query.get("sessionId") or ""
        try:
            self.hop = cluster.node.hop_verifier.verify(
                self.request.headers,
                method=request.method,
                path=uri,
                session_id=session_id,
                body=request.body,
            )
        except HopError as exc:
            metrics.HOP_REJECTED.labels(reason=exc.reason.value).inc()
            raise McpRequestError(401, f"Hop rejected ({exc.reason.value})") from None
        return HttpRequest(
            method=request.method,
            header_lines=request.header_lines,
            body=request.body,
            query=request.query,
            principal=self.hop.principal,
            client_address=request.client_address,
            uri=uri,
            hopped_from=self.hop.sender,
        )

    def flush(self, include_footers: bool = False) -> Any:
        cluster = self.app_state.cluster
        if not self._headers_written and self.hop is not None and cluster is not None:
            for name, value in cluster.node.hop_verifier.reply_headers(
                self.hop, self.get_status()
            ).items():
                self.set_header(name, value)
        return super().flush(include_footers)

    async def post(self, route: str, server: str | None = None) -> None:
        await self._serve(route, server)

    async def get(self, route: str, server: str | None = None) -> None:
        await self._serve(route, server)

    async def delete(self, route: str, server: str | None = None) -> None:
        await self._serve(route, server)

    async def _serve(self, route: str, server: str | None) -> None:
        request = self.verified()
        if route == "messages":
            if request.method != "POST":
                raise McpRequestError(405, "Method Not Allowed", headers={"Allow": "POST"})
            await self.serve(self.transport.handle_legacy_post(request, self))
        else:
            await self.serve(self.transport.handle(server, request, self))


hop_handlers = [
    (rf"{HOP_PREFIX}/(mcp)", HopHandler),
    (rf"{HOP_PREFIX}/(servers)/([^/]+)/mcp", HopHandler),
    (rf"{HOP_PREFIX}/(messages)", HopHandler),
]
