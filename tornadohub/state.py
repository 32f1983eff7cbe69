"""The hub's and each upstream's state names, exactly as mcp-hub reports them.

A leaf module: metrics, logging, schemas and handlers read these without importing the hub
or the MCP SDK.
"""

from __future__ import annotations

import enum


class HubState(enum.StrEnum):
    """Hub states exactly as mcp-hub broadcasts them."""

    starting = "starting"
    ready = "ready"
    restarting = "restarting"
    restarted = "restarted"
    stopping = "stopping"
    stopped = "stopped"
    error = "error"


class UpstreamStatus(enum.StrEnum):
    """Connection status exactly as mcp-hub reports it (the contract's ``ConnectionStatus``)."""

    connected = "connected"
    connecting = "connecting"
    disconnected = "disconnected"
    unauthorized = "unauthorized"
    disabled = "disabled"
