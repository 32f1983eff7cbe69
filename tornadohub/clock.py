"""Time as the hub writes it: JavaScript's ``Date.toISOString()`` shape, in one place.

mcp-hub's clients compare these strings with mcp-hub's, so the exact shape matters: UTC,
milliseconds, ``Z``. Every REST response, event and log line carries one. A leaf module:
it imports nothing from the package, so the event bus and the logger need no MCP SDK.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

#: The current second and its formatted ``YYYY-MM-DDTHH:MM:SS.``, reused by :func:`iso_now`.
_iso_second: tuple[int, str] = (-1, "")


def iso_now() -> str:
    """Now, as :func:`iso_timestamp` formats it.

    Every REST response carries one, so the date and time are formatted once per second
    and only the milliseconds per call.
    """
    global _iso_second
    seconds, millis = divmod(time.time_ns() // 1_000_000, 1000)
    cached = _iso_second
    if cached[0] != seconds:
        prefix = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.")
        cached = _iso_second = (seconds, prefix)
    return f"{cached[1]}{millis:03d}Z"


def iso_timestamp(moment: datetime | None = None) -> str:
    """*moment* (default: now) like ``Date.toISOString()``; naive datetimes are taken as UTC."""
    if moment is None:
        return iso_now()
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    else:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def iso_from_epoch(seconds: float) -> str:
    """A Unix time (``record.created``, a process start time) as :func:`iso_timestamp`."""
    return iso_timestamp(datetime.fromtimestamp(seconds, UTC))
