"""The kernel's own answers as mcp-hub 4.2.1 words them: ``initialize``, ``-32601``.

The SDK kernel shapes every result through its per-version schema models, whose fields
are in alphabetical order (``capabilities``, ``protocolVersion``, ``serverInfo``;
``prompts``, ``resources``, ``tools``). mcp-hub sends ``protocolVersion``,
``capabilities`` (``tools``, ``resources``, ``prompts``) and ``serverInfo``
(contract §6, tests/golden/mcp's raw exchange): a client comparing the answer as text,
or a person reading both, sees the same thing. Keys mcp-hub does not send follow, in the
kernel's order.

The kernel's ``-32601 Method not found`` also carries the method as ``data``; mcp-hub's
has no ``data`` (recorded), so neither has ours.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp_types import METHOD_NOT_FOUND

RESULT_ORDER = ("protocolVersion", "capabilities", "serverInfo")
CAPABILITY_ORDER = ("tools", "resources", "prompts")


def _ordered(value: Mapping[str, Any], first: Sequence[str]) -> dict[str, Any]:
    head = {key: value[key] for key in first if key in value}
    return {**head, **{key: item for key, item in value.items() if key not in head}}


async def in_mcp_hub_order(
    ctx: ServerRequestContext[Any, Any], call_next: CallNext
) -> HandlerResult:
    """Server middleware: the ``initialize`` result reordered, ``-32601`` without ``data``;
    anything else unchanged."""
    try:
        result = await call_next(ctx)
    except MCPError as exc:
        if exc.code == METHOD_NOT_FOUND and exc.data == ctx.method:
            raise MCPError(exc.code, exc.message) from None
        raise
    if ctx.method != "initialize" or not isinstance(result, Mapping):
        return result
    ordered = _ordered(result, RESULT_ORDER)
    capabilities = ordered.get("capabilities")
    if isinstance(capabilities, Mapping):
        ordered["capabilities"] = _ordered(capabilities, CAPABILITY_ORDER)
    return ordered
