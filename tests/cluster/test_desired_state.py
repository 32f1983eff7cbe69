"""The cluster's desired state reads ``disabled`` as a single hub's config does."""

from __future__ import annotations

from tornadohub.cluster.shared_config import DesiredState
from tornadohub.config import config_from_data

SERVERS = {
    "yes": {"command": "x", "disabled": "yes"},
    "true": {"command": "x", "disabled": True},
    "zero": {"command": "x", "disabled": 0},
    "absent": {"command": "x"},
}


def test_halted_takes_a_truthy_disabled_as_a_single_hub_does() -> None:
    state = DesiredState({"mcpServers": SERVERS})
    single_hub = config_from_data({"mcpServers": SERVERS})
    expected = {name: entry.disabled for name, entry in single_hub.servers.items()}
    assert expected == {"yes": True, "true": True, "zero": False, "absent": False}
    assert state.halted() == expected


def test_starting_a_server_disabled_by_any_truthy_value_enables_it() -> None:
    started = DesiredState({"mcpServers": SERVERS}).with_server("yes", run=True)
    assert started.config["mcpServers"]["yes"]["disabled"] is False
    assert started.halted()["yes"] is False
