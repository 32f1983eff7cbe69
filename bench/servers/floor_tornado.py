"""The framework floor: a Tornado handler that only parses a small JSON POST and answers JSON.

Usage: ``python bench/servers/floor_tornado.py [--front] PORT``. ``POST /floor`` with a JSON-RPC
``tools/call`` of ``echo`` answers ``{"jsonrpc", "id", "result": {"content": [...]}}`` exactly
as an MCP server's ``echo`` would, so the benchmark's clients and checks apply unchanged.
Nothing else runs in the process: what one call costs here is what Tornado itself costs
per request, the floor under every ``/mcp`` and REST call of the hub. With ``--front`` the
same application runs on the hub's ``httptools`` wire layer (:mod:`tornadohub.httpfront`,
accepted by the hub's :class:`~tornadohub.listener.ConnectionGate`) instead of Tornado's
HTTPServer: the difference is what the wire layer alone costs.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from tornado import web


class FloorHandler(web.RequestHandler):
    """POST /floor: parse the body, answer a small JSON body."""

    def post(self) -> None:
        message: Any = json.loads(self.request.body)
        params = message.get("params") or {}
        text = (params.get("arguments") or {}).get("message", "")
        result = {"content": [{"type": "text", "text": f"Echo: {text}"}]}
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"jsonrpc": "2.0", "id": message.get("id"), "result": result}))


async def main(port: int, front: bool) -> None:
    app = web.Application([(r"/floor", FloorHandler)], log_function=lambda handler: None)
    if front:
        from tornadohub.httpfront import FrontServer
        from tornadohub.listener import ConnectionGate, bind
        from tornadohub.options import ConnectionLimits

        ConnectionGate(FrontServer(app, ConnectionLimits()), bind("127.0.0.1", port)).start()
    else:
        app.listen(port, address="127.0.0.1")
    await asyncio.Event().wait()


if __name__ == "__main__":
    words = sys.argv[1:]
    asyncio.run(main(int(next(w for w in words if w != "--front")), "--front" in words))
