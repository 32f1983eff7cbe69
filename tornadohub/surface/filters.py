"""Which of one server's tools, prompts and resources the MCP endpoints show.

Two sources of rules, both read from the server's entry in the config file:

* what mcphub.nvim writes (contract section 16): ``disabled_tools``,
  ``disabled_prompts``, ``disabled_resources``, ``disabled_resourceTemplates``,
  arrays of the upstream's own names (``name``, ``name``, ``uri``,
  ``uriTemplate``), compared exactly;
* filters of our own: ``"tools"``, ``"prompts"``, ``"resources"``, each
  ``{"include": [...], "exclude": [...]}`` of glob patterns (:mod:`.globs`),
  matched against the upstream's own names (``resources`` covers both resource
  URIs and template URIs). Without ``include`` everything is included; an
  empty ``include`` includes nothing. ``exclude`` is applied after ``include``.
  A ``disabled_*`` entry hides an item whatever the filters say.

mcp-hub 4.2.1 ignores all of these keys, so a config it reads still reads the
same. A rule that cannot be read hides the whole kind it governs (the server
still runs and its other kinds are unaffected): showing everything instead
would expose exactly what the user meant to hide. Each such rule gives one
message, ``Server '<name>' has invalid <path> ...``, in the style of
:mod:`tornadohub.config`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from tornadohub.surface.globs import GlobError, GlobSet

__all__ = [
    "ALLOW_ALL",
    "CAPABILITY_KINDS",
    "DENY_ALL",
    "DISABLED_KEYS",
    "FILTER_KEYS",
    "ID_FIELDS",
    "UNRESTRICTED",
    "PatternFilter",
    "Visibility",
    "parse_filter",
    "parse_server_visibility",
]

#: The listable capability kinds, by their key in a capabilities mapping.
CAPABILITY_KINDS: tuple[str, ...] = ("tools", "resources", "resourceTemplates", "prompts")
#: The field that names an item of each kind.
ID_FIELDS: Mapping[str, str] = MappingProxyType(
    {"tools": "name", "resources": "uri", "resourceTemplates": "uriTemplate", "prompts": "name"}
)
#: mcphub.nvim's per-server key for each kind.
DISABLED_KEYS: Mapping[str, str] = MappingProxyType(
    {
        "tools": "disabled_tools",
        "resources": "disabled_resources",
        "resourceTemplates": "disabled_resourceTemplates",
        "prompts": "disabled_prompts",
    }
)
#: The filter key that governs each kind (``resources`` governs templates too).
FILTER_KEYS: Mapping[str, str] = MappingProxyType(
    {
        "tools": "tools",
        "resources": "resources",
        "resourceTemplates": "resources",
        "prompts": "prompts",
    }
)
_FILTER_FIELDS = ("include", "exclude")


@dataclass(frozen=True)
class PatternFilter:
    """``include`` (None: everything) then ``exclude``."""

    include: GlobSet | None = None
    exclude: GlobSet = field(default_factory=lambda: GlobSet(()))

    def allows(self, name: str) -> bool:
        if self.include is not None and not self.include.matches(name):
            return False
        return not self.exclude.matches(name)

    def allows_any_form(self, names: Iterable[str]) -> bool:
        """For an item with several names: included when ``include`` matches one of them,
        then excluded when ``exclude`` matches one of them."""
        names = tuple(names)
        if self.include is not None and not any(self.include.matches(n) for n in names):
            return False
        return not any(self.exclude.matches(n) for n in names)

    @property
    def allows_all(self) -> bool:
        return self.include is None and not self.exclude


ALLOW_ALL = PatternFilter()
DENY_ALL = PatternFilter(include=GlobSet(()))


def _describe(value: Any) -> str:
    """How a wrong JSON value is named in a message."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _patterns(value: Any, path: str, errors: list[str]) -> GlobSet | None:
    """One ``include``/``exclude`` array; None (and messages) when unusable."""
    if not isinstance(value, list):
        errors.append(
            f"has invalid {path} config: must be an array of glob patterns, not {_describe(value)}"
        )
        return None
    ok = True
    for index, pattern in enumerate(value):
        if not isinstance(pattern, str) or not pattern:
            what = "an empty string" if pattern == "" else _describe(pattern)
            errors.append(
                f"has invalid {path}[{index}] pattern: must be a non-empty string, not {what}"
            )
            ok = False
            continue
        try:
            GlobSet((pattern,))
        except GlobError as exc:
            errors.append(f"has invalid {path}[{index}] pattern {pattern!r}: {exc}")
            ok = False
    return GlobSet(tuple(value)) if ok else None


