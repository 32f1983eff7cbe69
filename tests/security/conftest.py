"""Fixtures of the security tests: a hub whose one server can reveal a planted secret.

- ``planted_hub`` (module scope): a ready hub on a free loopback port with server
  ``everything`` (tests/servers/everything_stdio.py) whose environment holds
  :data:`SECRET` as ``PLANTED_SECRET``; its ``env`` tool returns it to whoever may call it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import stdio_entry
from tests.helpers import HubProcess
from tests.hubs import running_hub

SECRET = "planted-secret-4c1d9e0b7a"


def everything(**extra: object) -> dict[str, object]:
    return stdio_entry("everything_stdio.py", env={"PLANTED_SECRET": SECRET}, **extra)


@pytest.fixture(scope="module")
def planted_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    root: Path = tmp_path_factory.mktemp("planted")
    with running_hub(root, {"everything": everything()}) as hub:
        yield hub
