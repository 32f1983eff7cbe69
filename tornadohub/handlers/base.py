"""Base handler: JSON in, JSON out, and the one place errors become JSON.

Every error, whether a domain :class:`HubError`, a Tornado ``HTTPError`` or a bug,
leaves as mcp-hub's envelope ``{"error", "code", "data", "timestamp"}``.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any, cast

from tornado import web

from tornadohub.errors import HubError, ValidationError
from tornadohub.handlers.auth import require_auth
from tornadohub.hub import Hub, stopping_error
from tornadohub.upstreams.base import iso_now

log = logging.getLogger("tornadohub.api")

#: Request bodies above this are refused with 413 (mcp-hub: 100 kB; tool arguments can be big).
MAX_BODY_BYTES = 4 * 1024 * 1024

_HTTP_CODES = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "PAYLOAD_TOO_LARGE"}

#: The requests :class:`StoppingHandler` answers while the hub stops: every ``/api`` route
#: and the MCP endpoint. Probes and ``/metrics`` stay open to the end.
WORK_PATHS = re.compile(r"(?i:/api(/.*)?)|/mcp|/servers/[^/]+/mcp|/messages")


class APIHandler(web.RequestHandler):
    """Base class for every ``/api`` route."""

    @property
    def hub(self) -> Hub:
        return cast(Hub, self.settings["hub"])

    def set_default_headers(self) -> None:
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "no-store")

    def prepare(self) -> None:
        require_auth(self)
        if len(self.request.body) > MAX_BODY_BYTES:
            raise HubError(
                "Request body too large",
                code="PAYLOAD_TOO_LARGE",
                data={"limit": MAX_BODY_BYTES},
                status=413,
            )

    def json_body(self) -> dict[str, Any]:
        """The body as a JSON object; non-JSON content types and non-objects read as ``{}``.

        mcp-hub (Express) ignores bodies that are not ``application/json`` and answers
        malformed JSON with an HTML page; we answer it with a JSON 400.
        """
        content_type = self.request.headers.get("Content-Type", "")
        if "json" not in content_type.lower() or not self.request.body.strip():
            return {}
        try:
            body = json.loads(self.request.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValidationError(
                "Invalid JSON in request body", code="INVALID_JSON", data={"detail": str(exc)}
            ) from None
        return body if isinstance(body, dict) else {}

    def require(self, body: dict[str, Any], field: str, message: str) -> Any:
        value = body.get(field)
        if value is None or value == "":
            raise ValidationError(message, data={"field": field})
        return value

    def write_json(self, payload: dict[str, Any], *, timestamp: bool = True) -> None:
        if timestamp:
            payload = {**payload, "timestamp": iso_now()}
        self.finish(json.dumps(payload, separators=(",", ":")))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, HubError):
            body = {"error": exc.message, "code": exc.code, "data": exc.data}
        elif isinstance(exc, web.HTTPError):
            default = f"Cannot {self.request.method} {self.request.path}"
            body = {
                "error": exc.log_message
                or (default if status_code in (404, 405) else self._reason),
                "code": _HTTP_CODES.get(status_code, "REQUEST_ERROR"),
                "data": {},
            }
        else:
            body = {"error": "Internal server error", "code": "INTERNAL_ERROR", "data": {}}
        if status_code == 405:
            self.set_header("Allow", ", ".join(self.allowed_methods()))
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps({**body, "timestamp": iso_now()}, separators=(",", ":")))

    @classmethod
    def allowed_methods(cls) -> list[str]:
        """The methods this handler implements (a 405's ``Allow`` header, RFC 9110)."""
        return [
            method
            for method in cls.SUPPORTED_METHODS
            if getattr(cls, method.lower()) is not getattr(web.RequestHandler, method.lower())
        ]

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, HubError):
            log.debug("%s %s -> %s %s", self.request.method, self.request.path, value.status, value)
            return
        super().log_exception(typ, value, tb)

    def send_error(self, status_code: int = 500, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, HubError):
            status_code = exc.status
        super().send_error(status_code, **kwargs)


class StoppingHandler(APIHandler):
    """Any ``/api`` or MCP request once a shutdown started: 503 ``HUB_STOPPING``.

    ``app.make_app`` routes work requests here, ahead of every route, while the hub
    refuses work. API keys are still checked first.
    """

    def prepare(self) -> None:
        super().prepare()
        raise stopping_error()


class NotFoundHandler(APIHandler):
    """Any unknown route: a JSON 404 (mcp-hub answers an HTML page)."""

    def prepare(self) -> None:
        raise web.HTTPError(404, f"Cannot {self.request.method} {self.request.path}")
