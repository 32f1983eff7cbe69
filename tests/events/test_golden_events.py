"""``/api/events`` against mcp-hub 4.2.1's recordings (tests/golden/events), field for field.

One stream, opened while the hub is still ``starting`` (its ``everything`` server waits on
a FIFO until the stream has had the client's ``workspaces_updated``), is compared with
``startup-events.raw.txt`` up to ``hub_state ready``; then the REST actions of
``events-actions.json`` are made in order and what they bring is compared with
``events-raw.txt``. Compared: the stream's headers, its framing (``event:``/``data:`` pairs
and a blank line, nothing else), the order and payloads of every event but ``log`` (field
for field, :mod:`tests.replay`), and the shape of each ``log`` (keys and their order, value
types; the wording of our log lines is our own).
"""

from __future__ import annotations

import difflib
import json
import os
import queue
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conformance.node import require_node
from tests.golden_hub import CAPTURED_PORT, everything_http, golden_servers, offline_marketplace
from tests.helpers import ROOT, EventLines, HubProcess, wait_until
from tests.replay import differences

GOLDEN = ROOT / "tests" / "golden" / "events"
LINE = re.compile(r"^\+\s*[\d.]+ms \| (.*)$")
#: mcp-hub's log levels, and the keys of a log event in its order (``code``: errors only)
LOG_TYPES = {"debug", "info", "warn", "error"}
LOG_KEYS = ["type", "message", "data", "timestamp"]


def golden_headers() -> dict[str, str]:
    lines = (GOLDEN / "startup-events.headers.txt").read_text().splitlines()[1:]
    return {k.lower(): v for k, _, v in (line.partition(": ") for line in lines if line)}


def parse_frames(lines: list[str]) -> tuple[list[tuple[str, dict[str, Any]]], list[str]]:
    """Events of a raw SSE text in mcp-hub's framing, and whatever breaks that framing."""
    events: list[tuple[str, dict[str, Any]]] = []
    broken: list[str] = []
    index = 0
    while index < len(lines):
        block = lines[index : index + 3]
        index += 3
        if (
            len(block) == 3
            and block[0].startswith("event: ")
            and block[1].startswith("data: ")
            and block[2] == ""
        ):
            events.append((block[0][7:], json.loads(block[1][6:])))
        elif len(block) == 2 and block[0].startswith("event: ") and block[1].startswith("data:"):
            events.append((block[0][7:], json.loads(block[1][6:])))  # the capture's last one
        else:
            broken.append(repr(block))
    return events, broken


def golden_startup() -> list[tuple[str, dict[str, Any]]]:
    text = (GOLDEN / "startup-events.raw.txt").read_text()
    events, broken = parse_frames([*text.rstrip("\n").split("\n"), ""])
    assert not broken
    return events


def golden_actions() -> list[tuple[str, dict[str, Any]]]:
    lines = []
    for line in (GOLDEN / "events-raw.txt").read_text().splitlines():
        match = LINE.match(line)
        if match and not match[1].startswith("## "):
            lines.append(match[1].rstrip())
    events, broken = parse_frames(lines)
    assert not broken
    return events


class RawStream(EventLines):
    """``GET /api/events``, every line kept as sent."""

    def __init__(self, base_url: str) -> None:
        self.lines: queue.Queue[str | None] = queue.Queue()
        super().__init__(base_url)

    def _line(self, line: str) -> None:
        self.lines.put(line)

    def _ended(self) -> None:
        self.lines.put(None)

    def frames_until(self, name: str, timeout: float = 30, **match: Any) -> list[str]:
        """Raw lines up to and including the first event *name* whose payload has *match*."""
        seen: list[str] = []
        event = None
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"no {name} {match} within {timeout} s: {seen}") from None
            if line is None:
                raise AssertionError(f"stream ended before {name} {match}: {seen}")
            seen.append(line)
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == name:
                payload = json.loads(line[6:])
                if all(payload.get(k) == v for k, v in match.items()):
                    seen.append(self._blank(timeout))
                    return seen

    def _blank(self, timeout: float) -> str:
        line = self.lines.get(timeout=timeout)
        return "<end of stream>" if line is None else line


@pytest.fixture
def gated_hub(tmp_path: Path) -> Iterator[tuple[HubProcess, Path]]:
    """A hub on the capture's servers whose ``everything`` waits for a line on the gate."""
    node = require_node()
    (tmp_path / "home").mkdir()
    gate = tmp_path / "gate"
    os.mkfifo(gate)
    config = tmp_path / "servers.json"
    with everything_http(node) as url:
        servers = golden_servers(tmp_path, node, url, gate=gate)
        config.write_text(json.dumps({"mcpServers": servers}))
        hub = HubProcess(
            [str(config)], home=tmp_path / "home", cwd=tmp_path, env=offline_marketplace()
        )
        hub.start()
        try:
            yield hub, gate
        finally:
            hub.stop()


