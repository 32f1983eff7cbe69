"""The application object: everything a request handler may reach, built once in ``make_app``.

Handlers read it through the typed properties of ``handlers/base.py``'s :class:`HubHandler`
(``self.hub``, ``self.options``, ``self.mcp``, ``self.marketplace``...), never through
other ``settings`` keys and never through a module-level singleton; nothing in it is
created on first use. It sits above the hub and the MCP endpoint and below the handlers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from tornadohub.hub import Hub
from tornadohub.keys import Keyring
from tornadohub.marketplace import Marketplace
from tornadohub.mcp.service import McpService
from tornadohub.mcp.transport import McpTransport
from tornadohub.options import HubOptions
from tornadohub.policy import EdgePolicy
from tornadohub.recent_logs import RecentLogs

if TYPE_CHECKING:
    from tornadohub.cluster.runtime import ClusterRuntime

#: The one ``settings`` key of the application: the :class:`AppState`.
APP_STATE: Final = "app_state"


@dataclass
class AppState:
    """The hub and what serves it over HTTP, for one Tornado application."""

    hub: Hub
    #: The ``/mcp`` endpoint: its sessions and views, and its HTTP transport.
    mcp: McpService
    transport: McpTransport
    marketplace: Marketplace
    #: The API keys (None: no key needed) and the edge policy (Host, Origin, bodies).
    keys: Keyring | None
    policy: EdgePolicy
    #: Recent log lines per server, fed by the event bus (``GET /api/logs``).
    recent_logs: RecentLogs
    #: The route table, ``(pattern, handler class)`` pairs (the OpenAPI document's source).
    routes: Sequence[tuple[str, Any]] = ()
    #: Config reloads started by ``POST /api/marketplace/add``, kept until they finish.
    reloads: set[asyncio.Task[None]] = field(default_factory=set)
    #: Cluster mode (``--redis-url``): this node's side of the cluster; None: embedded.
    cluster: ClusterRuntime | None = None

    @property
    def node_id(self) -> str | None:
        """This node's id in cluster mode (the ``X-Tornadohub-Node`` of /mcp replies)."""
        return None if self.cluster is None else self.cluster.node_id

    @property
    def options(self) -> HubOptions:
        return self.hub.options

    async def close(self) -> None:
        """End every ``/mcp`` session (shutdown, before the upstreams stop)."""
        await self.mcp.close()
