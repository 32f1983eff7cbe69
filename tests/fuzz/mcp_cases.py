"""The MCP half of the fuzz pass: JSON-RPC edge cases for each wire of ``/mcp``.

Each message is JSON *text* (ids of every type, batches, broken envelopes, wrong
``params``, unknown methods, responses to nothing, deep nesting, lone surrogates); each is
sent on the wires a client can use: a 2025-11-25 session (``initialize`` and
``Mcp-Session-Id``), no session, the stateless 2026-07-28 wire, and the legacy SSE
``/messages``. Header cases (Accept, ``MCP-Protocol-Version``, session ids of odd shapes,
content types, methods) are sent with a good message. :func:`mcp_problems` says what an
answer must be: never a 5xx; a refusal is a JSON-RPC error body with a spec code; a
request with a valid id gets its response, a notification or response 202.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import Any

from tests.fuzz.wire import Answer

MODERN = "2026-07-28"
HANDSHAKE = "2025-11-25"
ACCEPT = "application/json, text/event-stream"

#: Codes a refusal may carry: JSON-RPC's own, mcp-hub's legacy -32000, and 2026-07-28's
#: header mismatch (-32020), missing capability (-32021) and unsupported version (-32022).
ERROR_CODES = {-32700, -32600, -32601, -32602, -32603, -32000, -32002, -32020, -32021, -32022}

_META = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientCapabilities": {},
}


def _request(method: Any, params: Any = None, request_id: Any = 1, **extra: Any) -> str:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
    if params is not None:
        message["params"] = params
    return json.dumps({**message, **extra})


#: (label, JSON text, kind): kind "request" must be answered with its id, "other" is a
#: notification or response (202 or a refusal), "bad" must be refused.
MESSAGES: list[tuple[str, str, str]] = [
    ("ping", _request("ping"), "request"),
    ("tools/list", _request("tools/list"), "request"),
    (
        "echo",
        _request("tools/call", {"name": "everything__echo", "arguments": {"message": "x"}}),
        "request",
    ),
    ("empty-batch", "[]", "bad"),
    ("batch", "[" + _request("ping") + ", " + _request("ping", request_id=2) + "]", "bad"),
    ("mixed-batch", "[" + _request("ping") + ', {"jsonrpc": "2.0", "method": "x"}]', "bad"),
    ("id-null", _request("ping", request_id=None), "bad"),
    ("id-float", _request("ping", request_id=1.5), "bad"),
    ("id-object", _request("ping", request_id={"a": 1}), "bad"),
    ("id-array", _request("ping", request_id=[1]), "bad"),
    ("id-true", _request("ping", request_id=True), "bad"),
    ("id-huge-int", '{"jsonrpc": "2.0", "id": 1' + "0" * 40 + ', "method": "ping"}', "request"),
    ("id-too-many-digits", '{"jsonrpc": "2.0", "id": ' + "9" * 5000 + ', "method": "ping"}', "bad"),
    ("id-negative", _request("ping", request_id=-7), "request"),
    ("id-empty-string", _request("ping", request_id=""), "request"),
    ("id-long-string", _request("ping", request_id="i" * 20_000), "request"),
    ("id-surrogate", '{"jsonrpc": "2.0", "id": "\\ud800", "method": "ping"}', "bad"),
    ("no-jsonrpc", '{"id": 1, "method": "ping"}', "bad"),
    ("jsonrpc-1.0", '{"jsonrpc": "1.0", "id": 1, "method": "ping"}', "bad"),
    ("jsonrpc-number", '{"jsonrpc": 2.0, "id": 1, "method": "ping"}', "bad"),
    ("method-number", _request(5), "bad"),
    ("method-null", _request(None), "bad"),
    ("method-empty", _request(""), "request"),
    ("unknown-method", _request("no/such/method"), "request"),
    ("rpc-method", _request("rpc.discover"), "request"),
    ("params-array", _request("tools/list", [1, 2]), "bad"),
    ("params-string", _request("tools/list", "s"), "bad"),
    ("params-number", _request("tools/list", 3), "bad"),
    (
        "params-null",
        '{"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": null}',
        "request",
    ),
    ("call-no-name", _request("tools/call", {"arguments": {}}), "request"),
    ("call-name-number", _request("tools/call", {"name": 5}), "request"),
    ("call-unknown-tool", _request("tools/call", {"name": "nope__nope"}), "request"),
    (
        "call-args-array",
        _request("tools/call", {"name": "everything__echo", "arguments": [1]}),
        "request",
    ),
    (
        "call-args-string",
        _request("tools/call", {"name": "everything__echo", "arguments": "s"}),
        "request",
    ),
    (
        "call-args-surrogate",
        '{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": '
        '"everything__echo", "arguments": {"message": "\\ud800"}}}',
        "bad",
    ),
    (
        "call-remote-surrogate",
        '{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": '
        '"remote__echo", "arguments": {"message": "\\udc00"}}}',
        "bad",
    ),
    (
        "call-args-nul",
        _request("tools/call", {"name": "everything__echo", "arguments": {"message": "a\u0000b"}}),
        "request",
    ),
    (
        "call-huge-arg",
        _request(
            "tools/call", {"name": "everything__echo", "arguments": {"message": "x" * (1 << 20)}}
        ),
        "request",
    ),
    (
        "read-surrogate",
        '{"jsonrpc": "2.0", "id": 1, "method": "resources/read", "params": {"uri": '
        '"everything+\\ud800"}}',
        "bad",
    ),
    ("read-bad-uri", _request("resources/read", {"uri": "::::"}), "request"),
    (
        "prompt-args-array",
        _request("prompts/get", {"name": "everything__simple", "arguments": [1]}),
        "request",
    ),
    ("complete-bad-ref", _request("completion/complete", {"ref": {"type": "x"}}), "request"),
    ("set-level-bogus", _request("logging/setLevel", {"level": "bogus"}), "request"),
    ("subscribe-nothing", _request("resources/subscribe", {}), "request"),
    ("initialize-bad-params", _request("initialize", {"protocolVersion": 5}), "request"),
    ("notification-with-id", _request("notifications/initialized"), "request"),
    (
        "cancel-unknown",
        json.dumps(
            {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 424242}}
        ),
        "other",
    ),
    (
        "cancel-null-id",
        json.dumps(
            {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": None}}
        ),
        "other",
    ),
    ("cancel-no-params", '{"jsonrpc": "2.0", "method": "notifications/cancelled"}', "other"),
    (
        "progress-unknown",
        json.dumps(
            {
                "jsonrpc": "2.0",
                "method": "notifications/progress",
                "params": {"progressToken": "t", "progress": 1},
            }
        ),
        "other",
    ),
    ("unknown-notification", '{"jsonrpc": "2.0", "method": "notifications/nope"}', "other"),
    (
        "notification-params-array",
        '{"jsonrpc": "2.0", "method": "notifications/x", "params": [1]}',
        "bad",
    ),
    ("response-to-nothing", '{"jsonrpc": "2.0", "id": 4242, "result": {}}', "other"),
    (
        "error-to-nothing",
        '{"jsonrpc": "2.0", "id": 4242, "error": {"code": 1, "message": "x"}}',
        "other",
    ),
    ("response-string-id", '{"jsonrpc": "2.0", "id": "s-4242", "result": {"a": [1]}}', "other"),
    ("bad-error-shape", '{"jsonrpc": "2.0", "id": 4242, "error": "x"}', "bad"),
    (
        "result-and-error",
        '{"jsonrpc": "2.0", "id": 4242, "result": {}, "error": {"code": 1, "message": "x"}}',
        "other",
    ),  # invalid, but a response to nothing: taken and dropped, as mcp-hub does
    ("extra-members", _request("ping", extra={"x": 1}), "request"),
    ("duplicate-id-key", '{"jsonrpc": "2.0", "id": 1, "id": 2, "method": "ping"}', "request"),
    (
        "deep-params-300",
        '{"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {"_meta": '
        + '{"a": ' * 300
        + "1"
        + "}" * 301
        + "}",
        "any",
    ),
    (
        "deep-params-800",
        '{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": '
        '{"name": "everything__echo", "arguments": {"message": ' + "[" * 800 + "]" * 800 + "}}}",
        "any",
    ),
    ("deep-10k", "[" * 10_000 + "]" * 10_000, "bad"),
    ("deep-object-10k", '{"a": ' * 10_000 + "1" + "}" * 10_000, "bad"),
    ("not-json", "{nope", "bad"),
    ("truncated", '{"jsonrpc": "2.0", "id": 1, "method": "pi', "bad"),
    ("bad-utf8", b'{"jsonrpc": "2.0", "id": 1, "method": "\xff"}'.decode("latin-1"), "bad"),
    ("nan", '{"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {"x": NaN}}', "any"),
    ("number", "1", "bad"),
    ("string", '"ping"', "bad"),
    ("null", "null", "bad"),
    ("empty", "", "bad"),
]


@dataclass(frozen=True)
class McpCase:
    """One exchange with ``/mcp`` or ``/messages``. ``wire``: the wire it goes on
    (handshake, sessionless, modern, legacy); the session id, when one is needed, is
    filled in when the case is sent."""

    name: str
    wire: str
    method: str
    body: bytes
    kind: str
    headers: tuple[tuple[str, str], ...] = ()
    #: Leave out the session id the wire would add (the case sets its own or none).
    own_session: bool = False


def _modern_headers(text: str) -> tuple[tuple[str, str], ...]:
    """The routing headers a 2026-07-28 client sends with *text* (a best effort on junk)."""
    headers = [("MCP-Protocol-Version", MODERN)]
    try:
        message = json.loads(text)
    except (ValueError, RecursionError):
        return tuple(headers)
    if isinstance(message, dict) and isinstance(message.get("method"), str):
        headers.append(("Mcp-Method", message["method"]))
        params = message.get("params")
        name = params.get("name") or params.get("uri") if isinstance(params, dict) else None
        if isinstance(name, str) and name.isascii() and name.isprintable():
            headers.append(("Mcp-Name", name))
    return tuple(headers)


def _modern_body(text: str) -> str:
    """*text* with the 2026-07-28 envelope in ``params._meta`` where it has a place."""
    try:
        message = json.loads(text)
    except (ValueError, RecursionError):
        return text
    if not isinstance(message, dict) or "method" not in message or "id" not in message:
        return text
    params = message.get("params")
    if params is None:
        params = {}
    if isinstance(params, dict):
        meta = params.get("_meta")
        meta = meta if isinstance(meta, dict) else {}
        message["params"] = {**params, "_meta": {**meta, **_META}}
    return json.dumps(message)


HEADER_CASES: list[tuple[str, tuple[tuple[str, str], ...], bool]] = [
    ("no-accept", (("Accept", ""),), False),
    ("accept-json-only", (("Accept", "application/json"),), False),
    ("accept-sse-only", (("Accept", "text/event-stream"),), False),
    ("accept-any", (("Accept", "*/*"),), False),
    ("accept-junk", (("Accept", ",,;;q=x"),), False),
    ("version-empty", (("MCP-Protocol-Version", ""),), False),
    ("version-bogus", (("MCP-Protocol-Version", "1999-01-01"),), False),
    ("version-junk", (("MCP-Protocol-Version", "\x7f\x01junk"),), False),
    (
        "version-twice",
        (("MCP-Protocol-Version", HANDSHAKE), ("MCP-Protocol-Version", MODERN)),
        False,
    ),
    ("version-modern-in-session", (("MCP-Protocol-Version", MODERN),), False),
    ("content-type-text", (("Content-Type", "text/plain"),), False),
    ("content-type-none", (("Content-Type", ""),), False),
    ("content-type-charset", (("Content-Type", "application/json; charset=utf-16"),), False),
    ("session-empty", (("Mcp-Session-Id", ""),), True),
    ("session-space", (("Mcp-Session-Id", " "),), True),
    ("session-long", (("Mcp-Session-Id", "s" * 6000),), True),
    ("session-path", (("Mcp-Session-Id", "../../etc/passwd"),), True),
    ("session-latin1", (("Mcp-Session-Id", "caf\xe9\xff"),), True),
    ("session-percent", (("Mcp-Session-Id", "%00%ff"),), True),
    ("session-control", (("Mcp-Session-Id", "a\x01b"),), True),
    ("session-twice", (("Mcp-Session-Id", "a"), ("Mcp-Session-Id", "b")), True),
]


def mcp_cases(seed: int, limit: int) -> list[McpCase]:
    """Every message on every wire, then the header cases; shuffled by *seed*, at most
    *limit* of them (the cut keeps a share of each wire)."""
    rng = random.Random(seed)
    groups: list[list[McpCase]] = []
    for wire in ("handshake", "sessionless", "modern", "legacy"):
        group = []
        for label, text, kind in MESSAGES:
            if wire == "modern":
                headers, text = _modern_headers(text), _modern_body(text)
            else:
                headers = ()
            body = (
                text.encode("utf-8", "surrogatepass")
                if label != "bad-utf8"
                else (text.encode("latin-1"))
            )
            group.append(McpCase(f"{wire} {label}", wire, "POST", body, kind, headers))
        groups.append(group)
    ping = _request("ping").encode()
    header_group = []
    for label, headers, own in HEADER_CASES:
        for wire in ("handshake", "modern"):
            body = _modern_body(ping.decode()).encode() if wire == "modern" else ping
            base = _modern_headers(ping.decode()) if wire == "modern" else ()
            names = {name.lower() for name, _ in headers}
            merged = tuple(h for h in base if h[0].lower() not in names) + headers
            header_group.append(
                McpCase(f"{wire} header {label}", wire, "POST", body, "any", merged, own)
            )
    for method in ("GET", "DELETE", "PUT", "PATCH", "OPTIONS", "HEAD"):
        for wire in ("handshake", "sessionless", "modern"):
            # DELETE with the session's id would end it, as it should: sent without one.
            own = method == "DELETE"
            header_group.append(
                McpCase(f"{wire} method {method}", wire, method, b"", "any", own_session=own)
            )
    groups.append(header_group)
    total = sum(len(group) for group in groups)
    chosen: list[McpCase] = []
    for group in groups:
        share = max(1, len(group) * limit // total) if total > limit else len(group)
        chosen += rng.sample(group, min(share, len(group)))
    rng.shuffle(chosen)
    return chosen


def rpc_error(answer: Answer) -> dict[str, Any] | None:
    """The JSON-RPC error object of a refusal, or None when the body is not one."""
    try:
        body = answer.json()
    except ValueError:
        return None
    if not isinstance(body, dict) or body.get("jsonrpc") != "2.0" or "id" not in body:
        return None
    error = body.get("error")
    return error if isinstance(error, dict) else None


def mcp_problems(case: McpCase, answer: Answer) -> list[str]:
    """What is wrong with *answer* to *case* (an empty list when nothing is)."""
    if answer.failure is not None:
        return [answer.failure]
    status = answer.status
    if status >= 500:
        return [f"{status} {answer.body[:300]!r}"]
    if case.method in ("HEAD", "OPTIONS") or case.kind == "any" and status < 400:
        return []
    if case.wire == "legacy" and status == 202:
        return []  # the answer, if any, comes on the SSE stream (read by the caller)
    if status >= 400:
        if status in (401, 403):
            return [f"{status}: refused by policy"]
        if status == 400 and not answer.headers.get("content-type"):
            return []  # the wire layer refused a request it cannot parse (a control byte)
        error = rpc_error(answer)
        if error is None:
            return [f"{status} is not a JSON-RPC error: {answer.body[:300]!r}"]
        if error.get("code") not in ERROR_CODES or not isinstance(error.get("message"), str):
            return [f"{status} with error {str(error)[:300]}"]
        # In a session a request with a good id is the kernel's to answer (its errors come
        # with 200); sessionless and 2026-07-28 refusals are the transport's, with 4xx.
        if case.kind == "request" and case.wire == "handshake" and not case.headers:
            return [f"a request with a good id refused {status}: {str(error)[:300]}"]
        return []
    if case.kind == "bad":
        return [f"accepted with {status}: {answer.body[:300]!r}"]
    if case.kind == "other":
        return [] if status == 202 else [f"{status} to a notification or response"]
    if status == 202:
        return ["a request answered 202"]
    return []
