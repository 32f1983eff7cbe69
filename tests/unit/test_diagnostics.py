"""Redaction, stderr tails and the junk-line limiter (tornadohub/upstreams/diagnostics.py)."""

from __future__ import annotations

from tornadohub.upstreams.diagnostics import (
    NoiseLimiter,
    OutputTail,
    Redactor,
    redact_urls,
    url_secrets,
)


def test_urls_lose_userinfo_and_query_values() -> None:
    text = "GET https://bob:hunter22@api.example.com/v1/mcp?token=abc123&debug failed"
    assert redact_urls(text) == "GET https://***@api.example.com/v1/mcp?token=***&*** failed"
    assert redact_urls("no url here: a=b?c") == "no url here: a=b?c"
    assert redact_urls("'http://h:1/p'") == "'http://h:1/p'"


def test_url_secrets_are_what_a_server_may_echo_alone() -> None:
    secrets = url_secrets("http://bob:hunter22@h/p?token=abc123&x=1")
    assert set(secrets) == {"bob", "hunter22", "abc123", "1"}
    assert url_secrets(None) == []


def test_the_redactor_hides_secrets_their_repr_and_long_words() -> None:
    redact = Redactor(["Bearer sk-live-0123456789\n", "ab"])
    assert redact("Invalid header value b'Bearer sk-live-0123456789\\n'") == (
        "Invalid header value b'***'"
    )
    assert redact("token sk-live-0123456789 leaked") == "token *** leaked"
    assert redact("ab stays: too short to hide") == "ab stays: too short to hide"


def test_the_tail_keeps_the_last_lines_each_bounded() -> None:
    tail = OutputTail(lines=3, width=10)
    for line in ["one", "", "two", "three", "a line much longer than ten"]:
        tail.add(line)
    assert tail.text() == "two | three | a line muc…"
    tail.clear()
    assert tail.text() == ""


def test_the_limiter_admits_a_burst_and_counts_the_rest() -> None:
    limiter = NoiseLimiter(burst=2, window=3600)
    outcomes = [limiter.admit() for _ in range(5)]
    assert outcomes == [(True, 0), (True, 0), (False, 0), (False, 0), (False, 0)]
    assert limiter.flush() == 3
    assert limiter.flush() == 0


def test_a_new_window_reports_what_the_last_one_suppressed() -> None:
    limiter = NoiseLimiter(burst=1, window=0.0)  # every line opens a new window
    assert limiter.admit() == (True, 0)
    limiter._suppressed = 4  # as if four lines had been dropped in that window
    assert limiter.admit() == (True, 4)
