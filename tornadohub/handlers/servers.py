"""Server routes: list, info, start/stop/refresh, and tool/resource/prompt calls."""

from tornadohub import schemas as s
from tornadohub.handlers.base import APIHandler
from tornadohub.handlers.docs import BAD_BODY, NO_SERVER, SERVER_CALL, RouteDoc, error, ok
from tornadohub.openapi import Operation


class ServersHandler(APIHandler):
    """GET /api/servers: every configured server's ServerInfo, config order."""

    openapi = RouteDoc({"get": Operation({200: ok(s.ServersSchema)})})

    def get(self) -> None:
        self.write_json({"servers": self.hub.servers()})


class ServerInfoHandler(APIHandler):
    """POST /api/servers/info {server_name}."""

    openapi = RouteDoc(
        {
            "post": Operation(
                {200: ok(s.ServerSchema), 400: BAD_BODY, 404: NO_SERVER}, body=s.ServerNameSchema
            )
        }
    )

    def post(self) -> None:
        name = self.require(self.json_body(), "server_name", "Missing server name")
        self.write_json({"server": self.hub.get(name).info()})


class ServerStartHandler(APIHandler):
    """POST /api/servers/start {server_name}: enable in memory and connect."""

    openapi = RouteDoc(
        {
            "post": Operation(
                {
                    200: ok(s.ServerActionSchema),
                    400: BAD_BODY,
                    404: NO_SERVER,
                    500: error("It could not connect (CONNECTION_ERROR)"),
                    503: error("Cluster mode: Redis is unreachable (CLUSTER_UNAVAILABLE)"),
                },
                body=s.ServerNameSchema,
                query=s.NodeQuerySchema,
            )
        }
    )

    async def post(self) -> None:
        name = self.require(self.json_body(), "server_name", "Missing server name")
        node = self.get_query_argument("node", None)
        self.write_json({"status": "ok", "server": await self.hub.start_server(name, node=node)})


class ServerStopHandler(APIHandler):
    """POST /api/servers/stop[?disable=true] {server_name}."""

    openapi = RouteDoc(
        {
            "post": Operation(
                {
                    200: ok(s.ServerActionSchema),
                    400: BAD_BODY,
                    404: NO_SERVER,
                    503: error("Cluster mode: Redis is unreachable (CLUSTER_UNAVAILABLE)"),
                },
                body=s.ServerNameSchema,
                query=s.StopQuerySchema,
            )
        }
    )

    async def post(self) -> None:
        name = self.require(self.json_body(), "server_name", "Missing server name")
        disable = self.get_query_argument("disable", "false").lower() == "true"
        node = self.get_query_argument("node", None)
        server = await self.hub.stop_server(name, disable=disable, node=node)
        self.write_json({"status": "ok", "server": server})


class ServerRefreshHandler(APIHandler):
    """POST /api/servers/refresh {server_name}: re-fetch its capability lists."""

    openapi = RouteDoc(
        {"post": Operation({**SERVER_CALL, 200: ok(s.ServerActionSchema)}, body=s.ServerNameSchema)}
    )

    async def post(self) -> None:
        name = self.require(self.json_body(), "server_name", "Missing server name")
        self.write_json({"status": "ok", "server": await self.hub.refresh_server(name)})


class RefreshAllHandler(APIHandler):
    """GET /api/refresh: re-fetch every server's lists (GET, as in mcp-hub)."""

    openapi = RouteDoc({"get": Operation({200: ok(s.RefreshAllSchema)})})

    async def get(self) -> None:
        self.write_json({"status": "ok", "servers": await self.hub.refresh_all()})


class ToolCallHandler(APIHandler):
    """POST /api/servers/tools {server_name, tool, arguments?, request_options?}."""

    openapi = RouteDoc(
        {
            "post": Operation(
                {**SERVER_CALL, 200: ok(s.ToolCallResultSchema, "The tool's result")},
                body=s.ToolCallSchema,
            )
        }
    )

    async def post(self) -> None:
        body = self.json_body()
        name = self.require(body, "server_name", "Missing server name")
        tool = self.require(body, "tool", "Missing tool name")
        result = await self.hub.call_tool(
            name, tool, body.get("arguments", {}), body.get("request_options")
        )
        self.write_json({"result": result})


class ResourceReadHandler(APIHandler):
    """POST /api/servers/resources {server_name, uri, request_options?}."""

    openapi = RouteDoc(
        {
            "post": Operation(
                {**SERVER_CALL, 200: ok(s.ResourceReadResultSchema)}, body=s.ResourceReadSchema
            )
        }
    )

    async def post(self) -> None:
        body = self.json_body()
        name = self.require(body, "server_name", "Missing server name")
        uri = self.require(body, "uri", "Missing resource URI")
        result = await self.hub.read_resource(name, uri, body.get("request_options"))
        self.write_json({"result": result})


class PromptGetHandler(APIHandler):
    """POST /api/servers/prompts {server_name, prompt, arguments?, request_options?}."""

    openapi = RouteDoc(
        {
            "post": Operation(
                {**SERVER_CALL, 200: ok(s.PromptGetResultSchema)}, body=s.PromptGetSchema
            )
        }
    )

    async def post(self) -> None:
        body = self.json_body()
        name = self.require(body, "server_name", "Missing server name")
        prompt = self.require(body, "prompt", "Missing prompt name")
        result = await self.hub.get_prompt(
            name, prompt, body.get("arguments", {}), body.get("request_options")
        )
        self.write_json({"result": result})


default_handlers = [
    (r"/api/servers", ServersHandler),
    (r"/api/servers/info", ServerInfoHandler),
    (r"/api/servers/start", ServerStartHandler),
    (r"/api/servers/stop", ServerStopHandler),
    (r"/api/servers/refresh", ServerRefreshHandler),
    (r"/api/refresh", RefreshAllHandler),
    (r"/api/servers/tools", ToolCallHandler),
    (r"/api/servers/resources", ResourceReadHandler),
    (r"/api/servers/prompts", PromptGetHandler),
]
