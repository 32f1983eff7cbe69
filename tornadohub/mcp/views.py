"""What a view shows: its member upstreams and the sources its catalog is built from.

:func:`view_sources` is where each upstream's capability lists enter a view's catalog, for
both eras, and where the config's tool surface applies (:mod:`tornadohub.surface`): a
server's ``disabled_*`` lists and ``tools``/``prompts``/``resources`` filters on every
view, a profile's servers and filters on that profile's view. A hidden item is in no
catalog, so no route leads to it: every way of calling (the kernel's handlers, a
transport-level fast path, search mode's ``call_tool``) finds it unknown. A resource URI
that no server lists (one built from a template) is routed only if the same rules would
show it, and not if it matches only templates they hide (:func:`uri_rule`).
:func:`view_members` leaves out upstreams that are not connected and the hub itself
looped back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import partial
from typing import Any

from mcp.shared.uri_template import InvalidUriTemplate, UriTemplate

from tornadohub.hub import Hub
from tornadohub.mcp.aggregate import (
    TEMPLATES,
    Source,
    assign_namespaces,
    assign_server_ids,
    namespaced_uri,
)
from tornadohub.state import UpstreamStatus
from tornadohub.surface import EMPTY_SURFACE, Profile, Surface
from tornadohub.upstreams import Upstream

#: mcp-hub's identity on /mcp; an upstream announcing it is this hub (or another
#: mcp-hub) looped back into itself and is left out of every view.
SERVER_NAME = "mcp-hub-internal-endpoint"


def view_members(hub: Hub, upstream: str | None) -> Iterator[Upstream]:
    """Every connected upstream a view shows (*upstream*: one server's view, else all)."""
    for name, member in hub.upstreams.items():  # replaced on restart: read it fresh
        if upstream is not None and name != upstream:
            continue
        if member.status is not UpstreamStatus.connected:
            continue
        if (member.server_info or {}).get("name") == SERVER_NAME:
            continue  # the hub itself, or another mcp-hub, looped back
        yield member


def public_ids(hub: Hub) -> Mapping[str, str]:
    """Config name -> id on ``/mcp``, for the upstreams a view shows: mcp-hub 4.2.1 numbers
    colliding ids among the connected, enabled servers only, in config order (observed:
    with ``a.b`` disabled, ``a_b`` is ``a_b``, not ``a_b_1``)."""
    return assign_server_ids(member.name for member in view_members(hub, None))


def hub_surface(hub: Hub) -> Surface:
    """The filters and profiles of the hub's current config revision."""
    return hub.config.surface if hub.config is not None else EMPTY_SURFACE


def view_profile(hub: Hub, profile: str) -> Profile | None:
    """The usable profile *profile* of the current config, else None (its endpoint: 404)."""
    return hub_surface(hub).profiles.get(profile)


def view_sources(
    hub: Hub, upstream: str | None, *, modern: bool = False, profile: str | None = None
) -> Iterator[Source]:
    """What a view publishes, per upstream (*modern*: as its 2026-07-28 clients see it;
    *profile*: the view of that profile, which shows nothing once the config lost it)."""
    surface = hub_surface(hub)
    rules = None
    if profile is not None:
        rules = surface.profiles.get(profile)
        if rules is None:
            return
    ids = public_ids(hub)
    namespaces = assign_namespaces(tuple(ids.values()))
    for member in view_members(hub, upstream):
        server_id = ids[member.name]
        listed = member.modern.capabilities if modern else member.capabilities
        public_uri = partial(namespaced_uri, namespaces[server_id])
        shown = surface.capabilities_for(member.name, server_id, listed, rules, public_uri)
        if shown is None:
            continue  # not one of the profile's servers
        public_id = "" if upstream is not None else server_id
        readable = None
        if surface.restricts_uris(member.name, rules):
            visible = partial(
                surface.uri_visible, member.name, server_id, profile=rules, public_uri=public_uri
            )
            readable = uri_rule(visible, listed, shown)
        yield Source(
            name=member.name,
            id=public_id,
            capabilities=shown,
            namespace=namespaces.get(public_id, ""),
            readable=readable,
        )


Lists = Mapping[str, Sequence[Mapping[str, Any]]]


def uri_rule(visible: Callable[[str], bool], listed: Lists, shown: Lists) -> Callable[[str], bool]:
    """Whether an unlisted URI of a server may be read or subscribed to: *visible* says so
    and, if a template the rules hide (listed, not shown) matches it, a shown one does too."""
    shown_keys = {item.get(TEMPLATES.field) for item in shown.get(TEMPLATES.key, ())}
    hidden: list[UriTemplate] = []
    kept: list[UriTemplate] = []
    for item in listed.get(TEMPLATES.key, ()):
        template = _template(item.get(TEMPLATES.field))
        if template is not None:
            (kept if item.get(TEMPLATES.field) in shown_keys else hidden).append(template)

    def readable(uri: str) -> bool:
        if not visible(uri):
            return False
        if any(template.match(uri) is not None for template in hidden):
            return any(template.match(uri) is not None for template in kept)
        return True

    return readable


def _template(value: Any) -> UriTemplate | None:
    try:
        return UriTemplate.parse(value) if isinstance(value, str) else None
    except InvalidUriTemplate:
        return None


def unprefixed_names(hub: Hub) -> bool:
    """The aggregated endpoint's unprefixed mode: ``--unprefixed`` or, in the config,
    ``"mcpEndpoint": {"unprefixed": true}`` (a key mcp-hub ignores)."""
    if hub.options.unprefixed:
        return True
    settings = hub.config.data.get("mcpEndpoint") if hub.config is not None else None
    return isinstance(settings, dict) and settings.get("unprefixed") is True
