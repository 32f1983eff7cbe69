"""``GET /api/openapi.json``: every route of the hub, described from the marshmallow schemas.

:data:`ROUTES` says, per handler class, which schema each method takes and answers; the
document is built from the application's route table (``tornadohub.handlers.default_handlers``),
so a route without a description here fails the build (and the tests), never silently.
Summaries and descriptions come from the handlers' docstrings.
"""

from __future__ import annotations

import functools
import inspect
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from marshmallow import Schema
from tornado import web

from tornadohub import CONTRACT_VERSION, __version__
from tornadohub import schemas as s
from tornadohub.handlers import (
    events,
    health,
    install,
    lifecycle,
    logs,
    marketplace,
    mcp,
    metrics,
    oauth,
    probes,
    servers,
    stats,
    ui,
)
from tornadohub.handlers.base import WORK_PATHS, APIHandler
from tornadohub.openapi import JSON, OpenAPI, Operation, PathParameter, Response, markdown

JSON_TYPE = "application/json"
SSE_TYPE = "text/event-stream"


def ok(schema: type[Schema], description: str = "OK") -> Response:
    return Response(description, {JSON_TYPE: schema})


def error(description: str) -> Response:
    return Response(description, {JSON_TYPE: s.ErrorSchema})


def rpc(description: str) -> Response:
    return Response(description, {JSON_TYPE: s.JsonRpcMessageSchema})


BAD_BODY = error("Missing or invalid field (VALIDATION_ERROR), or malformed JSON (INVALID_JSON)")
NO_SERVER = error("No server of that name (SERVER_NOT_FOUND)")
CALL_FAILED = error(
    "The call failed: TOOL_ERROR (not found, not connected, invalid arguments), the"
    " upstream's JSON-RPC error code, or -32001 on timeout (mcp-hub answers these with 500)"
)
STREAM = Response("Server-Sent Events", {SSE_TYPE: None})
#: What the MCP transport refuses on every route, as JSON-RPC error bodies.
MCP_REFUSALS: dict[int | str, Response] = {
    403: rpc("Origin not allowed (DNS-rebinding protection)"),
    406: rpc("The Accept header rules out the reply's media types"),
    413: rpc("Request body too large"),
    415: rpc("Content-Type is not application/json"),
    421: rpc("Host not allowed (DNS-rebinding protection)"),
}


@dataclass(frozen=True)
class Route:
    """How one handler class is described: its operations by method, its path parameters."""

    operations: Mapping[str, Operation]
    path_parameters: Sequence[PathParameter] = ()
    tag: str | None = None  # default: the handler's module


SERVER_CALL: dict[int | str, Response] = {400: BAD_BODY, 404: NO_SERVER, 500: CALL_FAILED}
DASHBOARD_PAGE = Operation({200: Response("The page", {"text/html": None})}, public=True)

