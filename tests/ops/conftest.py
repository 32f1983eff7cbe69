"""Helpers for the operations tests: metric scrapes, API keys, hubs that need a key.

- ``scrape(hub)``: ``GET /metrics`` parsed with prometheus-client's own parser.
- ``TOKENS``: two API keys (names ``ci`` and ``laptop``) long enough to be planted and grepped.
- ``start_authed_hub``: like ``start_hub``, with ``ci``'s token in a token file, ``laptop``'s
  in ``MCP_HUB_AUTH_TOKENS``, and the test client presenting ``ci``'s.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from tests.helpers import HubProcess

OPS = Path(__file__).resolve().parent

TOKENS = {
    "ci": "planted-ci-secret-7f3a9c1e5b2d4086",
    "laptop": "planted-laptop-secret-e41b8d2c9a7f3065",
}


def bearer(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[name]}"}


def slow_stop_entry() -> dict[str, Any]:
    return {"command": sys.executable, "args": [str(OPS / "slow_stop_stdio.py")]}


class Scrape:
    """One ``/metrics`` answer: its families and samples."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.families = {family.name: family for family in text_string_to_metric_families(text)}

    @property
    def samples(self) -> list[Sample]:
        return [sample for family in self.families.values() for sample in family.samples]

    def value(self, name: str, **labels: str) -> float | None:
        """The value of the sample *name* with exactly *labels*; None when there is none."""
        for sample in self.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
        return None

    def label_sets(self, name: str) -> list[dict[str, str]]:
        return [dict(sample.labels) for sample in self.samples if sample.name == name]


def scrape(hub: HubProcess, headers: dict[str, str] | None = None) -> Scrape:
    response = hub.client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain"), response.headers
    return Scrape(response.text)


@pytest.fixture
def start_authed_hub(
    start_hub: Callable[..., HubProcess], tmp_path: Path
) -> Callable[..., HubProcess]:
    token_file = tmp_path / "tokens"
    token_file.write_text(f"# the CI key\nci:{TOKENS['ci']}\n")
    token_file.chmod(0o600)

    def start(*configs: str, extra_args: tuple[str, ...] = (), **env: str) -> HubProcess:
        hub = start_hub(
            *configs,
            extra_args=("--auth-token-file", str(token_file), *extra_args),
            wait=False,
            MCP_HUB_AUTH_TOKENS=f"laptop:{TOKENS['laptop']}",
            **env,
        )
        hub.client.headers.update(bearer("ci"))
        hub.wait_ready()
        return hub

    return start
