"""marshmallow schemas of the REST payloads: the one description ``/api/openapi.json`` is
generated from (see :mod:`tornadohub.openapi`).

They describe the wire as mcp-hub 4.2.1 has it (key names, nulls, the error envelope).
Schemas of the hub's own objects are closed (``Meta.unknown = RAISE``: an undocumented
key is a bug the OpenAPI tests catch); MCP objects passed through from upstreams and
marketplace entries from catalogs are open (``INCLUDE``), as those grow new keys.

Request-body schemas describe what a client should send. The handlers do not load bodies
with them: the contract pins its own messages and codes for bad bodies (``Missing server
name`` 400 ``{"field": ...}``, non-object ``arguments`` 500 ``TOOL_ERROR`` ...), which a
schema load would change.

Why this module is long: it is a catalogue (one schema per payload of the REST API), with
no logic.
"""

from __future__ import annotations

from marshmallow import INCLUDE, Schema, fields, validate

from tornadohub.openapi import AnyOf
from tornadohub.recent_logs import LEVELS
from tornadohub.state import HubState, UpstreamStatus

STATUS_OK = validate.OneOf(["ok"])
NON_EMPTY = validate.Length(min=1)
COUNT = validate.Range(min=0)
HUB_STATES = validate.OneOf([state.value for state in HubState])
UPSTREAM_STATUSES = validate.OneOf([status.value for status in UpstreamStatus])


class OpenSchema(Schema):
    """Base of schemas whose objects may carry keys not listed (``additionalProperties``)."""

    class Meta:
        unknown = INCLUDE


class TimestampedSchema(Schema):
    timestamp = fields.DateTime(
        required=True, metadata={"description": "When the hub answered (ISO 8601, UTC)"}
    )


# ------------------------------------------------------------------------------ errors
class ErrorSchema(Schema):
    """mcp-hub's error envelope: every error of every ``/api`` route."""

    error = fields.String(required=True, metadata={"description": "Human-readable message"})
    code = AnyOf(
        fields.String(),
        fields.Integer(),
        required=True,
        metadata={
            "description": "VALIDATION_ERROR, SERVER_NOT_FOUND, TOOL_ERROR, HUB_STOPPING, ..."
            " or the upstream's JSON-RPC error code",
            "examples": ["SERVER_NOT_FOUND", -32001],
        },
    )
    data = fields.Dict(required=True, metadata={"description": "Context: server, field, ..."})
    timestamp = fields.DateTime(required=True)


# ------------------------------------------------------------------ MCP objects (open)
class ToolSchema(OpenSchema):
    """An MCP tool definition, as the upstream listed it."""

    name = fields.String(required=True)
    title = fields.String()
    description = fields.String()
    inputSchema = fields.Dict(required=True)
    outputSchema = fields.Dict()
    annotations = fields.Dict()


class ResourceSchema(OpenSchema):
    """An MCP resource."""

    uri = fields.String(required=True)
    name = fields.String(required=True)
    title = fields.String()
    description = fields.String()
    mimeType = fields.String()
    size = fields.Integer()


class ResourceTemplateSchema(OpenSchema):
    """An MCP resource template (RFC 6570 ``uriTemplate``)."""

    uriTemplate = fields.String(required=True)
    name = fields.String(required=True)
    title = fields.String()
    description = fields.String()
    mimeType = fields.String()


class PromptArgumentSchema(OpenSchema):
    name = fields.String(required=True)
    description = fields.String()
    required = fields.Boolean()


class PromptSchema(OpenSchema):
    """An MCP prompt."""

    name = fields.String(required=True)
    title = fields.String()
    description = fields.String()
    arguments = fields.List(fields.Nested(PromptArgumentSchema))


class ImplementationSchema(OpenSchema):
    """Name and version of an MCP implementation (an upstream's ``serverInfo``, the hub's)."""

    name = fields.String(required=True)
    version = fields.String()
    title = fields.String()


