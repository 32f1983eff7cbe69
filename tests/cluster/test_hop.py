"""The internal hop: signed requests, verified once, only by their target; signed replies."""

from __future__ import annotations

from typing import Any

import pytest

from tornadohub.cluster.hop import (
    HOP_HEADER,
    PRINCIPAL_HEADER,
    REPLY_HEADER,
    HopError,
    HopRejection,
    HopSigner,
    HopVerifier,
    ReplayCache,
)
from tornadohub.cluster.secret import ClusterKeys

KEYS = ClusterKeys.from_secrets(b"k" * 32, "test")
NOW = 1_800_000_000.0
REQUEST: dict[str, Any] = {
    "method": "POST",
    "path": "/mcp",
    "session_id": "h1.1abcd.xyz",
    "body": b'{"jsonrpc":"2.0","id":1,"method":"tools/list"}',
}


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


def signed(principal: str | None = "alice", *, target: str = "h1", **changes: Any) -> Any:
    return HopSigner(KEYS, "h2").sign(
        target=target, principal=principal, now=NOW, **{**REQUEST, **changes}
    )


def reason(verifier: HopVerifier, headers: dict[str, str], **changes: Any) -> HopRejection:
    with pytest.raises(HopError) as caught:
        verifier.verify(headers, **{**REQUEST, **changes})
    return caught.value.reason


def test_a_signed_hop_carries_the_principal_to_its_target() -> None:
    verifier = HopVerifier(KEYS, "h1", clock=Clock())
    hop = verifier.verify(signed("alice").headers, **REQUEST)
    assert (hop.sender, hop.principal) == ("h2", "alice")
    assert verifier.verify(signed(None).headers, **REQUEST).principal is None


@pytest.mark.parametrize(
    "change",
    [
        {"method": "GET"},
        {"path": "/mcp?x=1"},
        {"session_id": "h1.1abcd.other"},
        {"body": b"{}"},
    ],
)
def test_any_change_to_the_request_breaks_the_mac(change: dict[str, Any]) -> None:
    verifier = HopVerifier(KEYS, "h1", clock=Clock())
    assert reason(verifier, signed().headers, **change) is HopRejection.mac


def test_a_changed_principal_or_header_field_breaks_the_mac() -> None:
    verifier = HopVerifier(KEYS, "h1", clock=Clock())
    headers = signed("alice").headers
    forged_principal = signed("mallory").headers[PRINCIPAL_HEADER]
    assert reason(verifier, {**headers, PRINCIPAL_HEADER: forged_principal}) is HopRejection.mac
    as_h3 = headers[HOP_HEADER].replace("from=h2", "from=h3")
    assert reason(verifier, {**headers, HOP_HEADER: as_h3}) is HopRejection.mac


def test_a_wrong_secret_is_a_mac_failure() -> None:
    other = HopSigner(ClusterKeys.from_secrets(b"o" * 32, "test"), "h2")
    headers = other.sign(target="h1", principal="alice", now=NOW, **REQUEST).headers
    assert reason(HopVerifier(KEYS, "h1", clock=Clock()), headers) is HopRejection.mac


def test_replay_is_refused() -> None:
    verifier = HopVerifier(KEYS, "h1", clock=Clock())
    headers = signed().headers
    verifier.verify(headers, **REQUEST)
    assert reason(verifier, headers) is HopRejection.replay


def test_a_hop_for_another_node_is_refused_there() -> None:
    """Binding the target: a hop captured on its way to h1 is useless at h3."""
    assert reason(HopVerifier(KEYS, "h3", clock=Clock()), signed().headers) is HopRejection.target


def test_clock_skew_beyond_30_s_is_refused() -> None:
    clock = Clock()
    verifier = HopVerifier(KEYS, "h1", clock=clock)
    clock.now = NOW + 31
    assert reason(verifier, signed().headers) is HopRejection.skew
    clock.now = NOW - 31
    assert reason(verifier, signed().headers) is HopRejection.skew
    clock.now = NOW + 29
    verifier.verify(signed().headers, **REQUEST)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {HOP_HEADER: "v2;from=h2"},
        {HOP_HEADER: "v1;from=h2;to=h1"},
        {HOP_HEADER: "v1;from=h2;from=h3;to=h1;ts=1;nonce=x;mac=y", PRINCIPAL_HEADER: "e30"},
        {HOP_HEADER: "v1;" + "x" * 600},
    ],
)
def test_malformed_headers(headers: dict[str, str]) -> None:
    assert reason(HopVerifier(KEYS, "h1", clock=Clock()), headers) is HopRejection.malformed


def test_the_previous_secret_still_verifies_during_rotation() -> None:
    rotated = ClusterKeys.from_secrets(b"n" * 32, "test", b"k" * 32)
    HopVerifier(rotated, "h1", clock=Clock()).verify(signed().headers, **REQUEST)


def test_reply_is_signed_by_the_target_for_this_request_only() -> None:
    signer = HopSigner(KEYS, "h2")
    hop = signer.sign(target="h1", principal="alice", now=NOW, **REQUEST)
    verified = HopVerifier(KEYS, "h1", clock=Clock()).verify(hop.headers, **REQUEST)
    reply = HopVerifier(KEYS, "h1").reply_headers(verified, 200)
    assert signer.verify_reply(hop, reply, 200)
    assert not signer.verify_reply(hop, reply, 404)  # the status is covered
    other = signer.sign(target="h1", principal="alice", now=NOW, **REQUEST)
    assert not signer.verify_reply(other, reply, 200)  # bound to the request's nonce
    impostor = HopVerifier(KEYS, "h3").reply_headers(verified, 200)
    assert not signer.verify_reply(hop, impostor, 200)
    assert not signer.verify_reply(hop, {REPLY_HEADER: "garbage"}, 200)


def test_replay_cache_forgets_nonces_once_they_cannot_pass_the_time_check() -> None:
    clock = Clock()
    cache = ReplayCache(clock)
    assert cache.add("a", NOW) and not cache.add("a", NOW)
    clock.now = NOW + 31
    cache.add("b", clock.now)
    assert len(cache) == 1  # "a" expired: its timestamp is now refused as skew anyway
