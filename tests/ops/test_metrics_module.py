"""Unit tests of tornadohub.metrics: outcome classification and the functions other code calls."""

from __future__ import annotations

import re
from typing import Any

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from tornadohub import metrics
from tornadohub.errors import UpstreamError
from tornadohub.hub import Hub
from tornadohub.options import HubOptions


def value(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


def test_every_metric_is_ours_and_well_named() -> None:
    families = text_string_to_metric_families(generate_latest(metrics.REGISTRY).decode())
    names = [family.name for family in families]
    ours = [name for name in names if name.startswith("mcphub_")]
    assert len(ours) == 11
    assert all(re.fullmatch(r"mcphub(_[a-z]+)+", name) for name in ours)
    others = {name.split("_")[0] for name in names if name not in ours}
    assert others == {"process", "python"}


@pytest.mark.parametrize(
    ("result", "error", "outcome"),
    [
        ({"content": []}, None, "success"),
        ({"content": [], "isError": False}, None, "success"),
        ({"content": [], "isError": True}, None, "tool_error"),
        (None, UpstreamError("MCP error -32001: Request timed out", code=-32001), "timeout"),
        (None, TimeoutError(), "timeout"),
        (None, UpstreamError("Server not connected", code="TOOL_ERROR"), "error"),
        (None, UpstreamError("MCP error -32602: bad", code=-32602), "error"),
    ],
)
def test_tool_call_outcome(
    result: dict[str, Any] | None, error: BaseException | None, outcome: str
) -> None:
    assert metrics.tool_call_outcome(result, error) == outcome


async def test_measure_tool_call() -> None:
    count = "mcphub_tool_call_duration_seconds_count"
    before = value(count, server="unit", outcome="tool_error")

    async def call() -> dict[str, Any]:
        return {"content": [], "isError": True}

    assert await metrics.measure_tool_call("unit", call()) == {"content": [], "isError": True}
    assert value(count, server="unit", outcome="tool_error") == before + 1

    async def broken() -> dict[str, Any]:
        raise UpstreamError("Server not connected", code="TOOL_ERROR")

    errors = value(count, server="unit", outcome="error")
    with pytest.raises(UpstreamError):
        await metrics.measure_tool_call("unit", broken())
    assert value(count, server="unit", outcome="error") == errors + 1
    with pytest.raises(ValueError):
        metrics.observe_tool_call("unit", "exploded", 1.0)


def test_unknown_servers_share_one_label() -> None:
    hub = Hub(HubOptions(config_paths=[], port=0))
    unbind = metrics.bind_hub(hub)
    try:
        count = "mcphub_tool_call_duration_seconds_count"
        before = value(count, server=metrics.UNKNOWN_SERVER, outcome="error")
        metrics.observe_tool_call("not-configured", metrics.ToolCallOutcome.error, 0.1)
        assert value(count, server=metrics.UNKNOWN_SERVER, outcome="error") == before + 1
        assert metrics.REGISTRY.get_sample_value(count, {"server": "not-configured"}) is None
        assert value("mcphub_hub_state", state="starting") == 1
        assert value("mcphub_sse_clients_connected") == 0
        subscriber = hub.events.subscribe()
        assert value("mcphub_sse_clients_connected") == 1
        hub.events.unsubscribe(subscriber)
        assert value("mcphub_sse_clients_connected") == 0
    finally:
        unbind()


def test_mcp_sessions() -> None:
    before = value("mcphub_mcp_sessions_active", era="handshake")
    metrics.mcp_session_opened(metrics.McpEra.handshake)
    metrics.mcp_session_opened("handshake")
    metrics.mcp_session_closed("handshake")
    assert value("mcphub_mcp_sessions_active", era="handshake") == before + 1
    metrics.mcp_session_closed(metrics.McpEra.handshake)
    with pytest.raises(ValueError):
        metrics.mcp_session_opened("2025-11-25")
