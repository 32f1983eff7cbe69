"""Fixture stdio MCP server whose JSON only a lenient parser reads, as real servers' is.

Usage: ``python tests/servers/odd_json_stdio.py``. JavaScript strings are UTF-16: a
server that cuts a string between the halves of an emoji and writes it with
``JSON.stringify`` prints a lone ``\\ud83d`` escape; Python's ``json.dumps`` writes
``NaN`` and ``Infinity``. This server writes its JSON lines by hand (the Python SDK
writes neither), speaks the handshake era, and serves ``fixture-odd-json`` 1.0.0 with three
tools: ``cut``, whose description and every answer (``half an emoji: \\ud83d``) carry a
lone surrogate; ``measure``, whose ``structuredContent`` is
``{"x": NaN, "y": 1e999, "z": -Infinity, "ok": 1.5}``; and ``deep``, whose
``structuredContent`` nests 300 levels; and ``broken``, whose answer is not JSON
(``{"jsonrpc":"2.0","id":N,"result":{"content":[oops}``). With ``FIXTURE_DEEP_LIST=1`` its
``tools/list`` nests 300 levels too (no hub can write it on); with ``FIXTURE_BROKEN_LIST=1``
it is not JSON; with ``FIXTURE_MISSHAPEN_LIST=1`` it is not JSON-RPC (``"error": "boom"``).
Imports only the standard library.
"""

import json
import os
import sys

CUT = "\\ud83d"  # the escape as JSON text: the first half of U+1F600 alone


def reply(request_id: object, result: str) -> None:
    sys.stdout.write(f'{{"jsonrpc":"2.0","id":{json.dumps(request_id)},"result":{result}}}\n')
    sys.stdout.flush()


def main() -> None:
    for line in sys.stdin:
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if not isinstance(message, dict) or "id" not in message or "method" not in message:
            continue
        request_id, method = message["id"], message["method"]
        if method == "initialize":
            version = json.dumps(message.get("params", {}).get("protocolVersion", "2025-06-18"))
            reply(
                request_id,
                f'{{"protocolVersion":{version},"capabilities":{{"tools":{{}}}},'
                '"serverInfo":{"name":"fixture-odd-json","version":"1.0.0"}}',
            )
        elif method == "tools/list" and os.environ.get("FIXTURE_DEEP_LIST") == "1":
            reply(request_id, '{"tools":[{"name":"deep","x":' + "[" * 300 + "]" * 300 + "}]}")
        elif method == "tools/list" and os.environ.get("FIXTURE_MISSHAPEN_LIST") == "1":
            sys.stdout.write(f'{{"jsonrpc":"2.0","id":{json.dumps(request_id)},"error":"boom"}}\n')
            sys.stdout.flush()
        elif method == "tools/list" and os.environ.get("FIXTURE_BROKEN_LIST") == "1":
            reply(request_id, '{"tools":[oops}')
        elif method == "tools/list":
            schema = '"inputSchema":{"type":"object"}'
            cut = f'{{"name":"cut","description":"cuts {CUT}",{schema}}}'
            others = f'{{"name":"measure",{schema}}},{{"name":"deep",{schema}}}'
            others += f',{{"name":"broken",{schema}}}'
            reply(request_id, f'{{"tools":[{cut},{others}]}}')
        elif method == "tools/call" and message.get("params", {}).get("name") == "measure":
            numbers = '{"x":NaN,"y":1e999,"z":-Infinity,"ok":1.5}'
            reply(request_id, f'{{"content":[],"structuredContent":{numbers}}}')
        elif method == "tools/call" and message.get("params", {}).get("name") == "deep":
            nested = "[" * 300 + "]" * 300
            reply(request_id, f'{{"content":[],"structuredContent":{{"x":{nested}}}}}')
        elif method == "tools/call" and message.get("params", {}).get("name") == "broken":
            reply(request_id, '{"content":[oops}')
        elif method == "tools/call":
            reply(request_id, f'{{"content":[{{"type":"text","text":"half an emoji: {CUT}"}}]}}')
        elif method == "ping":
            reply(request_id, "{}")
        else:
            error = '{"code":-32601,"message":"Method not found"}'
            sys.stdout.write(f'{{"jsonrpc":"2.0","id":{json.dumps(request_id)},"error":{error}}}\n')
            sys.stdout.flush()


if __name__ == "__main__":
    main()
