"""Concurrent intents on one server, as mcphub.nvim sends them (issue 11 §1).

mcphub.nvim toggles a server twice at once: it rewrites ``"disabled"`` in the config file
(which ``--watch`` picks up) and calls ``POST /api/servers/start`` or
``POST /api/servers/stop?disable=true`` for the same server. Every ordering of the two, with
and without a pause between them, plus refreshes, must end in the last intent; no answer may
carry an empty or ``None`` error; tool calls work when the last intent is "enabled"; and an
``--auto-shutdown`` hub must still exit by itself when its last ``/api/events`` client leaves,
leaving no child behind. Orderings are drawn from a seeded generator.
"""

from __future__ import annotations

import random
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import stdio_entry
from tests.faults import RestCall
from tests.helpers import EventStream, HubProcess, alive, descendants, wait_until
from tests.lifecycle.helpers import assert_meaningful, write_servers

StartHub = Callable[..., HubProcess]
WriteConfig = Callable[..., str]

SEED = 1101
#: The shutdown delay the test gives the hub, and how long it may then take to exit.
SHUTDOWN_DELAY_MS = 2000
SHUTDOWN_BOUND = 20.0
#: How long the last intent may take to be reached.
SETTLE_BOUND = 30.0


class Toggler:
    """Drives one server the way mcphub.nvim does: a config edit plus a REST call."""

    def __init__(self, hub: HubProcess, config: Path, entry: dict[str, Any], seed: int) -> None:
        self.hub = hub
        self.base = str(hub.client.base_url)
        self.config = config
        self.entry = entry
        self.rng = random.Random(seed)
        self.events = EventStream(self.base)
        self.calls: list[RestCall] = []
        self.answers: list[httpx.Response] = []

    def rest(self, method: str, path: str, name: str = "b") -> None:
        body = {"server_name": name} if method == "POST" else None
        self.calls.append(RestCall(self.base, method, path, body))

    def toggle(self, enable: bool, *, pause: bool) -> None:
        """Edit and call in a random order; with *pause*, the first lands before the second."""
        path = "/api/servers/start" if enable else "/api/servers/stop?disable=true"
        if self.rng.random() < 0.5:
            write_servers(self.config, {"b": {**self.entry, "disabled": not enable}})
            if pause:
                self.events.wait_for("subscription_event", type="config_changed")
            self.rest("POST", path)
        else:
            self.rest("POST", path)
            if pause:
                self.answers.append(self.calls.pop().result())
            write_servers(self.config, {"b": {**self.entry, "disabled": not enable}})
        for extra in self.rng.sample(["refresh", "refresh-all", None, None], 2):
            if extra == "refresh":
                self.rest("POST", "/api/servers/refresh")
            elif extra == "refresh-all":
                self.rest("GET", "/api/refresh")

    def collect(self) -> None:
        """Wait for the answers of the REST calls made so far.

        Calls on separate connections have no order until they are answered: one sent
        50 ms after another may reach the hub first (seen on a loaded host), and the hub
        can only carry out what reached it last. So the intent a burst must end in is
        the one of a call made after the others were answered.
        """
        self.answers += [call.result() for call in self.calls]
        self.calls = []

    def settle(self, enable: bool) -> None:
        """Every answer is meaningful; the status is the last intent; tools work if enabled."""
        self.collect()
        for answer in self.answers:
            assert_meaningful(answer)
        self.hub.children_seen |= descendants(self.hub.pid)
        self.hub.wait_status("b", "connected" if enable else "disabled", timeout=SETTLE_BOUND)
        if enable:
            called = self.hub.api(
                "POST",
                "/api/servers/tools",
                {"server_name": "b", "tool": "echo", "arguments": {"message": "hi"}},
            )
            assert called.status_code == 200, called.text

    def assert_auto_shutdown(self) -> None:
        """Close the last SSE client: the hub exits by itself in time, leaving no child."""
        self.events.close()
        proc = self.hub.proc
        assert proc is not None
        started = time.monotonic()
        bound = SHUTDOWN_DELAY_MS / 1000 + SHUTDOWN_BOUND
        try:
            proc.wait(bound)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"the --auto-shutdown hub did not exit within {bound:g} s of its last client"
            ) from None
        assert time.monotonic() - started >= SHUTDOWN_DELAY_MS / 1000 - 0.5
        wait_until(lambda: not any(alive(pid) for pid in self.hub.children_seen), 20)


def watched_hub(start_hub: StartHub, write_config: WriteConfig) -> tuple[HubProcess, Path]:
    config = Path(write_config({"b": stdio_entry("everything_stdio.py")}))
    args = ("--watch", "--auto-shutdown", "--shutdown-delay", str(SHUTDOWN_DELAY_MS))
    return start_hub(str(config), extra_args=args), config


def test_each_toggle_ends_in_its_intent(start_hub: StartHub, write_config: WriteConfig) -> None:
    hub, config = watched_hub(start_hub, write_config)
    toggler = Toggler(hub, config, stdio_entry("everything_stdio.py"), SEED)
    for round_ in range(10):
        enable = round_ % 2 == 1
        toggler.toggle(enable, pause=toggler.rng.random() < 0.3)
        toggler.settle(enable)
    toggler.assert_auto_shutdown()


def test_a_burst_of_toggles_ends_in_the_last_intent(
    start_hub: StartHub, write_config: WriteConfig
) -> None:
    hub, config = watched_hub(start_hub, write_config)
    toggler = Toggler(hub, config, stdio_entry("everything_stdio.py"), SEED + 1)
    for burst in range(3):
        toggles = 5 + burst  # ends enabled, then disabled, then enabled
        for i in range(toggles):
            if i == toggles - 1:  # the last toggle's call is the last to reach the hub
                toggler.collect()
            toggler.toggle(i % 2 == 0, pause=False)
            time.sleep(toggler.rng.random() * 0.3)  # the user's pace, not synchronisation
        toggler.settle((toggles - 1) % 2 == 0)
    toggler.assert_auto_shutdown()
