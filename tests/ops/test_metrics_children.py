"""Labelled metric children are made once per server and forgotten with the server."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any, cast

import pytest

from tests.fakes import FakeHub
from tornadohub import metrics
from tornadohub.hub import Hub
from tornadohub.state import UpstreamStatus


@pytest.fixture
def hub() -> Iterator[FakeHub]:
    fake = FakeHub()
    fake.upstreams["kept"] = SimpleNamespace(name="kept", status=UpstreamStatus.connected)
    unbind = metrics.bind_hub(cast(Hub, fake))
    yield fake
    unbind()


def value(name: str, **labels: str) -> float | None:
    return metrics.REGISTRY.get_sample_value(name, labels)


def no_labels(*args: Any, **kwargs: Any) -> None:
    raise AssertionError("labels() called again")


def test_calls_reuse_the_children(hub: FakeHub, monkeypatch: pytest.MonkeyPatch) -> None:
    count = "mcphub_tool_call_duration_seconds_count"
    before = value(count, server="kept", outcome="success") or 0
    handler = type("KeptHandler", (), {"get_status": lambda self: 200})()
    handler.request = SimpleNamespace(
        method="GET", path="/", remote_ip="127.0.0.1", request_time=lambda: 0.001
    )
    metrics.log_request(handler)  # the first request of its kind makes its child
    for metric in (metrics.TOOL_CALL_DURATION, metrics.HTTP_REQUEST_DURATION):
        monkeypatch.setattr(metric, "labels", no_labels)
    metrics.observe_tool_call("kept", metrics.ToolCallOutcome.success, 0.1)
    metrics.observe_tool_call("kept", "success", 0.1)
    metrics.log_request(handler)
    assert value(count, server="kept", outcome="success") == before + 2
    requests = "mcphub_http_request_duration_seconds_count"
    assert value(requests, handler="KeptHandler", method="GET", code="200") == 2


def test_a_removed_server_is_forgotten(hub: FakeHub) -> None:
    status = "mcphub_upstream_status"
    hub.upstreams["gone"] = SimpleNamespace(name="gone", status=UpstreamStatus.connected)
    metrics.refresh()
    assert value(status, server="gone", status="connected") == 1
    del hub.upstreams["gone"]
    metrics.refresh()
    assert value(status, server="gone", status="connected") is None
    # Back again: its series are made anew, not written to the removed children.
    hub.upstreams["gone"] = SimpleNamespace(name="gone", status=UpstreamStatus.disabled)
    metrics.refresh()
    assert value(status, server="gone", status="disabled") == 1
    assert value(status, server="gone", status="connected") == 0
