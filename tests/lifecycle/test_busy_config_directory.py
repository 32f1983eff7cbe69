"""``serve --watch`` with the config in a directory written to all the time.

The hub's start waits until its config watcher is registered; a log rewritten next to
the config every 20 ms once kept that wait, and so ``/api/health``'s ``ready``, from ever
coming.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.conftest import stdio_entry
from tests.helpers import HubProcess, churning


def test_a_watching_hub_becomes_ready_beside_a_busy_log(
    start_hub: Callable[..., HubProcess], write_config: Callable[..., str]
) -> None:
    config = write_config({"one": stdio_entry("everything_stdio.py")})
    with churning(Path(config).parent):
        hub = start_hub(config, extra_args=("--watch",), wait=False)
        assert hub.wait_ready(timeout=30)["state"] == "ready"
