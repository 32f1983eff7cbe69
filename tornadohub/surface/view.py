"""Everything the config says about what MCP clients see, read in one pass.

:func:`parse_surface` takes the merged config document (``HubConfig.data``)
and returns a :class:`Surface`: per-server visibility, the usable profiles and
every message, so that ``check-config``, start-up and each ``--watch`` reload
read the same rules the same way. :meth:`Surface.capabilities_for` is the one
call an MCP endpoint makes per upstream when it rebuilds its catalog.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tornadohub.surface.filters import (
    ID_FIELDS,
    UNRESTRICTED,
    Visibility,
    parse_server_visibility,
)
from tornadohub.surface.profiles import Profile, parse_profiles

__all__ = ["Capabilities", "Surface", "parse_surface"]

Capabilities = Mapping[str, Sequence[Mapping[str, Any]]]


@dataclass(frozen=True)
class Surface:
    """Per-server rules, usable profiles, and the messages about unusable ones."""

    servers: Mapping[str, Visibility] = field(default_factory=dict)
    profiles: Mapping[str, Profile] = field(default_factory=dict)
    errors: tuple[str, ...] = ()

    def visibility(self, server: str) -> Visibility:
        return self.servers.get(server, UNRESTRICTED)

    def capabilities_for(
        self,
        server: str,
        server_id: str,
        capabilities: Capabilities,
        profile: Profile | None = None,
    ) -> Capabilities | None:
        """What one upstream contributes to an endpoint's catalog.

        *server* is the config name, *server_id* the public id ``/mcp`` gives it.
        None when *profile* does not include the server; the input object itself
        when nothing is hidden (so unchanged catalogs stay cheap to compare).
        """
        if profile is not None and not profile.admits(server):
            return None
        shown = self.visibility(server).apply(capabilities)
        if profile is None or not profile.filters:
            return shown
        narrowed: dict[str, Sequence[Mapping[str, Any]]] = {}
        for kind, items in shown.items():
            id_field = ID_FIELDS.get(kind)
            if id_field is None or kind not in profile.filters:
                narrowed[kind] = items
                continue
            narrowed[kind] = [
                item
                for item in items
                if isinstance(item.get(id_field), str)
                and profile.visible(kind, server_id, item[id_field])
            ]
        return narrowed


def parse_surface(document: Mapping[str, Any]) -> Surface:
    """Read the surface rules of a merged config document (``{"mcpServers": ..., ...}``)."""
    entries = document.get("mcpServers")
    if not isinstance(entries, Mapping):
        entries = {}
    servers: dict[str, Visibility] = {}
    errors: list[str] = []
    for name, entry in entries.items():
        visibility, messages = parse_server_visibility(name, entry)
        errors.extend(messages)
        if visibility is not UNRESTRICTED:
            servers[name] = visibility
    profiles, messages = parse_profiles(document.get("profiles"), known_servers=entries.keys())
    errors.extend(messages)
    return Surface(servers=servers, profiles=profiles, errors=tuple(errors))