def open_gate(gate: Path) -> None:
    """Let the gated server start, this once (a restart starts it without waiting)."""
    with gate.open("w") as fifo:  # blocks until the gated server opens it for reading
        fifo.write("go\n")
    gate.unlink()


def label(name: str, payload: dict[str, Any]) -> str:
    kind = payload.get("type") or payload.get("state")
    return f"{name}:{kind}" if kind else name


def sequence_differences(
    golden: list[tuple[str, dict[str, Any]]],
    ours: list[tuple[str, dict[str, Any]]],
    phase: str,
    port: int,
) -> list[str]:
    """Differences between two runs' events other than ``log``: the same events in the
    same order (by name and type or state), each one field for field."""
    theirs = [(name, data) for name, data in golden if name != "log"]
    mine = [(name, data) for name, data in ours if name != "log"]
    matcher = difflib.SequenceMatcher(
        a=[label(*event) for event in theirs], b=[label(*event) for event in mine], autojunk=False
    )
    found: list[str] = []
    for tag, a1, a2, b1, b2 in matcher.get_opcodes():
        if tag == "equal":
            for (name, gold), (_, data) in zip(theirs[a1:a2], mine[b1:b2], strict=True):
                path = f"{phase} {label(name, gold)}"
                found += differences(gold, data, path, ports=(CAPTURED_PORT, str(port)))
            continue
        if a1 < a2:
            found.append(f"{phase}: missing {[label(*e) for e in theirs[a1:a2]]}")
        if b1 < b2:
            extra = [(label(*e), e[1]) for e in mine[b1:b2]]
            found.append(f"{phase}: extra {extra}")
    return found


def log_differences(ours: list[tuple[str, dict[str, Any]]], label: str) -> list[str]:
    """Every ``log`` event must have mcp-hub's keys in its order and value types."""
    found = []
    for index, (name, data) in enumerate(ours):
        if name != "log":
            continue
        keys = LOG_KEYS + (["code"] if data.get("type") == "error" else [])
        if list(data) != keys:
            found.append(f"{label}[{index}] log: keys {list(data)} where mcp-hub has {keys}")
        if data.get("type") not in LOG_TYPES:
            found.append(f"{label}[{index}] log: type {data.get('type')!r}")
        if not isinstance(data.get("message"), str) or not isinstance(data.get("data"), dict):
            found.append(f"{label}[{index}] log: message or data of another type: {data}")
    return found


def test_events_match_mcp_hub(gated_hub: tuple[HubProcess, Path]) -> None:
    hub, gate = gated_hub

    def listening() -> bool:
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", hub.port)) == 0

    wait_until(listening)
    stream = RawStream(f"http://127.0.0.1:{hub.port}")
    try:
        found: list[str] = []
        ours = dict((k.lower(), v) for k, v in stream.header_items)
        for name, value in golden_headers().items():
            if name in ("content-type", "cache-control", "connection", "x-accel-buffering"):
                if ours.get(name) != value:
                    found.append(f"header {name}: {ours.get(name)!r} where mcp-hub has {value!r}")
        first = stream.frames_until("hub_state")
        # mcp-hub announces the client's own workspace entry long before its servers are
        # up (155 ms against 1 s in the recording); ours too, while the gate holds them
        first += stream.frames_until("subscription_event", 10, type="workspaces_updated")
        open_gate(gate)
        startup_lines = first + stream.frames_until("hub_state", state="ready")
        startup, broken = parse_frames(startup_lines)
        found += [f"startup framing: {block}" for block in broken]
        found += sequence_differences(golden_startup(), startup, "startup", hub.port)
        found += log_differences(startup, "startup")

        action_lines: list[str] = []
        for action in json.loads((GOLDEN / "events-actions.json").read_text()):
            body = action.get("body")
            response = hub.client.request(action["method"], action["path"], json=body)
            if response.status_code != action["status"]:
                found.append(f"{action['path']}: {response.status_code} not {action['status']}")
        # every event the actions bring is sent before the next heartbeat
        action_lines = stream.frames_until("heartbeat", timeout=15)
        actions, broken = parse_frames(action_lines)
        found += [f"actions framing: {block}" for block in broken]
        golden = golden_actions()
        # skip what a new connection gets (hub_state, workspaces_updated): ours came above
        preamble = next(i for i, (n, d) in enumerate(golden) if n == "log" and i > 3)
        expected = [(n, d) for n, d in golden[preamble:] if n != "heartbeat"]
        heartbeats = [(n, d) for n, d in actions if n == "heartbeat"]
        actions = [(n, d) for n, d in actions if n != "heartbeat"]
        found += sequence_differences(expected, actions, "actions", hub.port)
        found += log_differences(actions, "actions")
        golden_beat = next(d for n, d in golden if n == "heartbeat")
        for _, beat in heartbeats:
            found += differences(golden_beat, beat, "heartbeat")
    finally:
        stream.close()
    report = "\n".join(found)
    assert not found, f"{len(found)} differences from mcp-hub 4.2.1's events:\n{report}"
