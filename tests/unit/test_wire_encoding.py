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
    assert encode(empty) == b'{"jsonrpc":"2.0","id":1,"result":{}}'
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
