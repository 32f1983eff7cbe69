"""The SDK ``DispatchContext`` of a request served without a session to talk back through.

A 2026-07-28 exchange and a list page computed for the cache are both served by the SDK
kernel (``serve_one``) outside any session: the handler can send no request back to the
client. :class:`StatelessContext` is what they share; each says where notifications go.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio
from mcp.shared.dispatcher import CallOptions
from mcp.shared.exceptions import NoBackChannelError


@dataclass(kw_only=True)
class StatelessContext:
    """No back-channel: a server-to-client request raises ``NoBackChannelError``."""

    cancel_requested: anyio.Event = field(default_factory=anyio.Event)
    can_send_request: bool = False

    async def send_raw_request(
        self, method: str, params: Mapping[str, Any] | None, opts: CallOptions | None = None
    ) -> dict[str, Any]:
        raise NoBackChannelError(method)
