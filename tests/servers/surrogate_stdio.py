"""Fixture stdio MCP server whose text has lone surrogates, as a Node server's can.

Usage: ``python tests/servers/surrogate_stdio.py``. JavaScript strings are UTF-16: a
server that cuts a string between the halves of an emoji and writes it with
``JSON.stringify`` prints a lone ``\\ud83d`` escape. This server writes its JSON lines by
hand (the Python SDK cannot write such a string), speaks the handshake era, and serves
``fixture-surrogate`` 1.0.0 with one tool, ``cut``, whose description and every answer
(``half an emoji: \\ud83d``) carry one. Imports only the standard library.
"""

import json
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
                '"serverInfo":{"name":"fixture-surrogate","version":"1.0.0"}}',
            )
        elif method == "tools/list":
            tool = f'{{"name":"cut","description":"cuts {CUT}","inputSchema":{{"type":"object"}}}}'
            reply(request_id, f'{{"tools":[{tool}]}}')
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
