"""``/healthz`` and ``/readyz`` through startup, readiness, an upstream going down, and shutdown."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable

import httpx

from tests.conftest import stdio_entry
from tests.helpers import HubProcess, wait_until
from tests.ops.conftest import slow_stop_entry

StartHub = Callable[..., HubProcess]
WriteConfig = Callable[..., str]


def probe(hub: HubProcess, path: str, method: str = "GET") -> httpx.Response | None:
    try:
        return hub.client.request(method, path, timeout=5)
    except httpx.TransportError:
        return None


def test_probes_through_startup(start_hub: StartHub, write_config: WriteConfig) -> None:
    # A server that never answers keeps the hub "starting" until the connect timeout.
    config = write_config(
        {"a": stdio_entry("everything_stdio.py"), "mute": stdio_entry("hang_on_init.py")}
    )
    hub = start_hub(config, extra_args=("--connect-timeout", "6"), wait=False)
    live = wait_until(lambda: probe(hub, "/healthz"))
    assert live.status_code == 200 and live.json()["status"] == "ok"
    ready = probe(hub, "/readyz")
    assert ready is not None and ready.status_code == 503
    body = ready.json()
    assert body["status"] == "unavailable" and body["state"] == "starting"
    assert body["reason"] == "hub is starting"
    head = probe(hub, "/readyz", "HEAD")
    assert head is not None and head.status_code == 503 and head.content == b""

    hub.wait_ready()
    ready = probe(hub, "/readyz")
    assert ready is not None
    assert ready.status_code == 200, ready.text
    assert ready.json()["servers"] == {"connected": 1, "required": 0, "total": 2}
    for path in ("/healthz", "/readyz"):
        head = probe(hub, path, "HEAD")
        assert head is not None and head.status_code == 200 and head.content == b""
    # Probes are logged at debug only, so an info-level hub does not log them at all.
    assert "/healthz" not in hub.log_text() and "/readyz" not in hub.log_text()


def test_readiness_needs_enough_connected_servers(
    start_hub: StartHub, write_config: WriteConfig
) -> None:
    config = write_config(
        {"a": stdio_entry("everything_stdio.py"), "b": stdio_entry("everything_stdio.py")}
    )
    hub = start_hub(config, extra_args=("--min-ready-servers", "2"))
    ready = probe(hub, "/readyz")
    assert ready is not None
    assert ready.status_code == 200, ready.text

    # An upstream going down makes the hub unready; back up, ready again.
    assert hub.api("POST", "/api/servers/stop", {"server_name": "b"}).status_code == 200
    ready = probe(hub, "/readyz")
    assert ready is not None and ready.status_code == 503
    assert ready.json()["reason"] == "1 of the required 2 servers connected"
    assert ready.json()["servers"] == {"connected": 1, "required": 2, "total": 2}
    assert hub.api("POST", "/api/servers/start", {"server_name": "b"}).status_code == 200
    ready = probe(hub, "/readyz")
    assert ready is not None and ready.status_code == 200


def test_min_ready_servers_must_not_be_negative(
    start_hub: StartHub, write_config: WriteConfig
) -> None:
    config = write_config({"a": stdio_entry("everything_stdio.py")})
    hub = start_hub(config, extra_args=("--min-ready-servers", "-1"), wait=False)
    assert hub.proc is not None and hub.proc.wait(30) == 2
    assert "--min-ready-servers: must be 0 or more" in hub.stderr_path.read_text()


def test_readiness_fails_first_on_shutdown(start_hub: StartHub, write_config: WriteConfig) -> None:
    hub = start_hub(write_config({"slow": slow_stop_entry()}))
    answers: list[int] = []
    done = threading.Event()

    def watch() -> None:
        with httpx.Client(base_url=str(hub.client.base_url), timeout=2) as client:
            while not done.is_set():
                try:
                    answers.append(client.get("/readyz").status_code)
                except httpx.TransportError:
                    if answers and answers[-1] == 503:
                        return  # the hub stopped listening after refusing readiness
                done.wait(0.02)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        wait_until(lambda: answers)
        assert hub.proc is not None
        hub.proc.send_signal(signal.SIGTERM)
        assert hub.proc.wait(30) == 0
    finally:
        done.set()
        watcher.join(10)
    first_refusal = answers.index(503)
    assert set(answers[:first_refusal]) == {200}
    assert set(answers[first_refusal:]) == {503}, "never ready again once shutting down"
    assert hub.stop() == 0