def parse_filter(value: Any, path: str, errors: list[str]) -> PatternFilter:
    """A ``{"include": [...], "exclude": [...]}`` object; :data:`DENY_ALL` when unusable.

    Messages are appended to *errors* without the ``Server '<name>'`` head,
    which the caller adds.
    """
    if value is None:
        return ALLOW_ALL
    if not isinstance(value, Mapping):
        errors.append(
            f'has invalid {path} config: must be an object with "include" and/or "exclude",'
            f" not {_describe(value)}"
        )
        return DENY_ALL
    before = len(errors)
    for key in value:
        if key not in _FILTER_FIELDS:
            errors.append(
                f'has invalid {path} config: unknown key {key!r} (use "include", "exclude")'
            )
    include = _patterns(value["include"], f"{path}.include", errors) if "include" in value else None
    exclude = _patterns(value.get("exclude", []), f"{path}.exclude", errors)
    if len(errors) > before:
        return DENY_ALL
    return PatternFilter(include=include, exclude=exclude or GlobSet(()))


def _disabled(value: Any, key: str, errors: list[str]) -> frozenset[str] | None:
    """An mcphub.nvim ``disabled_*`` list; None (and a message) when unusable.

    ``{}`` counts as an empty list: that is how a Lua encoder writes an empty table.
    """
    if value is None or (isinstance(value, Mapping) and not value):
        return frozenset()
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return frozenset(value)
    errors.append(f"has invalid {key} config: must be an array of strings")
    return None


@dataclass(frozen=True)
class Visibility:
    """One server's rules: per kind, exact names hidden plus a pattern filter."""

    disabled: Mapping[str, frozenset[str]] = field(default_factory=dict)
    filters: Mapping[str, PatternFilter] = field(default_factory=dict)

    @property
    def unrestricted(self) -> bool:
        return not any(self.disabled.values()) and all(f.allows_all for f in self.filters.values())

    def visible(self, kind: str, ident: str) -> bool:
        """Whether the item of *kind* named *ident* (the upstream's own name) is shown."""
        if ident in self.disabled.get(kind, ()):
            return False
        rule = self.filters.get(kind)
        return rule is None or rule.allows(ident)

    def apply(
        self, capabilities: Mapping[str, Sequence[Mapping[str, Any]]]
    ) -> Mapping[str, Sequence[Mapping[str, Any]]]:
        """*capabilities* without the hidden items; the same object when nothing is hidden."""
        if self.unrestricted:
            return capabilities
        shown: dict[str, Sequence[Mapping[str, Any]]] = {}
        for kind, items in capabilities.items():
            id_field = ID_FIELDS.get(kind)
            if id_field is None:
                shown[kind] = items
                continue
            shown[kind] = [
                item
                for item in items
                if isinstance(item.get(id_field), str) and self.visible(kind, item[id_field])
            ]
        return shown


UNRESTRICTED = Visibility()


def parse_server_visibility(name: str, entry: Any) -> tuple[Visibility, list[str]]:
    """The rules in one server entry and a message for each unusable one.

    An entry that is not an object has no rules here; :mod:`tornadohub.config`
    reports it.
    """
    if not isinstance(entry, Mapping):
        return UNRESTRICTED, []
    errors: list[str] = []
    disabled: dict[str, frozenset[str]] = {}
    filters: dict[str, PatternFilter] = {}
    parsed: dict[str, PatternFilter] = {}
    for kind in CAPABILITY_KINDS:
        key = DISABLED_KEYS[kind]
        names = _disabled(entry.get(key), key, errors)
        if names is None:
            filters[kind] = DENY_ALL
            names = frozenset()
        disabled[kind] = names
        filter_key = FILTER_KEYS[kind]
        if filter_key not in parsed:
            parsed[filter_key] = parse_filter(entry.get(filter_key), filter_key, errors)
        filters.setdefault(kind, parsed[filter_key])
    messages = [f"Server '{name}' {message}" for message in errors]
    if not any(disabled.values()) and all(rule.allows_all for rule in filters.values()):
        return UNRESTRICTED, messages
    return Visibility(disabled=disabled, filters=filters), messages
