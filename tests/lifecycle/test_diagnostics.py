"""Why a server failed, said where users look, without its secrets (issue 11 §5, issue 17).

A STDIO server that dies says its exit code and the last lines of its stderr (bounded,
redacted) in ``/api/servers``, ``/api/health``, the ``log`` events and the log file, whether
it dies during ``initialize`` or later; a remote server says its HTTP status and the start
of the body. Literal credentials in config URLs and header values, and resolved
``${env:}`` secrets a server prints, appear nowhere.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import stdio_entry
from tests.helpers import EventStream, HubProcess, free_port, wait_until
from tornadohub.paths import log_file_path

StartHub = Callable[..., HubProcess]
WriteConfig = Callable[..., str]

SECRET = "s3cr3t-token-4711"


def log_events(events: EventStream, until: Callable[[str], bool], timeout: float = 30) -> str:
    """The message of the first ``log`` event matching *until*."""
    found: list[str] = []

    def matching() -> bool:
        item = events.next(timeout)
        if item is not None and item[0] == "log":
            found.append(str(item[1].get("message")))
        return any(until(message) for message in found)

    wait_until(matching, timeout)
    return next(message for message in found if until(message))


def assert_everywhere(hub: HubProcess, name: str, expected: str, events: EventStream) -> str:
    """*expected* is in the server's error in /api/servers and /api/health, a log event,
    the console log and the log file; returns the error."""

    def failed() -> str | None:
        error = hub.server(name)["error"]
        return error if error and expected in error else None

    error: str = wait_until(failed, 30)
    health = hub.api("GET", "/api/health").json()
    [entry] = [s for s in health["servers"] if s["name"] == name]
    assert expected in (entry["error"] or ""), entry
    listed = hub.api("GET", "/api/servers").json()["servers"]
    assert any(s["name"] == name and expected in (s["error"] or "") for s in listed)
    log_events(events, lambda message: f"{name} disconnected" in message and expected in message)
    assert expected in hub.log_text()
    log_file = log_file_path(home=hub.home, environ={})
    wait_until(lambda: expected in log_file.read_text(), 10)
    return error


def test_a_server_dying_during_initialize_says_its_exit_code_and_stderr(
    start_hub: StartHub, write_config: WriteConfig
) -> None:
    entry = stdio_entry("dying_stdio.py")
    entry["args"] += ["3", "boom at start, token", "${env:DYING_TOKEN}"]
    hub = start_hub(write_config({"dies": entry}), DYING_TOKEN=SECRET)
    events = EventStream(str(hub.client.base_url))
    started = hub.api("POST", "/api/servers/start", {"server_name": "dies"})
    assert started.status_code == 500
    error = assert_everywhere(hub, "dies", "exited with code 3", events)
    assert "boom at start, token ***" in error
    assert "Connection closed" not in error
    assert "noise 19" in error and "noise 0" not in error  # the last lines only
    assert len(error) < 1200
    assert "exited with code 3" in started.json()["error"]
    assert SECRET not in hub.log_text()
    assert SECRET not in log_file_path(home=hub.home, environ={}).read_text()
    events.close()


def test_a_server_crashing_later_says_its_exit_code_and_stderr(
    start_hub: StartHub, write_config: WriteConfig, tmp_path: Path
) -> None:
    entry = stdio_entry("dying_stdio.py", env={"DYING_START_FILE": str(tmp_path / "starts")})
    entry["args"] += ["4", "crashed with", "${env:DYING_TOKEN}", "--serve-first"]
    hub = start_hub(write_config({"later": entry}), DYING_TOKEN=SECRET)
    assert hub.server("later")["status"] == "connected"
    events = EventStream(str(hub.client.base_url))
    called = hub.api(
        "POST", "/api/servers/tools", {"server_name": "later", "tool": "die", "arguments": {}}
    )
    assert called.status_code != 200
    error = assert_everywhere(hub, "later", "exited with code 4", events)
    assert "crashed with ***" in error
    assert SECRET not in hub.log_text()
    events.close()


class _Failing(http.server.BaseHTTPRequestHandler):
    """Every request: 500 with a body naming what went wrong (and echoing the URL)."""

    def do_POST(self) -> None:
        self._fail()

    def do_GET(self) -> None:
        self._fail()

    def _fail(self) -> None:
        body = f"upstream exploded: missing API key (you asked for {self.path})".encode()
        self.send_response(500)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def failing_http() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), _Failing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def test_a_remote_server_says_its_http_status_and_body_without_url_credentials(
    start_hub: StartHub, write_config: WriteConfig, failing_http: int
) -> None:
    url = f"http://alice:{SECRET}@127.0.0.1:{failing_http}/mcp?token={SECRET}&plain=1"
    hub = start_hub(write_config({"remote": {"url": url, "oauth": False}}))
    events = EventStream(str(hub.client.base_url))
    hub.api("POST", "/api/servers/start", {"server_name": "remote"})
    error = assert_everywhere(hub, "remote", "HTTP 500", events)
    assert "upstream exploded: missing API key" in error
    assert "token=***" in error
    everything = hub.log_text() + hub.api("GET", "/api/health").text
    assert SECRET not in everything
    assert "alice:" not in everything
    events.close()


def test_a_malformed_header_value_is_not_echoed(
    start_hub: StartHub, write_config: WriteConfig, failing_http: int
) -> None:
    remote = {
        "url": f"http://127.0.0.1:{failing_http}/mcp",
        "headers": {"X-Api-Key": f"{SECRET}\n"},
        "oauth": False,
    }
    hub = start_hub(write_config({"remote": remote}))
    hub.api("POST", "/api/servers/start", {"server_name": "remote"})
    error = wait_until(lambda: hub.server("remote")["error"], 30)
    assert SECRET not in error
    assert SECRET not in hub.log_text() + hub.api("GET", "/api/servers").text


def test_server_stderr_is_redacted(start_hub: StartHub, write_config: WriteConfig) -> None:
    entry = stdio_entry("dying_stdio.py")
    entry["args"] += ["5", "my key is", "${env:DYING_TOKEN}"]
    hub = start_hub(write_config({"leaky": entry}), DYING_TOKEN=SECRET)
    wait_until(lambda: "my key is ***" in hub.log_text(), 30)
    assert SECRET not in hub.log_text()
