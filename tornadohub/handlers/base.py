"""Base handlers: the application state, the edge policy and API keys on every route,
JSON in and out, and the one ``write_error``.

:class:`HubHandler` is the root of every route's handler (``app.make_app`` refuses any
other). It reads the application's :class:`~tornadohub.appstate.AppState` through typed
properties (:attr:`~HubHandler.hub`, :attr:`~HubHandler.hub_options`, ...). Once a request's
headers are in, and before its body is read, it applies :mod:`tornadohub.policy` (Host,
Origin, header and body size, content type) and checks the API key. A handler opts out of
the key with :attr:`HubHandler.auth_required` and of a policy check with
:attr:`HubHandler.exempt_from`, each with the reason next to it.

Every error, whether a domain :class:`HubError` (the 401 included), a Tornado
``HTTPError`` or a bug, is written by :meth:`HubHandler.write_error`: mcp-hub's envelope
``{"error", "code", "data", "timestamp"}``, or the JSON-RPC error body of the MCP routes
(:meth:`HubHandler.error_body`).
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any, ClassVar, NoReturn, cast

from tornado import web
from tornado.concurrent import Future
from tornado.http1connection import HTTP1Connection

from tornadohub import metrics
from tornadohub.appstate import APP_STATE, AppState
from tornadohub.clock import iso_now
from tornadohub.drain import stopping_error
from tornadohub.errors import AuthenticationError, HubError, ValidationError
from tornadohub.handlers.docs import RouteDoc
from tornadohub.httpfront import Exchange
from tornadohub.hub import Hub
from tornadohub.keys import Keyring, challenge, presented_token
from tornadohub.mcp.http import McpRequestError
from tornadohub.options import HubOptions
from tornadohub.policy import (
    MAX_BODY_BYTES,
    Check,
    EdgePolicy,
    JsonBodyError,
    Refusal,
    parse_json,
)

log = logging.getLogger("tornadohub.api")
auth_log = logging.getLogger("tornadohub.auth")

#: The body limit once a response is finished: what is left of the body is never read.
UNREAD_BODY_LIMIT = 1 << 62

JSON_TYPE = "application/json; charset=utf-8"

_HTTP_CODES = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "PAYLOAD_TOO_LARGE"}

#: The requests :class:`StoppingHandler` answers while the hub stops: every ``/api`` route
#: and the MCP endpoints (a profile's too), in any case, with a trailing slash. Probes and
#: ``/metrics`` stay open to the end.
WORK_PATHS = re.compile(r"(?i)/api(/.*)?|(/mcp|/(servers|profiles)/[^/]+/mcp|/messages)/?")

#: The connection classes of both HTTP layers (Tornado's and ``httpfront``'s): each can
#: bound an unread body and close without an answer.
WireConnection = HTTP1Connection | Exchange

__all__ = ["MAX_BODY_BYTES", "APIHandler", "HubHandler"]


@web.stream_request_body
class HubHandler(web.RequestHandler):
    """Root of every handler: the edge policy and API keys at header time, a bounded body.

    The body is collected by :meth:`data_received` (the HTTP server refuses more than
    :data:`MAX_BODY_BYTES`) and read through :attr:`body`; a request refused at header
    time is answered before any of its body is read.
    """

    #: Policy checks this route skips. Every opt-out must say why where it is set.
    exempt_from: ClassVar[frozenset[Check]] = frozenset()
    #: Whether this route needs an API key (when the hub has keys). Every opt-out must say
    #: why where it is set.
    auth_required: ClassVar[bool] = True
    #: What the OpenAPI document says of this route (``handlers/docs.py``); every route has one.
    openapi: ClassVar[RouteDoc | None] = None

    def initialize(self) -> None:
        self._chunks: list[bytes] = []
        self._body: bytes | None = None

    # ------------------------------------------------------------ application state
    @property
    def app_state(self) -> AppState:
        return cast(AppState, self.settings[APP_STATE])

    @property
    def hub(self) -> Hub:
        return self.app_state.hub

    @property
    def hub_options(self) -> HubOptions:
        return self.app_state.hub.options

    @property
    def policy(self) -> EdgePolicy:
        return self.app_state.policy

    @property
    def keys(self) -> Keyring | None:
        return self.app_state.keys

    @property
    def body(self) -> bytes:
        if self._body is None:
            self._body = b"".join(self._chunks)
            self._chunks = [self._body]
        return self._body

    def data_received(self, chunk: bytes) -> None:
        self._chunks.append(chunk)
        self._body = None

    def requires_auth(self) -> bool:
        """Whether this request needs an API key (when the hub has keys):
        :attr:`auth_required`, unless the route decides per request."""
        return self.auth_required

    def prepare(self) -> None:
        """:meth:`guard`, then 405 for a method this route does not take; before the body."""
        if not self.guard():
            raise web.HTTPError(405)

    def guard(self) -> bool:
        """Refuse what the policy refuses, then check the API key; before the body arrives.

        Returns whether this handler implements the request's method.
        """
        request = self.request
        header_bytes = len(request.method or "") + len(request.uri or "") + 12
        header_bytes += sum(len(name) + len(value) + 4 for name, value in request.headers.get_all())
        method = request.method or ""
        implemented = getattr(type(self), method.lower(), None) is not getattr(
            web.RequestHandler, method.lower(), None
        )
        refusal = self.policy.refusal(
            method,
            request.headers,
            exempt=self.exempt_from,
            header_bytes=header_bytes,
            check_body=implemented,
        )
        if refusal is not None:
            self.refuse(refusal)
        if request.method == "OPTIONS":
            preflight = self.policy.preflight_headers(request.headers)
            if preflight is not None:
                for name, value in preflight.items():
                    self.set_header(name, value)
                self.set_status(204)
                raise web.Finish()
        if self.requires_auth():
            self.authenticate()
        return implemented

    def authenticate(self) -> None:
        """Let the request through with a valid key, else raise :class:`AuthenticationError`.

        On success ``current_user`` is the key's name. CORS preflights (``OPTIONS``) pass:
        browsers never send credentials with them. The 401 is written by
        :meth:`write_error` (mcp-hub's envelope, code ``UNAUTHORIZED``, and a
        ``WWW-Authenticate: Bearer realm="mcp-hub"`` challenge), on every route.
        """
        keys = self.keys
        request = self.request
        if keys is None or request.method == "OPTIONS":
            return
        headers = request.headers
        token = presented_token(headers.get("Authorization"), headers.get("X-API-Key"))
        if token is not None:
            key = keys.authenticate(token)
            if key is not None:
                self.current_user = key.name
                metrics.auth_accepted(key.name)
                return
        reason = metrics.AuthRejection.missing if token is None else metrics.AuthRejection.invalid
        metrics.auth_rejected(reason)
        auth_log.warning(
            "Refused %s %s from %s: %s credentials",
            request.method,
            request.path,
            request.remote_ip,
            reason.value,
            extra={"data": {"path": request.path, "reason": reason.value}},
        )
        raise AuthenticationError(
            "Authentication required" if token is None else "Invalid API key",
            challenge=challenge(invalid=token is not None),
        )

    def refuse(self, refusal: Refusal) -> NoReturn:
        """End the request with *refusal*; subclasses raise their own error shape."""
        raise HubError(refusal.message, code=refusal.code, data=refusal.data, status=refusal.status)

    def clear(self) -> None:
        """Reset the response; a configured origin keeps its CORS headers, even on errors."""
        super().clear()
        for name, value in self.policy.cors_headers(self.request.headers).items():
            self.set_header(name, value)

    def finish(self, chunk: str | bytes | dict[str, Any] | None = None) -> Future[None]:
        if not self._body_arrived():
            # Answered before the body arrived (a refusal): Tornado then closes the
            # connection after this response, without reading the rest of the body. Tell the
            # client, and keep the server from refusing an over-long body a second time with
            # a bare 400 written after our answer.
            if not self._headers_written:
                self.set_header("Connection", "close")
            connection = self.request.connection
            if isinstance(connection, WireConnection):
                connection.set_max_body_size(UNREAD_BODY_LIMIT)
        return super().finish(chunk)

    def _body_arrived(self) -> bool:
        """Whether the whole request body is in (Tornado 6.6 resolves this future then)."""
        future = getattr(self.request, "_body_future", None)
        return future is None or future.done()

    # ------------------------------------------------------------------ errors
    def send_error(self, status_code: int = 500, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, HubError | McpRequestError):
            status_code = exc.status
        super().send_error(status_code, **kwargs)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """The one place where an error becomes a response, on every route: the 401's
        challenge, a 405's ``Allow``, then :meth:`error_body`."""
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, AuthenticationError):
            self.set_header("WWW-Authenticate", exc.challenge)
            self.set_header("Cache-Control", "no-store")
        if status_code == 405:
            self.set_header("Allow", ", ".join(self.allowed_methods()))
        content_type, body = self.error_body(status_code, exc)
        self.set_header("Content-Type", content_type)
        self.finish(body)

    def error_body(self, status_code: int, exc: BaseException | None) -> tuple[str, bytes]:
        """The content type and body of an error: mcp-hub's envelope (the MCP routes answer
        their own errors with JSON-RPC error bodies, but the 401 with this one too)."""
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
        envelope = {**body, "timestamp": iso_now()}
        return JSON_TYPE, json.dumps(envelope, separators=(",", ":")).encode()

    @classmethod
    def allowed_methods(cls) -> list[str]:
        """The methods this handler implements (a 405's ``Allow`` header, RFC 9110)."""
        return [
            method
            for method in cls.SUPPORTED_METHODS
            if getattr(cls, method.lower()) is not getattr(web.RequestHandler, method.lower())
        ]

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, HubError | McpRequestError):
            log.debug("%s %s -> %s %s", self.request.method, self.request.path, value.status, value)
            return
        super().log_exception(typ, value, tb)


