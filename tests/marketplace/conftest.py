"""Marketplace fixtures.

- ``registry``: a started :class:`tests.marketplace.fakeregistry.RegistryServer` (mcp-hub
  catalog, official registry API and READMEs on a free loopback port), stopped at teardown.
- ``clock``: a settable clock (seconds) for TTL tests without sleeping.
- ``make_market``: builds :class:`tornadohub.marketplace.Marketplace` instances on the
  registry, with the clock and a cache file in tmp_path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.marketplace.fakeregistry import RegistryServer
from tornadohub.marketplace import Marketplace


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def registry() -> Iterator[RegistryServer]:
    server = RegistryServer().start()
    yield server
    server.stop()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def cache_path(tmp_path: Path) -> Path:
    return tmp_path / "cache" / "registry.json"


@pytest.fixture
def make_market(
    registry: RegistryServer, clock: Clock, cache_path: Path
) -> Callable[..., Marketplace]:
    def make(*, official: bool = False, **overrides: Any) -> Marketplace:
        options: dict[str, Any] = {
            "catalog_url": registry.catalog_url,
            "registry_url": registry.base if official else None,
            "readme_base_url": registry.readme_base,
            "cache_path": cache_path,
            "clock": clock,
            "timeout": 10.0,
        }
        options.update(overrides)
        return Marketplace(**options)

    return make
