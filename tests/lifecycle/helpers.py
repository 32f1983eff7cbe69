"""Helpers of the lifecycle suites: config edits as editors make them (REST calls on threads
are :class:`tests.faults.RestCall`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx


def write_servers(path: Path, servers: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"mcpServers": servers}))
    tmp.replace(path)  # as editors save: rename over the file


def assert_meaningful(response: httpx.Response) -> None:
    """Success, or an error whose text says something."""
    if response.status_code == 200:
        return
    body = response.json()
    texts = [body.get("error"), (body.get("data") or {}).get("error", "not given")]
    for text in texts:
        assert text not in (None, "", "None"), body
        assert not str(text).endswith(": None"), body
