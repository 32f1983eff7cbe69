"""Processes for the benchmark: started on 127.0.0.1, stopped by pid, measured from /proc."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()


def start_time(pid: int) -> int | None:
    """The kernel's start time of *pid* (guards against pid reuse)."""
    fields = _stat_fields(pid)
    return int(fields[19]) if fields else None


def alive(pid: int) -> bool:
    fields = _stat_fields(pid)
    return fields is not None and fields[0] != "Z"


def cpu_seconds(pid: int) -> float:
    """utime + stime of *pid* (its own threads, not its children)."""
    fields = _stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) / CLK_TCK if fields else 0.0


def rss_kb(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_KB
    except (OSError, IndexError):
        return 0


def descendants(pid: int) -> list[int]:
    """Every live descendant of *pid*, from /proc/<pid>/task/*/children."""
    seen: list[int] = []
    stack = [pid]
    while stack:
        current = stack.pop()
        try:
            tasks = os.listdir(f"/proc/{current}/task")
        except OSError:
            continue
        for tid in tasks:
            with contextlib.suppress(OSError, ValueError):
                kids = Path(f"/proc/{current}/task/{tid}/children").read_text().split()
                for kid in map(int, kids):
                    if kid not in seen:
                        seen.append(kid)
                        stack.append(kid)
    return seen


def tree_rss_kb(pid: int) -> int:
    return rss_kb(pid) + sum(rss_kb(child) for child in descendants(pid))


def machine_busy_seconds() -> float:
    with open("/proc/stat") as f:
        values = [int(x) for x in f.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values[:8]) - idle) / CLK_TCK


@dataclass
class Proc:
    """A process this benchmark started (its own session), stopped by pid."""

    name: str
    argv: list[str]
    log: Path
    env: dict[str, str] | None = None
    cwd: Path | None = None
    popen: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    _tree: dict[int, int | None] = field(default_factory=dict)

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("wb") as out:
            self.started_at = time.perf_counter()
            self.popen = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        assert self.popen is not None, f"{self.name} not started"
        return self.popen.pid

    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def remember_children(self) -> None:
        """Record the current descendants (with start times) to check them at stop."""
        if self.running():
            for child in descendants(self.pid):
                self._tree.setdefault(child, start_time(child))

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM, SIGKILL after *grace* s; then every recorded descendant left over."""
        if self.popen is None:
            return
        self.remember_children()
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(grace)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(grace)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(self._ours(p) for p in self._tree):
            time.sleep(0.05)
        for pid in self._tree:
            if self._ours(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

    def _ours(self, pid: int) -> bool:
        return alive(pid) and start_time(pid) == self._tree.get(pid)


def http_get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    """A plain GET on a loopback URL (no proxies)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=timeout) as response:
            return int(response.status), response.read()
    except OSError:
        return 0, b""


def wait_ready(proc: Proc, port: int, timeout: float = 120.0) -> float:
    """Seconds from the process start until ``/api/health`` says ``ready``."""
    deadline = time.monotonic() + timeout
    url = f"http://127.0.0.1:{port}/api/health"
    while time.monotonic() < deadline:
        status, body = http_get(url)
        if status == 200 and (b'"state":"ready"' in body or b'"state": "ready"' in body):
            return time.perf_counter() - proc.started_at
        if not proc.running():
            raise RuntimeError(f"{proc.name} exited; see {proc.log}")
        time.sleep(0.02)
    raise RuntimeError(f"{proc.name} not ready after {timeout} s; see {proc.log}")


def wait_port(proc: Proc, port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(port):
            return
        if not proc.running():
            raise RuntimeError(f"{proc.name} exited; see {proc.log}")
        time.sleep(0.02)
    raise RuntimeError(f"{proc.name} did not listen on {port}; see {proc.log}")


def settle(pid: int, *, max_s: float = 60.0, window: float = 0.5, idle_frac: float = 0.05) -> float:
    """Wait until *pid* and its children burn < *idle_frac* of a core; seconds waited."""
    t0 = time.monotonic()

    def tree_cpu() -> float:
        return cpu_seconds(pid) + sum(cpu_seconds(c) for c in descendants(pid))

    previous = tree_cpu()
    while time.monotonic() - t0 < max_s:
        time.sleep(window)
        current = tree_cpu()
        if current - previous < idle_frac * window:
            break
        previous = current
    return max(0.0, time.monotonic() - t0 - window)
