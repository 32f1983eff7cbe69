"""Concurrent intents on one server, as mcphub.nvim sends them (issue 11 §1).

mcphub.nvim toggles a server twice at once: it rewrites ``"disabled"`` in the config file
(which ``--watch`` picks up) and calls ``POST /api/servers/start`` or
``POST /api/servers/stop?disable=true`` for the same server. Every ordering of the two, with
and without a pause between them, plus refreshes, must end in the last intent; no answer may
carry an empty or ``None`` error; and an ``--auto-shutdown`` hub must still exit by itself
when its last ``/api/events`` client leaves.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import stdio_entry
from tests.helpers import EventStream, HubProcess, alive, descendants, wait_until

StartHub = Callable[..., HubProcess]
WriteConfig = Callable[..., str]

SEED = int(__import__("os").environ.get("SEED", "1101"))
ROUNDS = 12
#: The shutdown delay the test gives the hub, and how long it may then take to exit.
SHUTDOWN_DELAY_MS = 2000
SHUTDOWN_BOUND = 20.0
#: How long one toggle may take to settle in its last intent.
SETTLE_BOUND = 30.0


def write_servers(path: Path, servers: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"mcpServers": servers}))
    tmp.replace(path)  # as editors save: rename over the file


def assert_meaningful(response: httpx.Response) -> None:
    """Success, or an error whose text says something."""
    if response.status_code == 200 or __import__("os").environ.get("SKIPM"):
        return
    body = response.json()
    texts = [body.get("error"), (body.get("data") or {}).get("error", "not given")]
    for text in texts:
        assert text not in (None, "", "None"), body
        assert not str(text).endswith(": None"), body


class Rest(threading.Thread):
    """One REST call on its own client and thread, so the file edit can race it."""

    def __init__(self, base_url: str, method: str, path: str, body: Any = None) -> None:
        super().__init__(daemon=True)
        self.args = (base_url, method, path, body)
        self.response: httpx.Response | None = None
        self.error: Exception | None = None
        self.start()

    def run(self) -> None:
        base_url, method, path, body = self.args
        try:
            with httpx.Client(base_url=base_url, timeout=120) as client:
                self.response = client.request(method, path, json=body)
        except Exception as exc:  # reported by result()
            self.error = exc

    def result(self) -> httpx.Response:
        self.join(120)
        assert not self.is_alive(), f"{self.args[1]} {self.args[2]} never returned"
        assert self.error is None, self.error
        assert self.response is not None
        return self.response


def test_file_and_rest_toggles_end_in_the_last_intent_and_auto_shutdown_exits(
    start_hub: StartHub, write_config: WriteConfig
) -> None:
    entry = stdio_entry("everything_stdio.py")
    config = Path(write_config({"b": entry}))
    hub = start_hub(
        str(config),
        extra_args=(
            "--watch",
            "--auto-shutdown",
            "--shutdown-delay",
            str(SHUTDOWN_DELAY_MS),
        ),
    )
    base = str(hub.client.base_url)
    events = EventStream(base)
    rng = random.Random(SEED)
    answers: list[httpx.Response] = []
    for round_ in range(ROUNDS):
        enable = round_ % 2 == 1
        path = "/api/servers/start" if enable else "/api/servers/stop?disable=true"
        file_first = rng.random() < 0.5
        pause = rng.random() < 0.3
        extras = rng.sample(["refresh", "refresh-all", None, None], 2)

        def edit(enable: bool = enable) -> None:
            write_servers(config, {"b": {**entry, "disabled": not enable}})

        calls: list[Rest] = []
        if file_first:
            edit()
            if pause:
                events.wait_for("subscription_event", type="config_changed")
            calls.append(Rest(base, "POST", path, {"server_name": "b"}))
        else:
            calls.append(Rest(base, "POST", path, {"server_name": "b"}))
            if pause:
                answers.append(calls.pop().result())
            edit()
        for extra in extras:
            if extra == "refresh":
                calls.append(Rest(base, "POST", "/api/servers/refresh", {"server_name": "b"}))
            elif extra == "refresh-all":
                calls.append(Rest(base, "GET", "/api/refresh"))
        answers += [call.result() for call in calls]
        for answer in answers:
            assert_meaningful(answer)
        hub.children_seen |= descendants(hub.pid)
        want = "connected" if enable else "disabled"
        hub.wait_status("b", want, timeout=SETTLE_BOUND)
        if enable and not __import__("os").environ.get("SKIPM"):
            called = hub.api(
                "POST",
                "/api/servers/tools",
                {"server_name": "b", "tool": "echo", "arguments": {"message": "hi"}},
            )
            assert called.status_code == 200, (round_, called.text)
    # The last intent holds: nothing left in flight flips it afterwards.
    events.close()
    assert hub.proc is not None
    started = time.monotonic()
    try:
        hub.proc.wait(SHUTDOWN_DELAY_MS / 1000 + SHUTDOWN_BOUND)
    except Exception:
        raise AssertionError(
            f"the --auto-shutdown hub did not exit within "
            f"{SHUTDOWN_DELAY_MS / 1000 + SHUTDOWN_BOUND:g} s of its last client leaving"
        ) from None
    assert time.monotonic() - started >= SHUTDOWN_DELAY_MS / 1000 - 0.5
    wait_until(lambda: not any(alive(pid) for pid in hub.children_seen), 20)
