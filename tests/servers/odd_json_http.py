"""Fixture MCP server over HTTP whose JSON only a lenient parser reads, as real servers' is.

Usage: ``python tests/servers/odd_json_http.py PORT [json|sse] [--LIST]``, where ``--LIST`` is
``--deep-list``, ``--broken-list`` or ``--misshapen-list``.

The HTTP twin of ``odd_json_stdio.py``: a Node server cuts a string between the halves of
an emoji (``JSON.stringify`` writes a lone ``\\ud83d`` escape); Python's ``json.dumps``
writes ``NaN``. Its messages are written by hand (the Python SDK writes neither):

* Streamable HTTP on ``/mcp``: each answer a JSON body (``json``, the default) or an SSE
  stream of one event (``sse``); the legacy HTTP+SSE transport on ``GET /sse`` and
  ``POST /messages/`` (answers as events of the GET stream);
* server ``fixture-odd-json`` 1.0.0, handshake era; tools ``cut`` (its description and
  answer carry a lone surrogate), ``measure`` (``inputSchema`` has ``"default": NaN``, its
  ``structuredContent`` is ``{"x": NaN, "y": 1e999, "z": -Infinity, "ok": 1.5}``) and
  ``deep`` (``structuredContent`` nested 300 levels); resource ``odd://cut`` (name and text
  with a lone surrogate); template ``odd://{n}`` (``"size": NaN``, its list has no
  surrogate: only the ``NaN`` is odd in it);
* ``--deep-list``: ``tools/list`` answers a list nested 300 levels, which no hub can write on;
  the tool ``spoil`` turns that on and sends ``notifications/tools/list_changed`` before its
  answer (on the answer's SSE stream, or the legacy GET stream; JSON answers carry none);
* ``--broken-list``: ``tools/list`` answers text that is not JSON;
* ``--misshapen-list``: ``tools/list`` answers JSON that is no JSON-RPC answer
  (``"error": "boom"``);
* binds 127.0.0.1; prints ``READY <url>`` once listening. Imports ``uvicorn`` (through
  ``http_server.serve_asgi``) and the standard library.
"""

import json
import sys
import uuid
from pathlib import Path
from typing import Any

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.servers.http_server import serve_asgi

USAGE = (
    "usage: python tests/servers/odd_json_http.py PORT [json|sse]"
    " [--deep-list|--broken-list|--misshapen-list]"
)
CUT = "\\ud83d"  # the escape as JSON text: the first half of U+1F600 alone
SCHEMA = '"inputSchema":{"type":"object"}'
NESTED = "[" * 300 + "]" * 300


def result_text(method: str, params: dict[str, Any], list_kind: str) -> str | None:
    """The JSON text of the result of *method*, None when the server has no such method."""
    if method == "initialize":
        version = json.dumps(params.get("protocolVersion", "2025-06-18"))
        return (
            f'{{"protocolVersion":{version},"capabilities":{{"tools":{{}},"resources":{{}}}},'
            '"serverInfo":{"name":"fixture-odd-json","version":"1.0.0"}}'
        )
    if method == "tools/list":
        if list_kind == "broken":
            return '{"tools":[oops'
        if list_kind == "deep":
            return f'{{"tools":[{{"name":"deep",{SCHEMA},"x":{NESTED}}}]}}'
        cut = f'{{"name":"cut","description":"cuts {CUT}",{SCHEMA}}}'
        measure = '{"name":"measure","inputSchema":{"type":"object","default":NaN}}'
        more = f'{{"name":"deep",{SCHEMA}}},{{"name":"spoil",{SCHEMA}}}'
        return f'{{"tools":[{cut},{measure},{more}]}}'
    if method == "tools/call":
        name = params.get("name")
        if name == "measure":
            numbers = '{"x":NaN,"y":1e999,"z":-Infinity,"ok":1.5}'
            return f'{{"content":[],"structuredContent":{numbers}}}'
        if name == "deep":
            return f'{{"content":[],"structuredContent":{{"x":{NESTED}}}}}'
        if name == "spoil":
            return '{"content":[{"type":"text","text":"spoilt"}]}'
        return f'{{"content":[{{"type":"text","text":"half an emoji: {CUT}"}}]}}'
    if method == "resources/list":
        return f'{{"resources":[{{"uri":"odd://cut","name":"cut {CUT}"}}]}}'
    if method == "resources/read":
        return f'{{"contents":[{{"uri":"odd://cut","text":"half an emoji: {CUT}"}}]}}'
    if method == "resources/templates/list":
        return '{"resourceTemplates":[{"uriTemplate":"odd://{n}","name":"n","size":NaN}]}'
    if method == "ping":
        return "{}"
    return None


