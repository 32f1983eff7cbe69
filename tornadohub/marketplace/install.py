"""``mcp-hub add ID``: turn a marketplace entry into a server entry of a config file.

The chosen installation's ``config`` (a JSON string in the catalog) becomes the entry;
``--param KEY=VALUE`` fills its ``${KEY}`` placeholders and every other placeholder is
left for the hub to resolve from the environment. The entry is written under the file's
server map (``servers`` when the file uses it, else ``mcpServers``) by inserting text, so a
JSON5 file keeps its comments, trailing commas and layout; the result is parsed back and
compared with the intended document before it replaces the file. A hub running with
``--watch`` then starts the new server by itself.

Why this module is long: one concern, the text edit of a JSON5 file that keeps its comments
and layout, and its checks that the edit produced the intended document.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import json5

from tornadohub.paths import write_atomic

if TYPE_CHECKING:
    from tornadohub.marketplace import Marketplace

__all__ = [
    "InstallError",
    "Installed",
    "add_from_marketplace",
    "add_server",
    "build_entry",
    "default_config_path",
    "default_key",
    "insert_server",
    "run_add",
]

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class InstallError(Exception):
    """The entry cannot be built or written; the message is for the user."""


@dataclass
class Installed:
    """What :func:`add_server` did."""

    path: Path
    key: str
    entry: dict[str, Any]
    installation: str
    servers_key: str
    #: ``${KEY}`` placeholders still in the entry: the hub resolves them from its environment.
    unresolved: list[str] = field(default_factory=list)
    created: bool = False
    replaced: bool = False


def default_config_path() -> Path:
    """mcphub.nvim's default global config file."""
    return Path.home() / ".config" / "mcphub" / "servers.json"


def default_key(mcp_id: str) -> str:
    """The config key for an id: official registry names keep their last segment."""
    return mcp_id.rstrip("/").rsplit("/", 1)[-1] or mcp_id


# --------------------------------------------------------------------------- #
# Building the entry
# --------------------------------------------------------------------------- #


def _substitute(value: Any, params: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return _PLACEHOLDER.sub(lambda m: params.get(m[1], m[0]), value)
    if isinstance(value, list):
        return [_substitute(v, params) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, params) for k, v in value.items()}
    return value


def _placeholders(value: Any) -> list[str]:
    found: list[str] = []
    if isinstance(value, str):
        found += _PLACEHOLDER.findall(value)
    elif isinstance(value, list):
        for item in value:
            found += _placeholders(item)
    elif isinstance(value, dict):
        for item in value.values():
            found += _placeholders(item)
    return list(dict.fromkeys(found))


def _parameter_keys(server: Mapping[str, Any], installation: Mapping[str, Any]) -> list[str]:
    keys = []
    for source in (server.get("parameters"), installation.get("parameters")):
        for param in source if isinstance(source, list) else []:
            if isinstance(param, Mapping) and isinstance(param.get("key"), str):
                keys.append(param["key"])
    return list(dict.fromkeys(keys))


def _pick_installation(server: Mapping[str, Any], name: str | None) -> Mapping[str, Any]:
    installations = [i for i in server.get("installations") or [] if isinstance(i, Mapping)]
    if not installations:
        raise InstallError(f"'{server.get('id')}' has no installation methods")
    if name is None:
        return installations[0]
    for installation in installations:
        if str(installation.get("name", "")).casefold() == name.casefold():
            return installation
    names = ", ".join(repr(str(i.get("name"))) for i in installations)
    raise InstallError(f"'{server.get('id')}' has no installation {name!r}; it has: {names}")


def _parse_config(installation: Mapping[str, Any]) -> dict[str, Any]:
    raw = installation.get("config")
    try:
        config = json5.loads(raw) if isinstance(raw, str) else copy.deepcopy(raw)
    except ValueError as exc:
        raise InstallError(
            f"installation {installation.get('name')!r}: bad config: {exc}"
        ) from None
    if not isinstance(config, dict):
        raise InstallError(f"installation {installation.get('name')!r}: config is not an object")
    # Some catalog configs are a whole file with a single server: use that server.
    for wrapper in ("mcpServers", "servers"):
        inner = config.get(wrapper)
        if len(config) == 1 and isinstance(inner, dict) and len(inner) == 1:
            only = next(iter(inner.values()))
            if isinstance(only, dict):
                return only
    return config


