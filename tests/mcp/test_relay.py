"""The relay's pure parts: subscription holders, log levels, capability checks, log naming."""

from __future__ import annotations

from typing import Any

import mcp_types as types
import pytest

from tornadohub.mcp.relay import Subscriptions, at_least, log_params, missing_capability


def test_subscriptions_count_holders_and_deliver_once_per_sink() -> None:
    told: list[str] = []
    subscriptions = Subscriptions()
    session, listen = object(), object()
    subscriptions.hold("up", "x://1", (session, "up__x://1"), told.append, "up__x://1")
    subscriptions.hold("up", "x://1", (listen, "up__x://1"), told.append, "up__x://1")
    assert subscriptions.held("up", "x://1") and not subscriptions.held("up", "x://2")
    assert subscriptions.deliver("up", "x://1") == 1  # the same sink and URI: told once
    assert told == ["up__x://1"]
    assert subscriptions.release("up", "x://1", (session, "up__x://1")) is False
    assert subscriptions.release("up", "x://1", (session, "up__x://1")) is False  # not held
    assert subscriptions.release_owner(listen) == [("up", "x://1")]
    assert subscriptions.originals("up") == []


def test_log_levels_compare_by_severity() -> None:
    assert at_least("error", "warning") and at_least("warning", "warning")
    assert not at_least("info", "warning")
    assert not at_least("error", None)


@pytest.mark.parametrize(
    ("method", "params", "caps", "missing"),
    [
        ("sampling/createMessage", {}, {}, ("sampling", {"sampling": {}})),
        ("sampling/createMessage", {}, {"sampling": {}}, None),
        (
            "sampling/createMessage",
            {"tools": [{"name": "t"}]},
            {"sampling": {}},
            ("sampling with tools", {"sampling": {"tools": {}}}),
        ),
        ("elicitation/create", {}, {"elicitation": {}}, None),  # empty object: form
        (
            "elicitation/create",
            {"mode": "url"},
            {"elicitation": {"form": {}}},
            ("URL elicitation", {"elicitation": {"url": {}}}),
        ),
        (
            "elicitation/create",
            {},
            {"elicitation": {"url": {}}},
            ("elicitation", {"elicitation": {"form": {}}}),
        ),
        ("roots/list", {}, {}, ("roots", {"roots": {}})),
        ("roots/list", {}, {"roots": {}}, None),
    ],
)
def test_missing_capability(
    method: str, params: dict[str, Any], caps: dict[str, Any], missing: Any
) -> None:
    declared = types.ClientCapabilities.model_validate(caps)
    assert missing_capability(method, params, declared) == missing


def test_relayed_log_entries_name_the_server() -> None:
    entry = types.LoggingMessageNotificationParams(level="info", logger="db", data="x")
    assert log_params(entry, "srv")["logger"] == "srv__db"
    assert log_params(entry, "")["logger"] == "db"  # per-server endpoint: unchanged
    anonymous = types.LoggingMessageNotificationParams(level="info", data="x")
    assert log_params(anonymous, "srv") == {"level": "info", "logger": "srv", "data": "x"}
