"""Field-for-field comparison of our answers with mcp-hub 4.2.1's captured ones.

:func:`differences` walks a captured JSON value and ours side by side and names every place
where they part: a key missing, added or out of order, a value of another type, another
value. Values that legitimately differ between two runs (times, pids, ports, paths) are
compared by kind only, so that a ``null`` where mcp-hub sends a time still shows.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
ISO_INSIDE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# server-everything's dynamic resources carry the wall-clock time they were made at
CLOCK = re.compile(r"\b\d{1,2}:\d{2}:\d{2} ?(AM|PM)\b")

#: keys whose values differ from run to run: compared by type (and ISO shape) only
VOLATILE = {
    "timestamp",
    "lastStarted",
    "startTime",
    "uptime",
    "pid",
    "port",
    "connectedAt",
    "lastEventAt",
    "shutdownStartedAt",
    "cwd",
    "config_source",
    "config_files",
    "elapsed",
}

#: a normalizer sees (path, golden, ours) and returns the pair to compare instead
Normalizer = Callable[[str, Any, Any], tuple[Any, Any]]


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"  # JSON's 42, where 42.0 would be a float: JavaScript never sends one
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "iso-time" if ISO.match(value) else "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _scrub(text: str, ports: tuple[str, ...]) -> str:
    text = UUID.sub("<uuid>", ISO_INSIDE.sub("<time>", CLOCK.sub("<clock>", text)))
    for port in ports:
        text = text.replace(port, "<port>")
    return text


def differences(
    golden: Any,
    ours: Any,
    path: str = "$",
    *,
    ports: tuple[str, ...] = (),
    normalize: Normalizer | None = None,
) -> Iterator[str]:
    """Every difference between *golden* and *ours*, one line each, with its JSON path.

    *ports* are the two runs' port numbers (mcp-hub's and ours), read as equal wherever
    they appear, keys included; *normalize* may replace a pair before it is compared.
    """
    if normalize is not None:
        golden, ours = normalize(path, golden, ours)
    key = path.rsplit(".", 1)[-1]
    if key in VOLATILE:
        if _kind(golden) != _kind(ours):
            yield f"{path}: {_kind(ours)} where mcp-hub has {_kind(golden)}"
        return
    if _kind(golden) != _kind(ours):
        theirs = f"{_kind(golden)} {_short(golden)}"
        yield f"{path}: {_kind(ours)} {_short(ours)} where mcp-hub has {theirs}"
        return
    if isinstance(golden, dict):
        gkeys = [_scrub(k, ports) for k in golden]
        okeys = [_scrub(k, ports) for k in ours]
        missing = [k for k in gkeys if k not in okeys]
        extra = [k for k in okeys if k not in gkeys]
        if missing:
            yield f"{path}: missing keys {missing}"
        if extra:
            yield f"{path}: extra keys {extra}"
        common_g = [k for k in gkeys if k in okeys]
        common_o = [k for k in okeys if k in gkeys]
        if common_g != common_o:
            yield f"{path}: key order {common_o} where mcp-hub has {common_g}"
        by_scrubbed = {_scrub(k, ports): k for k in ours}
        for gkey, scrubbed in zip(golden, gkeys, strict=True):
            if scrubbed in by_scrubbed:
                yield from differences(
                    golden[gkey],
                    ours[by_scrubbed[scrubbed]],
                    f"{path}.{scrubbed}",
                    ports=ports,
                    normalize=normalize,
                )
    elif isinstance(golden, list):
        if len(golden) != len(ours):
            yield f"{path}: {len(ours)} items where mcp-hub has {len(golden)}"
        for index, (g, o) in enumerate(zip(golden, ours, strict=False)):
            yield from differences(g, o, f"{path}[{index}]", ports=ports, normalize=normalize)
    elif isinstance(golden, str):
        if _scrub(golden, ports) != _scrub(ours, ports):
            yield f"{path}: {_short(ours)} where mcp-hub has {_short(golden)}"
    elif golden != ours:
        yield f"{path}: {_short(ours)} where mcp-hub has {_short(golden)}"


def _short(value: Any, limit: int = 160) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True)
class Deliberate:
    """Differences of one case we keep on purpose: a pattern over the difference lines."""

    case: str
    pattern: str
    reason: str


def unexplained(
    found: Iterable[tuple[str, str]], deliberate: Sequence[Deliberate]
) -> tuple[list[str], list[Deliberate]]:
    """The (case, difference line) pairs no :class:`Deliberate` entry explains, as
    ``"case: line"``, and the entries that explained none (stale allowlist)."""
    unexpected: list[str] = []
    used: set[int] = set()
    for case, line in found:
        matches = [
            index
            for index, entry in enumerate(deliberate)
            if entry.case == case and re.search(entry.pattern, line)
        ]
        used.update(matches)
        if not matches:
            unexpected.append(f"{case}: {line}")
    return unexpected, [entry for index, entry in enumerate(deliberate) if index not in used]
