"""Profiles: named subsets of the hub, each served as its own MCP endpoint.

Config (a new top-level key, ignored by mcp-hub 4.2.1)::

    "profiles": {
      "coding": {
        "servers": ["github", "filesystem"],
        "tools": {"exclude": ["github__delete_*"]},
        "search": true
      }
    }

* ``servers``: config names of the servers the profile shows; without it, all.
* ``tools``, ``prompts``, ``resources``: the same include/exclude filters as a
  server entry's (:mod:`.filters`), but matched against names that say the
  server, so one pattern can select per server (``github__*``) or across
  servers (``*__search_*``). The server's own rules always apply first: a
  profile can only hide more. The names, whatever mode ``/mcp`` is in:

  - tools and prompts: ``<server id>__<upstream's own name>``, the name the
    prefixed ``/mcp`` publishes (before any shortening);
  - resources and templates: both the public URI ``<namespace>+<uri>``, as
    the prefixed ``/mcp`` publishes it (``github+repo://{owner}``), and
    mcp-hub's ``<server id>__<uri>`` (``github__repo://{owner}``): an
    ``include`` pattern matching either form includes the item, an
    ``exclude`` pattern matching either form hides it, so a pattern written
    in either style means what it says.
* ``search``: ``true`` serves the profile in search mode (two meta-tools
  instead of the tool list, :mod:`.meta_tools`).

A profile name is a URL path segment (``/profiles/<name>/mcp``): letters,
digits, ``_``, ``.``, ``-``, at most 64 characters, not starting with ``.``.
A profile with an unusable key is not served (its endpoint answers as an
unknown profile) and gives a ``Profile '<name>' ...`` message; the other
profiles and ``/mcp`` are unaffected. A server name the config does not
define is reported but harmless: it matches nothing.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from tornadohub.surface.filters import FILTER_KEYS, PatternFilter, parse_filter

__all__ = ["PROFILE_NAME", "Profile", "endpoint_path", "parse_profiles", "qualified_name"]

PROFILE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}")
_KEYS = ("servers", "tools", "prompts", "resources", "search")
_QUALIFIER = "__"


def endpoint_path(name: str) -> str:
    """Where a profile is served (both transports, both protocol eras)."""
    return f"/profiles/{name}/mcp"


def qualified_name(server_id: str, ident: str) -> str:
    """What a profile pattern is matched against: ``<server id>__<ident>``."""
    return f"{server_id}{_QUALIFIER}{ident}"


@dataclass(frozen=True)
class Profile:
    """One usable profile."""

    name: str
    servers: frozenset[str] | None = None  # None: every server
    filters: Mapping[str, PatternFilter] = field(default_factory=dict)  # by capability kind
    search: bool = False

    def admits(self, server: str) -> bool:
        """Whether the server with config name *server* belongs to the profile."""
        return self.servers is None or server in self.servers

    def visible(self, kind: str, server_id: str, ident: str, public_uri: str | None = None) -> bool:
        """Whether the profile shows the item *ident* of *kind* from server *server_id*;
        *public_uri*: a resource's or template's namespaced URI (see the module docstring)."""
        rule = self.filters.get(kind)
        if rule is None:
            return True
        qualified = qualified_name(server_id, ident)
        if public_uri is None:
            return rule.allows(qualified)
        return rule.allows_any_form((public_uri, qualified))

    def to_json(self) -> dict[str, Any]:
        """How ``/api/health`` and the OpenAPI document describe the profile."""
        return {
            "name": self.name,
            "endpoint": endpoint_path(self.name),
            "servers": sorted(self.servers) if self.servers is not None else None,
            "search": self.search,
        }


def _parse_one(
    name: str, value: Any, known_servers: Collection[str], errors: list[str]
) -> Profile | None:
    """One profile, or None when it cannot be served; messages go to *errors*."""
    head = f"Profile '{name}'"
    if not PROFILE_NAME.fullmatch(name):
        errors.append(
            f"{head} has an invalid name: use letters, digits, '_', '.' and '-'"
            " (at most 64, not starting with '.')"
        )
        return None
    if not isinstance(value, Mapping):
        errors.append(f"{head} must be an object")
        return None
    problems: list[str] = []
    for key in value:
        if key not in _KEYS:
            problems.append(f"has unknown key {key!r} (use {', '.join(_KEYS)})")
    servers: frozenset[str] | None = None
    if value.get("servers") is not None:
        listed = value["servers"]
        if not isinstance(listed, list) or not all(isinstance(s, str) for s in listed):
            problems.append("has invalid servers config: must be an array of server names")
        else:
            servers = frozenset(listed)
            for server in listed:
                if server not in known_servers:
                    # reported, not fatal: the server may simply not be defined yet
                    errors.append(f"{head} names unknown server {server!r}")
    parsed = {
        key: parse_filter(value[key], key, problems)
        for key in dict.fromkeys(FILTER_KEYS.values())
        if key in value
    }
    filters = {kind: parsed[key] for kind, key in FILTER_KEYS.items() if key in parsed}
    search = value.get("search", False)
    if not isinstance(search, bool):
        problems.append("has invalid search config: must be true or false")
    errors.extend(f"{head} {problem}" for problem in dict.fromkeys(problems))
    if problems:
        return None
    return Profile(name=name, servers=servers, filters=filters, search=bool(search))


def parse_profiles(
    value: Any, known_servers: Collection[str]
) -> tuple[dict[str, Profile], list[str]]:
    """The usable profiles of a ``profiles`` config value, and every message.

    *known_servers* are the config names of the defined servers.
    """
    if value is None:
        return {}, []
    if not isinstance(value, Mapping):
        return {}, ["Invalid profiles config: must be an object of named profiles"]
    profiles: dict[str, Profile] = {}
    errors: list[str] = []
    for name, body in value.items():
        profile = _parse_one(str(name), body, known_servers, errors)
        if profile is not None:
            profiles[profile.name] = profile
    return profiles, errors