def answer(message: dict[str, Any], list_kind: str) -> str:
    """The JSON-RPC answer to one request, as text."""
    request_id = json.dumps(message["id"])
    params = message.get("params")
    params = params if isinstance(params, dict) else {}
    if message["method"] == "tools/list" and list_kind == "misshapen":
        return f'{{"jsonrpc":"2.0","id":{request_id},"error":"boom"}}'
    result = result_text(message["method"], params, list_kind)
    if result is None:
        error = '{"code":-32601,"message":"Method not found"}'
        return f'{{"jsonrpc":"2.0","id":{request_id},"error":{error}}}'
    return f'{{"jsonrpc":"2.0","id":{request_id},"result":{result}}}'


async def respond(send: Any, status: int, content_type: bytes, body: bytes, *extra: Any) -> None:
    headers = [(b"content-type", content_type), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def read_body(receive: Any) -> bytes:
    body = b""
    while True:
        event = await receive()
        body += bytes(event.get("body", b""))
        if not event.get("more_body"):
            return body


class OddJson:
    """ASGI app: Streamable HTTP on /mcp, the legacy transport on /sse + /messages/."""

    def __init__(self, sse: bool, list_kind: str) -> None:
        self.sse = sse
        self.list_kind = list_kind
        #: The legacy transport's open GET streams, by session id.
        self.legacy: dict[str, anyio.abc.ObjectSendStream[str]] = {}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        path, method = scope["path"], scope["method"]
        if path == "/mcp" and method == "POST":
            await self.streamable(await read_body(receive), send)
        elif path == "/sse" and method == "GET":
            await self.legacy_stream(receive, send)
        elif path == "/messages/" and method == "POST":
            query = dict(
                part.split("=", 1) for part in scope["query_string"].decode().split("&") if part
            )
            stream = self.legacy.get(query.get("session_id", ""))
            message = json.loads(await read_body(receive))
            if stream is not None and "id" in message and "method" in message:
                for text in self.answers(message):
                    await stream.send(text)
            await respond(send, 202, b"text/plain", b"Accepted")
        else:
            await respond(send, 405, b"text/plain", b"Method Not Allowed")

    async def streamable(self, body: bytes, send: Any) -> None:
        message = json.loads(body)
        if "id" not in message or "method" not in message:
            await respond(send, 202, b"text/plain", b"")
            return
        texts = self.answers(message)
        session = (b"mcp-session-id", b"odd-json-session")
        if self.sse:
            events = "".join(f"event: message\ndata: {text}\n\n" for text in texts)
            await respond(send, 200, b"text/event-stream", events.encode(), session)
        else:
            await respond(send, 200, b"application/json", texts[-1].encode(), session)

    def answers(self, message: dict[str, Any]) -> list[str]:
        """What a request is answered with: ``spoil``'s notification, then the answer."""
        params = message.get("params")
        if message["method"] == "tools/call" and isinstance(params, dict):
            if params.get("name") == "spoil":
                self.list_kind = "deep"
                changed = '{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}'
                return [changed, answer(message, self.list_kind)]
        return [answer(message, self.list_kind)]

    async def legacy_stream(self, receive: Any, send: Any) -> None:
        """The GET stream, until the client goes (a server stopping waits for it to end)."""
        session_id = uuid.uuid4().hex
        outbox, inbox = anyio.create_memory_object_stream[str](16)
        self.legacy[session_id] = outbox
        headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        endpoint = f"event: endpoint\ndata: /messages/?session_id={session_id}\n\n"
        await send({"type": "http.response.body", "body": endpoint.encode(), "more_body": True})

        async def relay() -> None:
            async for text in inbox:
                event = f"event: message\ndata: {text}\n\n".encode()
                await send({"type": "http.response.body", "body": event, "more_body": True})

        try:
            async with anyio.create_task_group() as group:
                group.start_soon(relay)
                while (await receive())["type"] != "http.disconnect":
                    pass
                group.cancel_scope.cancel()
        finally:
            self.legacy.pop(session_id, None)


def main() -> None:
    args = sys.argv[1:]
    flags = {"--deep-list": "deep", "--broken-list": "broken", "--misshapen-list": "misshapen"}
    list_kinds = [flags[arg] for arg in args if arg in flags]
    args = [arg for arg in args if arg not in flags]
    if not 1 <= len(args) <= 2 or not args[0].isdigit() or args[1:] not in ([], ["json"], ["sse"]):
        raise SystemExit(USAGE)
    app = OddJson(sse=args[1:] == ["sse"], list_kind=(list_kinds or ["odd"])[0])
    anyio.run(serve_asgi, app, int(args[0]))


if __name__ == "__main__":
    main()