class APIHandler(HubHandler):
    """Base class for every ``/api`` route: JSON bodies in, JSON out."""

    def set_default_headers(self) -> None:
        self.set_header("Content-Type", JSON_TYPE)
        self.set_header("Cache-Control", "no-store")

    def json_body(self) -> dict[str, Any]:
        """The body as a JSON object; an empty body or a non-object reads as ``{}``.

        Only JSON bodies get this far (:mod:`tornadohub.policy` answers others 415; mcp-hub
        reads them as ``{}``). Malformed JSON, ``NaN``, out-of-range numbers and depth bombs
        are a JSON 400 ``INVALID_JSON`` (mcp-hub answers an HTML page).
        """
        if not self.body.strip():
            return {}
        try:
            body = parse_json(self.body)
        except JsonBodyError as exc:
            raise ValidationError(
                "Invalid JSON in request body", code="INVALID_JSON", data={"detail": str(exc)}
            ) from None
        return body if isinstance(body, dict) else {}

    def require(self, body: dict[str, Any], field: str, message: str) -> str:
        """*field* of *body* as a non-empty string; 400 with *message* when missing."""
        value = body.get(field)
        if value is None or value == "":
            raise ValidationError(message, data={"field": field})
        if not isinstance(value, str):
            raise ValidationError(f"{field} must be a string", data={"field": field})
        return value

    def write_json(self, payload: dict[str, Any], *, timestamp: bool = True) -> None:
        if timestamp:
            payload = {**payload, "timestamp": iso_now()}
        self.finish(json.dumps(payload, separators=(",", ":")))