class ContentSchema(OpenSchema):
    """One MCP content block: ``text``, ``image``, ``audio``, ``resource_link``, ``resource``."""

    type = fields.String(required=True, metadata={"examples": ["text", "image"]})
    text = fields.String()
    data = fields.String(metadata={"description": "base64 (image, audio)"})
    mimeType = fields.String()


class ToolResultSchema(OpenSchema):
    """An MCP ``CallToolResult``; a tool's own failure is ``isError: true`` with status 200."""

    content = fields.List(fields.Nested(ContentSchema), required=True)
    structuredContent = fields.Dict()
    isError = fields.Boolean()


class ResourceContentsSchema(OpenSchema):
    uri = fields.String(required=True)
    mimeType = fields.String()
    text = fields.String()
    blob = fields.String(metadata={"description": "base64"})


class ResourceResultSchema(OpenSchema):
    """An MCP ``ReadResourceResult``."""

    contents = fields.List(fields.Nested(ResourceContentsSchema), required=True)


class PromptMessageSchema(OpenSchema):
    role = fields.String(required=True, validate=validate.OneOf(["user", "assistant"]))
    content = fields.Nested(ContentSchema, required=True)


class PromptResultSchema(OpenSchema):
    """An MCP ``GetPromptResult``."""

    description = fields.String()
    messages = fields.List(fields.Nested(PromptMessageSchema), required=True)


# ----------------------------------------------------------------------------- servers
class CapabilitiesSchema(Schema):
    """A server's cached lists (all empty unless it is connected)."""

    tools = fields.List(fields.Nested(ToolSchema), required=True)
    resources = fields.List(fields.Nested(ResourceSchema), required=True)
    resourceTemplates = fields.List(fields.Nested(ResourceTemplateSchema), required=True)
    prompts = fields.List(fields.Nested(PromptSchema), required=True)


class ServerInfoSchema(Schema):
    """One configured server (mcp-hub's ServerInfo), in mcp-hub's key order."""

    name = fields.String(required=True, metadata={"description": "The key in the config"})
    displayName = fields.String(required=True)
    description = fields.String(required=True)
    transportType = fields.String(
        required=True,
        validate=validate.OneOf(["stdio", "sse", "streamable-http"]),
        metadata={"description": "stdio, or sse for every remote server (as mcp-hub)"},
    )
    status = fields.String(required=True, validate=UPSTREAM_STATUSES)
    error = fields.String(required=True, allow_none=True)
    capabilities = fields.Nested(CapabilitiesSchema, required=True)
    uptime = fields.Integer(required=True, validate=COUNT, metadata={"description": "Seconds"})
    lastStarted = fields.DateTime(required=True, allow_none=True)
    authorizationUrl = fields.String(
        required=True, allow_none=True, metadata={"description": "Set while OAuth waits"}
    )
    serverInfo = fields.Nested(ImplementationSchema, required=True, allow_none=True)
    config_source = fields.String(
        required=True, allow_none=True, metadata={"description": "The config file it came from"}
    )


class RefreshFailureSchema(Schema):
    """A server whose lists could not be re-fetched (``GET /api/refresh``)."""

    name = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(["error"]))
    error = fields.String(required=True)


class ServersSchema(TimestampedSchema):
    servers = fields.List(fields.Nested(ServerInfoSchema), required=True)


class ServerSchema(TimestampedSchema):
    server = fields.Nested(ServerInfoSchema, required=True)


class ServerActionSchema(TimestampedSchema):
    status = fields.String(required=True, validate=STATUS_OK)
    server = fields.Nested(ServerInfoSchema, required=True)


class RefreshAllSchema(TimestampedSchema):
    status = fields.String(required=True, validate=STATUS_OK)
    servers = fields.List(
        AnyOf(fields.Nested(ServerInfoSchema), fields.Nested(RefreshFailureSchema)), required=True
    )


class StatusSchema(TimestampedSchema):
    status = fields.String(required=True, validate=STATUS_OK)


# ----------------------------------------------------------------------- request bodies
class ServerNameSchema(OpenSchema):
    """Names the server a call is for."""

    server_name = fields.String(
        required=True, validate=NON_EMPTY, metadata={"description": "The server's config key"}
    )


