"""A tiny STDIO MCP server with many tools, for the tools/list benchmarks.

Usage: ``python bench/servers/tools_stdio.py [N]`` (default 13, like server-everything).
Standard library only, so a hundred of them start in a few seconds on two cores.
Serves ``bench-tools`` 1.0.0: ``echo(message)`` -> ``Echo: <message>`` plus ``N - 1`` tools
``tool_00001`` ... with a realistic description and input schema (about 600 bytes each),
all on one ``tools/list`` page. Answers ``initialize``, ``ping``, ``tools/list`` and
``tools/call``; anything else is ``-32601``.
"""

from __future__ import annotations

import json
import sys
from typing import Any

SUPPORTED = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")


def make_tools(count: int) -> list[dict[str, Any]]:
    tools: list[dict[str, Any]] = [
        {
            "name": "echo",
            "description": "Echoes back the input string.",
            "inputSchema": {
                "type": "object",
                "properties": {"message": {"type": "string", "description": "Message to echo"}},
                "required": ["message"],
            },
        }
    ]
    for i in range(1, count):
        tools.append(
            {
                "name": f"tool_{i:05d}",
                "description": (
                    f"Benchmark tool number {i}. Looks up a record by id, filters it with the "
                    "given query and returns the matching fields as text."
                ),
                "inputSchema": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string", "description": "Record identifier"},
                        "query": {"type": "string", "description": "Filter expression"},
                        "limit": {"type": "integer", "minimum": 1, "maximum": 100},
                    },
                    "required": ["id"],
                },
                "annotations": {"readOnlyHint": True},
            }
        )
    return tools


def answer(message: dict[str, Any], tools_page: dict[str, Any]) -> dict[str, Any] | None:
    method = message.get("method")
    rid = message.get("id")
    if rid is None:
        return None  # a notification
    params = message.get("params") or {}
    if method == "initialize":
        requested = params.get("protocolVersion")
        result: dict[str, Any] = {
            "protocolVersion": requested if requested in SUPPORTED else "2025-06-18",
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "bench-tools", "version": "1.0.0"},
        }
    elif method == "ping":
        result = {}
    elif method == "tools/list":
        result = tools_page
    elif method == "tools/call" and params.get("name") == "echo":
        text = f"Echo: {(params.get('arguments') or {}).get('message', '')}"
        result = {"content": [{"type": "text", "text": text}]}
    elif method == "tools/call":
        result = {"content": [{"type": "text", "text": f"{params.get('name')} ok"}]}
    else:
        return {"jsonrpc": "2.0", "id": rid, "error": {"code": -32601, "message": "Not found"}}
    return {"jsonrpc": "2.0", "id": rid, "result": result}


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 13
    tools_page = {"tools": make_tools(max(1, count))}
    out = sys.stdout
    for line in sys.stdin:
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if isinstance(message, dict) and (reply := answer(message, tools_page)) is not None:
            out.write(json.dumps(reply) + "\n")
            out.flush()


if __name__ == "__main__":
    main()
