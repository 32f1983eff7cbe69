"""A real nginx (Debian's ``nginx``) in front of a hub, for the reverse-proxy tests.

:func:`running_nginx` starts ``/usr/sbin/nginx`` in the foreground with its own prefix,
config, logs and temp directories under a test directory, listening on a free loopback
port, and stops it by pid. ``master_process off`` keeps it one process running as the
test's user, so nothing else needs to read the test's directories. :func:`readme_block`
returns a fenced block of the README, so a test runs exactly what the README tells users.
"""

from __future__ import annotations

import contextlib
import re
import signal
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.external import require_program
from tests.helpers import ROOT, free_port, wait_until

NGINX_SEARCH = ("/usr/sbin/nginx",)


def readme_block(heading: str, language: str = "nginx") -> str:
    """The first ```*language* block after the README heading *heading*."""
    text = (ROOT / "README.md").read_text()
    start = text.index(f"\n{heading}\n")
    match = re.compile(rf"```{language}\n(.*?)```", re.S).search(text, start)
    if match is None:
        raise LookupError(f"no {language} block after {heading!r} in README.md")
    return match.group(1)


@dataclass
class Nginx:
    port: int
    prefix: Path
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def error_log(self) -> str:
        path = self.prefix / "error.log"
        return path.read_text() if path.exists() else ""


def config_text(prefix: Path, port: int, server_name: str, server_body: str) -> str:
    temps = "\n".join(
        f"    {kind}_temp_path {prefix / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""daemon off;
master_process off;
pid {prefix / "nginx.pid"};
error_log {prefix / "error.log"} info;
events {{ worker_connections 256; }}
http {{
    access_log {prefix / "access.log"};
{temps}
    server {{
        listen 127.0.0.1:{port};
        server_name {server_name};
{server_body}
    }}
}}
"""


@contextlib.contextmanager
def running_nginx(prefix: Path, server_body: str, *, server_name: str) -> Iterator[Nginx]:
    """nginx serving one ``server`` block (*server_body* inside it) on a free loopback port."""
    binary = require_program("nginx", "nginx", search=NGINX_SEARCH)
    prefix.mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = prefix / "nginx.conf"
    conf.write_text(config_text(prefix, port, server_name, server_body))
    argv = [binary, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    nginx = Nginx(port, prefix, process)

    def listening() -> bool:
        if process.poll() is not None:
            stderr = process.stderr.read().decode() if process.stderr else ""
            raise AssertionError(f"nginx exited {process.returncode}: {stderr}{nginx.error_log()}")
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", port)) == 0

    try:
        wait_until(listening, 20)
        yield nginx
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGQUIT)  # graceful stop
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        if process.stderr is not None:
            process.stderr.close()