class StoppingHandler(APIHandler):
    """Any ``/api`` or MCP request once a shutdown started: 503 ``HUB_STOPPING``.

    ``app.make_app`` routes work requests here, ahead of every route, while the hub
    refuses work. API keys are still checked first.

    A ``GET`` for an MCP event stream gets no answer at all: its connection is closed. Such
    a request is most often an EventSource reconnecting the stream the stop just ended (the
    legacy SSE transport of mcp-remote and other TypeScript SDK clients), and an
    EventSource gives up for good on any status but 200, while after a network error it
    tries again, until the next hub on this port answers.
    """

    def prepare(self) -> None:
        self.guard()
        request = self.request
        connection = request.connection
        if (
            request.method == "GET"
            and not request.path.lower().startswith("/api")
            and "text/event-stream" in request.headers.get("Accept", "")
            and isinstance(connection, WireConnection)
        ):
            log.debug("Dropped GET %s: the hub is stopping", request.path)
            self.set_status(503)  # what the access log and metrics record
            connection.close()
            raise web.Finish()
        raise stopping_error()


class NotFoundHandler(APIHandler):
    """Any unknown route: a JSON 404 (mcp-hub answers an HTML page)."""

    def prepare(self) -> None:
        self.guard()  # the policy and API keys first: unknown routes reveal nothing
        raise web.HTTPError(404, f"Cannot {self.request.method} {self.request.path}")
