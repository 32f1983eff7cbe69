"""The edge policy's decisions, header by header (no sockets: tornadohub.policy is pure)."""

from __future__ import annotations

import pytest

from tornadohub.keys import is_loopback_host
from tornadohub.policy import (
    MAX_BODY_BYTES,
    MAX_JSON_DEPTH,
    Check,
    JsonBodyError,
    PolicyConfigError,
    parse_json,
    policy_from,
)

LOOPBACK = policy_from("127.0.0.1")
ANY = policy_from("0.0.0.0")
PROXIED = policy_from("127.0.0.1", ["hub.example.com", "*.corp.example"], ["http://localhost:6274"])


def status(policy: object, method: str = "GET", **headers: str) -> int | None:
    refusal = policy.refusal(method, {k.replace("_", "-"): v for k, v in headers.items()})  # type: ignore[attr-defined]
    return None if refusal is None else refusal.status


@pytest.mark.parametrize(
    "host",
    [
        "localhost:37373",
        "LOCALHOST",
        "localhost.:1",
        "app.localhost:8080",
        "127.0.0.1:37373",
        "127.1:37373",
        "127.0.0.2",
        "2130706433",
        "0x7f.1",
        "[::1]:37373",
        "[::ffff:127.0.0.1]:1",
    ],
)
def test_loopback_hosts_in_every_spelling(host: str) -> None:
    assert status(LOOPBACK, Host=host) is None


@pytest.mark.parametrize(
    "host",
    [
        "evil.example:37373",
        "localhost.evil.example",
        "127.0.0.1.evil.example",
        "10.0.0.5:37373",
        "[::2]",
        "host:port",
        "[::1",
        "a b",
        "",
    ],
)
def test_other_hosts_are_misdirected(host: str) -> None:
    assert status(LOOPBACK, Host=host) == 421


def test_any_interface_accepts_ip_literals_but_never_a_name() -> None:
    assert status(ANY, Host="192.0.2.7:37373") is None
    assert status(ANY, Host="[2001:db8::1]:37373") is None
    assert status(ANY, Host="attacker.example:37373") == 421  # DNS rebinding carries a name


def test_allowed_hosts_and_subdomain_wildcards() -> None:
    assert status(PROXIED, Host="hub.example.com") is None
    assert status(PROXIED, Host="a.corp.example:443") is None
    assert status(PROXIED, Host="corp.example") == 421
    assert status(PROXIED, Host="hub.example.com.evil") == 421


@pytest.mark.parametrize(
    ("origin", "expected"),
    [
        ("http://localhost:37373", None),
        ("http://127.0.0.1:37373", None),  # the hub's own page, under another loopback name
        ("http://localhost:3000", 403),  # a local web app on another port is another origin
        ("http://evil.example", 403),
        ("http://evil.example:37373", 403),
        ("null", 403),
        ("file://", 403),
        ("http://localhost:37373/path", 403),
    ],
)
def test_origin_must_be_the_hubs_own(origin: str, expected: int | None) -> None:
    assert status(LOOPBACK, Host="localhost:37373", Origin=origin) == expected


def test_origins_behind_a_proxy_and_configured_ones() -> None:
    assert status(PROXIED, Host="hub.example.com", Origin="https://hub.example.com") is None
    assert status(PROXIED, Host="hub.example.com", Origin="https://evil.example") == 403
    assert status(PROXIED, Host="127.0.0.1:37373", Origin="http://localhost:6274") is None


def test_any_interface_origin_must_be_the_requested_address() -> None:
    # Bound to every interface any IP literal is a Host, but a page elsewhere is not the hub.
    assert status(ANY, Host="192.0.2.7:37373", Origin="http://192.0.2.7:37373") is None
    assert status(ANY, Host="192.0.2.7:37373", Origin="http://198.51.100.9:37373") == 403


