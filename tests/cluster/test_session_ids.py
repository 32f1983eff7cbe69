"""Sealed session ids: routable prefix, tamper-proof, principal-bound, rotation, size cap."""

from __future__ import annotations

import base64

import pytest

from tornadohub.cluster.secret import ClusterKeys
from tornadohub.cluster.session_ids import (
    EMBEDDED_NODE,
    MAX_ID_CHARS,
    ClientCapability,
    Rejection,
    SessionIdError,
    SessionIds,
    UpstreamSession,
    capabilities_from_bits,
    capability_bits,
    node_of,
)

KEYS = ClusterKeys.from_secrets(b"k" * 32, "test")
CAPS = {"roots": {"listChanged": True}, "sampling": {}, "elicitation": {"form": {}, "url": {}}}


def mint(ids: SessionIds, principal: str | None = "alice", **kwargs: object) -> str:
    return ids.mint(
        principal=principal,
        protocol_version="2025-11-25",
        capabilities=CAPS,
        client_name="claude-code",
        client_version="2.1",
        **kwargs,  # type: ignore[arg-type]
    )


def rejection(ids: SessionIds, session_id: str, principal: str | None = "alice") -> Rejection:
    with pytest.raises(SessionIdError) as caught:
        ids.open(session_id, principal=principal)
    return caught.value.reason


def test_round_trip_keeps_what_adoption_needs() -> None:
    ids = SessionIds(KEYS, "h1", epoch="boot1")
    upstreams = [UpstreamSession("github", "abc-123"), UpstreamSession("jira", "s" * 40)]
    session_id = mint(ids, upstream_sessions=upstreams, now=1_800_000_000)
    assert session_id.startswith("h1.1") and node_of(session_id) == "h1"
    assert all(0x21 <= ord(ch) <= 0x7E for ch in session_id)  # the spec's visible ASCII
    state = ids.open(session_id, principal="alice")
    assert (state.node, state.epoch, state.created) == ("h1", "boot1", 1_800_000_000)
    assert (state.protocol_version, state.client_name, state.client_version) == (
        "2025-11-25",
        "claude-code",
        "2.1",
    )
    assert state.upstream_sessions == tuple(upstreams) and state.portable
    assert capabilities_from_bits(state.capabilities) == CAPS


def test_every_node_of_the_cluster_opens_it_but_ids_differ_each_time() -> None:
    h1, h2 = SessionIds(KEYS, "h1"), SessionIds(KEYS, "h2")
    session_id = mint(h1)
    assert h2.open(session_id, principal="alice").node == "h1"
    assert mint(h1) != session_id


def test_tampering_anywhere_is_rejected() -> None:
    ids = SessionIds(KEYS, "h1")
    session_id = mint(ids)
    body_start = session_id.index(".", 3) + 1
    for position in (body_start, body_start + 20, len(session_id) - 1):
        flipped = "A" if session_id[position] != "A" else "B"
        forged = session_id[:position] + flipped + session_id[position + 1 :]
        assert rejection(ids, forged) is Rejection.tampered
    assert rejection(ids, session_id + "!") is Rejection.tampered  # no lenient decoding
    assert rejection(ids, session_id[:-1]) is Rejection.tampered


def test_relabelling_the_node_prefix_is_rejected() -> None:
    """The prefix is the AEAD's associated data: routing text cannot be changed."""
    ids = SessionIds(KEYS, "h2")
    session_id = mint(ids)
    relabelled = "h1" + session_id[2:]
    assert node_of(relabelled) == "h1"
    assert rejection(ids, relabelled) is Rejection.tampered


def test_another_principal_gets_the_same_answer_as_a_forger() -> None:
    ids = SessionIds(KEYS, "h1")
    assert rejection(ids, mint(ids, "alice"), principal="mallory") is Rejection.principal
    assert rejection(ids, mint(ids, None), principal="alice") is Rejection.principal
    assert rejection(ids, mint(ids, "alice"), principal=None) is Rejection.principal
    assert ids.open(mint(ids, None), principal=None).principal  # anonymous is a principal too


@pytest.mark.parametrize(
    "session_id",
    ["", "random-uuid-1234", "h1.", "h1.1abcd", "H1.1abcd.xyz", "h1.2abcd.AAAA", "x" * 5000],
)
def test_foreign_or_malformed_ids_are_unknown(session_id: str) -> None:
    assert rejection(SessionIds(KEYS, "h1"), session_id) is Rejection.unknown


def test_another_clusters_secret_is_unknown() -> None:
    other = SessionIds(ClusterKeys.from_secrets(b"o" * 32, "test"), "h1")
    assert rejection(SessionIds(KEYS, "h1"), mint(other)) is Rejection.unknown
    same_secret_other_cluster = SessionIds(ClusterKeys.from_secrets(b"k" * 32, "prod"), "h1")
    assert rejection(SessionIds(KEYS, "h1"), mint(same_secret_other_cluster)) is Rejection.unknown


def test_rotation_previous_secret_still_opens() -> None:
    old = SessionIds(KEYS, "h1")
    rotated = SessionIds(ClusterKeys.from_secrets(b"n" * 32, "test", b"k" * 32), "h1")
    old_id = mint(old)
    assert rotated.open(old_id, principal="alice").node == "h1"
    new_id = mint(rotated)
    assert rotated.open(new_id, principal="alice")
    assert rejection(old, new_id) is Rejection.unknown  # the old key never knew the new one


def test_too_many_upstream_sessions_make_a_non_portable_id_within_the_cap() -> None:
    ids = SessionIds(KEYS, "h1")
    upstreams = [UpstreamSession(f"server{i}", "x" * 100) for i in range(20)]
    session_id = mint(ids, upstream_sessions=upstreams)
    assert len(session_id) <= MAX_ID_CHARS
    state = ids.open(session_id, principal="alice")
    assert state.upstream_sessions == () and not state.portable


def test_embedded_mode_uses_the_same_format_with_a_process_key() -> None:
    ids = SessionIds(ClusterKeys.ephemeral())
    session_id = mint(ids)
    assert node_of(session_id) == EMBEDDED_NODE
    assert ids.open(session_id, principal="alice").node == EMBEDDED_NODE
    restarted = SessionIds(ClusterKeys.ephemeral())
    assert rejection(restarted, session_id) is Rejection.unknown


def test_capability_bits() -> None:
    assert capability_bits(None) == ClientCapability(0)
    assert capability_bits({"elicitation": {}}) == ClientCapability.elicitation_form
    bits = capability_bits({"roots": {}, "sampling": {"tools": {}}, "tasks": {}})
    assert capabilities_from_bits(bits) == {"roots": {}, "sampling": {"tools": {}}, "tasks": {}}


def test_the_sealed_state_is_not_readable() -> None:
    session_id = mint(SessionIds(KEYS, "h1"), upstream_sessions=[UpstreamSession("gh", "SECRET")])
    body = session_id.split(".", 2)[2]
    plain = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    assert b"SECRET" not in plain and b"claude" not in plain