ROUTES: dict[type[web.RequestHandler], Route] = {
    health.HealthHandler: Route({"get": Operation({200: ok(s.HealthSchema)})}),
    health.WorkspacesHandler: Route({"get": Operation({200: ok(s.WorkspacesSchema)})}),
    servers.ServersHandler: Route({"get": Operation({200: ok(s.ServersSchema)})}),
    servers.ServerInfoHandler: Route(
        {
            "post": Operation(
                {200: ok(s.ServerSchema), 400: BAD_BODY, 404: NO_SERVER}, body=s.ServerNameSchema
            )
        }
    ),
    servers.ServerStartHandler: Route(
        {
            "post": Operation(
                {
                    200: ok(s.ServerActionSchema),
                    400: BAD_BODY,
                    404: NO_SERVER,
                    500: error("It could not connect (CONNECTION_ERROR)"),
                },
                body=s.ServerNameSchema,
            )
        }
    ),
    servers.ServerStopHandler: Route(
        {
            "post": Operation(
                {200: ok(s.ServerActionSchema), 400: BAD_BODY, 404: NO_SERVER},
                body=s.ServerNameSchema,
                query=s.StopQuerySchema,
            )
        }
    ),
    servers.ServerRefreshHandler: Route(
        {"post": Operation({**SERVER_CALL, 200: ok(s.ServerActionSchema)}, body=s.ServerNameSchema)}
    ),
    servers.RefreshAllHandler: Route({"get": Operation({200: ok(s.RefreshAllSchema)})}),
    servers.ToolCallHandler: Route(
        {
            "post": Operation(
                {**SERVER_CALL, 200: ok(s.ToolCallResultSchema, "The tool's result")},
                body=s.ToolCallSchema,
            )
        }
    ),
    servers.ResourceReadHandler: Route(
        {
            "post": Operation(
                {**SERVER_CALL, 200: ok(s.ResourceReadResultSchema)}, body=s.ResourceReadSchema
            )
        }
    ),
    servers.PromptGetHandler: Route(
        {
            "post": Operation(
                {**SERVER_CALL, 200: ok(s.PromptGetResultSchema)}, body=s.PromptGetSchema
            )
        }
    ),
    lifecycle.RestartHandler: Route(
        {"post": Operation({200: ok(s.StatusSchema), 500: error("The config could not be loaded")})}
    ),
    lifecycle.HardRestartHandler: Route({"post": Operation({200: ok(s.StatusSchema)})}),
    events.EventsHandler: Route({"get": Operation({200: STREAM})}),
    probes.HealthzHandler: Route(
        {
            "get": Operation({200: ok(s.LivenessSchema)}, public=True),
            "head": Operation({200: Response("Alive")}, public=True),
        }
    ),
    probes.ReadyzHandler: Route(
        {
            "get": Operation(
                {
                    200: ok(s.ReadinessSchema, "Ready"),
                    503: ok(s.ReadinessSchema, "Not ready, with the reason"),
                },
                public=True,
            ),
            "head": Operation({200: Response("Ready"), 503: Response("Not ready")}, public=True),
        }
    ),
    metrics.MetricsHandler: Route(
        {
            "get": Operation(
                {
                    200: Response(
                        "Prometheus text format (OpenMetrics when the Accept header asks)",
                        {"text/plain": None, "application/openmetrics-text": None},
                    )
                }
            )
        }
    ),
    marketplace.MarketplaceHandler: Route(
        {
            "get": Operation(
                {
                    200: ok(s.MarketplaceSchema),
                    500: error("No catalog, cached or fetched (MARKETPLACE_ERROR)"),
                },
                query=s.MarketplaceQuerySchema,
            )
        }
    ),
    marketplace.MarketplaceDetailsHandler: Route(
        {
            "post": Operation(
                {
                    200: ok(s.MarketplaceDetailsResultSchema),
                    400: error("Missing mcpId, or no such server (VALIDATION_ERROR)"),
                    500: error("No catalog, cached or fetched (MARKETPLACE_ERROR)"),
                },
                body=s.MarketplaceDetailsRequestSchema,
            )
        }
    ),
    install.MarketplaceAddHandler: Route(
        {
            "post": Operation(
                {
                    200: ok(s.MarketplaceAddResultSchema, "The entry is written"),
                    400: error(
                        "Missing mcpId or bad fields (VALIDATION_ERROR), or the entry cannot be"
                        " built or written: unknown id, installation or parameter, a name that"
                        " exists without force (INSTALL_ERROR)"
                    ),
                    500: error("No catalog, cached or fetched (MARKETPLACE_ERROR)"),
                },
                body=s.MarketplaceAddSchema,
            )
        },
        tag="marketplace",
    ),
    logs.LogsHandler: Route(
        {
            "get": Operation(
                {
                    200: ok(s.LogsSchema),
                    400: error("A bad level or limit (VALIDATION_ERROR)"),
                    404: NO_SERVER,
                },
                query=s.LogsQuerySchema,
            )
        }
    ),
    stats.StatsHandler: Route({"get": Operation({200: ok(s.StatsSchema)})}),
    ui.RootHandler: Route({"get": DASHBOARD_PAGE}, tag="dashboard"),
    ui.DashboardHandler: Route({"get": DASHBOARD_PAGE}, tag="dashboard"),
    ui.DashboardAssetHandler: Route(
        {
            "get": Operation(
                {
                    200: Response(
                        "The file",
                        {"text/javascript": None, "text/css": None, "image/svg+xml": None},
                    ),
                    404: error("No such file (NOT_FOUND)"),
                },
                public=True,
            )
        },
        path_parameters=[PathParameter("file", "A file name, such as app.js")],
        tag="dashboard",
    ),
    oauth.AuthorizeHandler: Route(
        {
            "post": Operation(
                {
                    200: ok(s.AuthorizationSchema),
                    400: BAD_BODY,
                    404: NO_SERVER,
                    500: error("No authorization URL (OPEN_REQUEST_ERROR)"),
                },
                body=s.ServerNameSchema,
            )
        }
    ),
    oauth.OAuthCallbackHandler: Route(
        {
            "get": Operation(
                {200: Response("A page saying whether it worked", {"text/html": None})},
                query=s.OAuthCallbackQuerySchema,
            )
        }
    ),
    oauth.ManualCallbackHandler: Route(
        {
            "post": Operation(
                {
                    200: ok(s.ManualCallbackResultSchema),
                    400: BAD_BODY,
                    404: NO_SERVER,
                    409: error("No authorization in progress for that server (OAUTH_ERROR)"),
                    500: error("The authorization failed"),
                },
                body=s.ManualCallbackSchema,
            )
        }
    ),
    mcp.McpHandler: Route(
        {
            "post": Operation(
                {
                    200: Response(
                        "The reply, as JSON or as an SSE stream",
                        {JSON_TYPE: s.JsonRpcMessageSchema, SSE_TYPE: None},
                    ),
                    202: Response("A notification or response, accepted"),
                    400: rpc("Not a valid JSON-RPC message, or a missing session id"),
                    404: rpc("Unknown session or server"),
                    **MCP_REFUSALS,
                },
                body=s.JsonRpcMessageSchema,
            ),
            "get": Operation(
                {
                    200: STREAM,
                    400: rpc("Missing session id"),
                    404: rpc("Unknown session or server"),
                    405: rpc("Not on the 2026-07-28 wire"),
                    409: rpc("The session already has its stream"),
                    **MCP_REFUSALS,
                }
            ),
            "delete": Operation(
                {
                    200: Response("The session ended"),
                    400: rpc("Missing session id"),
                    404: rpc("Unknown session or server"),
                    405: rpc("Not on the 2026-07-28 wire"),
                    **MCP_REFUSALS,
                },
                headers=s.McpSessionHeaderSchema,
            ),
        },
        path_parameters=[PathParameter("server", "A server's id or config key")],
    ),
    mcp.LegacyMessagesHandler: Route(
        {
            "post": Operation(
                {
                    202: Response("Accepted; the reply comes on the session's stream"),
                    400: rpc("Missing sessionId, or not a JSON-RPC message"),
                    404: rpc("Unknown session"),
                    **{status: MCP_REFUSALS[status] for status in (403, 413, 421)},
                },
                body=s.JsonRpcMessageSchema,
                query=s.McpSessionQuerySchema,
            )
        }
    ),
}


class OpenAPIHandler(APIHandler):
    """GET /api/openapi.json: this document (OpenAPI 3.1)."""

    def get(self) -> None:
        from tornadohub.handlers import default_handlers  # the table this module is part of

        self.finish(document_text(tuple(default_handlers)))


ROUTES[OpenAPIHandler] = Route({"get": Operation({200: ok(s.OpenAPIDocumentSchema)})})

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
        route = ROUTES.get(handler)
        if route is None:
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


__all__ = ["ROUTES", "OpenAPIHandler", "Route", "default_handlers", "describe", "openapi_path"]
