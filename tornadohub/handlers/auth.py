"""The inbound-auth check every protected handler runs first.

``APIHandler.prepare`` calls :func:`require_auth` for all of ``/api/*``, and the ``/mcp``
handlers call it too. The keys are the application setting ``auth`` (a
:class:`tornadohub.auth.Keyring`, or None when auth is off).
"""

from __future__ import annotations

import json
import logging

from tornado import web

from tornadohub import metrics
from tornadohub.auth import Keyring, challenge, presented_token
from tornadohub.clock import iso_now

log = logging.getLogger("tornadohub.auth")

#: Application setting holding the :class:`Keyring` (absent or None: no auth).
AUTH_SETTING = "auth"
#: Application setting: ``/metrics`` needs a key too (``--metrics-auth``).
METRICS_AUTH_SETTING = "metrics_auth"


def keyring(handler: web.RequestHandler) -> Keyring | None:
    value = handler.settings.get(AUTH_SETTING)
    return value if isinstance(value, Keyring) else None


def require_auth(handler: web.RequestHandler) -> None:
    """Let the request through with a valid key, or answer 401 and end it (``web.Finish``).

    On success ``handler.current_user`` is the key's name. CORS preflights (``OPTIONS``)
    pass: browsers never send credentials with them. The 401 is mcp-hub's error envelope
    with code ``UNAUTHORIZED`` and a ``WWW-Authenticate: Bearer realm="mcp-hub"`` challenge.
    """
    keys = keyring(handler)
    request = handler.request
    if keys is None or request.method == "OPTIONS":
        return
    token = presented_token(request.headers.get("Authorization"), request.headers.get("X-API-Key"))
    if token is not None:
        key = keys.authenticate(token)
        if key is not None:
            handler.current_user = key.name
            metrics.auth_accepted(key.name)
            return
    reason = metrics.AuthRejection.missing if token is None else metrics.AuthRejection.invalid
    metrics.auth_rejected(reason)
    log.warning(
        "Refused %s %s from %s: %s credentials",
        request.method,
        request.path,
        request.remote_ip,
        reason.value,
        extra={"data": {"path": request.path, "reason": reason.value}},
    )
    handler.clear()
    handler.set_status(401)
    handler.set_header("WWW-Authenticate", challenge(invalid=token is not None))
    handler.set_header("Content-Type", "application/json; charset=utf-8")
    handler.set_header("Cache-Control", "no-store")
    message = "Authentication required" if token is None else "Invalid API key"
    body = {"error": message, "code": "UNAUTHORIZED", "data": {}, "timestamp": iso_now()}
    raise web.Finish(json.dumps(body, separators=(",", ":")))
