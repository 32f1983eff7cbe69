"""Bounded resources, measured on a real hub: memory per upload, connections, sessions.

Raw sockets speak HTTP/1.1 here because the point is what a client that does not behave
can make the hub do: send headers and stall, announce a huge body, never finish.
"""

from __future__ import annotations

import contextlib
import json
import resource
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

from tests.conftest import stdio_entry
from tests.faults import status_kb
from tests.helpers import HubProcess, initialize_request, wait_until
from tornadohub.options import ConnectionLimits

TOKEN = "limits-test-token-0123456789abcdef"
MIB = 1024 * 1024


def peak_rss_bytes(pid: int) -> int:
    """The most memory *pid* ever had resident (``VmHWM``): buffers freed since still count."""
    return status_kb(pid, "VmHWM") * 1024


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    return sock


def read_response(sock: socket.socket) -> bytes:
    """Everything the hub sends until it closes the connection (bounded by the timeout)."""
    chunks = []
    with contextlib.suppress(OSError):
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def upload(port: int, size: int, *, chunked: bool) -> None:
    """POST *size* bytes without a key, ignoring how the hub cuts it short."""
    head = f"POST /api/servers/tools HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
    head += "Content-Type: application/json\r\n"
    head += "Transfer-Encoding: chunked\r\n\r\n" if chunked else f"Content-Length: {size}\r\n\r\n"
    block = b"x" * MIB
    with contextlib.suppress(OSError), connect(port) as sock:
        sock.sendall(head.encode())
        for _ in range(size // MIB):
            sock.sendall(b"%x\r\n%s\r\n" % (len(block), block) if chunked else block)
        read_response(sock)


def test_unauthenticated_uploads_are_never_buffered(
    start_hub: Callable[..., HubProcess], write_config: Callable[..., str]
) -> None:
    """Four 59 MiB bodies without a key (two chunked) may not cost the hub their size."""
    hub = start_hub(write_config({}), wait=False, MCP_HUB_AUTH_TOKENS=f"ci:{TOKEN}")
    hub.client.headers["Authorization"] = f"Bearer {TOKEN}"
    hub.wait_ready()
    before = peak_rss_bytes(hub.pid)
    threads = [
        threading.Thread(target=upload, args=(hub.port, 59 * MIB), kwargs={"chunked": i % 2 == 1})
        for i in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    grown = peak_rss_bytes(hub.pid) - before
    assert grown < 40 * MIB, f"the hub's peak RSS grew by {grown / MIB:.0f} MiB"
    assert hub.health() is not None


def test_key_and_length_are_checked_when_the_headers_arrive(
    start_hub: Callable[..., HubProcess], write_config: Callable[..., str]
) -> None:
    hub = start_hub(write_config({}), wait=False, MCP_HUB_AUTH_TOKENS=f"ci:{TOKEN}")
    hub.client.headers["Authorization"] = f"Bearer {TOKEN}"
    hub.wait_ready()
    cases = ((f"Authorization: Bearer {TOKEN}\r\n", 59 * MIB, b" 413 "), ("", MIB, b" 401 "))
    for extra, length, status in cases:
        with connect(hub.port) as sock:  # headers only: the answer must not wait for a body
            sock.sendall(
                f"POST /api/servers/tools HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}"
                f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n".encode()
            )
            answer = read_response(sock)
        head, _, body = answer.partition(b"\r\n\r\n")
        assert status in head.split(b"\r\n")[0], answer[:300]
        assert b"connection: close" in head.lower()
        assert json.loads(body)["code"] in ("PAYLOAD_TOO_LARGE", "UNAUTHORIZED")


def test_oversized_headers_get_431(
    start_hub: Callable[..., HubProcess], write_config: Callable[..., str]
) -> None:
    hub = start_hub(write_config({}))
    response = hub.client.get("/api/health", headers={"X-Padding": "x" * 70_000})
    assert response.status_code == 431, response.text
    assert response.json()["code"] == "HEADERS_TOO_LARGE"


def test_stalled_connections_are_dropped(
    start_hub: Callable[..., HubProcess], write_config: Callable[..., str]
) -> None:
    """Slowloris: partial headers and partial bodies are cut off after their timeouts."""
    assert ConnectionLimits() == ConnectionLimits(1000, 30.0, 60.0)  # the documented defaults
    hub = start_hub(write_config({}), TORNADOHUB_HEADER_TIMEOUT="1", TORNADOHUB_BODY_TIMEOUT="1")
    stalled = []
    for i in range(50):
        sock = connect(hub.port)
        if i % 2:
            sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        else:
            sock.sendall(
                b"POST /api/servers/info HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
            )
        stalled.append(sock)
    # An idle keep-alive connection is closed too. A raw socket waits for the close itself:
    # a pooled client reusing it while the hub closes it would see a reset, not a hub fault.
    keep_alive = connect(hub.port)
    try:
        keep_alive.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = keep_alive.recv(65536)
            assert chunk, answer
            answer += chunk
        head, _, body = answer.partition(b"\r\n\r\n")
        assert b" 200 " in head.split(b"\r\n")[0], head
        assert b"connection: close" not in head.lower()
        for sock in stalled:
            assert read_response(sock) in (b"",), "a stalled connection was answered"
        try:
            while chunk := keep_alive.recv(65536):  # ends at the hub's close, or times out
                body += chunk
        except TimeoutError:
            raise AssertionError("the idle keep-alive connection stayed open") from None
        assert json.loads(body)["status"] == "ok", body
        assert hub.client.get("/api/health").status_code == 200
    finally:
        keep_alive.close()
        for sock in stalled:
            sock.close()


def test_connection_cap(
    start_hub: Callable[..., HubProcess], write_config: Callable[..., str]
) -> None:
    hub = start_hub(write_config({}), extra_args=("--max-connections", "20"))
    held = [connect(hub.port) for _ in range(25)]
    try:
        with httpx.Client(timeout=1) as client:
            try:
                client.get(f"http://127.0.0.1:{hub.port}/healthz")
                answered = True
            except httpx.TimeoutException:
                answered = False
        assert not answered, "a 26th connection was served while 25 were open (cap 20)"
    finally:
        for sock in held:
            sock.close()
    wait_until(lambda: hub.client.get("/healthz", timeout=2).status_code == 200, 20)
    assert "--max-connections" in hub.stderr_path.read_text()


class LowFdHub(HubProcess):
    """A hub that may open only *fds* files: its hard limit too, so it cannot raise it."""

    fds = 64

    @property
    def argv(self) -> list[str]:
        setup = (
            "import resource, runpy, sys; "
            f"resource.setrlimit(resource.RLIMIT_NOFILE, ({self.fds}, {self.fds})); "
            "sys.argv = ['tornadohub', *sys.argv[1:]]; "
            "runpy.run_module('tornadohub', run_name='__main__')"
        )
        return [sys.executable, "-c", setup, *super().argv[3:]]


@contextlib.contextmanager
def low_fd_hub(root: Path, config: str) -> Iterator[HubProcess]:
    (root / "home").mkdir()
    hub = LowFdHub([config], home=root / "home", cwd=root)
    hub.start()
    try:
        hub.wait_ready()
        yield hub
    finally:
        hub.stop()


def test_running_out_of_file_descriptors_backs_off(
    write_config: Callable[..., str], tmp_path: Path
) -> None:
    """At EMFILE the hub pauses accepting (one warning), instead of spinning on tracebacks."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert hard >= 256, "the test itself needs file descriptors"
    with low_fd_hub(tmp_path, write_config({})) as hub:
        held = []
        try:
            for _ in range(LowFdHub.fds + 40):
                sock = connect(hub.port)
                sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
                held.append(sock)
            wait_until(lambda: "Cannot accept connections" in hub.stderr_path.read_text(), 20)
            with httpx.Client(timeout=2) as client:  # time for a spinning loop to show
                with contextlib.suppress(httpx.TimeoutException):
                    client.get(f"http://127.0.0.1:{hub.port}/healthz")
            assert len(hub.stderr_path.read_bytes()) < 20_000, "stderr flooded"
        finally:
            for sock in held:
                sock.close()
        wait_until(lambda: hub.health() is not None, 20)
        assert "Traceback" not in hub.stderr_path.read_text()


def test_one_client_flooding_initialize_keeps_others_sessions(
    start_hub: Callable[..., HubProcess], write_config: Callable[..., str]
) -> None:
    tokens = {"alice": "alice-token-0123456789abcdef", "bob": "bob-token-0123456789abcdef"}
    hub = start_hub(
        write_config({"s": stdio_entry("paginated_stdio.py")}),
        wait=False,
        MCP_HUB_AUTH_TOKENS=",".join(f"{name}:{token}" for name, token in tokens.items()),
        TORNADOHUB_MCP_MAX_SESSIONS="30",
        TORNADOHUB_MCP_MAX_SESSIONS_PER_CLIENT="10",
    )
    hub.client.headers["Authorization"] = f"Bearer {tokens['alice']}"
    hub.wait_ready()
    url = f"http://127.0.0.1:{hub.port}/mcp"
    base = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    alice = {**base, "Authorization": f"Bearer {tokens['alice']}"}
    bob = {**base, "Authorization": f"Bearer {tokens['bob']}"}
    init = json.dumps(initialize_request("flood")).encode()
    ping = json.dumps({"jsonrpc": "2.0", "id": 2, "method": "ping"}).encode()
    with httpx.Client(timeout=10) as client:
        bobs = [
            client.post(url, content=init, headers=bob).headers["mcp-session-id"] for _ in range(5)
        ]
        for _ in range(200):
            assert client.post(url, content=init, headers=alice).status_code == 200
        for session in bobs:
            answer = client.post(url, content=ping, headers={**bob, "Mcp-Session-Id": session})
            assert answer.status_code == 200, answer.text
