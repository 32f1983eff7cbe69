"""Server routes: list, info, start/stop/refresh, and tool/resource/prompt calls."""

from tornadohub.handlers.base import APIHandler


class ServersHandler(APIHandler):
    """GET /api/servers: every configured server's ServerInfo, config order."""

    def get(self) -> None:
        self.write_json({"servers": self.hub.servers()})


class ServerInfoHandler(APIHandler):
    """POST /api/servers/info {server_name}."""

    def post(self) -> None:
        name = self.require(self.json_body(), "server_name", "Missing server name")
        self.write_json({"server": self.hub.get(name).info()})


class ServerStartHandler(APIHandler):
    """POST /api/servers/start {server_name}: enable in memory and connect."""

    async def post(self) -> None:
        name = self.require(self.json_body(), "server_name", "Missing server name")
        self.write_json({"status": "ok", "server": await self.hub.start_server(name)})


class ServerStopHandler(APIHandler):
    """POST /api/servers/stop[?disable=true] {server_name}."""

    async def post(self) -> None:
        name = self.require(self.json_body(), "server_name", "Missing server name")
        disable = self.get_query_argument("disable", "false").lower() == "true"
        server = await self.hub.stop_server(name, disable=disable)
        self.write_json({"status": "ok", "server": server})


class ServerRefreshHandler(APIHandler):
    """POST /api/servers/refresh {server_name}: re-fetch its capability lists."""

    async def post(self) -> None:
        name = self.require(self.json_body(), "server_name", "Missing server name")
        self.write_json({"status": "ok", "server": await self.hub.refresh_server(name)})


class RefreshAllHandler(APIHandler):
    """GET /api/refresh: re-fetch every server's lists (GET, as in mcp-hub)."""

    async def get(self) -> None:
        self.write_json({"status": "ok", "servers": await self.hub.refresh_all()})


class ToolCallHandler(APIHandler):
    """POST /api/servers/tools {server_name, tool, arguments?, request_options?}."""

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

    async def post(self) -> None:
        body = self.json_body()
        name = self.require(body, "server_name", "Missing server name")
        uri = self.require(body, "uri", "Missing resource URI")
        result = await self.hub.read_resource(name, uri, body.get("request_options"))
        self.write_json({"result": result})


class PromptGetHandler(APIHandler):
    """POST /api/servers/prompts {server_name, prompt, arguments?, request_options?}."""

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
