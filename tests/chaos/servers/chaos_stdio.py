"""A misbehaving STDIO MCP server for the chaos suite (standard library only).

Usage: ``python tests/chaos/servers/chaos_stdio.py``. Newline-delimited JSON-RPC; every
request runs on its own thread, so one stuck call never blocks the others. Starts in a
few tens of milliseconds (no SDK import), which keeps restarts cheap.

Server ``fixture-chaos`` 1.0.0, tools:

* ``echo(message)`` -> ``Echo: <message>``; ``pid()`` -> the server's pid;
* ``slow(seconds)`` -> sleeps, then ``slept <seconds>``;
* ``hang()`` -> never answers (the process keeps serving everything else);
* ``flood(mib)`` -> first writes ONE line of ``mib`` MiB of garbage to stdout, generated
  here in 1 MiB pieces (the test process never holds it), then answers ``flooded <mib>``;
  with ``as_answer`` true that line is the answer itself (a text of ``mib`` MiB);
* ``garbage(lines)`` -> first writes ``lines`` junk lines (not JSON, JSON that is not
  JSON-RPC, invalid UTF-8, a response to an unknown id, a blank line), then answers;
* ``spawn(setsid)`` -> starts ``sleep 300`` (in this process group, or in a session of its
  own when ``setsid`` is true, as a daemon would) and answers with its pid;
* ``die(code)`` -> exits at once with ``code``, mid-call.

Environment: ``CHAOS_START_FILE`` names a counter file incremented at every start; with
``CHAOS_FAIL_STARTS=N`` the first N starts exit (code 1) during ``initialize``, after
reading the request and before answering it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from typing import Any

MIB = 1024 * 1024
_out = sys.stdout.buffer
_lock = threading.Lock()


def _tool(name: str, description: str, properties: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "description": description,
        "inputSchema": {"type": "object", "properties": properties or {}},
    }


TOOLS = [
    _tool("echo", "Echo a message back.", {"message": {"type": "string"}}),
    _tool("pid", "The server's pid."),
    _tool("slow", "Sleep, then answer.", {"seconds": {"type": "number"}}),
    _tool("hang", "Never answer."),
    _tool(
        "flood",
        "Write one huge garbage line first.",
        {"mib": {"type": "integer"}, "as_answer": {"type": "boolean"}},
    ),
    _tool("garbage", "Write junk lines first.", {"lines": {"type": "integer"}}),
    _tool("spawn", "Start a grandchild.", {"setsid": {"type": "boolean"}}),
    _tool("die", "Exit mid-call.", {"code": {"type": "integer"}}),
]


def write_raw(data: bytes) -> None:
    with _lock:
        _out.write(data)
        _out.flush()


def send(message: dict[str, Any]) -> None:
    write_raw(json.dumps(message).encode() + b"\n")


def text(rid: Any, value: str) -> None:
    send({"jsonrpc": "2.0", "id": rid, "result": {"content": [{"type": "text", "text": value}]}})


def flood(mib: int, answer_to: Any = None) -> None:
    """One line of *mib* MiB; with *answer_to*, the answer to that request id."""
    piece = b"#" * MIB
    with _lock:  # nothing else may be written in the middle of the line
        if answer_to is not None:
            head = {"jsonrpc": "2.0", "id": answer_to, "result": {"content": [{"type": "text"}]}}
            _out.write(json.dumps(head)[:-4].encode() + b', "text": "')
        for _ in range(mib):
            _out.write(piece)
        if answer_to is not None:
            _out.write(b'"}]}}')
        _out.write(b"\n")
        _out.flush()


def garbage(lines: int) -> None:
    junk = [
        b"this is not JSON-RPC",
        b'{"hello": "json, but not json-rpc"}',
        b"\xff\xfe\x00 invalid utf-8 \x80",
        b'{"jsonrpc": "2.0", "id": 987654321, "result": {}}',
        b"",
        b"{ truncated",
    ]
    write_raw(b"\n".join(junk[i % len(junk)] for i in range(lines)) + b"\n")


def call(rid: Any, name: str, args: dict[str, Any]) -> None:
    if name == "echo":
        text(rid, f"Echo: {args.get('message', '')}")
    elif name == "pid":
        text(rid, str(os.getpid()))
    elif name == "slow":
        seconds = float(args.get("seconds", 1))
        time.sleep(seconds)
        text(rid, f"slept {seconds:g}")
    elif name == "hang":
        return
    elif name == "flood":
        mib = int(args.get("mib", 1))
        if args.get("as_answer"):
            flood(mib, answer_to=rid)
            return
        flood(mib)
        text(rid, f"flooded {mib}")
    elif name == "garbage":
        garbage(int(args.get("lines", 10)))
        text(rid, "garbage written")
    elif name == "spawn":
        child = subprocess.Popen(
            ["sleep", "300"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=bool(args.get("setsid")),
        )
        text(rid, str(child.pid))
    elif name == "die":
        os._exit(int(args.get("code", 3)))
    else:
        send({"jsonrpc": "2.0", "id": rid, "error": {"code": -32602, "message": "Unknown tool"}})


def count_start() -> int:
    path = os.environ.get("CHAOS_START_FILE")
    if not path:
        return 1
    try:
        with open(path) as f:
            n = int(f.read().strip() or 0) + 1
    except (OSError, ValueError):
        n = 1
    with open(path, "w") as f:
        f.write(str(n))
    return n


def handle(message: dict[str, Any], start: int) -> None:
    rid = message.get("id")
    method = message.get("method")
    params = message.get("params") or {}
    if rid is None or method is None:
        return  # notifications and stray responses
    if method == "initialize":
        if start <= int(os.environ.get("CHAOS_FAIL_STARTS", "0")):
            os._exit(1)  # dies during initialize
        send(
            {
                "jsonrpc": "2.0",
                "id": rid,
                "result": {
                    "protocolVersion": params.get("protocolVersion", "2025-06-18"),
                    "capabilities": {"tools": {}},
                    "serverInfo": {"name": "fixture-chaos", "version": "1.0.0"},
                },
            }
        )
    elif method == "ping":
        send({"jsonrpc": "2.0", "id": rid, "result": {}})
    elif method == "tools/list":
        send({"jsonrpc": "2.0", "id": rid, "result": {"tools": TOOLS}})
    elif method == "tools/call":
        threading.Thread(
            target=call, args=(rid, params.get("name"), params.get("arguments") or {}), daemon=True
        ).start()
    else:
        send({"jsonrpc": "2.0", "id": rid, "error": {"code": -32601, "message": "Not found"}})


def main() -> None:
    start = count_start()
    for line in sys.stdin.buffer:
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if isinstance(message, dict):
            handle(message, start)
    os._exit(0)  # stdin closed: leave at once, even with hanging calls


if __name__ == "__main__":
    main()