class RequestOptionsSchema(OpenSchema):
    timeout = fields.Float(
        validate=validate.Range(min=0, min_inclusive=False),
        metadata={"description": "Milliseconds (default 60000)"},
    )


class ToolCallSchema(ServerNameSchema):
    """``POST /api/servers/tools``."""

    tool = fields.String(required=True, validate=NON_EMPTY)
    arguments = fields.Dict(metadata={"description": "The tool's arguments (default {})"})
    request_options = fields.Nested(RequestOptionsSchema)


class ResourceReadSchema(ServerNameSchema):
    """``POST /api/servers/resources``."""

    uri = fields.String(required=True, validate=NON_EMPTY)
    request_options = fields.Nested(RequestOptionsSchema)


class PromptGetSchema(ServerNameSchema):
    """``POST /api/servers/prompts``; non-string argument values are sent as JSON text."""

    prompt = fields.String(required=True, validate=NON_EMPTY)
    arguments = fields.Dict()
    request_options = fields.Nested(RequestOptionsSchema)


class NodeQuerySchema(Schema):
    node = fields.String(
        metadata={
            "description": "Cluster mode: only this node (its id) instead of every node;"
            " ignored in embedded mode"
        }
    )


class StopQuerySchema(NodeQuerySchema):
    disable = fields.String(
        validate=validate.OneOf(["true", "false"]),
        metadata={"description": "true: also mark it disabled (in memory)"},
    )


class ToolCallResultSchema(TimestampedSchema):
    result = fields.Nested(ToolResultSchema, required=True)


class ResourceReadResultSchema(TimestampedSchema):
    result = fields.Nested(ResourceResultSchema, required=True)


class PromptGetResultSchema(TimestampedSchema):
    result = fields.Nested(PromptResultSchema, required=True)


# ------------------------------------------------------------------ health, workspaces
class WorkspaceEntrySchema(OpenSchema):
    """One hub registered in the machine's workspace cache, keyed by its port."""

    cwd = fields.String(required=True)
    config_files = fields.List(fields.String(), required=True)
    pid = fields.Integer(required=True)
    port = fields.Integer(required=True)
    startTime = fields.DateTime(required=True)
    state = fields.String(required=True, validate=validate.OneOf(["active", "shutting_down"]))
    activeConnections = fields.Integer(required=True, validate=COUNT)
    shutdownStartedAt = fields.DateTime(required=True, allow_none=True)
    shutdownDelay = fields.Integer(
        required=True, allow_none=True, metadata={"description": "Milliseconds"}
    )


class WorkspacesSchema(TimestampedSchema):
    workspaces = fields.Dict(
        values=fields.Nested(WorkspaceEntrySchema),
        required=True,
        metadata={"description": "By port"},
    )


class SseConnectionSchema(Schema):
    id = fields.String(required=True)
    state = fields.String(
        required=True, validate=validate.OneOf(["connected", "disconnected", "error"])
    )
    connectedAt = fields.DateTime(required=True)
    lastEventAt = fields.DateTime(required=True, allow_none=True)


class SseConnectionsSchema(Schema):
    totalConnections = fields.Integer(required=True, validate=COUNT)
    connections = fields.List(fields.Nested(SseConnectionSchema), required=True)


class NameCollisionSchema(Schema):
    kind = fields.String(
        required=True,
        validate=validate.OneOf(["tools", "resources", "resourceTemplates", "prompts"]),
    )
    name = fields.String(required=True, metadata={"description": "The name or URI defined"})
    servers = fields.List(
        fields.String(), required=True, metadata={"description": "Every server defining it"}
    )


class McpProfileSchema(Schema):
    """One profile of the config, served as its own MCP endpoint."""

    name = fields.String(required=True)
    endpoint = fields.String(
        required=True, metadata={"description": "Its path: /profiles/<name>/mcp"}
    )
    servers = fields.List(
        fields.String(),
        required=True,
        allow_none=True,
        metadata={"description": "The config names of its servers; null: every server"},
    )
    search = fields.Boolean(
        required=True,
        metadata={"description": "Search mode: tools/list has search_tools and call_tool"},
    )
    activeClients = fields.Integer(required=True, validate=COUNT)


