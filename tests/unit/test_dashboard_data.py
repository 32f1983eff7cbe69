"""The data behind the dashboard's routes: which server a log line is about, the bounded
ring buffers of recent lines, and quantiles estimated from Prometheus histograms."""

from __future__ import annotations

import math
from typing import Any

import pytest

from tornadohub import metrics
from tornadohub.events import LOG, EventBus
from tornadohub.recent_logs import RecentLogs, at_least, line_server

NAMES = {"fs", "git hub", "web"}


def entry(message: str, kind: str = "info", **data: Any) -> dict[str, Any]:
    return {"type": kind, "message": message, "data": data, "timestamp": "2026-01-01T00:00:00.000Z"}


@pytest.mark.parametrize(
    ("line", "server"),
    [
        (entry("fs stderr: hello", server="fs"), "fs"),
        (entry("something", server="web"), "web"),
        (entry("fs connected"), "fs"),
        (entry("fs: session lost, re-sending tools/call"), "fs"),
        (entry("fs"), "fs"),
        (entry('["web" server info log]: hi'), "web"),
        (entry("git hub disconnected: gone"), "git hub"),
        (entry("git hub: x"), "git hub"),
        (entry("fsck is not a server"), None),
        (entry("3/3 servers started successfully"), None),
        (entry('["nope" server info log]: hi'), None),
        (entry("web stderr", server="other"), "web"),
        (entry("x", server=5), None),
        ({"type": "info", "message": None, "data": None}, None),
    ],
)
def test_a_line_belongs_to_the_server_it_names(line: dict[str, Any], server: str | None) -> None:
    assert line_server(line, NAMES) == server


def test_levels_filter_this_one_and_above() -> None:
    assert at_least(entry("x", "warn"), "info")
    assert at_least(entry("x", "error"), "warn")
    assert not at_least(entry("x", "info"), "warn")
    assert at_least(entry("x", "debug"), None)
    assert not at_least({"type": "odd"}, "debug")


def test_the_buffers_are_bounded_and_follow_the_configured_servers() -> None:
    names = {"fs", "web"}
    logs = RecentLogs(lambda: names, hub_lines=5, server_lines=2)
    bus = EventBus()
    stop = logs.follow(bus)
    for number in range(4):
        bus.publish(LOG, entry(f"fs line {number}"))
    bus.publish(LOG, entry("web line", "warn"))
    bus.publish(LOG, entry("hub line"))
    bus.publish("hub_state", {"state": "ready"})  # not a log line
    assert [e["message"] for e in logs.lines("fs")] == ["fs line 2", "fs line 3"]
    assert [e["message"] for e in logs.lines()] == [
        "fs line 1",
        "fs line 2",
        "fs line 3",
        "web line",
        "hub line",
    ]
    assert [e["message"] for e in logs.lines(level="warn")] == ["web line"]
    assert [e["message"] for e in logs.lines(limit=2)] == ["web line", "hub line"]
    assert logs.lines("nobody") == []
    names.discard("fs")  # removed from the config: its buffer goes with the next line
    bus.publish(LOG, entry("web again"))
    assert logs.lines("fs") == []
    stop()
    bus.publish(LOG, entry("web after"))
    assert logs.lines("web")[-1]["message"] == "web again"


INF = math.inf


@pytest.mark.parametrize(
    ("q", "buckets", "expected"),
    [
        (0.5, [], None),
        (0.5, [(1.0, 0), (INF, 0)], None),
        (0.5, [(1.0, 4), (INF, 4)], 0.5),  # interpolated inside the first bucket, from 0
        (0.5, [(0.1, 1), (0.5, 3), (INF, 4)], 0.1 + 0.4 * (2 - 1) / 2),
        (0.95, [(0.1, 1), (0.5, 3), (INF, 4)], 0.5),  # in +Inf: the highest finite bound
        (1.0, [(0.1, 2), (0.5, 2), (INF, 2)], 0.1),
        (0.5, [(0.1, 0), (0.5, 2), (INF, 2)], 0.3),
    ],
)
def test_quantiles_are_estimated_as_prometheus_does(
    q: float, buckets: list[tuple[float, float]], expected: float | None
) -> None:
    got = metrics.histogram_quantile(q, buckets)
    if expected is None:
        assert got is None
    else:
        assert got == pytest.approx(expected)


def test_tool_call_stats_sum_the_outcomes_of_one_histogram() -> None:
    server = "stats-unit-test"
    for outcome, seconds in [
        ("success", 0.003),
        ("success", 0.2),
        ("timeout", 61.0),
        ("error", 0.01),
    ]:
        metrics.observe_tool_call(server, outcome, seconds)
    (stats,) = metrics.tool_call_stats([server])
    assert stats["calls"] == 4 and stats["errors"] == 2 and stats["errorRate"] == 0.5
    assert stats["outcomes"] == {"success": 2, "tool_error": 0, "error": 1, "timeout": 1}
    assert stats["seconds"] == pytest.approx(61.213)
    assert [b["le"] for b in stats["buckets"]][-3:] == ["60.0", "120.0", "+Inf"]
    assert [b["count"] for b in stats["buckets"]][:3] == [1, 2, 2]
    assert stats["p50"] == pytest.approx(0.025)  # rank 2: the top of the second bucket
    assert stats["p95"] == pytest.approx(108.0)  # rank 3.8: 80 % into the 60..120 s bucket
    (empty,) = metrics.tool_call_stats(["never-called"])
    assert empty["calls"] == 0 and empty["p50"] is None and empty["errorRate"] == 0.0