def build_entry(
    server: Mapping[str, Any], *, installation: str | None = None, params: Mapping[str, str]
) -> tuple[dict[str, Any], str, list[str]]:
    """``(entry, installation name, unresolved placeholder keys)`` for a catalog entry.

    Unknown ``params`` keys (neither declared parameters nor placeholders) are refused, so
    a typo does not silently leave a placeholder behind.
    """
    chosen = _pick_installation(server, installation)
    config = _parse_config(chosen)
    known = set(_parameter_keys(server, chosen)) | set(_placeholders(config))
    unknown = sorted(set(params) - known)
    if unknown:
        takes = ", ".join(sorted(known)) or "none"
        raise InstallError(f"unknown parameter(s) {', '.join(unknown)}; this server takes: {takes}")
    entry = _substitute(config, params)
    return entry, str(chosen.get("name", "")), _placeholders(entry)


def parse_params(items: Sequence[str]) -> dict[str, str]:
    """``KEY=VALUE`` strings (the value may contain ``=``)."""
    params = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InstallError(f"--param expects KEY=VALUE, not {item!r}")
        params[key.strip()] = value
    return params


# --------------------------------------------------------------------------- #
# Editing JSON5 text
# --------------------------------------------------------------------------- #


@dataclass
class _Member:
    key: str
    key_start: int
    value_start: int
    value_end: int
    value: _Object | None


@dataclass
class _Object:
    start: int  # the "{"
    end: int  # the "}"
    members: list[_Member]

    def member(self, key: str) -> _Member | None:
        found = [m for m in self.members if m.key == key]
        return found[-1] if found else None  # JSON5: the last duplicate wins


_DELIMITERS = set(",:[]{}\"'/") | {" ", "\t", "\r", "\n"}