class McpEndpointSchema(Schema):
    """The ``/mcp`` endpoint: open sessions and the aggregated capabilities."""

    activeClients = fields.Integer(required=True, validate=COUNT)
    registeredCapabilities = fields.Dict(values=fields.Integer(), required=True)
    totalCapabilities = fields.Integer(required=True, validate=COUNT)
    unprefixed = fields.Boolean(
        metadata={"description": "Present (true) in unprefixed mode (``--unprefixed``)"}
    )
    nameCollisions = fields.List(
        fields.Nested(NameCollisionSchema),
        metadata={
            "description": "Unprefixed mode: names and URIs defined by more than one server,"
            " which /mcp publishes with their prefix"
        },
    )
    profiles = fields.List(
        fields.Nested(McpProfileSchema),
        metadata={
            "description": "The usable profiles, each an endpoint of its own (tornadohub;"
            " not in mcp-hub's answer)"
        },
    )
    filterErrors = fields.List(
        fields.String(),
        metadata={
            "description": "What check-config reports of the tool filters, disabled_* lists"
            " and profiles (a broken filter hides what it governs; a broken profile is not"
            " served; everything else runs; tornadohub)"
        },
    )


class HealthWorkspacesSchema(Schema):
    current = fields.String(required=True, metadata={"description": "This hub's port"})
    allActive = fields.Dict(values=fields.Nested(WorkspaceEntrySchema), required=True)


class HealthSchema(Schema):
    """``GET /api/health``: a snapshot; never waits on a server."""

    status = fields.String(required=True, validate=STATUS_OK)
    state = fields.String(required=True, validate=HUB_STATES)
    server_id = fields.String(required=True, validate=validate.OneOf(["mcp-hub"]))
    version = fields.String(
        required=True, metadata={"description": "The mcp-hub API version this hub speaks"}
    )
    implementation = fields.Nested(
        ImplementationSchema, metadata={"description": "This hub's own name and version"}
    )
    activeClients = fields.Integer(required=True, validate=COUNT)
    timestamp = fields.DateTime(required=True)
    servers = fields.List(fields.Nested(ServerInfoSchema), required=True)
    connections = fields.Nested(SseConnectionsSchema, required=True)
    mcpEndpoint = fields.Nested(McpEndpointSchema, required=True)
    workspaces = fields.Nested(HealthWorkspacesSchema, required=True)


# ------------------------------------------------------------------------------ probes
class LivenessSchema(TimestampedSchema):
    status = fields.String(required=True, validate=STATUS_OK)


class ReadyServersSchema(Schema):
    connected = fields.Integer(required=True, validate=COUNT)
    required = fields.Integer(required=True, validate=COUNT)
    total = fields.Integer(required=True, validate=COUNT)


class ReadinessSchema(TimestampedSchema):
    """``/readyz``: ``ready`` (200) or ``unavailable`` with the reason (503)."""

    status = fields.String(required=True, validate=validate.OneOf(["ready", "unavailable"]))
    reason = fields.String(metadata={"description": "Only when unavailable"})
    state = fields.String(required=True, validate=HUB_STATES)
    servers = fields.Nested(ReadyServersSchema, required=True)
    mode = fields.String(
        validate=validate.OneOf(["cluster", "degraded"]),
        metadata={"description": "Cluster mode only: degraded while Redis is unreachable"},
    )
    redis = fields.String(
        validate=validate.OneOf(["up", "down"]), metadata={"description": "Cluster mode only"}
    )
    node = fields.String(metadata={"description": "Cluster mode only: this node's id"})


# ------------------------------------------------------------------------- marketplace
class MarketplaceQuerySchema(Schema):
    search = fields.String(metadata={"description": "In the name, description or tags"})
    category = fields.String()
    tags = fields.String(metadata={"description": "Comma-separated; every tag must be present"})
    sort = fields.String(validate=validate.OneOf(["newest", "stars", "name"]))


