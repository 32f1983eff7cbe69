"""Requests for sessions this node does not hold: forward to the owner, adopt, or 404.

A handshake-era session lives on the node that minted its id, whose id is the id's
cleartext prefix; the load balancer routes on it, so a correctly routed request never
comes here. One that does (a plain hash balancer, a node being replaced, its owner dead):

1. the id is opened (AES-GCM, principal-bound): a forged, tampered or another client's id
   is a 404 (``mcphub_session_ids_rejected_total{reason}``);
2. the owner is alive (the membership table this node caches from its heartbeats; no Redis
   call): the request is forwarded over the internal hop (:mod:`.forwarding`), unless
   ``--misrouted reject`` or the request was itself forwarded (a hop never hops again). An
   owner missing from the table may have joined since this node's last heartbeat: the
   table is read again (one heartbeat) before the session is taken for a dead node's;
3. the owner is gone (dead, drained, or restarted: another boot epoch): a portable session
   is claimed in Redis (``SET NX``, so exactly one node adopts it) and rebuilt here under
   its id from what the id holds; a node that loses the claim forwards to the winner. A
   session that cannot be rebuilt (a legacy SSE stream, or one that could reach a server
   configured ``stateful: true``) is a 404, and the client initializes a new one.

With Redis out the claim is skipped: the node adopts on its own (a second adoption of the
same session elsewhere only duplicates its upstream sessions).
"""

from __future__ import annotations

import logging

from tornadohub import metrics
from tornadohub.cluster.errors import ClusterCommandError, ClusterUnavailableError
from tornadohub.cluster.forwarding import HopClient
from tornadohub.cluster.hop import HopRejection
from tornadohub.cluster.membership import NodeRecord
from tornadohub.cluster.node import ClusterNode
from tornadohub.cluster.session_ids import (
    Rejection,
    SessionIdError,
    SessionState,
    capabilities_from_bits,
)
from tornadohub.errors import HubError
from tornadohub.mcp.http import HttpRequest, McpRequestError, ResponseWriter
from tornadohub.mcp.transport import McpTransport

log = logging.getLogger("tornadohub.cluster")


def _not_found(reason: Rejection | None = None) -> McpRequestError:
    if reason is not None:
        metrics.SESSION_IDS_REJECTED.labels(reason=reason.value).inc()
    return McpRequestError(404, "Session not found")


class SessionRouter:
    """The transport's ``elsewhere``: see the module docstring."""

    def __init__(
        self,
        node: ClusterNode,
        hops: HopClient,
        transport: McpTransport,
        *,
        forward_misrouted: bool = True,
        claim_seconds: float = 1800.0,
    ) -> None:
        self.node = node
        self.hops = hops
        self.transport = transport
        self.forward_misrouted = forward_misrouted
        self.claim_seconds = claim_seconds

    async def route(
        self,
        server: str | None,
        session_id: str,
        request: HttpRequest,
        writer: ResponseWriter,
    ) -> bool:
        try:
            state = self.node.session_ids.open(session_id, principal=request.principal)
        except SessionIdError as exc:
            raise _not_found(exc.reason) from None
        me = self.node.node_id
        if state.node == me and state.epoch == self.node.epoch:
            return False  # ours, from this boot: ended, the transport answers 404
        if request.hopped_from is not None:
            metrics.HOP_REJECTED.labels(reason=HopRejection.loop.value).inc()
            raise _not_found()
        if state.node != me:
            owner = await self._alive(state.node, state.epoch)
            if owner is not None:
                if not self.forward_misrouted:
                    raise _not_found()
                if await self.hops.forward(owner, request.uri, session_id, request, writer):
                    return True
        return await self._adopt(server, session_id, state, request, writer)

    async def _alive(self, node_id: str, epoch: str | None = None) -> NodeRecord | None:
        """*node_id*'s record if it is alive: from the cached table, or from Redis when the
        table does not have it (it may have joined since this node's last heartbeat, and
        adopting a live node's session would split the session in two)."""
        membership = self.node.membership
        record = membership.alive(node_id, epoch)
        if record is None:
            try:
                await membership.beat()
            except HubError as exc:  # Redis out: the cached table is all there is
                log.debug("member table not refreshed: %s", exc)
            record = membership.alive(node_id, epoch)
        return record

    async def _adopt(
        self,
        server: str | None,
        session_id: str,
        state: SessionState,
        request: HttpRequest,
        writer: ResponseWriter,
    ) -> bool:
        if not state.portable:
            raise _not_found(Rejection.not_portable)
        try:
            claim = await self.node.adoption.claim(session_id, self.claim_seconds)
        except (ClusterUnavailableError, ClusterCommandError) as exc:
            log.warning("adopting session %s without a claim: %s", session_id[-8:], exc)
            claim = None
        if claim is not None and not claim.won:
            holder = await self._alive(claim.holder)
            if holder is not None and self.forward_misrouted:
                if await self.hops.forward(holder, request.uri, session_id, request, writer):
                    return True
            raise _not_found()
        initialize = {
            "protocolVersion": state.protocol_version,
            "capabilities": capabilities_from_bits(state.capabilities),
            "clientInfo": {"name": state.client_name, "version": state.client_version},
        }
        await self.transport.adopt(server, session_id, initialize, request)
        metrics.SESSIONS_ADOPTED.inc()
        log.info("adopted session %s of node %s", session_id[-8:], state.node)
        return False
