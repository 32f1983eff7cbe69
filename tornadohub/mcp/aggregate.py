"""The hub's MCP view of its upstreams: namespaced lists, routing back, cursors.

Pure data, no I/O: :func:`build_catalog` turns the cached capability lists of the
connected upstreams into one :class:`Catalog`, which both lists (one page at a
time) and routes a public name back to ``(upstream, original name or URI)``.

Naming (mcp-hub's contract, section 6, plus the fixes it lacks):

* Server id: the config name with every character outside ``[A-Za-z0-9]``
  replaced by ``_`` (``echo.two`` -> ``echo_two``). Ids are assigned over *all*
  configured servers in config order, so a server's id never changes because
  another one connected or dropped; a repeated id gets ``_1``, ``_2``, ...
* Tools and prompts are published as ``<id>__<name>``, resources as
  ``<id>__<uri>`` and templates as ``<id>__<uriTemplate>``. The per-server
  endpoint publishes the upstream's own names (no prefix).
* Shortening rule (tools and prompts only; URIs are never rewritten): a public
  name must match ``[A-Za-z0-9_.-]{1,64}`` (what LLM tool-calling APIs accept).
  A name that does not is replaced by its allowed characters (every other
  character becomes ``_``), cut to 55 characters, plus ``_`` and the first 8 hex
  digits of the SHA-256 of the unshortened name: always 64 characters or
  fewer, stable across restarts, and different for different originals.
* Collisions: the first definition (config order, then list order) keeps a
  public name; a later different definition with the same public name gets the
  shortened form computed over ``<upstream>\\0<original>`` instead. A repeated
  resource URI or template keeps only its first definition.

Listing pages carry opaque cursors that remember the last key served, so
paging continues at the right place even when the list changed in between.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import mcp_types as types
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

log = logging.getLogger("tornadohub.mcp")

DELIMITER = "__"
MAX_NAME_LENGTH = 64
HASH_DIGITS = 8
DEFAULT_PAGE_SIZE = 1000

_PUBLIC_NAME = re.compile(rf"[A-Za-z0-9_.-]{{1,{MAX_NAME_LENGTH}}}")
_NOT_NAME_CHAR = re.compile(r"[^A-Za-z0-9_.-]")
_NOT_ID_CHAR = re.compile(r"[^A-Za-z0-9]")


@dataclass(frozen=True)
class Kind:
    """One of the four listable capability kinds and how it is named."""

    key: str  # capability key in Upstream.capabilities, also the list result field
    field: str  # the definition's identifying field
    model: type[BaseModel]  # validates one definition before it is published
    shorten: bool  # whether public names obey the tool-name charset and length


TOOLS = Kind("tools", "name", types.Tool, shorten=True)
RESOURCES = Kind("resources", "uri", types.Resource, shorten=False)
TEMPLATES = Kind("resourceTemplates", "uriTemplate", types.ResourceTemplate, shorten=False)
PROMPTS = Kind("prompts", "name", types.Prompt, shorten=True)
KINDS: tuple[Kind, ...] = (TOOLS, RESOURCES, TEMPLATES, PROMPTS)


class InvalidCursorError(ValueError):
    """A cursor this hub did not hand out (the caller answers -32602)."""


def server_id(name: str) -> str:
    """mcp-hub's id for a server: every character outside ``[A-Za-z0-9]`` becomes ``_``."""
    return _NOT_ID_CHAR.sub("_", name)


def assign_server_ids(names: Iterable[str]) -> Mapping[str, str]:
    """Config name -> unique id, in iteration order; repeats get ``_1``, ``_2``, ...

    Every forwarded call asks, and the configured names rarely change: the answer
    is kept for the last few sets of names (read-only).
    """
    return _server_ids(tuple(names))


@functools.lru_cache(maxsize=8)
def _server_ids(names: tuple[str, ...]) -> Mapping[str, str]:
    ids: dict[str, str] = {}
    taken: set[str] = set()
    for name in names:
        base = candidate = server_id(name)
        counter = 0
        while candidate in taken:
            counter += 1
            candidate = f"{base}_{counter}"
        taken.add(candidate)
        ids[name] = candidate
    return MappingProxyType(ids)


def shorten(name: str, *, seed: str | None = None) -> str:
    """*name* if it is a valid public name, else its deterministic short form.

    The short form keeps the allowed characters of *name* (others become ``_``),
    cut so that ``_`` plus 8 hex digits of SHA-256(*seed* or *name*) fit in 64.
    """
    if seed is None and _PUBLIC_NAME.fullmatch(name):
        return name
    digest = hashlib.sha256((seed if seed is not None else name).encode()).hexdigest()
    keep = MAX_NAME_LENGTH - HASH_DIGITS - 1
    return f"{_NOT_NAME_CHAR.sub('_', name)[:keep]}_{digest[:HASH_DIGITS]}"


@dataclass(frozen=True)
class Route:
    """Where a public name leads: the upstream's config name and its own name or URI."""

    upstream: str
    original: str


@dataclass(frozen=True)
class Source:
    """One connected upstream as the catalog sees it."""

    name: str  # config name, the key of Hub.upstreams
    id: str  # public server id ("" on the per-server endpoint: no prefix)
    capabilities: Mapping[str, Sequence[Mapping[str, Any]]]


