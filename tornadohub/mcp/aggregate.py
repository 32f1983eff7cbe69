"""The hub's MCP view of its upstreams: namespaced lists, routing back, cursors.

Pure data, no I/O: :func:`build_catalog` turns the cached capability lists of the
connected upstreams into one :class:`Catalog`, which both lists (one page at a
time) and routes a public name back to ``(upstream, original name or URI)``.

Naming (mcp-hub's contract, section 6, plus the fixes it lacks):

* Server id: the config name with every character outside ``[A-Za-z0-9]``
  replaced by ``_`` (``echo.two`` -> ``echo_two``). Ids are assigned over *all*
  configured servers in config order, so a server's id never changes because
  another one connected or dropped; a repeated id gets ``_1``, ``_2``, ...
* Tools and prompts are published as ``<id>__<name>``, as mcp-hub does. The
  per-server endpoint publishes the upstream's own names (no prefix).
* Resources and templates are published as ``<namespace>+<uri>``: the server's
  *namespace* joined to the URI's own scheme, so the result is still a valid URI
  (RFC 3986; mcp-hub's ``<id>__<uri>`` is not, ``_`` being no scheme character)
  and a URI a client builds from a published template carries the namespace
  too (``gh+repo://{owner}`` expands to ``gh+repo://me``). The namespace is the
  server id in lower case with ``-`` for ``_`` (``mcp-`` in front when it would
  not start with a letter; ``-1``, ``-2``, ... when two ids fold to one), since
  schemes are compared without case. A URI without a scheme becomes
  ``<namespace>+:<uri>``. The public URI round-trips: it is what a client reads
  and subscribes to, and what comes back in ``contents[].uri`` and
  ``notifications/resources/updated``. mcp-hub's ``<id>__<uri>`` form is still
  accepted on the way in.
* Unprefixed mode (``mcpEndpoint.unprefixed``): a name or URI that only one
  server defines is published unchanged; the servers whose definitions collide
  keep the prefix for that one, and :attr:`Catalog.collisions` says which.
* Shortening rule (tools and prompts only; URIs are never shortened): a public
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
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import mcp_types as types
from mcp.shared.uri_template import InvalidUriTemplate, UriTemplate
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

log = logging.getLogger("tornadohub.mcp")

DELIMITER = "__"
MAX_NAME_LENGTH = 64
HASH_DIGITS = 8
DEFAULT_PAGE_SIZE = 1000

_PUBLIC_NAME = re.compile(rf"[A-Za-z0-9_.-]{{1,{MAX_NAME_LENGTH}}}")
#: A URI's scheme and its colon (RFC 3986 section 3.1).
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
#: Joins a server's namespace to a resource URI's scheme.
NAMESPACE_JOINT = "+"
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
    taken: set[str] = set()
    return MappingProxyType({name: _unique(server_id(name), "_", taken) for name in names})


def _unique(base: str, separator: str, taken: set[str]) -> str:
    """*base*, else *base* with the first counter suffix not in *taken*; taken from now on."""
    candidate, counter = base, 0
    while candidate in taken:
        counter += 1
        candidate = f"{base}{separator}{counter}"
    taken.add(candidate)
    return candidate


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


@functools.lru_cache(maxsize=8)
def assign_namespaces(ids: tuple[str, ...]) -> Mapping[str, str]:
    """Server id -> resource URI namespace, in iteration order (see the module docstring)."""
    namespaces: dict[str, str] = {}
    taken: set[str] = set()
    for sid in ids:
        base = sid.lower().replace("_", "-")
        if not base[:1].isascii() or not base[:1].isalpha():
            base = f"mcp-{base}"
        namespaces[sid] = _unique(base, "-", taken)
    return MappingProxyType(namespaces)


def namespaced_uri(namespace: str, uri: str) -> str:
    """*uri* (or URI template) as published under *namespace* ("": unchanged)."""
    if not namespace:
        return uri
    if _SCHEME.match(uri):
        return f"{namespace}{NAMESPACE_JOINT}{uri}"
    return f"{namespace}{NAMESPACE_JOINT}:{uri}"


def split_namespaced(uri: str) -> tuple[str, str] | None:
    """``(namespace, original URI)`` of a namespaced URI, else None (the namespace in
    lower case: schemes compare without case)."""
    match = _SCHEME.match(uri)
    if match is None or NAMESPACE_JOINT not in match[1]:
        return None
    namespace, _, scheme = match[1].partition(NAMESPACE_JOINT)
    if not namespace:
        return None
    original = uri[len(namespace) + 1 :] if scheme else uri[match.end() :]
    return namespace.lower(), original


@dataclass(frozen=True)
class Route:
    """Where a public name leads: the upstream's config name and its own name or URI.

    *namespace* is the one a public URI carried ("": none), so that the URIs of an
    answer can be given back in the form the client used.
    """

    upstream: str
    original: str
    namespace: str = ""


@dataclass(frozen=True)
class Source:
    """One connected upstream as the catalog sees it."""

    name: str  # config name, the key of Hub.upstreams
    id: str  # public server id ("" on the per-server endpoint: no prefix)
    capabilities: Mapping[str, Sequence[Mapping[str, Any]]]
    #: Its resource URI namespace (None: derived from *id*, without the repeat rule).
    namespace: str | None = None
    #: Whether a URI it does not list may be read or subscribed to through this view (one
    #: built from a template): None, any (see :meth:`Catalog.route_resource`).
    readable: Callable[[str], bool] | None = None

    @property
    def uri_namespace(self) -> str:
        if not self.id:
            return ""
        if self.namespace is not None:
            return self.namespace
        return assign_namespaces((self.id,))[self.id]


@dataclass(frozen=True)
class Collision:
    """A name or URI more than one server defines (unprefixed mode publishes it prefixed)."""

    kind: str  # "tools", "resources", "resourceTemplates" or "prompts"
    name: str
    servers: tuple[str, ...]

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "servers": list(self.servers)}


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
    #: resource URI namespace -> config name
    namespaces: dict[str, str] = field(default_factory=dict)
    #: mcp-hub's ``<id>__`` URI prefixes -> config name, longest first (accepted on input)
    prefixes: list[tuple[str, str]] = field(default_factory=list)
    #: Templates published unchanged (unprefixed mode) and their servers, in order.
    plain_templates: list[tuple[UriTemplate, str]] = field(default_factory=list)
    #: The only server of a view that prefixes nothing: any URI is for it.
    only: str | None = None
    #: Config name -> whether an unlisted URI of that server may be routed (absent: any).
    readable: dict[str, Callable[[str], bool]] = field(default_factory=dict)
    #: What unprefixed mode had to publish prefixed.
    collisions: list[Collision] = field(default_factory=list)
    #: Search mode (:mod:`tornadohub.mcp.search_mode`): the tools ``search_tools`` ranks and
    #: ``call_tool`` calls. The tools listing then holds the two meta-tools, which have no
    #: route: a ``tools/call`` of any name routes nowhere upstream directly.
    searchable: Listing | None = None
    #: Listed resource URIs by their scheme in lower case (computed when first needed).
    _folded: dict[str, str] | None = None

    def listing(self, kind: Kind) -> Listing:
        return self.listings[kind.key]

    def route(self, kind: Kind, key: str) -> Route | None:
        return self.listings[kind.key].routes.get(key)

    def route_resource(self, uri: str) -> Route | None:
        """A listed resource, else a URI built from a published template.

        In that order: a URI of a template published unchanged, a namespaced URI
        (``<namespace>+<uri>``), mcp-hub's ``<id>__<uri>`` (the longest id that
        prefixes *uri* wins), and any URI when the view has one server and no prefix;
        an unlisted URI only if its server's :attr:`readable` rule lets it through (the
        tool surface's resource filters apply to URIs built from templates too).
        """
        route = self.route(RESOURCES, uri) or self._route_folded(uri)
        if route is not None:
            return route
        route = self._route_unlisted(uri)
        if route is None:
            return None
        readable = self.readable.get(route.upstream)
        return route if readable is None or readable(route.original) else None

    def _route_unlisted(self, uri: str) -> Route | None:
        for template, upstream in self.plain_templates:
            if template.match(uri) is not None:
                return Route(upstream, uri)
        split = split_namespaced(uri)
        if split is not None and split[0] in self.namespaces and split[1]:
            return Route(self.namespaces[split[0]], split[1], split[0])
        for prefix, upstream in self.prefixes:
            head = prefix + DELIMITER
            if uri.startswith(head) and len(uri) > len(head):
                return Route(upstream, uri[len(head) :], _namespace_of(self.namespaces, upstream))
        if self.only is not None:
            return Route(self.only, uri)
        return None

    def _route_folded(self, uri: str) -> Route | None:
        """A listed resource whose scheme the client sent in another case."""
        folded = _fold_scheme(uri)
        if folded == uri:
            return None
        if self._folded is None:
            self._folded = {_fold_scheme(key): key for key in self.listing(RESOURCES).routes}
        key = self._folded.get(folded)
        return self.route(RESOURCES, key) if key is not None else None

    def counts(self) -> dict[str, int]:
        return {kind.key: len(self.listings[kind.key].items) for kind in KINDS}

    def changed_kinds(self, previous: Catalog) -> set[str]:
        """The kinds whose published definitions differ from *previous*."""
        return {
            kind.key
            for kind in KINDS
            if self.listings[kind.key].items != previous.listings[kind.key].items
        }


def _fold_scheme(uri: str) -> str:
    match = _SCHEME.match(uri)
    return uri if match is None else match[1].lower() + uri[len(match[1]) :]


def _namespace_of(namespaces: Mapping[str, str], upstream: str) -> str:
    return next((ns for ns, name in namespaces.items() if name == upstream), "")


def empty_catalog() -> Catalog:
    return Catalog(listings={kind.key: Listing() for kind in KINDS})


def build_catalog(sources: Iterable[Source], *, unprefixed: bool = False) -> Catalog:
    """Namespace and validate every definition of every source, in order.

    A definition that is not a valid MCP object (or lacks its identifying field)
    is skipped with a warning, so one broken upstream item cannot make a whole
    aggregated list fail validation for every client. *unprefixed*: publish what
    only one source defines unchanged (see the module docstring).
    """
    catalog = empty_catalog()
    sources = list(sources)
    shared = _shared_keys(sources) if unprefixed else {}
    for source in sources:
        namespace = source.uri_namespace
        for kind in KINDS:
            listing = catalog.listings[kind.key]
            collide = shared.get(kind.key, {})
            for item in source.capabilities.get(kind.key, ()):
                original = item.get(kind.field) if isinstance(item, Mapping) else None
                if not isinstance(original, str) or not _valid(kind, item, source):
                    continue
                plain = unprefixed and original not in collide
                key, route = _public_key(kind, source, original, listing, plain, namespace)
                if key is None:
                    log.warning(
                        "%s: %s %r duplicates an earlier definition; skipped",
                        source.name,
                        kind.key,
                        original,
                    )
                    continue
                listing.add(key, {**item, kind.field: key}, route)
                if kind is TEMPLATES and not route.namespace and source.id:
                    _add_plain_template(catalog, original, source.name)
    catalog.namespaces = {s.uri_namespace: s.name for s in sources if s.id}
    catalog.prefixes = sorted(
        ((s.id, s.name) for s in sources if s.id), key=lambda pair: len(pair[0]), reverse=True
    )
    if len(sources) == 1 and not sources[0].id:
        catalog.only = sources[0].name
    catalog.readable = {s.name: s.readable for s in sources if s.readable is not None}
    catalog.collisions = _collisions(shared)
    return catalog


def name_collisions(sources: Iterable[Source]) -> list[Collision]:
    """The names and URIs more than one of *sources* defines (cheap: no validation)."""
    return _collisions(_shared_keys(list(sources)))


def _collisions(shared: Mapping[str, Mapping[str, tuple[str, ...]]]) -> list[Collision]:
    return [
        Collision(kind, name, servers)
        for kind, names in shared.items()
        for name, servers in names.items()
    ]


def _shared_keys(sources: Sequence[Source]) -> dict[str, dict[str, tuple[str, ...]]]:
    """Per kind, the names (or URIs) that more than one source defines, with the sources."""
    shared: dict[str, dict[str, tuple[str, ...]]] = {}
    for kind in KINDS:
        owners: dict[str, list[str]] = {}
        for source in sources:
            for item in source.capabilities.get(kind.key, ()):
                original = item.get(kind.field) if isinstance(item, Mapping) else None
                if isinstance(original, str):
                    names = owners.setdefault(original, [])
                    if source.name not in names:
                        names.append(source.name)
        collisions = {name: tuple(names) for name, names in owners.items() if len(names) > 1}
        if collisions:
            shared[kind.key] = collisions
    return shared


def _add_plain_template(catalog: Catalog, template: str, upstream: str) -> None:
    try:
        catalog.plain_templates.append((UriTemplate.parse(template), upstream))
    except InvalidUriTemplate:
        log.debug("%s: template %r cannot route URIs built from it", upstream, template)


def _public_key(
    kind: Kind, source: Source, original: str, listing: Listing, plain: bool, namespace: str
) -> tuple[str | None, Route]:
    """The public name (None: a duplicate) and the route of one definition."""
    if not kind.shorten:
        namespace = "" if plain else namespace
        key = namespaced_uri(namespace, original)
        route = Route(source.name, original, namespace)
        return (None if key in listing.routes else key), route
    route = Route(source.name, original)
    plain_name = f"{source.id}{DELIMITER}{original}" if source.id and not plain else original
    key = shorten(plain_name)
    if key not in listing.routes:
        return key, route
    key = shorten(plain_name, seed=f"{source.name}\0{original}")
    return (None if key in listing.routes else key), route


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
