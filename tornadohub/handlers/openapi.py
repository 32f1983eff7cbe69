"""``GET /api/openapi.json``: every route of the hub, described from the marshmallow schemas.

The document is built from the application's route table (``AppState.routes``, by default
``tornadohub.handlers.default_handlers``) and the :class:`~tornadohub.handlers.docs.RouteDoc`
each handler class carries as ``openapi``; a route without one fails the build (and the
tests), never silently. Summaries and descriptions come from the handlers' docstrings.
"""

from __future__ import annotations

import functools
import inspect
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from tornado import web

from tornadohub import CONTRACT_VERSION, __version__
from tornadohub import schemas as s
from tornadohub.handlers.base import WORK_PATHS, APIHandler
from tornadohub.handlers.docs import RouteDoc, error, ok
from tornadohub.openapi import JSON, OpenAPI, Operation, PathParameter, Response, markdown


class OpenAPIHandler(APIHandler):
    """GET /api/openapi.json: this document (OpenAPI 3.1)."""

    openapi = RouteDoc({"get": Operation({200: ok(s.OpenAPIDocumentSchema)})})

    def get(self) -> None:
        self.finish(document_text(tuple(self.app_state.routes)))


default_handlers = [(r"/api/openapi\.json", OpenAPIHandler)]


def openapi_path(pattern: str, names: Sequence[str]) -> str:
    """A route pattern as an OpenAPI path, its groups named by *names*.

    ``(?i)/api/servers/?`` -> ``/api/servers``; ``/servers/([^/]+)/mcp`` -> ``/servers/{x}/mcp``.
    """
    path = pattern.removeprefix("(?i)").removesuffix("/?").replace(r"\.", ".")
    pieces = re.split(r"\([^()]*\)", path)
    if len(pieces) - 1 > len(names):
        raise ValueError(f"Route {pattern!r}: name its {len(pieces) - 1} path parameter(s)")
    out = pieces[0] + "".join(
        f"{{{name}}}{piece}" for name, piece in zip(names, pieces[1:], strict=False)
    )
    if re.search(r"[\\^$*+?()\[\]|]", out):
        raise ValueError(f"Route {pattern!r} is not a plain path")
    return out


def _docstring(handler: type[web.RequestHandler]) -> tuple[str | None, str | None]:
    doc = inspect.getdoc(handler) if "__doc__" in handler.__dict__ else None
    if not doc:
        return None, None
    summary, _, rest = doc.partition("\n\n")
    return markdown(summary), markdown(rest) or None


def describe(routes: Iterable[tuple[str, Any]]) -> JSON:
    """The OpenAPI document for *routes* (``(pattern, handler class)`` pairs)."""
    api = OpenAPI(
        title="mcp-hub (tornadohub)",
        version=__version__,
        description=(
            f"The REST API of mcp-hub {CONTRACT_VERSION}, plus probes, metrics and the MCP"
            " endpoint. Errors of /api routes are the envelope {error, code, data, timestamp}."
        ),
    )
    api.require_any_of(
        {
            "bearer": {"type": "http", "scheme": "bearer"},
            "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
        }
    )
    for pattern, handler in routes:
        route = getattr(handler, "openapi", None)
        if not isinstance(route, RouteDoc):
            raise LookupError(f"No OpenAPI description for {handler.__name__} ({pattern})")
        path = openapi_path(pattern, [p.name for p in route.path_parameters])
        parameters = [p for p in route.path_parameters if f"{{{p.name}}}" in path]
        summary, description = _docstring(handler)
        tag = route.tag or handler.__module__.rsplit(".", 1)[-1]
        for method, operation in route.operations.items():
            described = replace(
                operation,
                responses=_with_common_errors(operation, path),
                summary=operation.summary or summary,
                description=operation.description or description,
            )
            api.add(
                path,
                method,
                described,
                operation_id=_operation_id(method, handler, path_parameters=parameters),
                tag=tag,
                path_parameters=parameters,
            )
    return api.document()


def _operation_id(
    method: str, handler: type[web.RequestHandler], path_parameters: Sequence[PathParameter]
) -> str:
    suffix = "".join(f"For{param.name.capitalize()}" for param in path_parameters)
    return f"{method}{handler.__name__.removesuffix('Handler')}{suffix}"


def _with_common_errors(operation: Operation, path: str) -> dict[int | str, Response]:
    """401 (keys), 503 while stopping (work routes) and the envelope of other /api errors."""
    responses: dict[int | str, Response] = dict(operation.responses)
    if operation.public:
        return responses
    responses.setdefault(401, error("No valid API key (only when the hub has keys)"))
    if WORK_PATHS.fullmatch(re.sub(r"\{[^}]+\}", "x", path)):
        responses.setdefault(503, error("The hub is shutting down (HUB_STOPPING)"))
    if path.startswith("/api/"):
        responses.setdefault("default", error("Any other error, in the same envelope"))
    return responses


@functools.cache
def document_text(routes: tuple[tuple[str, Any], ...]) -> str:
    return json.dumps(describe(routes), separators=(",", ":"))


__all__ = ["OpenAPIHandler", "default_handlers", "describe", "openapi_path"]
