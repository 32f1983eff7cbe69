"""The forwarding side of the internal hop: send a request to the node that owns it, relay
the answer as it comes (streams chunk by chunk).

The request goes to ``<owner's advertise URL>/_hub/hop<original path>`` with the client's
headers (minus its credentials and hop-by-hop headers) and the signed hop headers
(:mod:`.hop`); the owner's reply counts only with the owner's signature on it. httpx keeps
connections to the peers open and closes a relayed stream as soon as the client goes away
(a cancelled relay), which the owner sees as the client leaving.

A connection that cannot be made (refused, or no answer within :data:`CONNECT_SECONDS`)
means the owner is gone: :meth:`HopClient.forward` returns False and the caller adopts the
session. Forwarding is a safety net (a misconfigured balancer, a node being replaced), not
a routing strategy: it costs an extra request on both nodes.
"""

from __future__ import annotations

import logging
import time
from typing import Final

import httpx

from tornadohub import metrics
from tornadohub.cluster.hop import HOP_HEADER, PRINCIPAL_HEADER, HopSigner
from tornadohub.cluster.membership import NodeRecord
from tornadohub.mcp.http import SSE_TYPE, HttpRequest, McpRequestError, ResponseWriter
from tornadohub.metrics import ForwardReason

log = logging.getLogger("tornadohub.cluster")

#: The internal listener's routes are the public ones under this prefix.
HOP_PREFIX: Final = "/_hub/hop"
CONNECT_SECONDS: Final = 3.0
#: Request headers never forwarded: hop-by-hop, the client's credentials (the hop carries
#: the principal the first node authenticated), and what the hop sets itself.
DROPPED_REQUEST_HEADERS: Final = frozenset(
    {
        "host",
        "connection",
        "keep-alive",
        "content-length",
        "transfer-encoding",
        "te",
        "upgrade",
        "authorization",
        "x-api-key",
        "cookie",
        HOP_HEADER.lower(),
        PRINCIPAL_HEADER.lower(),
    }
)
#: Reply headers relayed to the client.
RELAYED_REPLY_HEADERS: Final = (
    "content-type",
    "mcp-session-id",
    "x-tornadohub-node",
    "allow",
    "cache-control",
    "x-accel-buffering",
)


class HopClient:
    """Forwards requests to peer nodes over their internal listeners."""

    def __init__(self, signer: HopSigner) -> None:
        self.signer = signer
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(connect=CONNECT_SECONDS, read=None, write=30.0, pool=30.0),
            limits=httpx.Limits(max_keepalive_connections=16),
            trust_env=False,
        )

    async def close(self) -> None:
        await self.client.aclose()

    async def forward(
        self,
        owner: NodeRecord,
        uri: str,
        session_id: str,
        request: HttpRequest,
        writer: ResponseWriter,
    ) -> bool:
        """Serve *request* (for *uri*, path and query) by *owner*; False if it is unreachable."""
        if not owner.advertise_url:
            return False
        signed = self.signer.sign(
            target=owner.node_id,
            method=request.method,
            path=uri,
            session_id=session_id,
            principal=request.principal,
            body=request.body,
        )
        headers = [
            (name, value)
            for name, value in request.header_lines
            if name.lower() not in DROPPED_REQUEST_HEADERS
        ]
        headers += list(signed.headers.items())
        started = time.perf_counter()
        try:
            outgoing = self.client.build_request(
                request.method, owner.advertise_url + HOP_PREFIX + uri, headers=headers,
                content=request.body or None,
            )  # fmt: skip
            response = await self.client.send(outgoing, stream=True)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            log.warning("node %s is unreachable: %s", owner.node_id, exc)
            return False
        except httpx.HTTPError as exc:
            raise McpRequestError(
                502, f"Forwarding to node {owner.node_id} failed: {exc}"
            ) from None
        replying = False
        try:
            metrics.FORWARD_DURATION.observe(time.perf_counter() - started)
            metrics.FORWARDED_REQUESTS.labels(reason=ForwardReason.misrouted.value).inc()
            if not self.signer.verify_reply(signed, response.headers, response.status_code):
                raise McpRequestError(502, f"Node {owner.node_id} sent an unsigned reply")
            relayed = {
                name: response.headers[name]
                for name in RELAYED_REPLY_HEADERS
                if name in response.headers
            }
            content_type = response.headers.get("content-type", "")
            if response.status_code == 200 and content_type.startswith(SSE_TYPE):
                replying = True
                await writer.open_stream(relayed)
                async for chunk in response.aiter_raw():
                    await writer.send(chunk)
                writer.end_stream()
            else:
                body = await response.aread()
                replying = True
                writer.reply(response.status_code, body or None, relayed)
        except httpx.HTTPError as exc:
            if not replying:
                raise McpRequestError(502, f"Node {owner.node_id} failed: {exc}") from None
            log.warning("relaying from node %s ended: %s", owner.node_id, exc)
        finally:
            await response.aclose()
        return True
