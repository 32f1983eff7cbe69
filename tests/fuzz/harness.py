"""Running fuzz cases against a real hub: the wires' sessions, the legacy SSE reader, and
the hub's health between rounds (log, ``/api/health``, a real call, fds, server states)."""

from __future__ import annotations

import json
import os
import queue
import threading
import time
from typing import Any

import httpx

from tests.fuzz.mcp_cases import ACCEPT, HANDSHAKE, McpCase, mcp_problems
from tests.fuzz.wire import Answer, exchange
from tests.helpers import HubProcess, initialize_request


class LegacyStream:
    """A legacy HTTP+SSE client: ``GET /mcp`` read on a thread, its ``/messages`` URL."""

    def __init__(self, port: int) -> None:
        self.messages: queue.Queue[dict[str, Any]] = queue.Queue()
        self.endpoint: queue.Queue[str] = queue.Queue()
        self._client = httpx.Client(
            base_url=f"http://127.0.0.1:{port}", timeout=httpx.Timeout(10, read=None)
        )
        self._response: httpx.Response | None = None
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        self.url = self.endpoint.get(timeout=10)

    def _read(self) -> None:
        try:
            accept = {"Accept": "text/event-stream"}
            with self._client.stream("GET", "/mcp", headers=accept) as response:
                self._response = response
                event = None
                for line in response.iter_lines():
                    if line.startswith("event: "):
                        event = line.removeprefix("event: ")
                    elif line.startswith("data: ") and event == "endpoint":
                        self.endpoint.put(line.removeprefix("data: "))
                    elif line.startswith("data: "):
                        self.messages.put(json.loads(line.removeprefix("data: ")))
        except (httpx.HTTPError, ValueError):
            pass  # closed by close(), or the hub ended the stream

    def answer_to(self, request_id: Any, timeout: float = 10.0) -> dict[str, Any] | None:
        """The response to *request_id* that arrives within *timeout* s (others are skipped)."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                message = self.messages.get(timeout=left)
            except queue.Empty:
                return None
            if message.get("id") == request_id and ("result" in message or "error" in message):
                return message
        return None

    def drain(self) -> None:
        while not self.messages.empty():
            self.messages.get_nowait()

    def close(self) -> None:
        self._client.close()
        self._thread.join(10)


def open_session(port: int, path: str = "/mcp") -> str:
    """A 2025-11-25 session of the raw wire at *path*, initialized."""
    headers = [("Accept", ACCEPT), ("Content-Type", "application/json")]
    opened = exchange(
        port,
        "POST",
        path,
        headers=headers,
        body=json.dumps(initialize_request("fuzz", HANDSHAKE)).encode(),
        stream=True,
    )
    assert opened.status == 200, opened
    session = opened.headers["mcp-session-id"]
    done = exchange(
        port,
        "POST",
        path,
        headers=[*headers, ("Mcp-Session-Id", session)],
        body=b'{"jsonrpc": "2.0", "method": "notifications/initialized"}',
    )
    assert done.status == 202, done
    return session


def sse_messages(answer: Answer) -> list[dict[str, Any]]:
    """The JSON-RPC messages of an event-stream body (or the one of a JSON body)."""
    if answer.content_type == "application/json":
        return [answer.json()]
    return [
        json.loads(line.removeprefix(b"data: "))
        for line in answer.body.splitlines()
        if line.startswith(b"data: ") and line.strip() != b"data:"
    ]


class McpRunner:
    """Sends MCP cases on their wire to the endpoint at *path* and judges the answers (the
    legacy wire is always ``/mcp``'s)."""

    def __init__(self, hub: HubProcess, path: str = "/mcp") -> None:
        self.hub = hub
        self.port = hub.port
        self.path = path
        self.session = open_session(self.port, path)
        self.legacy = LegacyStream(self.port)

    def close(self) -> None:
        self.legacy.close()
        exchange(self.port, "DELETE", self.path, headers=[("Mcp-Session-Id", self.session)])

    def send(self, case: McpCase) -> tuple[Answer, list[str]]:
        headers = [("Accept", ACCEPT), ("Content-Type", "application/json")]
        names = {name.lower() for name, _ in case.headers}
        if case.wire == "handshake" and not case.own_session:
            headers += [("Mcp-Session-Id", self.session), ("MCP-Protocol-Version", HANDSHAKE)]
        headers = [h for h in headers if h[0].lower() not in names] + list(case.headers)
        # An empty Accept or Content-Type in a case means: send none.
        headers = [h for h in headers if h[1] or h[0].lower() not in ("accept", "content-type")]
        if case.wire == "legacy":
            self.legacy.drain()
            answer = exchange(self.port, "POST", self.legacy.url, headers=headers, body=case.body)
        else:
            answer = exchange(
                self.port,
                case.method,
                self.path,
                headers=headers,
                body=case.body,
                stream=case.method == "POST",
            )
        problems = mcp_problems(case, answer)
        if not problems and case.kind == "request" and case.method == "POST":
            problems = self._answered(case, answer)
        return answer, problems

    def _answered(self, case: McpCase, answer: Answer) -> list[str]:
        """A request with a good id got its response, on the exchange or the legacy stream."""
        request_id = json.loads(case.body)["id"]
        if case.wire == "legacy":
            if answer.status != 202:
                return []
            message = self.legacy.answer_to(request_id)
            return [] if message is not None else ["no answer on the legacy stream"]
        if answer.status != 200:
            return []
        messages = sse_messages(answer)
        final = [m for m in messages if "id" in m and ("result" in m or "error" in m)]
        if len(final) != 1 or final[0]["id"] != request_id:
            return [f"not the response to id {str(request_id)[:40]}: {str(messages)[:300]}"]
        error = final[0].get("error")
        if error is not None and error.get("code") == -32603:
            return [f"internal error: {str(error)[:300]}"]
        return []


def hub_problems(
    hub: HubProcess, states_before: dict[str, str], fds_before: int | None
) -> list[str]:
    """After a round: no hub traceback, health answers, a real call works, server states
    as before, and (*fds_before* given) no more file descriptors than then."""
    problems = []
    for line in hub.log_text().splitlines():
        if " stderr: " in line:
            continue  # an upstream's own stderr, relayed
        if "Traceback" in line or "Uncaught exception" in line or "Exception in callback" in line:
            problems.append(f"hub log: {line[:400]}")
    health = hub.health()
    if health is None or health.get("state") not in ("ready", "restarted"):
        problems.append(f"/api/health: {health}")
    call = hub.api(
        "POST",
        "/api/servers/tools",
        {"server_name": "everything", "tool": "echo", "arguments": {"message": "alive"}},
    )
    if call.status_code != 200:
        problems.append(f"a normal call failed: {call.text[:300]}")
    states = {s["name"]: s["status"] for s in hub.api("GET", "/api/servers").json()["servers"]}
    if states != states_before:
        problems.append(f"server states changed: {states_before} -> {states}")
    fds = len(os.listdir(f"/proc/{hub.pid}/fd"))
    if fds_before is not None and fds > fds_before + 2:
        problems.append(f"fds grew from {fds_before} to {fds}")
    return problems
