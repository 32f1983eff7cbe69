"""Route tables: each module ends with ``default_handlers``; this concatenates them.

Routes match case-insensitively and tolerate a trailing slash, as Express does.
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
    )
    for pattern, handler in module.default_handlers
] + mcp.default_handlers  # MCP routes match exactly (case-sensitive, no trailing slash)

__all__ = ["NotFoundHandler", "default_handlers"]