def test_fetch_metadata_without_origin() -> None:
    for site in ("cross-site", "same-site"):
        assert status(LOOPBACK, Host="127.0.0.1:1", Sec_Fetch_Site=site) == 403
    for site in ("same-origin", "none"):
        assert status(LOOPBACK, Host="127.0.0.1:1", Sec_Fetch_Site=site) is None
    exempt = LOOPBACK.refusal(
        "GET",
        {"Sec-Fetch-Site": "cross-site", "Host": "localhost:1"},
        exempt=frozenset({Check.site}),
    )
    assert exempt is None


@pytest.mark.parametrize(
    ("method", "content_type", "length", "expected"),
    [
        ("POST", "application/json", "10", None),
        ("POST", "application/json; charset=utf-8", "10", None),
        ("POST", "application/vnd.api+json", "10", None),
        ("POST", "text/plain;x=json", "10", 415),
        ("POST", "application/x-www-form-urlencoded; charset=json", "10", 415),
        ("POST", "multipart/form-data; boundary=json", "0", 415),
        ("POST", None, "10", 415),
        ("POST", None, "0", None),
        ("POST", "application/json", str(MAX_BODY_BYTES + 1), 413),
        ("POST", "application/json", "9" * 5000, 413),
        ("GET", "text/plain", None, None),
    ],
)
def test_bodies(
    method: str, content_type: str | None, length: str | None, expected: int | None
) -> None:
    headers = {"Host": "127.0.0.1:1"}
    if content_type is not None:
        headers["Content-Type"] = content_type
    if length is not None:
        headers["Content-Length"] = length
    refusal = LOOPBACK.refusal(method, headers)
    assert (None if refusal is None else refusal.status) == expected


def test_headers_too_large() -> None:
    refusal = LOOPBACK.refusal("GET", {"Host": "127.0.0.1"}, header_bytes=70_000)
    assert refusal is not None and refusal.status == 431


def test_cors_only_for_configured_origins() -> None:
    headers = {"Host": "127.0.0.1:1", "Origin": "http://localhost:6274"}
    assert PROXIED.cors_headers(headers)["Access-Control-Allow-Origin"] == "http://localhost:6274"
    assert LOOPBACK.cors_headers(headers) == {}
    assert LOOPBACK.cors_headers({"Origin": "http://127.0.0.1:1"}) == {}  # same origin: none
    preflight = PROXIED.preflight_headers(
        {**headers, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "x"}
    )
    assert preflight is not None and "POST" in preflight["Access-Control-Allow-Methods"]


@pytest.mark.parametrize(
    ("hosts", "origins"),
    [(["http://hub.example.com"], []), (["hub:443"], []), (["*"], []), ([], ["*"]), ([], ["x"])],
)
def test_bad_configuration_is_refused(hosts: list[str], origins: list[str]) -> None:
    with pytest.raises(PolicyConfigError):
        policy_from("127.0.0.1", hosts, origins)


@pytest.mark.parametrize(
    "body",
    [
        b'{"timeout": NaN}',
        b'{"timeout": Infinity}',
        b'{"timeout": -Infinity}',
        b'{"timeout": 1e400}',
        b"[" * 100_000 + b"]" * 100_000,
        b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1),
        b"1" * 5000,
        b'{"a": ',
        b'{"a": "\\ud800"}',
        b'["x\\uDC00"]',
        b'{"\\udbff": 1}',
        b'"\\udc00\\ud800"',
    ],
)
def test_strict_json(body: bytes) -> None:
    with pytest.raises(JsonBodyError):
        parse_json(body)


def test_json_within_limits() -> None:
    deep = b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH
    assert parse_json(deep) is not None
    assert parse_json(b'{"timeout": 1' + b"0" * 400 + b"}")["timeout"] > 0
    assert parse_json(b'"\\ud834\\udd1e \\\\ud800"') == "\U0001d11e \\ud800"  # a pair; no escape


@pytest.mark.parametrize(("host", "loopback"), [("127.1", True), ("::1", True), ("0.0.0.0", False)])
def test_loopback_listen_address(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback
