"""Real ``redis-server`` and ``nginx`` for the cluster tests, started and stopped by pid.

Both come from Debian packages (``redis-server``, ``nginx``); a machine without them
skips the tests with the reason (CI fails instead, see :mod:`tests.external`). Each
instance listens on a free loopback port, keeps its files in its own directory, and is
never a system service: Redis runs ``--save '' --appendonly no`` in the foreground, nginx
runs ``daemon off`` with its own prefix, pid, logs and temp paths.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from tests.external import require_program
from tests.helpers import alive, free_port, wait_until


def redis_server_program() -> str:
    return require_program("redis-server", "redis-server", search=("/usr/bin/redis-server",))


def nginx_program() -> str:
    return require_program("nginx", "nginx", search=("/usr/sbin/nginx",))


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _stop(proc: subprocess.Popen[bytes] | None, sig: int, timeout: float = 10) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)


class RedisServer:
    """``redis-server`` on 127.0.0.1:<free port>, no persistence, files in *directory*."""

    def __init__(self, directory: Path, port: int | None = None) -> None:
        self.program = redis_server_program()
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start (again, on the same port) and wait until it answers ``PING``."""
        argv = [
            self.program,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--protected-mode", "yes",
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
            "--dir", str(self.directory),
            "--logfile", str(self.directory / "redis.log"),
        ]  # fmt: skip
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def answers() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                log = (self.directory / "redis.log").read_text(errors="replace")
                raise AssertionError(f"redis-server exited with {self.proc.returncode}: {log}")
            return self.command("PING") == "+PONG"

        wait_until(answers, timeout=20)

    def command(self, *words: str) -> str:
        """One inline command over a raw socket; the reply's first line ('' if none)."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
                sock.sendall((" ".join(words) + "\r\n").encode())
                return _read_reply(sock)
        except OSError:
            return ""

    def info(self, section: str) -> dict[str, str]:
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
            sock.sendall(f"INFO {section}\r\n".encode())
            header = _read_line(sock)
            size = int(header[1:])
            data = b""
            while len(data) < size + 2:
                data += sock.recv(size + 2 - len(data))
        fields = {}
        for line in data.decode().splitlines():
            name, sep, value = line.partition(":")
            if sep:
                fields[name] = value
        return fields

    def commands_processed(self) -> int:
        """``INFO stats`` ``total_commands_processed`` (the INFO itself included)."""
        return int(self.info("stats")["total_commands_processed"])

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop by pid (SIGKILL: as if the machine died) and wait until it is gone."""
        _stop(self.proc, sig)
        wait_until(lambda: not _listening(self.port), timeout=10)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid


def _read_line(sock: socket.socket) -> str:
    line = b""
    while not line.endswith(b"\r\n"):
        chunk = sock.recv(1)
        if not chunk:
            break
        line += chunk
    return line.decode().rstrip("\r\n")


def _read_reply(sock: socket.socket) -> str:
    return _read_line(sock)


NGINX_MAIN = """\
daemon off;
master_process on;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log info;
events {{ worker_connections 256; }}
http {{
    access_log {dir}/access.log;
    client_body_temp_path {dir}/temp/client_body;
    proxy_temp_path {dir}/temp/proxy;
    fastcgi_temp_path {dir}/temp/fastcgi;
    uwsgi_temp_path {dir}/temp/uwsgi;
    scgi_temp_path {dir}/temp/scgi;
    include {snippet};
}}
"""


class NginxServer:
    """nginx with *http_config* (an ``http {}``-level snippet) in its own prefix.

    The prefix is a fresh directory under the system temp dir, readable by the
    unprivileged user nginx's workers drop to when the tests run as root (pytest's
    own temp dirs are private to their owner); it is removed by :meth:`stop`.
    """

    def __init__(self, http_config: str, port: int) -> None:
        self.program = nginx_program()
        self.port = port
        self.directory = Path(tempfile.mkdtemp(prefix="tornadohub-nginx-"))
        self.directory.chmod(0o755)
        temp = self.directory / "temp"
        temp.mkdir()
        temp.chmod(0o777)
        snippet = self.directory / "hub.conf"
        snippet.write_text(http_config)
        self.config = self.directory / "nginx.conf"
        self.config.write_text(NGINX_MAIN.format(dir=self.directory, snippet=snippet))
        self.proc: subprocess.Popen[bytes] | None = None

    def _argv(self) -> list[str]:
        error_log = str(self.directory / "error.log")
        return [self.program, "-p", str(self.directory), "-c", str(self.config), "-e", error_log]

    def test_config(self) -> subprocess.CompletedProcess[str]:
        """``nginx -t``: the syntax check (and every upstream name resolvable)."""
        return subprocess.run(
            [*self._argv(), "-t"], capture_output=True, text=True, timeout=30, check=False
        )

    def start(self) -> None:
        self.proc = subprocess.Popen(
            self._argv(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

        def up() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"nginx exited: {self.error_log()}")
            return _listening(self.port)

        wait_until(up, timeout=20)

    def error_log(self) -> str:
        path = self.directory / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        """Graceful stop (SIGQUIT) by pid; no worker may survive; files removed."""
        workers: set[int] = set()
        if self.proc is not None and self.proc.poll() is None:
            workers = {
                int(pid)
                for pid in os.listdir("/proc")
                if pid.isdigit() and _parent(int(pid)) == self.proc.pid
            }
        _stop(self.proc, signal.SIGQUIT)
        wait_until(lambda: not any(alive(pid) for pid in workers), timeout=10)
        shutil.rmtree(self.directory, ignore_errors=True)


def _parent(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


async def eventually(
    check: Callable[[], bool | Awaitable[bool]], timeout: float = 10.0, interval: float = 0.02
) -> None:
    """Poll *check* (sync or async) until true; fail after *timeout* seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() >= deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(interval)
