"""A raw HTTP/1.1 client for the fuzz pass: bytes out exactly as written, bounded reads.

httpx and http.client normalise what the fuzz pass wants to send as is (a request target
with raw or broken percent-encodings, repeated headers, any method name), so each case is
one request on its own loopback connection, written byte for byte; the answer is parsed
with :class:`http.client.HTTPResponse`. A stream (``text/event-stream``) is not read to
its end: its status and headers are the answer.
"""

from __future__ import annotations

import http.client
import json
import socket
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Answer:
    """One response: status, headers (lower-cased names) and body, or why there was none."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    failure: str | None = None  # no answer within the timeout, or the connection broke

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


def exchange(
    port: int,
    method: str,
    target: bytes | str,
    *,
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
    timeout: float = 10.0,
    stream: bool = False,
) -> Answer:
    """Send one request and read its answer within *timeout* seconds.

    ``Host`` and ``Content-Length`` (when there is a body, or the method is POST) are added
    unless *headers* has them; the connection is closed after the answer. *stream*: read
    an event stream to its end too (a POST's stream ends with its response).
    """
    lines = list(headers or [])
    names = {name.lower() for name, _ in lines}
    if "host" not in names:
        lines.insert(0, ("Host", f"127.0.0.1:{port}"))
    if "content-length" not in names and (body or method == "POST"):
        lines.append(("Content-Length", str(len(body))))
    lines.append(("Connection", "close"))
    raw_target = target.encode("latin-1") if isinstance(target, str) else target
    head = method.encode("latin-1") + b" " + raw_target + b" HTTP/1.1\r\n"
    head += b"".join(f"{name}: {value}\r\n".encode("latin-1") for name, value in lines)
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(head + b"\r\n" + body)
        except OSError as exc:  # refused early (a 413 at header time) and closed
            return _read(sock, method, stream) or Answer(0, failure=f"send failed: {exc}")
        answer = _read(sock, method, stream)
        return answer or Answer(0, failure="connection closed without an answer")


def _read(sock: socket.socket, method: str, stream: bool) -> Answer | None:
    response = http.client.HTTPResponse(sock, method=method)
    try:
        response.begin()
        headers = {name.lower(): value for name, value in response.getheaders()}
        if headers.get("content-type", "").startswith("text/event-stream") and not stream:
            return Answer(response.status, headers)
        return Answer(response.status, headers, response.read())
    except TimeoutError:
        return Answer(0, failure="no answer within the timeout")
    except (http.client.HTTPException, OSError):
        return None
    finally:
        response.close()
