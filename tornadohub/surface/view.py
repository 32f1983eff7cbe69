"""Everything the config says about what MCP clients see, read in one pass.

:func:`parse_surface` takes the merged config document (``HubConfig.data``)
and returns a :class:`Surface`: per-server visibility, the usable profiles and
every message, so that ``check-config``, start-up and each ``--watch`` reload
read the same rules the same way. :meth:`Surface.capabilities_for` is the one
call an MCP endpoint makes per upstream when it rebuilds its catalog.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tornadohub.surface.filters import (
    ID_FIELDS,
    UNRESTRICTED,
    Visibility,
    parse_server_visibility,
)
from tornadohub.surface.profiles import Profile, parse_profiles

__all__ = ["EMPTY_SURFACE", "Capabilities", "Surface", "parse_surface"]

Capabilities = Mapping[str, Sequence[Mapping[str, Any]]]
#: The kinds whose items are named by a URI (or URI template).
URI_KINDS = frozenset(("resources", "resourceTemplates"))


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
        public_uri: Callable[[str], str] | None = None,
    ) -> Capabilities | None:
        """What one upstream contributes to an endpoint's catalog.

        *server* is the config name, *server_id* the public id ``/mcp`` gives it,
        *public_uri* turns one of its URIs (or templates) into the namespaced form
        the prefixed ``/mcp`` publishes (profile patterns match it too). None when
        *profile* does not include the server; the input object itself when nothing
        is hidden (so unchanged catalogs stay cheap to compare).
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
            uri_of = public_uri if kind in URI_KINDS else None
            narrowed[kind] = [
                item
                for item in items
                if isinstance(ident := item.get(id_field), str)
                and profile.visible(kind, server_id, ident, uri_of(ident) if uri_of else None)
            ]
        return narrowed

    def restricts_uris(self, server: str, profile: Profile | None = None) -> bool:
        """Whether any rule may hide a resource URI or template of *server* (else
        :meth:`uri_visible` is always true and need not be asked)."""
        if profile is not None and any(kind in profile.filters for kind in URI_KINDS):
            return True
        return not self.visibility(server).unrestricted

    def uri_visible(
        self,
        server: str,
        server_id: str,
        uri: str,
        profile: Profile | None = None,
        public_uri: Callable[[str], str] | None = None,
    ) -> bool:
        """Whether the server's and the profile's ``resources`` rules show the resource
        *uri*: what decides for a URI read or subscribed to without being listed (one
        built from a template)."""
        if not self.visibility(server).visible("resources", uri):
            return False
        if profile is None:
            return True
        return profile.visible("resources", server_id, uri, public_uri(uri) if public_uri else None)


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


#: The surface of a hub without config yet: nothing hidden, no profiles.
EMPTY_SURFACE = Surface()
