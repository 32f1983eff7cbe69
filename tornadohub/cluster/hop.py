"""The internal hop: HMAC-signed forwarding of a request to the node that owns it.

A node that receives a request for a session another live node owns forwards it to
that node's internal listener (``POST|GET|DELETE <advertise_url>/_hub/hop/mcp``, never
exposed through the load balancer) with two headers:

``X-Tornadohub-Hop: v1;from=h2;to=h1;ts=1732550000;nonce=<16 chars>;mac=<64 hex>``
    ``mac = HMAC-SHA256(k_hop, "v1" \\n from \\n to \\n method \\n path \\n ts \\n nonce
    \\n session id \\n principal JSON \\n SHA-256(body))``;
``X-Tornadohub-Principal: <base64url(JSON)>``
    the principal the first node already authenticated (``{"key": name}`` or
    ``{"key": null}``), so the owner does not authenticate twice.

The owner accepts it only if the MAC verifies (current or previous secret), ``to`` is
itself, ``|now - ts| <= 30 s`` and the nonce was not seen (kept until it could no longer
pass the time check). Binding ``to`` means a hop captured on its way to h1 cannot be
replayed to h3. The forwarder never forwards a hopped request again (loop guard): if
the owner named by the session id is not the receiver either, it answers 404.

The owner's reply carries ``X-Tornadohub-Hop-Reply: v1;from=h1;mac=<hex>`` with
``mac = HMAC(k_hop, "reply" \\n from \\n to \\n request nonce \\n status)``: the forwarder
checks it before relaying, so nothing but the owner can answer a hop. The body is not
covered, because replies are streamed (SSE); the link is the operator's private network.
"""

from __future__ import annotations

import base64
import binascii
import collections
import enum
import hashlib
import hmac
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from tornadohub.cluster.secret import ClusterKeys

HOP_HEADER = "X-Tornadohub-Hop"
PRINCIPAL_HEADER = "X-Tornadohub-Principal"
REPLY_HEADER = "X-Tornadohub-Hop-Reply"
#: The node that served a request (set on every /mcp reply in cluster mode).
NODE_HEADER = "X-Tornadohub-Node"
HOP_PATH = "/_hub/hop/mcp"
VERSION = "v1"
MAX_SKEW_SECONDS = 30.0
NONCE_BYTES = 12  # 96 bits
MAX_HEADER_CHARS = 512


class HopRejection(enum.StrEnum):
    """Why a hop was refused (401); ``loop`` is the router's (a hop to a non-owner: 404)."""

    malformed = "malformed"  # missing or unparsable headers
    mac = "mac"  # signature does not verify under any accepted key
    skew = "skew"  # timestamp too far from now
    replay = "replay"  # nonce already used
    target = "target"  # signed for another node
    loop = "loop"  # hopped to a node that does not own the session either


class HopError(Exception):
    def __init__(self, reason: HopRejection) -> None:
        super().__init__(f"hop rejected ({reason.value})")
        self.reason = reason


@dataclass(frozen=True)
class Hop:
    """A verified hop: who sent it, and on whose behalf."""

    sender: str
    nonce: str
    principal: str | None


@dataclass(frozen=True)
class SignedHop:
    """The headers of one outgoing hop, and what checking its reply needs."""

    headers: dict[str, str]
    target: str
    nonce: str


def _body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _request_mac(
    key: bytes,
    *,
    sender: str,
    target: str,
    method: str,
    path: str,
    ts: str,
    nonce: str,
    session_id: str,
    principal_json: str,
    body: bytes,
) -> str:
    fields = (VERSION, sender, target, method.upper(), path, ts, nonce, session_id)
    message = "\n".join((*fields, principal_json, _body_digest(body)))
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


def _reply_mac(key: bytes, *, sender: str, target: str, nonce: str, status: int) -> str:
    message = "\n".join(("reply", sender, target, nonce, str(status)))
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


def _principal_json(principal: str | None) -> str:
    return json.dumps({"key": principal}, separators=(",", ":"), sort_keys=True)


def _parse(value: str) -> dict[str, str]:
    if len(value) > MAX_HEADER_CHARS:
        raise HopError(HopRejection.malformed)
    version, _, rest = value.partition(";")
    if version != VERSION:
        raise HopError(HopRejection.malformed)
    fields: dict[str, str] = {}
    for part in rest.split(";"):
        name, sep, field_value = part.partition("=")
        if not sep or name in fields:
            raise HopError(HopRejection.malformed)
        fields[name] = field_value
    return fields


