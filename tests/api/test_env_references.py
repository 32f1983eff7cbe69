"""``env`` entries that refer to each other, through a real hub and a real child (issue 11 §4).

mcp-hub's documented example (``DB_URL`` built from ``DB_PASSWORD``, which a command prints, and
``FALLBACK_VAR`` inherited) fails in mcp-hub 4.2.1 with ``Variable 'DB_PASSWORD' not found``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.conftest import stdio_entry
from tests.helpers import HubProcess

StartHub = Callable[..., HubProcess]
WriteConfig = Callable[..., str]
PASSWORD = "pw-printed-by-" + "a-command"


def child_env(hub: HubProcess, server: str, name: str) -> str:
    """The value of *name* in the environment of *server*'s process (its ``env`` tool)."""
    response = hub.api(
        "POST",
        "/api/servers/tools",
        {"server_name": server, "tool": "env", "arguments": {"name": name}},
    )
    assert response.status_code == 200, response.text
    return str(response.json()["result"]["content"][0]["text"])


def test_documented_env_example_reaches_the_child_and_a_circle_is_reported(
    start_hub: StartHub, write_config: WriteConfig
) -> None:
    documented: dict[str, Any] = {
        "DB_URL": "postgresql://user:${DB_PASSWORD}@localhost/myapp",
        "DB_PASSWORD": "${cmd: printf %s " + PASSWORD + "}",
        "FALLBACK_VAR": None,
    }
    config = write_config(
        {
            "db": stdio_entry("everything_stdio.py", env=documented),
            "circle": stdio_entry("everything_stdio.py", env={"A": "${B}/x", "B": "${A}/y"}),
        }
    )
    hub = start_hub(config, FALLBACK_VAR="inherited")
    assert hub.server("db")["status"] == "connected"
    assert child_env(hub, "db", "DB_URL") == f"postgresql://user:{PASSWORD}@localhost/myapp"
    assert child_env(hub, "db", "FALLBACK_VAR") == "inherited"

    circle = hub.server("circle")
    assert circle["status"] == "disconnected"
    assert circle["error"] == "Server 'circle' has a circular env reference: A -> B -> A"
    listed = hub.api("GET", "/api/servers").text
    assert hub.stop() == 0
    assert PASSWORD not in listed and PASSWORD not in hub.log_text()