class _Scanner:
    """Finds the spans of objects and members in JSON5 text (already known to parse)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, what: str) -> InstallError:
        line = self.text.count("\n", 0, self.pos) + 1
        return InstallError(f"cannot edit this file: {what} at line {line}")

    def skip(self) -> None:
        text = self.text
        while self.pos < len(text):
            char = text[self.pos]
            if char.isspace() or char == "\ufeff":
                self.pos += 1
            elif text.startswith("//", self.pos):
                end = text.find("\n", self.pos)
                self.pos = len(text) if end < 0 else end + 1
            elif text.startswith("/*", self.pos):
                end = text.find("*/", self.pos + 2)
                if end < 0:
                    raise self.fail("unterminated comment")
                self.pos = end + 2
            else:
                return

    def peek(self) -> str:
        self.skip()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def string(self) -> str:
        quote = self.text[self.pos]
        start = self.pos
        self.pos += 1
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "\\":
                self.pos += 2
                continue
            self.pos += 1
            if char == quote:
                decoded = json5.loads(self.text[start : self.pos])
                return decoded if isinstance(decoded, str) else str(decoded)
        raise self.fail("unterminated string")

    def bare(self) -> str:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in _DELIMITERS:
            if self.text[self.pos].isspace():
                break
            self.pos += 1
        if self.pos == start:
            raise self.fail(f"unexpected {self.text[self.pos : self.pos + 1]!r}")
        return self.text[start : self.pos]

    def value(self) -> _Object | None:
        char = self.peek()
        if char == "{":
            return self.object()
        if char == "[":
            self.pos += 1
            while self.peek() != "]":
                self.value()
                if self.peek() == ",":
                    self.pos += 1
            self.pos += 1
            return None
        if char in "\"'":
            self.string()
        else:
            self.bare()
        return None

    def object(self) -> _Object:
        start = self.pos
        self.pos += 1
        members = []
        while self.peek() != "}":
            if not self.peek():
                raise self.fail("unterminated object")
            key_start = self.pos
            key = self.string() if self.peek() in "\"'" else self.bare()
            if self.peek() != ":":
                raise self.fail("expected ':'")
            self.pos += 1
            self.skip()
            value_start = self.pos
            value = self.value()
            members.append(_Member(key, key_start, value_start, self.pos, value))
            if self.peek() == ",":
                self.pos += 1
        end = self.pos
        self.pos += 1
        return _Object(start, end, members)


def _line_start(text: str, pos: int) -> int:
    return text.rfind("\n", 0, pos) + 1


def _own_line_indent(text: str, pos: int) -> str | None:
    """The indentation before *pos* when only whitespace precedes it on its line."""
    prefix = text[_line_start(text, pos) : pos]
    return prefix if not prefix.strip() else None


def _line_indent(text: str, pos: int) -> str:
    line = text[_line_start(text, pos) :]
    return line[: len(line) - len(line.lstrip(" \t"))]


def _render(value: Any, indent: str, unit: str) -> str:
    """*value* as indented JSON whose continuation lines start at *indent*."""
    return json.dumps(value, indent=unit, ensure_ascii=False).replace("\n", "\n" + indent)


def _insert_member(text: str, obj: _Object, key: str, value: Any, unit: str) -> str:
    """Add ``key: value`` as the last member of *obj*, in the style of the file."""
    close_indent = _own_line_indent(text, obj.end)
    parent_indent = close_indent if close_indent is not None else _line_indent(text, obj.start)
    edits: list[tuple[int, str]] = []
    trailing = ""
    if obj.members:
        last = obj.members[-1]
        indent = _own_line_indent(text, last.key_start)
        if indent is None:
            indent = parent_indent + unit
        scanner = _Scanner(text)
        scanner.pos = last.value_end
        if scanner.peek() == ",":
            trailing = ","  # the file ends members with commas: keep doing so
        else:
            edits.append((last.value_end, ","))
    else:
        indent = parent_indent + unit
    member = f"{json.dumps(key, ensure_ascii=False)}: {_render(value, indent, unit)}{trailing}"
    if close_indent is not None:
        edits.append((obj.end - len(close_indent), f"{indent}{member}\n"))
    else:
        edits.append((obj.end, f"\n{indent}{member}\n{parent_indent}"))
    # From the end backwards; at one position the later edit goes in first, so ends up last.
    for pos, _, insert in sorted(((p, i, e) for i, (p, e) in enumerate(edits)), reverse=True):
        text = text[:pos] + insert + text[pos:]
    return text


def _indent_unit(text: str, top: _Object) -> str:
    for member in top.members:
        indent = _own_line_indent(text, member.key_start)
        if indent:
            return indent
    return "  "


def servers_key_of(document: Mapping[str, Any]) -> str:
    """mcp-hub reads ``servers`` when present (VS Code style), else ``mcpServers``."""
    return "servers" if "servers" in document else "mcpServers"


def insert_server(text: str, key: str, entry: dict[str, Any], *, force: bool = False) -> str:
    """The config *text* with ``entry`` under its server map at *key*; comments kept.

    Raises :class:`InstallError` when *key* exists (unless *force*: its value is then
    replaced in place) or when the result does not parse back to the intended document.
    """
    if not text.strip():
        return json.dumps({"mcpServers": {key: entry}}, indent=2, ensure_ascii=False) + "\n"
    try:
        document = json5.loads(text)
    except ValueError as exc:
        raise InstallError(f"cannot parse as JSON5: {exc}") from None
    if not isinstance(document, dict):
        raise InstallError("the top level is not an object")
    servers_key = servers_key_of(document)
    servers = document.get(servers_key)
    expected = copy.deepcopy(document)
    scanner = _Scanner(text)
    if scanner.peek() != "{":
        raise scanner.fail("expected '{'")
    top = scanner.object()
    unit = _indent_unit(text, top)
    if servers is None:
        expected["mcpServers"] = {key: entry}
        new_text = _insert_member(text, top, "mcpServers", {key: entry}, unit)
    else:
        if not isinstance(servers, dict):
            raise InstallError(f"'{servers_key}' is not an object")
        member = top.member(servers_key)
        if member is None or member.value is None:
            raise InstallError(f"cannot locate '{servers_key}' in the text")
        expected[servers_key][key] = entry
        existing = member.value.member(key)
        if key in servers and not force:
            raise InstallError(f"'{key}' already exists in '{servers_key}' (use --force)")
        if existing is not None:
            indent = _line_indent(text, existing.key_start)
            rendered = _render(entry, indent, unit)
            new_text = text[: existing.value_start] + rendered + text[existing.value_end :]
        else:
            new_text = _insert_member(text, member.value, key, entry, unit)
    try:
        reparsed = json5.loads(new_text)
    except ValueError as exc:
        raise InstallError(f"editing produced invalid JSON5 ({exc}); file left unchanged") from None
    if reparsed != expected:
        raise InstallError("the edited file does not read back as intended; file left unchanged")
    return new_text


def _write_atomic(path: Path, text: str) -> None:
    """Replace the file's content in one step, keeping its mode; symlinks are followed."""
    target = Path(os.path.realpath(path))
    mode = target.stat().st_mode & 0o7777 if target.exists() else None
    write_atomic(target, text, mode=mode)


