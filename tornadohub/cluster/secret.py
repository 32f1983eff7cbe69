"""The cluster secret and the keys derived from it.

One operator secret (at least 32 bytes) yields three independent 256-bit keys with
HKDF-SHA256: ``sid`` seals session ids (AES-GCM), ``hop`` signs internal forwarding
(HMAC-SHA256), ``token`` seals OAuth tokens kept in Redis (AES-GCM). The cluster name
is the HKDF salt, so two clusters that share a secret by mistake still cannot read
each other's ids. Keys are derived once at start-up: a KDF per request would cost
more than the AEAD itself (9 µs per open, measured).

Rotation: the previous secret stays accepted for *opening* (session ids, hop
signatures, tokens) while every new seal uses the current one. Each key set has a
short key id (``kid``) computed from its sid key, carried in the clear in session ids
so the right key is tried first.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

#: Shortest secret accepted (the design's rule: 256 bits of operator-chosen material).
MIN_SECRET_BYTES = 32
KEY_BYTES = 32
KID_CHARS = 4


def _derive(secret: bytes, salt: bytes, purpose: str) -> bytes:
    info = f"tornadohub {purpose} v1".encode()
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=salt, info=info).derive(secret)


@dataclass(frozen=True)
class KeySet:
    """The keys of one secret; never printed (``repr`` shows the kid only)."""

    kid: str
    sid: bytes = field(repr=False)
    hop: bytes = field(repr=False)
    token: bytes = field(repr=False)

    @classmethod
    def derive(cls, secret: bytes, cluster: str) -> KeySet:
        salt = f"tornadohub cluster {cluster}".encode()
        sid = _derive(secret, salt, "sid")
        digest = hashlib.sha256(b"tornadohub kid v1" + sid).digest()
        kid = base64.urlsafe_b64encode(digest[:3]).decode()  # 3 bytes -> 4 chars, no padding
        return cls(
            kid=kid,
            sid=sid,
            hop=_derive(secret, salt, "hop"),
            token=_derive(secret, salt, "tok"),
        )


@dataclass(frozen=True)
class ClusterKeys:
    """The current key set (seals, signs) and the previous one (still opens, verifies)."""

    current: KeySet
    previous: KeySet | None = None

    @classmethod
    def from_secrets(
        cls, secret: bytes, cluster: str, previous: bytes | None = None
    ) -> ClusterKeys:
        """Derive both key sets; a secret shorter than :data:`MIN_SECRET_BYTES` is refused."""
        for name, value in (("cluster secret", secret), ("previous cluster secret", previous)):
            if value is not None and len(value) < MIN_SECRET_BYTES:
                raise ValueError(f"the {name} must be at least {MIN_SECRET_BYTES} bytes")
        return cls(
            current=KeySet.derive(secret, cluster),
            previous=None if previous is None else KeySet.derive(previous, cluster),
        )

    @classmethod
    def ephemeral(cls, cluster: str = "local") -> ClusterKeys:
        """Keys from a random secret that lives as long as the process (embedded mode)."""
        return cls.from_secrets(secrets.token_bytes(KEY_BYTES), cluster)

    @property
    def all(self) -> tuple[KeySet, ...]:
        """Every accepted key set, the current one first."""
        return (self.current,) if self.previous is None else (self.current, self.previous)

    def by_kid(self, kid: str) -> KeySet | None:
        return next((keys for keys in self.all if keys.kid == kid), None)
