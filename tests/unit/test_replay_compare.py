"""The golden replays' comparison (:mod:`tests.replay`) sees what it must and only that."""

from __future__ import annotations

from typing import Any

from tests.replay import differences


def diff(golden: Any, ours: Any, **kwargs: Any) -> list[str]:
    return list(differences(golden, ours, **kwargs))


def test_key_sets_order_and_types() -> None:
    golden = {"error": "x", "code": "E", "data": {}, "timestamp": "2026-11-25T12:22:55.728Z"}
    assert diff(golden, dict(golden)) == []
    assert diff(golden, {"code": "E", "error": "x", "data": {}, "timestamp": golden["timestamp"]})
    assert diff(golden, {**golden, "extra": 1}) == ["$: extra keys ['extra']"]
    assert diff(golden, {k: v for k, v in golden.items() if k != "data"}) == [
        "$: missing keys ['data']"
    ]
    assert diff({"code": -32602}, {"code": "-32602"})
    assert diff({"n": 42}, {"n": 42.0}) == ["$.n: number 42.0 where mcp-hub has integer 42"]


def test_volatile_values_by_kind_only() -> None:
    golden = {"timestamp": "2026-11-25T12:22:55.728Z", "uptime": 7, "lastStarted": None}
    later = {"timestamp": "2026-12-05T01:02:03.004Z", "uptime": 0, "lastStarted": None}
    assert diff(golden, later) == []
    assert diff(golden, {**later, "timestamp": "2026-12-05T01:02:03Z"})  # not toISOString()
    assert diff(golden, {**later, "lastStarted": "2026-12-05T01:02:03.004Z"}) == [
        "$.lastStarted: iso-time where mcp-hub has null"
    ]


def test_ports_read_as_equal_in_keys_and_text() -> None:
    golden = {"37373": {"message": "Use http://localhost:37373/mcp"}}
    ours = {"41000": {"message": "Use http://localhost:41000/mcp"}}
    assert diff(golden, ours, ports=("37373", "41000")) == []
    assert diff(golden, ours, ports=("37373", "41001"))
