"""Domain errors carrying the fields of mcp-hub's error envelope.

They never import tornado: the one base API handler maps them to HTTP responses
``{"error", "code", "data", "timestamp"}`` with :attr:`HubError.status`.
"""

from __future__ import annotations

from typing import Any


class HubError(Exception):
    """Base of every error the hub reports to a client."""

    status: int = 500
    default_code: str | int = "SERVER_ERROR"

    def __init__(
        self,
        message: str,
        *,
        code: str | int | None = None,
        data: dict[str, Any] | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code: str | int = self.default_code if code is None else code
        self.data: dict[str, Any] = dict(data or {})
        if status is not None:
            self.status = status


class ValidationError(HubError):
    """A request body or parameter is missing or has the wrong type (400)."""

    status = 400
    default_code = "VALIDATION_ERROR"


class ServerNotFoundError(HubError):
    """No server of that name is configured.

    mcp-hub answers 500 ``SERVER_ERROR``; the contract allows the better 404.
    """

    status = 404
    default_code = "SERVER_NOT_FOUND"

    def __init__(self, server: str, **data: Any) -> None:
        super().__init__("Server not found", data={"server": server, **data})


class ConfigError(HubError):
    """A config file cannot be read or is structurally invalid."""

    default_code = "CONFIG_ERROR"


class PlaceholderError(HubError):
    """A ``${...}`` placeholder could not be resolved for one server."""

    default_code = "CONFIG_ERROR"


class UpstreamConnectionError(HubError):
    """Connecting to an upstream server failed."""

    default_code = "CONNECTION_ERROR"


class UpstreamError(HubError):
    """A call to an upstream failed: not connected, timed out, or an MCP error."""

    default_code = "TOOL_ERROR"

    def __init__(
        self,
        message: str,
        *,
        code: str | int | None = None,
        data: dict[str, Any] | None = None,
        upstream_data: Any = None,
    ) -> None:
        super().__init__(message, code=code, data=data)
        #: The ``data`` of the upstream's JSON-RPC error, for MCP clients (REST
        #: keeps mcp-hub's envelope, which has no place for it).
        self.upstream_data = upstream_data


class NotReadyError(HubError):
    """The hub is starting or stopping and cannot serve this request yet."""

    status = 503
    default_code = "HUB_NOT_READY"


class AuthenticationError(HubError):
    """No valid API key (401); *challenge* is the ``WWW-Authenticate`` header to send."""

    status = 401
    default_code = "UNAUTHORIZED"

    def __init__(self, message: str, *, challenge: str) -> None:
        super().__init__(message)
        self.challenge = challenge
