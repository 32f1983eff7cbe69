"""Upstream notifications relayed in the order the server sent them.

The SDK session hands every notification it reads to a task of its own, while the hub
takes the results of its plain-JSON requests (:class:`~tornadohub.upstreams.base.RawChannel`)
straight off the transport. A log entry a server writes just before its result could then
reach the hub's client after that result, or after the call had ended and so on another
stream. The transports call :func:`relay_in_order` on each message as they read it: the
notifications the relay passes on to clients go to it at once, in the server's order, ahead
of everything the server sent after them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

import mcp_types as types
from mcp.shared.subscriptions import SUBSCRIPTION_ID_META_KEY
from mcp_types.methods import parse_server_notification
from mcp_types.version import LATEST_HANDSHAKE_VERSION
from pydantic import ValidationError

if TYPE_CHECKING:
    from tornadohub.upstreams.base import Upstream

log = logging.getLogger("tornadohub.upstream")

#: What the relay passes on to clients (list changes refresh the hub's lists instead, in
#: the SDK session's own time).
RELAYED_IN_ORDER: Final = frozenset(
    {
        "notifications/message",
        "notifications/resources/updated",
        "notifications/elicitation/complete",
    }
)


def relay_in_order(upstream: Upstream, method: Any, params: Mapping[str, Any] | None) -> bool:
    """Relay notification *method* of *upstream* now; False when it is not one of
    :data:`RELAYED_IN_ORDER`, is malformed (the SDK session then reports it) or belongs to a
    2026-07-28 listen stream (the SDK session routes those to the stream's subscriber)."""
    if method not in RELAYED_IN_ORDER:
        return False
    meta = params.get("_meta") if params is not None else None
    if isinstance(meta, Mapping) and SUBSCRIPTION_ID_META_KEY in meta:
        return False
    version = upstream.protocol_version or LATEST_HANDSHAKE_VERSION
    try:
        notification = parse_server_notification(method, version, params)
    except (KeyError, ValueError, ValidationError):
        return False
    if isinstance(notification, types.LoggingMessageNotification):
        entry = notification.params
        log.debug('["%s" server %s log]: %s', upstream.name, entry.level, entry.data)
    upstream.relay_notification(notification)
    return True
