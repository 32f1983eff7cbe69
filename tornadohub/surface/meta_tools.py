"""The two tools a profile in search mode lists instead of its catalog.

``search_tools {query, limit?}`` ranks the profile's tools (:mod:`.search`) and
answers with the best matches, each with its public name, description and
input schema, as ``structuredContent`` (``{"tools": [...]}``, declared in an
``outputSchema``) and the same JSON as text for clients that read only text.
``call_tool {name, arguments?}`` calls one of them by its public name; its
result, progress, cancellation and errors are those of a direct ``tools/call``
of that name (the routing is the endpoint's, not this module's).

Everything here is pure: definitions, argument checks and result shapes, as
MCP JSON. Bad arguments give a :class:`MetaToolArgumentError` whose message is
meant for the model; :func:`error_result` turns it into an ``isError`` result
so the model can correct itself, as for any tool's input validation error.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tornadohub.surface.search import SearchHit

__all__ = [
    "CALL_TOOL",
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "META_TOOL_NAMES",
    "SEARCH_TOOL",
    "CallRequest",
    "MetaToolArgumentError",
    "SearchRequest",
    "error_result",
    "meta_tool_definitions",
    "parse_call_arguments",
    "parse_search_arguments",
    "search_result",
]

SEARCH_TOOL = "search_tools"
CALL_TOOL = "call_tool"
META_TOOL_NAMES = frozenset((SEARCH_TOOL, CALL_TOOL))
DEFAULT_LIMIT = 10
MAX_LIMIT = 50

#: What each match carries, in this order (fields a definition lacks are left out).
MATCH_FIELDS = ("name", "title", "description", "inputSchema", "annotations")

_SEARCH_DESCRIPTION = (
    "Search the tools available through this hub. Describe what you want to do in a few "
    "words (for example 'create a pull request' or 'take a screenshot of the page'); the "
    "answer lists the best matching tools, best first, each with its name, description "
    f"and input schema. Then run one with {CALL_TOOL}. Search again with other words if "
    "nothing fits."
)
_CALL_DESCRIPTION = (
    f"Call a tool found with {SEARCH_TOOL}: give its exact name and arguments that match "
    "its input schema. The result, progress and errors are the tool's own."
)


def meta_tool_definitions() -> list[dict[str, Any]]:
    """The ``tools/list`` result of a profile in search mode (fresh dicts every call)."""
    match_schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "title": {"type": "string"},
            "description": {"type": "string"},
            "inputSchema": {"type": "object"},
            "annotations": {"type": "object"},
        },
        "required": ["name", "inputSchema"],
    }
    return [
        {
            "name": SEARCH_TOOL,
            "title": "Search tools",
            "description": _SEARCH_DESCRIPTION,
            "inputSchema": {
                "type": "object",
                "properties": {
                    "query": {
                        "type": "string",
                        "description": "What you want to do, in natural words.",
                        "minLength": 1,
                    },
                    "limit": {
                        "type": "integer",
                        "description": f"How many tools to return (default {DEFAULT_LIMIT}).",
                        "minimum": 1,
                        "maximum": MAX_LIMIT,
                        "default": DEFAULT_LIMIT,
                    },
                },
                "required": ["query"],
                "additionalProperties": False,
            },
            "outputSchema": {
                "type": "object",
                "properties": {"tools": {"type": "array", "items": match_schema}},
                "required": ["tools"],
            },
            "annotations": {"readOnlyHint": True, "idempotentHint": True, "openWorldHint": False},
        },
        {
            "name": CALL_TOOL,
            "title": "Call a tool",
            "description": _CALL_DESCRIPTION,
            "inputSchema": {
                "type": "object",
                "properties": {
                    "name": {
                        "type": "string",
                        "description": f"The tool's exact name, as {SEARCH_TOOL} gave it.",
                        "minLength": 1,
                    },
                    "arguments": {
                        "type": "object",
                        "description": "The tool's arguments, matching its input schema.",
                    },
                },
                "required": ["name"],
                "additionalProperties": False,
            },
        },
    ]


class MetaToolArgumentError(ValueError):
    """Arguments a meta-tool cannot use; ``str()`` is the message for the model."""


@dataclass(frozen=True)
class SearchRequest:
    query: str
    limit: int = DEFAULT_LIMIT


@dataclass(frozen=True)
class CallRequest:
    name: str
    arguments: dict[str, Any]


def _check_keys(tool: str, arguments: Mapping[str, Any], allowed: Iterable[str]) -> None:
    allowed = tuple(allowed)
    extra = [key for key in arguments if key not in allowed]
    if extra:
        raise MetaToolArgumentError(
            f"{tool} takes only {' and '.join(allowed)}; unexpected: {', '.join(sorted(extra))}"
        )


def parse_search_arguments(arguments: Mapping[str, Any] | None) -> SearchRequest:
    arguments = arguments or {}
    _check_keys(SEARCH_TOOL, arguments, ("query", "limit"))
    query = arguments.get("query")
    if not isinstance(query, str) or not query.strip():
        raise MetaToolArgumentError(f"{SEARCH_TOOL} needs a query: a non-empty string")
    limit = arguments.get("limit", DEFAULT_LIMIT)
    if limit is None:
        limit = DEFAULT_LIMIT
    if isinstance(limit, float) and limit.is_integer():
        limit = int(limit)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise MetaToolArgumentError(f"limit must be an integer from 1 to {MAX_LIMIT}")
    return SearchRequest(query=query.strip(), limit=limit)


def parse_call_arguments(arguments: Mapping[str, Any] | None) -> CallRequest:
    arguments = arguments or {}
    _check_keys(CALL_TOOL, arguments, ("name", "arguments"))
    name = arguments.get("name")
    if not isinstance(name, str) or not name:
        raise MetaToolArgumentError(
            f"{CALL_TOOL} needs the name of a tool, as {SEARCH_TOOL} gave it"
        )
    inner = arguments.get("arguments")
    if inner is None:
        inner = {}
    if not isinstance(inner, Mapping):
        raise MetaToolArgumentError("arguments must be an object (the tool's arguments)")
    return CallRequest(name=name, arguments=dict(inner))


def _match(definition: Mapping[str, Any]) -> dict[str, Any]:
    return {key: definition[key] for key in MATCH_FIELDS if definition.get(key) is not None}


def search_result(hits: Iterable[SearchHit]) -> dict[str, Any]:
    """The ``CallToolResult`` JSON of a search: matches as structured content and as text."""
    structured = {"tools": [_match(hit.definition) for hit in hits]}
    text = json.dumps(structured, ensure_ascii=False, separators=(",", ":"))
    return {
        "content": [{"type": "text", "text": text}],
        "structuredContent": structured,
        "isError": False,
    }


def error_result(error: MetaToolArgumentError | str) -> dict[str, Any]:
    """An ``isError`` ``CallToolResult`` JSON carrying *error*'s message."""
    return {"content": [{"type": "text", "text": str(error)}], "isError": True}
