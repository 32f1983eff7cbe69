"""Fixture stdio "server" that dies saying why, at start or later (standard library only).

Usage: ``python tests/servers/dying_stdio.py CODE WORD... [--serve-first]`` (MESSAGE: the words).

When it reads ``initialize`` it writes 20 lines ``noise <i>`` and then MESSAGE to stderr and
exits with CODE. With ``--serve-first`` and ``DYING_START_FILE`` naming a counter file, its
first start serves instead (server ``fixture-dying`` 1.0.0, one tool ``die()`` that writes
MESSAGE to stderr and exits with CODE mid-call); every later start dies at ``initialize``, so
the hub keeps retrying it (a crash loop).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def die(code: int, message: str, noise: bool) -> None:
    if noise:
        for i in range(20):
            print(f"noise {i}", file=sys.stderr)
    print(message, file=sys.stderr, flush=True)
    sys.stdout.flush()
    os._exit(code)


def first_start() -> bool:
    counter = os.environ.get("DYING_START_FILE")
    if counter is None:
        return False
    path = Path(counter)
    starts = int(path.read_text() or 0) if path.exists() else 0
    path.write_text(str(starts + 1))
    return starts == 0


def reply(request_id: object, result: dict[str, object]) -> None:
    sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": request_id, "result": result}) + "\n")
    sys.stdout.flush()


def serve(code: int, message: str) -> None:
    for line in sys.stdin:
        request = json.loads(line)
        method = request.get("method")
        if "id" not in request:
            continue
        if method == "initialize":
            reply(
                request["id"],
                {
                    "protocolVersion": request["params"]["protocolVersion"],
                    "capabilities": {"tools": {}},
                    "serverInfo": {"name": "fixture-dying", "version": "1.0.0"},
                },
            )
        elif method == "tools/list":
            tool = {"name": "die", "inputSchema": {"type": "object", "properties": {}}}
            reply(request["id"], {"tools": [tool]})
        elif method == "tools/call":
            die(code, message, noise=False)
        else:
            error = {"code": -32601, "message": f"unknown method {method}"}
            sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": request["id"], "error": error}))
            sys.stdout.write("\n")
            sys.stdout.flush()


def main() -> None:
    words = [arg for arg in sys.argv[2:] if arg != "--serve-first"]
    code, message = int(sys.argv[1]), " ".join(words)
    if "--serve-first" in sys.argv[2:] and first_start():
        serve(code, message)
        return
    sys.stdin.readline()
    die(code, message, noise=True)


if __name__ == "__main__":
    main()
