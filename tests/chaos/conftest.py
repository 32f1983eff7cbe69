"""Fixtures of the chaos suite; its helpers are in :mod:`tests.faults`.

- ``flaky_http``: the HTTP fixture server and a flaky proxy in front of it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from tests.faults import CHAOS_SERVERS
from tests.helpers import ServerProcess, fixture_server, free_port


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture
def flaky_http() -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """(the HTTP fixture server, the flaky proxy in front of it)."""
    with fixture_server("http_server.py") as target:
        proxy_port = free_port()
        proxy = ServerProcess(
            [
                sys.executable,
                str(CHAOS_SERVERS / "flaky_proxy.py"),
                str(proxy_port),
                str(target.port),
            ],
            proxy_port,
        )
        try:
            proxy.start()
            yield target, proxy
        finally:
            proxy.stop()