class InstallationSchema(OpenSchema):
    """One way to install a marketplace server; ``config`` is a JSON text."""

    name = fields.String(required=True)
    description = fields.String(allow_none=True)
    config = fields.String(required=True)
    prerequisites = fields.List(fields.String(), allow_none=True)
    parameters = fields.List(fields.Dict(), allow_none=True)
    transports = fields.List(fields.String(), allow_none=True)


class MarketplaceServerSchema(OpenSchema):
    """A catalog entry (mcp-hub's RegistryServer), passed through as the catalog has it."""

    id = fields.String(required=True)
    name = fields.String(required=True)
    description = fields.String(allow_none=True)
    author = fields.String(allow_none=True)
    url = fields.String(allow_none=True)
    license = fields.String(allow_none=True)
    category = fields.String(allow_none=True)
    tags = fields.List(fields.String(), allow_none=True)
    installations = fields.List(fields.Nested(InstallationSchema), allow_none=True)
    parameters = fields.List(fields.Dict(), allow_none=True)
    featured = fields.Boolean(allow_none=True)
    verified = fields.Boolean(allow_none=True)
    stars = fields.Integer(allow_none=True)
    lastCommit = fields.Integer(allow_none=True, metadata={"description": "Unix seconds"})
    updatedAt = fields.String(allow_none=True)


class MarketplaceSchema(TimestampedSchema):
    servers = fields.List(fields.Nested(MarketplaceServerSchema), required=True)


class MarketplaceDetailsRequestSchema(OpenSchema):
    mcpId = fields.String(required=True, validate=NON_EMPTY)


class MarketplaceDetailsSchema(Schema):
    server = fields.Nested(MarketplaceServerSchema, required=True)
    readmeContent = fields.String(required=True, allow_none=True)


class MarketplaceDetailsResultSchema(TimestampedSchema):
    """Nested ``server.server``, exactly as mcp-hub answers."""

    server = fields.Nested(MarketplaceDetailsSchema, required=True)


class MarketplaceAddSchema(OpenSchema):
    """What ``mcp-hub add`` takes, as a body."""

    mcpId = fields.String(required=True, validate=NON_EMPTY)
    installation = fields.String(metadata={"description": "Installation name (default: first)"})
    name = fields.String(metadata={"description": "The server's key (default: from mcpId)"})
    params = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        metadata={"description": "Values for ${KEY} placeholders; the others stay in the entry"},
    )
    force = fields.Boolean(
        load_default=False, metadata={"description": "Replace an entry of that name"}
    )


class AddedServerSchema(Schema):
    """The entry written; ``applied``: the hub's ``--watch`` picks it up, or a reload began."""

    name = fields.String(required=True, metadata={"description": "Its key in the config"})
    mcpId = fields.String(required=True)
    configFile = fields.String(required=True)
    installation = fields.String(required=True)
    unresolved = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "Placeholders left for the hub's environment"},
    )
    created = fields.Boolean(required=True, metadata={"description": "The file was created"})
    replaced = fields.Boolean(required=True, metadata={"description": "An entry was replaced"})
    applied = fields.String(required=True, validate=validate.OneOf(["watch", "reload"]))


class MarketplaceAddResultSchema(TimestampedSchema):
    status = fields.String(required=True, validate=STATUS_OK)
    server = fields.Nested(AddedServerSchema, required=True)


# ------------------------------------------------------------------------ logs, stats
class LogsQuerySchema(Schema):
    server_name = fields.String(metadata={"description": "Only this server's lines"})
    level = fields.String(
        validate=validate.OneOf(LEVELS), metadata={"description": "This level and above"}
    )
    limit = fields.Integer(
        validate=validate.Range(min=1, max=1000),
        load_default=1000,
        metadata={"description": "The last lines only"},
    )


class LogLineSchema(OpenSchema):
    """One log line, in mcp-hub's envelope (as in ``log`` events of ``/api/events``)."""

    type = fields.String(required=True, validate=validate.OneOf(LEVELS))
    message = fields.String(required=True)
    data = fields.Dict(required=True)
    timestamp = fields.DateTime(required=True)
    code = AnyOf(fields.String(), fields.Integer())


