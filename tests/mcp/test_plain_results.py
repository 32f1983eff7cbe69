"""A plain ``tools/call`` result skips the kernel's shaping only where that changes no byte.

``fastpath._Serializer`` answers text-only results (``content`` of ``{type, text}`` items,
optionally a bool ``isError``) without validating and dumping them; every other shape goes
through the runner's ``_serialize``. Each shape here is shaped both ways, for every
handshake-era version the hub speaks, and the JSON bytes must be the same.
"""

from __future__ import annotations

from typing import Any, cast

import pydantic_core
import pytest
from mcp.server.caching import CacheHint
from mcp.server.connection import Connection
from mcp.server.lowlevel import Server
from mcp.server.runner import ServerRunner
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS

from tornadohub.mcp.fastpath import _plain_tool_result, _Serializer

TEXT = {"type": "text", "text": "Echo: hi"}
#: Shapes the shortcut answers.
PLAIN: dict[str, dict[str, Any]] = {
    "one text": {"content": [TEXT]},
    "text then type": {"content": [{"text": "a", "type": "text"}]},
    "no items": {"content": []},
    "several": {"content": [TEXT, {"type": "text", "text": ""}, TEXT]},
    "unicode": {"content": [{"type": "text", "text": 'é ✓ \u2028 "q" \\ \n'}]},
    "isError true": {"content": [TEXT], "isError": True},
    "isError false": {"content": [TEXT], "isError": False},
    "isError first": {"isError": True, "content": [TEXT]},
}
#: Shapes at the edge of the check: the serializer shapes them.
SHAPED: dict[str, dict[str, Any]] = {
    "extra top key": {"content": [TEXT], "extra": 1},
    "extra item key": {"content": [{**TEXT, "extra": 1}]},
    "annotations": {"content": [{**TEXT, "annotations": {"priority": 0.5}}]},
    "item _meta": {"content": [{**TEXT, "_meta": {"k": "v"}}]},
    "result _meta": {"content": [TEXT], "_meta": {"k": "v"}},
    "image item": {"content": [{"type": "image", "data": "AAAA", "mimeType": "image/png"}]},
    "text and image": {"content": [TEXT, {"type": "image", "data": "AA", "mimeType": "x/y"}]},
    "structuredContent": {"content": [TEXT], "structuredContent": {"a": 1}},
    "isError string": {"content": [TEXT], "isError": "true"},
    "isError int": {"content": [TEXT], "isError": 1},
    "isError null": {"content": [TEXT], "isError": None},
    "text null": {"content": [{"type": "text", "text": None}]},
    "text number": {"content": [{"type": "text", "text": 3}]},
    "no type": {"content": [{"text": "a", "kind": "text"}]},
    "content not a list": {"content": TEXT},
    "no content": {"isError": False},
    "empty": {},
}


def wire(result: dict[str, Any]) -> bytes:
    return pydantic_core.to_json(result)


def kernel_bytes(server: Server[Any], version: str, result: dict[str, Any]) -> bytes | str:
    runner: ServerRunner[Any] = ServerRunner(server, cast(Connection, None), {})
    try:
        return wire(runner._serialize("tools/call", version, result))
    except Exception as exc:  # an invalid result: both ways must refuse it alike
        return type(exc).__name__


def fast_bytes(server: Server[Any], version: str, result: dict[str, Any]) -> bytes | str:
    try:
        return wire(_Serializer(server).serialize("tools/call", version, result))
    except Exception as exc:
        return type(exc).__name__


@pytest.mark.parametrize("version", HANDSHAKE_PROTOCOL_VERSIONS)
@pytest.mark.parametrize("shape", [*PLAIN, *SHAPED])
def test_shaped_bytes_are_the_kernels(version: str, shape: str) -> None:
    result = PLAIN.get(shape) or SHAPED[shape]
    server: Server[Any] = Server("hub")
    assert fast_bytes(server, version, result) == kernel_bytes(server, version, result)


def test_only_plain_shapes_skip_the_kernel() -> None:
    assert all(_plain_tool_result(result) is not None for result in PLAIN.values())
    assert all(_plain_tool_result(result) is None for result in SHAPED.values())


def test_tools_call_takes_no_cache_hint() -> None:
    """The shortcut also checks for one, but the SDK refuses it today: no hint to shape in."""
    with pytest.raises(ValueError, match="cacheable methods"):
        hints: Any = {"tools/call": CacheHint(ttl_ms=5, scope="public")}
        Server("hub", cache_hints=hints)
