"""Route tables: each module ends with ``default_handlers``; this concatenates them.

Routes match case-insensitively and tolerate a trailing slash, as Express does: mcp-hub
serves ``/mcp/``, ``/MCP`` and ``/messages/`` too, and clients configured so must keep working.
"""

from typing import Any

from tornadohub.handlers import (
    events,
    health,
    install,
    lifecycle,
    logs,
    marketplace,
    mcp,
    metrics,
    oauth,
    openapi,
    probes,
    servers,
    stats,
    ui,
)
from tornadohub.handlers.base import NotFoundHandler


def _express_style(pattern: str) -> str:
    return f"(?i){pattern}/?"


default_handlers: list[tuple[str, Any]] = [
    (_express_style(pattern), handler)
    for module in (
        health,
        servers,
        lifecycle,
        events,
        probes,
        metrics,
        marketplace,
        oauth,
        openapi,
        logs,
        stats,
        install,
        ui,
        mcp,
    )
    for pattern, handler in module.default_handlers
]

__all__ = ["NotFoundHandler", "default_handlers"]
