"""Helpers of the lifecycle suites: config edits as editors make them, REST calls on threads."""

from __future__ import annotations

import json
import threading
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


class Rest(threading.Thread):
    """One REST call on its own client and thread, so the file edit can race it."""

    def __init__(self, base_url: str, method: str, path: str, body: Any = None) -> None:
        super().__init__(daemon=True)
        self.args = (base_url, method, path, body)
        self.response: httpx.Response | None = None
        self.error: Exception | None = None
        self.start()

    def run(self) -> None:
        base_url, method, path, body = self.args
        try:
            with httpx.Client(base_url=base_url, timeout=120) as client:
                self.response = client.request(method, path, json=body)
        except Exception as exc:  # reported by result()
            self.error = exc

    def result(self) -> httpx.Response:
        self.join(120)
        assert not self.is_alive(), f"{self.args[1]} {self.args[2]} never returned"
        assert self.error is None, self.error
        assert self.response is not None
        return self.response