class LogsSchema(TimestampedSchema):
    lines = fields.List(fields.Nested(LogLineSchema), required=True)


class HubStatsSchema(Schema):
    """The hub process; ``null`` where the platform does not tell (start time off Linux)."""

    startedAt = fields.DateTime(required=True, allow_none=True)
    uptime = fields.Float(required=True, allow_none=True, metadata={"description": "Seconds"})
    callsInFlight = fields.Integer(required=True, validate=COUNT)


class ToolCallOutcomesSchema(Schema):
    success = fields.Integer(required=True, validate=COUNT)
    tool_error = fields.Integer(required=True, validate=COUNT)
    error = fields.Integer(required=True, validate=COUNT)
    timeout = fields.Integer(required=True, validate=COUNT)


class HistogramBucketSchema(Schema):
    """Calls that took at most ``le`` seconds (cumulative, as in Prometheus)."""

    le = fields.String(required=True, metadata={"examples": ["0.005", "+Inf"]})
    count = fields.Integer(required=True, validate=COUNT)


class ServerStatsSchema(Schema):
    """One server's tool calls since the hub started (REST and ``/mcp``)."""

    server = fields.String(required=True)
    calls = fields.Integer(required=True, validate=COUNT)
    errors = fields.Integer(required=True, validate=COUNT)
    errorRate = fields.Float(required=True, validate=validate.Range(min=0, max=1))
    outcomes = fields.Nested(ToolCallOutcomesSchema, required=True)
    seconds = fields.Float(required=True, metadata={"description": "Total time spent"})
    p50 = fields.Float(required=True, allow_none=True, metadata={"description": "Seconds"})
    p95 = fields.Float(required=True, allow_none=True, metadata={"description": "Seconds"})
    buckets = fields.List(fields.Nested(HistogramBucketSchema), required=True)


class StatsSchema(TimestampedSchema):
    hub = fields.Nested(HubStatsSchema, required=True)
    servers = fields.List(fields.Nested(ServerStatsSchema), required=True)


# ------------------------------------------------------------------------------- OAuth
class AuthorizationSchema(Schema):
    """No ``timestamp`` here, as in mcp-hub."""

    authorizationUrl = fields.String(required=True)


class OAuthCallbackQuerySchema(Schema):
    """Both ``server_name`` and ``code`` are needed; without them the page says so (still 200)."""

    server_name = fields.String()
    code = fields.String()
    state = fields.String()
    iss = fields.String()


class ManualCallbackSchema(OpenSchema):
    url = fields.Url(
        required=True,
        require_tld=False,
        metadata={"description": "The redirect URL, pasted; its query has server_name and code"},
    )


class ManualCallbackResultSchema(TimestampedSchema):
    status = fields.String(required=True, validate=STATUS_OK)
    message = fields.String(required=True)
    server_name = fields.String(required=True)


# --------------------------------------------------------------------------- MCP, docs
class JsonRpcErrorSchema(OpenSchema):
    code = fields.Integer(required=True)
    message = fields.String(required=True)
    data = fields.Raw()


class JsonRpcMessageSchema(OpenSchema):
    """One JSON-RPC 2.0 message: request, notification, response or error."""

    jsonrpc = fields.String(required=True, validate=validate.OneOf(["2.0"]))
    id = AnyOf(fields.String(), fields.Integer(), allow_none=True)
    method = fields.String()
    params = fields.Dict()
    result = fields.Dict()
    error = fields.Nested(JsonRpcErrorSchema)


class McpSessionHeaderSchema(Schema):
    session = fields.String(
        data_key="Mcp-Session-Id",
        required=True,
        metadata={"description": "From the initialize reply"},
    )


class McpSessionQuerySchema(Schema):
    sessionId = fields.String(required=True, metadata={"description": "From the endpoint event"})


class OpenAPIDocumentSchema(OpenSchema):
    """An OpenAPI 3.1 document (this one)."""

    openapi = fields.String(required=True)
    info = fields.Dict(required=True)
    paths = fields.Dict(required=True)
    components = fields.Dict()