class HopSigner:
    """Signs this node's outgoing hops and checks the owners' replies."""

    def __init__(self, keys: ClusterKeys, node_id: str) -> None:
        self.keys = keys
        self.node_id = node_id

    def sign(
        self,
        *,
        target: str,
        method: str,
        path: str,
        session_id: str,
        principal: str | None,
        body: bytes,
        now: float | None = None,
    ) -> SignedHop:
        """The headers to add to the forwarded request (``path`` with its query string)."""
        ts = str(int(time.time() if now is None else now))
        nonce = base64.urlsafe_b64encode(os.urandom(NONCE_BYTES)).decode()
        principal_json = _principal_json(principal)
        mac = _request_mac(
            self.keys.current.hop,
            sender=self.node_id,
            target=target,
            method=method,
            path=path,
            ts=ts,
            nonce=nonce,
            session_id=session_id,
            principal_json=principal_json,
            body=body,
        )
        hop = f"{VERSION};from={self.node_id};to={target};ts={ts};nonce={nonce};mac={mac}"
        encoded = base64.urlsafe_b64encode(principal_json.encode()).decode().rstrip("=")
        headers = {HOP_HEADER: hop, PRINCIPAL_HEADER: encoded}
        return SignedHop(headers=headers, target=target, nonce=nonce)

    def verify_reply(self, hop: SignedHop, headers: Mapping[str, str], status: int) -> bool:
        """Whether the reply (*headers*, *status*) to *hop* came from the node it was sent to."""
        target, nonce = hop.target, hop.nonce
        try:
            fields = _parse(headers.get(REPLY_HEADER, ""))
        except HopError:
            return False
        if fields.get("from") != target:
            return False
        mac = fields.get("mac", "")
        me = self.node_id
        return any(
            hmac.compare_digest(
                mac, _reply_mac(keys.hop, sender=target, target=me, nonce=nonce, status=status)
            )
            for keys in self.keys.all
        )


class ReplayCache:
    """Nonces seen, each kept until its timestamp can no longer pass the skew check."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._expiry: dict[str, float] = {}
        self._order: collections.deque[tuple[float, str]] = collections.deque()

    def __len__(self) -> int:
        return len(self._expiry)

    def add(self, nonce: str, ts: float) -> bool:
        """Record *nonce*; False if it was already recorded (a replay)."""
        now = self._clock()
        while self._order and self._order[0][0] < now:
            expired, old = self._order.popleft()
            if self._expiry.get(old) == expired:
                del self._expiry[old]
        if nonce in self._expiry:
            return False
        expires = max(ts, now) + MAX_SKEW_SECONDS
        self._expiry[nonce] = expires
        # Expiries arrive nearly in order (ts within +-30 s); out-of-order ones only stay longer.
        self._order.append((expires, nonce))
        return True


class HopVerifier:
    """Checks hops arriving at this node's internal listener, and signs the replies."""

    def __init__(
        self, keys: ClusterKeys, node_id: str, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.keys = keys
        self.node_id = node_id
        self._clock = clock
        self._seen = ReplayCache(clock)

    def verify(
        self, headers: Mapping[str, str], *, method: str, path: str, session_id: str, body: bytes
    ) -> Hop:
        """The verified hop, or :class:`HopError` with the reason (answer 401)."""
        fields = _parse(headers.get(HOP_HEADER, ""))
        try:
            sender, target, ts_text = fields["from"], fields["to"], fields["ts"]
            nonce, mac = fields["nonce"], fields["mac"]
            principal_text = headers[PRINCIPAL_HEADER]
            principal_raw = base64.urlsafe_b64decode(
                principal_text + "=" * (-len(principal_text) % 4)
            )
            principal_data = json.loads(principal_raw)
            ts = int(ts_text)
        except (KeyError, ValueError, binascii.Error):
            raise HopError(HopRejection.malformed) from None
        principal = principal_data.get("key") if isinstance(principal_data, dict) else None
        if not isinstance(principal, str | None):
            raise HopError(HopRejection.malformed)
        principal_json = _principal_json(principal)
        signed = any(
            hmac.compare_digest(
                mac,
                _request_mac(
                    keys.hop,
                    sender=sender,
                    target=target,
                    method=method,
                    path=path,
                    ts=ts_text,
                    nonce=nonce,
                    session_id=session_id,
                    principal_json=principal_json,
                    body=body,
                ),
            )
            for keys in self.keys.all
        )
        if not signed:
            raise HopError(HopRejection.mac)
        if target != self.node_id:
            raise HopError(HopRejection.target)
        if abs(self._clock() - ts) > MAX_SKEW_SECONDS:
            raise HopError(HopRejection.skew)
        if not self._seen.add(nonce, ts):
            raise HopError(HopRejection.replay)
        return Hop(sender=sender, nonce=nonce, principal=principal)

    def reply_headers(self, hop: Hop, status: int) -> dict[str, str]:
        """The header proving this reply comes from us, for *hop*'s sender."""
        mac = _reply_mac(
            self.keys.current.hop,
            sender=self.node_id,
            target=hop.sender,
            nonce=hop.nonce,
            status=status,
        )
        return {REPLY_HEADER: f"{VERSION};from={self.node_id};mac={mac}", NODE_HEADER: self.node_id}
