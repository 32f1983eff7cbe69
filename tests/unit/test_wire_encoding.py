"""``/mcp``'s one serialiser (``tornadohub.mcp.transport.encode``): no ``"params": null``."""

from __future__ import annotations

import json

from mcp_types import (
    ErrorData,
    JSONRPCError,
    JSONRPCNotification,
    JSONRPCRequest,
    JSONRPCResponse,
)

from tornadohub.mcp.streams import encode


def test_messages_without_params_leave_the_member_out() -> None:
    explicit = JSONRPCNotification(
        jsonrpc="2.0", method="notifications/tools/list_changed", params=None
    )
    unset = JSONRPCNotification(jsonrpc="2.0", method="notifications/prompts/list_changed")
    request = JSONRPCRequest(jsonrpc="2.0", id=3, method="roots/list", params=None)
    assert json.loads(encode(explicit)) == {
        "jsonrpc": "2.0",
        "method": "notifications/tools/list_changed",
    }
    assert json.loads(encode(unset)) == {
        "jsonrpc": "2.0",
        "method": "notifications/prompts/list_changed",
    }
    assert json.loads(encode(request)) == {"jsonrpc": "2.0", "id": 3, "method": "roots/list"}


def test_params_results_and_error_data_go_out_as_they_are() -> None:
    updated = JSONRPCNotification(
        jsonrpc="2.0", method="notifications/resources/updated", params={"uri": "a://b"}
    )
    assert json.loads(encode(updated))["params"] == {"uri": "a://b"}
    empty = JSONRPCResponse(jsonrpc="2.0", id=1, result={})
    assert encode(empty) == b'{"result":{},"jsonrpc":"2.0","id":1}'  # mcp-hub's order
    # A null inside a result is the tool's own data, not a missing member.
    structured = {"content": [], "structuredContent": {"value": None}}
    answer = JSONRPCResponse(jsonrpc="2.0", id="x", result=structured)
    assert json.loads(encode(answer))["result"] == structured
    error = JSONRPCError(
        jsonrpc="2.0", id=2, error=ErrorData(code=-32602, message="Invalid", data={"uri": "u"})
    )
    assert json.loads(encode(error)) == {
        "jsonrpc": "2.0",
        "id": 2,
        "error": {"code": -32602, "message": "Invalid", "data": {"uri": "u"}},
    }


def test_members_come_in_mcp_hubs_order() -> None:
    """mcp-hub 4.2.1's legacy SSE frames (tests/golden/mcp, and observed): a response's
    ``result`` first, a notification's ``method`` first, an error's ``jsonrpc`` first."""
    changed = JSONRPCNotification(jsonrpc="2.0", method="notifications/tools/list_changed")
    assert encode(changed) == b'{"method":"notifications/tools/list_changed","jsonrpc":"2.0"}'
    log = JSONRPCNotification(jsonrpc="2.0", method="notifications/message", params={"a": 1})
    assert encode(log) == b'{"method":"notifications/message","params":{"a":1},"jsonrpc":"2.0"}'
    answer = JSONRPCResponse(jsonrpc="2.0", id="x", result={"content": []})
    assert encode(answer) == b'{"result":{"content":[]},"jsonrpc":"2.0","id":"x"}'
    error = JSONRPCError(
        jsonrpc="2.0", id=3, error=ErrorData(code=-32601, message="Method not found")
    )
    assert encode(error) == (
        b'{"jsonrpc":"2.0","id":3,"error":{"code":-32601,"message":"Method not found"}}'
    )
