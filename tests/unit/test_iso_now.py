"""``iso_now()`` reuses the formatted second: its output must stay ``Date.toISOString()``'s."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

import pytest

from tornadohub.clock import iso_now


def format_iso(moment: datetime) -> str:
    """The reference: one moment formatted from scratch."""
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

#: In order, as calls would see them: within a second, across seconds, minutes, a day, a
#: year, and a clock set back (the reused second must not stick).
MOMENTS = [
    datetime(2026, 11, 25, 12, 22, 53, 951_999, tzinfo=UTC),
    datetime(2026, 11, 25, 12, 22, 53, 952_000, tzinfo=UTC),
    datetime(2026, 11, 25, 12, 22, 53, 999_999, tzinfo=UTC),
    datetime(2026, 11, 25, 12, 22, 54, 0, tzinfo=UTC),
    datetime(2026, 11, 25, 12, 22, 54, 7_500, tzinfo=UTC),
    datetime(2026, 11, 25, 12, 23, 0, 1_000, tzinfo=UTC),
    datetime(2026, 12, 31, 23, 59, 59, 999_000, tzinfo=UTC),
    datetime(2027, 1, 1, 0, 0, 0, 0, tzinfo=UTC),
    datetime(2026, 11, 25, 12, 22, 53, 951_999, tzinfo=UTC),
]


def test_iso_now_matches_format_iso_at_every_step(monkeypatch: pytest.MonkeyPatch) -> None:
    for moment in MOMENTS:
        nanos = (moment - EPOCH) // timedelta(microseconds=1) * 1000 + 999
        monkeypatch.setattr(time, "time_ns", lambda nanos=nanos: nanos)
        assert iso_now() == format_iso(moment), moment
    assert iso_now() == "2026-11-25T12:22:53.951Z"


def test_iso_now_is_now() -> None:
    before = format_iso(datetime.now(UTC))
    now = iso_now()
    after = format_iso(datetime.now(UTC))
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", now)
    assert before <= now <= after