def add_server(
    server: Mapping[str, Any],
    path: Path,
    *,
    key: str | None = None,
    installation: str | None = None,
    params: Mapping[str, str] | None = None,
    force: bool = False,
) -> Installed:
    """Build the entry for *server* and write it into the config file at *path*."""
    entry, used, unresolved = build_entry(server, installation=installation, params=params or {})
    name = key or default_key(str(server.get("id", "")))
    try:
        text = path.read_text(encoding="utf-8")
        created = False
    except FileNotFoundError:
        text, created = "", True
    except OSError as exc:
        raise InstallError(f"cannot read {path}: {exc.strerror or exc}") from None
    existed = False
    if text.strip():
        with contextlib.suppress(ValueError):
            document = json5.loads(text)
            if isinstance(document, dict):
                servers = document.get(servers_key_of(document))
                existed = isinstance(servers, dict) and name in servers
    try:
        new_text = insert_server(text, name, entry, force=force)
    except InstallError as exc:
        raise InstallError(f"{path}: {exc}") from None
    document = json5.loads(new_text)
    try:
        _write_atomic(path, new_text)
    except OSError as exc:
        raise InstallError(f"cannot write {path}: {exc.strerror or exc}") from None
    return Installed(
        path=path,
        key=name,
        entry=entry,
        installation=used,
        servers_key=servers_key_of(document),
        unresolved=unresolved,
        created=created,
        replaced=existed,
    )


async def add_from_marketplace(
    market: Marketplace,
    mcp_id: str,
    path: Path,
    *,
    key: str | None = None,
    installation: str | None = None,
    params: Mapping[str, str] | None = None,
    force: bool = False,
) -> Installed:
    """Look *mcp_id* up in *market* and write its entry into *path*: ``mcp-hub add`` and
    ``POST /api/marketplace/add`` both come here. The file is written off the event loop."""
    import asyncio

    server = await market.server(mcp_id)
    if server is None:
        raise InstallError(f"'{mcp_id}' is not in the marketplace ({', '.join(market.sources)})")
    return await asyncio.to_thread(
        add_server, server, path, key=key, installation=installation, params=params, force=force
    )


def run_add(
    mcp_id: str,
    *,
    configs: Sequence[str] | None,
    key: str | None,
    installation: str | None,
    params: Sequence[str],
    force: bool,
    marketplace_url: str | None,
    registry_url: str | None,
) -> int:
    """The ``mcp-hub add`` command: exit status 0 when the entry was written, else 1."""
    import asyncio
    import logging
    import sys

    from tornadohub.errors import HubError
    from tornadohub.marketplace import marketplace_for

    # Failures are reported once, below; a stale catalog is good enough for adding.
    logging.getLogger("tornadohub.marketplace").setLevel(logging.ERROR)
    market = marketplace_for(
        marketplace_url=marketplace_url, registry_url=registry_url, environ=os.environ
    )
    path = Path(configs[0]) if configs else default_config_path()
    try:
        values = parse_params(params)
        done = asyncio.run(
            add_from_marketplace(
                market, mcp_id, path, key=key, installation=installation, params=values, force=force
            )
        )
    except HubError as exc:
        detail = exc.data.get("error")
        print(f"Error: {exc.message}" + (f": {detail}" if detail else ""), file=sys.stderr)
        return 1
    except InstallError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    verb = "Replaced" if done.replaced else "Added"
    print(
        f"{verb} '{done.key}' ({mcp_id}, installation {done.installation!r})"
        f" in {done.path} under '{done.servers_key}'"
    )
    if done.unresolved:
        names = ", ".join(done.unresolved)
        print(f"Set these in the hub's environment (or pass --param KEY=VALUE): {names}")
    return 0