@dataclass
class Listing:
    """The published definitions of one kind, in order, and their routes."""

    items: list[dict[str, Any]] = field(default_factory=list)
    routes: dict[str, Route] = field(default_factory=dict)
    positions: dict[str, int] = field(default_factory=dict)

    def add(self, key: str, item: dict[str, Any], route: Route) -> None:
        self.positions[key] = len(self.items)
        self.items.append(item)
        self.routes[key] = route

    def page(
        self, kind: Kind, cursor: str | None, size: int
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of definitions and the cursor of the next page (None at the end)."""
        start = 0 if cursor is None else self._resume_at(decode_cursor(cursor))
        end = min(start + size, len(self.items))
        items = self.items[start:end]
        if end >= len(self.items):
            return items, None
        return items, encode_cursor(end, str(items[-1][kind.field]) if items else "")

    def _resume_at(self, position: tuple[int, str]) -> int:
        offset, last_key = position
        found = self.positions.get(last_key)
        if found is not None:
            return found + 1
        return min(offset, len(self.items))


def encode_cursor(offset: int, last_key: str) -> str:
    raw = json.dumps([offset, last_key], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, str]:
    """The (offset, last key) inside a cursor; anything else is :class:`InvalidCursorError`."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        offset, last_key = json.loads(raw)
    except (binascii.Error, ValueError, TypeError):
        raise InvalidCursorError(cursor) from None
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise InvalidCursorError(cursor)
    if not isinstance(last_key, str):
        raise InvalidCursorError(cursor)
    return offset, last_key


@dataclass
class Catalog:
    """Everything one MCP endpoint publishes, built from one snapshot of the upstreams."""

    listings: dict[str, Listing]
    #: public server id -> config name, longest id first (for template-derived URIs)
    prefixes: list[tuple[str, str]]

    def listing(self, kind: Kind) -> Listing:
        return self.listings[kind.key]

    def route(self, kind: Kind, key: str) -> Route | None:
        return self.listings[kind.key].routes.get(key)

    def route_resource(self, uri: str) -> Route | None:
        """A listed resource, else a URI built from a template: ``<id>__<uri>``.

        The longest server id that prefixes *uri* wins, so ``a__b__x://1`` goes to
        the server ``a__b`` rather than ``a`` when both exist.
        """
        route = self.route(RESOURCES, uri)
        if route is not None:
            return route
        for prefix, upstream in self.prefixes:
            if not prefix:
                return Route(upstream, uri)
            head = prefix + DELIMITER
            if uri.startswith(head) and len(uri) > len(head):
                return Route(upstream, uri[len(head) :])
        return None

    def counts(self) -> dict[str, int]:
        return {kind.key: len(self.listings[kind.key].items) for kind in KINDS}

    def changed_kinds(self, previous: Catalog) -> set[str]:
        """The kinds whose published definitions differ from *previous*."""
        return {
            kind.key
            for kind in KINDS
            if self.listings[kind.key].items != previous.listings[kind.key].items
        }


def empty_catalog() -> Catalog:
    return Catalog(listings={kind.key: Listing() for kind in KINDS}, prefixes=[])


def build_catalog(sources: Iterable[Source]) -> Catalog:
    """Namespace and validate every definition of every source, in order.

    A definition that is not a valid MCP object (or lacks its identifying field)
    is skipped with a warning, so one broken upstream item cannot make a whole
    aggregated list fail validation for every client.
    """
    catalog = empty_catalog()
    sources = list(sources)
    for source in sources:
        for kind in KINDS:
            listing = catalog.listings[kind.key]
            for item in source.capabilities.get(kind.key, ()):
                original = item.get(kind.field) if isinstance(item, Mapping) else None
                if not isinstance(original, str) or not _valid(kind, item, source):
                    continue
                key = _public_key(kind, source, original, listing)
                if key is None:
                    log.warning(
                        "%s: %s %r duplicates an earlier definition; skipped",
                        source.name,
                        kind.key,
                        original,
                    )
                    continue
                listing.add(key, {**item, kind.field: key}, Route(source.name, original))
    catalog.prefixes = sorted(
        ((s.id, s.name) for s in sources), key=lambda pair: len(pair[0]), reverse=True
    )
    return catalog


def _public_key(kind: Kind, source: Source, original: str, listing: Listing) -> str | None:
    plain = f"{source.id}{DELIMITER}{original}" if source.id else original
    if not kind.shorten:
        return None if plain in listing.routes else plain
    key = shorten(plain)
    if key not in listing.routes:
        return key
    key = shorten(plain, seed=f"{source.name}\0{original}")
    return None if key in listing.routes else key


def _valid(kind: Kind, item: Mapping[str, Any], source: Source) -> bool:
    try:
        kind.model.model_validate(item, by_name=False)
    except PydanticValidationError as exc:
        log.warning(
            "%s: invalid %s definition %r skipped: %s",
            source.name,
            kind.key,
            item.get(kind.field),
            exc.errors()[0].get("msg") if exc.errors() else exc,
        )
        return False
    return True
