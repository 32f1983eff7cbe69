"""What a server says about itself, made fit for errors, logs and events.

* :func:`redact_urls` strips the credentials a URL may carry (``user:password@`` and
  query values) from any message: config URLs are literal, so no placeholder
  redaction catches them.
* :class:`Redactor` hides a server's secrets (resolved placeholders, literal header
  values) and its URLs' credentials in one call.
* :class:`OutputTail` keeps the last few lines a server wrote to stderr, bounded in
  number and length, for the error that says why it died.
* :class:`NoiseLimiter` lets a few junk lines per window reach the log and counts
  the rest, so a server flooding stdout costs one summary line, not one per line.
"""

from __future__ import annotations

import collections
import re
import time
import urllib.parse
from collections.abc import Iterable

#: A URL: scheme, optional ``userinfo@``, host and path, optional query.
_URL = re.compile(
    r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)"
    r"(?P<userinfo>[^\s/?#@'\"<>]*@)?"
    r"(?P<rest>[^\s?#'\"<>]*)"
    r"(?P<query>\?[^\s#'\"<>]*)?"
)

#: Shorter values would hide ordinary words.
MIN_SECRET_LEN = 4


def _strip_url(match: re.Match[str]) -> str:
    url = match["scheme"] + ("***@" if match["userinfo"] else "") + match["rest"]
    query = match["query"]
    if query:
        parts = (p.split("=", 1)[0] + "=***" if "=" in p else "***" for p in query[1:].split("&"))
        url += "?" + "&".join(parts)
    return url


def redact_urls(text: str) -> str:
    """*text* with every URL's userinfo and query values replaced by ``***``."""
    if "://" not in text:
        return text
    return _URL.sub(_strip_url, text)


def url_secrets(url: str | None) -> list[str]:
    """The credentials a URL carries (user, password, query values), for a :class:`Redactor`:
    a server may echo them without the rest of the URL."""
    if not url:
        return []
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return []
    found = [parts.username or "", parts.password or ""]
    found += [value for _, value in urllib.parse.parse_qsl(parts.query)]
    return [secret for secret in found if secret]


class Redactor:
    """Hides a set of secret strings (longest first) and URL credentials in messages."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        found: set[str] = set()
        for secret in secrets:
            for variant in (secret, secret.strip(), repr(secret)[1:-1]):
                if len(variant) >= MIN_SECRET_LEN:
                    found.add(variant)
            found.update(word for word in secret.split() if len(word) >= 8)
        self._secrets = sorted(found, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, "***")
        return redact_urls(text)


class OutputTail:
    """The last lines a server wrote (stderr), each and all of them bounded."""

    def __init__(self, lines: int = 5, width: int = 200) -> None:
        self._lines: collections.deque[str] = collections.deque(maxlen=lines)
        self._width = width

    def add(self, line: str) -> None:
        line = line.rstrip()
        if line:
            cut = len(line) > self._width
            self._lines.append(line[: self._width] + ("…" if cut else ""))

    def clear(self) -> None:
        self._lines.clear()

    def text(self) -> str:
        """The lines joined by `` | ``, or "" when the server wrote nothing."""
        return " | ".join(self._lines)


class NoiseLimiter:
    """Admit *burst* lines per *window* seconds; count the others for a summary."""

    def __init__(self, burst: int = 5, window: float = 10.0) -> None:
        self.burst = burst
        self.window = window
        self._started = float("-inf")
        self._admitted = 0
        self._suppressed = 0

    def admit(self) -> tuple[bool, int]:
        """Whether to log this line, and how many lines the window just ended suppressed."""
        now = time.monotonic()
        ended = 0
        if now - self._started >= self.window:
            ended, self._suppressed = self._suppressed, 0
            self._started, self._admitted = now, 0
        if self._admitted < self.burst:
            self._admitted += 1
            return True, ended
        self._suppressed += 1
        return False, ended

    def seconds_left(self) -> float:
        """Until the current window ends (when its count is due)."""
        return max(0.0, self._started + self.window - time.monotonic())

    def flush(self) -> int:
        """Lines suppressed and not yet reported (the output ended)."""
        suppressed, self._suppressed = self._suppressed, 0
        return suppressed
