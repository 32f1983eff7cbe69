"""Load, merge, validate and diff mcp-hub config files (contract section 7).

Files are JSON5. They are merged in order into one ``{"mcpServers": {...}}``
document in which a later file replaces whole server entries. Problems with a
whole file raise :class:`ConfigError`, as in mcp-hub. A bad server entry never
raises: it is kept with its error so that the rest of the hub still runs, and
``check-config`` can report every problem at once.

Why this module is long: the config file format is one concern (load, merge, validate, diff
of the same document), and each rule sits next to the mcp-hub behaviour it reproduces.
"""

from __future__ import annotations

import copy
import errno
import functools
import json
import math
import os
import re
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import json5
from marshmallow import (
    INCLUDE,
    Schema,
    ValidationError,
    fields,
    pre_load,
    validates,
    validates_schema,
)

from tornadohub.errors import ConfigError
from tornadohub.placeholders import env_cycle, keyed_by_index
from tornadohub.surface import Surface, parse_surface

__all__ = [
    "KEY_FIELDS",
    "ConfigDiff",
    "HubConfig",
    "ServerEntry",
    "check_config",
    "config_from_data",
    "diff_configs",
    "load_config",
]

KEY_FIELDS: tuple[str, ...] = (
    "command",
    "args",
    "env",
    "disabled",
    "url",
    "headers",
    "dev",
    "name",
    "cwd",
    "config_source",
    "protocolVersion",
)
"""Entry fields whose change makes a reload significant (mcp-hub ``#KEY_FIELDS``)."""

# Message suffixes; every per-server message is "Server '<name>' " + suffix.
_MIXED = "cannot mix stdio and sse fields"
_NEITHER = "must include either command (for stdio) or url (for sse)"
_MISSING_COMMAND = "missing command value"
_BAD_COMMAND = "has invalid command config"
_BAD_URL = "has invalid url"
_BAD_ENV = "has invalid environment config"
_ENV_CYCLE = "has a circular env reference: {}"
_BAD_HEADERS = "has invalid headers config"
_BAD_CWD = "has invalid cwd config"
_BAD_PROTOCOL = "has invalid protocolVersion config (supported: {})"
_DEV_STDIO_ONLY = "dev field is only supported for stdio servers"
_DEV_ENABLED = "dev.enabled must be a boolean"
_DEV_WATCH = "dev.watch must be an array of strings"
_DEV_CWD = "dev.cwd must be an absolute path"

# Placeholders may sit anywhere in a URL (host, path, port...), so they are
# replaced, innermost first, by a token that is valid in all of those places.
_PLACEHOLDER_RE = re.compile(r"\$\{[^{}]*\}")
_URL_TOKEN = "0"


# --------------------------------------------------------------------------- #
# Type predicates shared by the schemas
# --------------------------------------------------------------------------- #


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool)


def _is_str(value: Any) -> bool:
    return isinstance(value, str)


def _is_str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _is_object(value: Any) -> bool:
    """``env`` and ``headers``: any values, which become strings as JavaScript's
    ``String()`` makes them (``null`` and ``""`` in ``env`` mean "inherit")."""
    return isinstance(value, dict)


def _is_abs_path(value: Any) -> bool:
    return isinstance(value, str) and value != "" and os.path.isabs(value)


def _is_valid_url(value: Any) -> bool:
    """Approximate WHATWG ``new URL()``, but also demand a host.

    Placeholders are swapped for a token first, so ``https://${DOMAIN}/mcp``
    and ``http://localhost:${PORT}/mcp`` pass; a URL that is a placeholder as
    a whole has no scheme and fails, as it does in mcp-hub.
    """
    if not isinstance(value, str):
        return False
    text = value.strip()
    previous = None
    while previous != text:
        previous, text = text, _PLACEHOLDER_RE.sub(_URL_TOKEN, text)
    try:
        parts = urllib.parse.urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return False
    host = parts.hostname or ""
    return bool(parts.scheme) and bool(host) and not any(c.isspace() for c in host)


def js_truthy(value: Any) -> bool:
    """JavaScript truthiness: empty objects and arrays are true, 0 and "" false."""
    if isinstance(value, dict | list):
        return True
    if isinstance(value, float) and math.isnan(value):
        return False
    return bool(value)


# --------------------------------------------------------------------------- #
# marshmallow schemas: they only validate, normalisation is done separately
# --------------------------------------------------------------------------- #


class _Checked(fields.Field[Any]):
    """A field that accepts a value unchanged when ``check`` holds.

    marshmallow's own fields coerce ("yes" becomes True); mcp-hub does not, and
    one message must cover wrong type, null and missing alike.
    """

    def __init__(
        self,
        check: Callable[[Any], bool],
        message: str,
        *,
        required: bool = False,
        allow_none: bool = False,
    ) -> None:
        super().__init__(
            required=required,
            allow_none=allow_none,
            error_messages={"invalid": message, "null": message, "required": message},
        )
        self._check = check

    def _deserialize(
        self,
        value: Any,
        attr: str | None,
        data: Mapping[str, Any] | None,
        **kwargs: Any,
    ) -> Any:
        if not self._check(value):
            raise self.make_error("invalid")
        return value


class _ProtocolVersion(fields.Field[Any]):
    """A protocol version the SDK supports.

    The SDK's list is imported on first use: ``mcp_types`` takes ~0.2 s to import, and the
    hub loads its config before it imports the SDK, to start its servers sooner.
    """

    def _deserialize(
        self,
        value: Any,
        attr: str | None,
        data: Mapping[str, Any] | None,
        **kwargs: Any,
    ) -> Any:
        from mcp_types.version import SUPPORTED_PROTOCOL_VERSIONS

        if value not in SUPPORTED_PROTOCOL_VERSIONS:
            raise ValidationError(_BAD_PROTOCOL.format(", ".join(SUPPORTED_PROTOCOL_VERSIONS)))
        return value


class _DevSchema(Schema):
    """The ``dev`` object of a stdio server (contract section 11)."""

    class Meta:
        unknown = INCLUDE

    # mcp-hub reads .cwd off a non-object dev, so that is what it complains about.
    error_messages = {"type": _DEV_CWD}

    enabled = _Checked(_is_bool, _DEV_ENABLED)
    watch = _Checked(_is_str_list, _DEV_WATCH)
    cwd = _Checked(_is_abs_path, _DEV_CWD, required=True)


class _ServerSchema(Schema):
    """One server entry, already normalised (``type``, ``args``, ``config_source``)."""

    class Meta:
        unknown = INCLUDE

    command = fields.Raw(allow_none=True)
    url = fields.Raw(allow_none=True)
    env = _Checked(_is_object, _BAD_ENV, allow_none=True)
    headers = _Checked(_is_object, _BAD_HEADERS, allow_none=True)
    # args and disabled take any value, as in mcp-hub: each argument becomes a string,
    # a truthy disabled disables
    cwd = _Checked(_is_str, _BAD_CWD, allow_none=True)
    dev = fields.Nested(_DevSchema, error_messages={"null": _DEV_CWD})
    protocolVersion = _ProtocolVersion(allow_none=True)  # the config key

    @pre_load
    def _skip_falsy_dev(self, data: Any, **kwargs: Any) -> Any:
        """mcp-hub checks ``dev`` only when it is truthy (``null``, ``false``: no dev mode)."""
        if isinstance(data, Mapping) and "dev" in data and not js_truthy(data["dev"]):
            return {key: value for key, value in data.items() if key != "dev"}
        return data

    @validates("env")
    def _check_env_references(self, value: Any, **kwargs: Any) -> None:
        """Entries may refer to each other, but not in a circle (``A -> B -> A``)."""
        cycle = env_cycle(value) if isinstance(value, Mapping) else None
        if cycle is not None:
            raise ValidationError(_ENV_CYCLE.format(cycle))

    @validates_schema(pass_original=True, skip_on_field_errors=False)
    def _check_transport(self, data: Mapping[str, Any], original_data: Any, **kwargs: Any) -> None:
        """Transport rules that depend on several fields at once."""
        if not isinstance(original_data, Mapping):
            return
        has_command = "command" in original_data
        has_url = "url" in original_data
        errors: list[str] = []
        if has_command and has_url:
            errors.append(_MIXED)
        elif has_command:
            command = original_data["command"]
            if not js_truthy(command):
                errors.append(_MISSING_COMMAND)
            elif not isinstance(command, str):
                errors.append(_BAD_COMMAND)
        elif has_url:
            if not _is_valid_url(original_data["url"]):
                errors.append(_BAD_URL)
        else:
            errors.append(_NEITHER)
        if js_truthy(original_data.get("dev")) and has_url and not has_command:
            errors.append(_DEV_STDIO_ONLY)
        if errors:
            raise ValidationError(errors)


_SERVER_SCHEMA = _ServerSchema()
# Order in which per-field messages are reported; mirrors mcp-hub's checks.
_FIELD_ORDER = (
    "_schema",
    "command",
    "url",
    "env",
    "headers",
    "cwd",
    "dev",
    "protocolVersion",
)


def _flatten(messages: Any) -> list[str]:
    """All leaf strings of a marshmallow error structure, in order."""
    if isinstance(messages, str):
        return [messages]
    if isinstance(messages, Mapping):
        return [m for value in messages.values() for m in _flatten(value)]
    if isinstance(messages, list | tuple):
        return [m for value in messages for m in _flatten(value)]
    return [str(messages)]


def _validate_entry(name: str, entry: Any) -> list[str]:
    """Every contract message for one normalised entry, in mcp-hub's check order."""
    messages: dict[str, Any] = _SERVER_SCHEMA.validate(entry)
    suffixes: list[str] = []
    schema_level = _flatten(messages.get("_schema", []))
    for key in _FIELD_ORDER:
        if key == "dev" and _DEV_STDIO_ONLY in schema_level:
            continue  # its sub-fields do not matter on a url server
        suffixes.extend(_flatten(messages.get(key, [])))
    for key, value in messages.items():
        if key not in _FIELD_ORDER:
            suffixes.extend(_flatten(value))
    return [f"Server '{name}' {suffix}" for suffix in suffixes]


# --------------------------------------------------------------------------- #
# Public data types
# --------------------------------------------------------------------------- #


@dataclass(frozen=True)
class ServerEntry:
    """One merged server entry; ``config`` keeps its placeholders unresolved.

    ``error`` is the first validation message (what mcp-hub would have thrown)
    and ``errors`` holds all of them; either may be given and the other follows.
    """

    name: str
    config: dict[str, Any]
    error: str | None = None
    errors: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.error is not None and not self.errors:
            object.__setattr__(self, "errors", (self.error,))
        elif self.error is None and self.errors:
            object.__setattr__(self, "error", self.errors[0])

    @property
    def transport(self) -> Literal["stdio", "sse"]:
        """``stdio`` for command servers, ``sse`` for every remote one."""
        kind = self.config.get("type")
        if kind == "stdio" or (kind != "sse" and "command" in self.config):
            return "stdio"
        return "sse"

    @property
    def disabled(self) -> bool:
        """A truthy ``disabled`` (JavaScript's rules: ``"yes"`` too, not ``0``)."""
        return js_truthy(self.config.get("disabled"))


@dataclass(frozen=True)
class HubConfig:
    """The merged result of all config files.

    ``data["mcpServers"][name]`` and ``servers[name].config`` are the same dict.
    """

    paths: tuple[str, ...]
    data: dict[str, Any]
    servers: dict[str, ServerEntry]

    @property
    def errors(self) -> list[str]:
        """Every per-server validation message, server by server."""
        return [message for entry in self.servers.values() for message in entry.errors]

    @functools.cached_property
    def surface(self) -> Surface:
        """What the MCP endpoints show of the servers: filters, ``disabled_*`` lists and
        profiles (keys mcp-hub ignores), read once per revision; its ``errors`` are
        reported by ``check-config`` and logged, and leave the rest of the hub running."""
        return parse_surface(self.data)


# --------------------------------------------------------------------------- #
# Loading
# --------------------------------------------------------------------------- #


def _os_reason(exc: OSError, path: str) -> str:
    """Node-like wording, e.g. ``EACCES: permission denied, open '<path>'``."""
    if isinstance(exc, IsADirectoryError):
        # Node opens a directory and fails reading it.
        return "EISDIR: illegal operation on a directory, read"
    code = errno.errorcode.get(exc.errno or 0, "EIO")
    text = (exc.strerror or str(exc)).lower()
    return f"{code}: {text}, open '{path}'"


def _read_document(path: str) -> dict[str, Any] | None:
    """Parse one file; None when it does not exist, ConfigError when it is bad."""
    try:
        # Node decodes invalid UTF-8 with replacement characters and so do we.
        with open(path, encoding="utf-8", errors="replace") as handle:
            content = handle.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise _file_error(path, _os_reason(exc, path)) from exc
    try:
        document = _parse_json5(content)
    except (ValueError, RecursionError) as exc:
        raise _file_error(path, f"JSON5: {_json5_reason(exc, content)}") from exc
    if isinstance(document, dict) and "servers" in document and js_truthy(document["servers"]):
        # VS Code style: "servers" wins; the key itself is kept.
        document = {**document, "mcpServers": document["servers"]}
    if isinstance(document, dict) and isinstance(document.get("mcpServers"), list):
        # JavaScript's arrays are objects keyed by index: mcp-hub accepts one, so an
        # empty list is an empty map (and an entry's name is its index).
        document = {**document, "mcpServers": keyed_by_index(document["mcpServers"])}
    if not isinstance(document, dict) or not isinstance(document.get("mcpServers"), dict):
        reason = f"Invalid config format in {path}: 'mcpServers' must be an object"
        raise _file_error(path, reason)
    return document


def _parse_json5(content: str) -> Any:
    """JSON5; a plain JSON document (most configs) goes through the standard library.

    The result is the same (JSON is JSON5), and ``json5``'s pure-Python parser takes
    ~40 ms for a config of ten servers, at start-up and on every reload. A document that
    is not plain JSON, a bad one included, is parsed by ``json5``, whose message is the
    one reported.
    """
    try:
        return json.loads(content)
    except (ValueError, RecursionError):
        return json5.loads(content)


_JSON5_END = re.compile(r"^<string>:(\d+) Unexpected end of input at column (\d+)$")
_JSON5_CHAR = re.compile(r'^<string>:(\d+) Unexpected "(.)" at column (\d+)$', re.DOTALL)
_JS_ESCAPES = {
    "'": "\\'",
    "\\": "\\\\",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    "\0": "\\0",
}


def _json5_reason(exc: Exception, content: str) -> str:
    """The JavaScript json5 package's wording (``invalid character 'j' at 1:7``,
    ``invalid end of input at 1:22``), which users of mcp-hub know; the Python
    package's own message for the few errors it words differently."""
    if not content:
        return "invalid end of input at 1:1"
    message = str(exc)
    if match := _JSON5_END.match(message):
        return f"invalid end of input at {match[1]}:{match[2]}"
    if match := _JSON5_CHAR.match(message):
        char = match[2]
        shown = _JS_ESCAPES.get(char) or (f"\\x{ord(char):02x}" if ord(char) < 0x20 else char)
        return f"invalid character '{shown}' at {match[1]}:{match[3]}"
    return message


def _file_error(path: str, reason: str) -> ConfigError:
    return ConfigError(
        f"Failed to load config from {path}: {reason}",
        data={"configPath": path, "error": reason},
    )


def _normalise(entry: Any, source: str) -> dict[str, Any]:
    """Copy an entry, stamp ``config_source`` and ``type``, default stdio ``args``."""
    config: dict[str, Any] = copy.deepcopy(entry) if isinstance(entry, dict) else {}
    config["config_source"] = source
    for key in ("env", "headers"):
        if isinstance(config.get(key), list):  # JavaScript's arrays are objects by index
            config[key] = keyed_by_index(config[key])
    if "command" in config:
        config["type"] = "stdio"
        if not isinstance(config.get("args"), list):
            config["args"] = []
    else:
        config["type"] = "sse"
    return config


def _load(paths: Sequence[str], file_errors: list[str] | None) -> HubConfig:
    """Merge ``paths``; collect file errors into ``file_errors`` or raise the first."""
    if not paths:
        raise ConfigError("No config paths specified")
    data: dict[str, Any] = {"mcpServers": {}}
    raw_entries: dict[str, tuple[Any, str]] = {}
    for path in paths:
        try:
            document = _read_document(path)
        except ConfigError as exc:
            if file_errors is None:
                raise
            file_errors.append(exc.message)
            continue
        if document is None:
            continue
        for name, entry in document["mcpServers"].items():
            # Reassigning keeps the first position, as in a JS object.
            raw_entries[name] = (entry, path)
        for key, value in document.items():
            if key != "mcpServers":
                data[key] = value
    servers: dict[str, ServerEntry] = {}
    merged: dict[str, Any] = {}
    for name, (entry, source) in raw_entries.items():
        config = _normalise(entry, source)
        errors = _validate_entry(name, config)  # not an object: no command nor url in it
        servers[name] = ServerEntry(name=name, config=config, errors=tuple(errors))
        merged[name] = config
    data["mcpServers"] = merged
    return HubConfig(paths=tuple(paths), data=data, servers=servers)


def load_config(paths: Sequence[str]) -> HubConfig:
    """Load and merge ``paths`` as the hub does at startup and on reload.

    Raises :class:`ConfigError` for a file that cannot be used; per-server
    problems end up in :attr:`ServerEntry.error` instead.
    """
    return _load(paths, None)


def config_from_data(data: Mapping[str, Any], paths: Sequence[str] = ()) -> HubConfig:
    """The config whose merged document is *data* (a :attr:`HubConfig.data` of any node:
    cluster mode shares it), validated as if loaded; ``ConfigError`` if it is no document."""
    servers_data = data.get("mcpServers") if isinstance(data, Mapping) else None
    if not isinstance(servers_data, Mapping):
        raise ConfigError("Invalid config: 'mcpServers' must be an object")
    document = copy.deepcopy(dict(data))
    servers: dict[str, ServerEntry] = {}
    merged: dict[str, Any] = {}
    for name, entry in servers_data.items():
        source = entry.get("config_source", "") if isinstance(entry, dict) else ""
        config = _normalise(entry, str(source))
        errors = _validate_entry(name, config)  # not an object: no command nor url in it
        servers[name] = ServerEntry(name=name, config=config, errors=tuple(errors))
        merged[name] = config
    document["mcpServers"] = merged
    return HubConfig(paths=tuple(paths), data=document, servers=servers)


def check_config(paths: Sequence[str]) -> list[str]:
    """Every file-level, per-server, filter and profile error at once; ``[]`` when all is
    valid."""
    file_errors: list[str] = []
    try:
        config = _load(paths, file_errors)
    except ConfigError as exc:
        return [exc.message]
    return file_errors + config.errors + list(config.surface.errors)


# --------------------------------------------------------------------------- #
# Change detection
# --------------------------------------------------------------------------- #


def _json_equal(a: Any, b: Any) -> bool:
    """Deep equality with JSON semantics: ``true`` is not ``1``, ``1`` is ``1.0``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a is b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and bool(a == b)


@dataclass(frozen=True)
class ConfigDiff:
    """What changed between two loads, shaped like mcp-hub's ``changes`` object."""

    added: list[str]
    removed: list[str]
    modified: list[str]
    unchanged: list[str]
    details: dict[str, dict[str, Any]]

    @property
    def significant(self) -> bool:
        """Whether servers must be started, stopped or reconnected."""
        return bool(self.added or self.removed or self.modified)

    def to_json(self) -> dict[str, Any]:
        """The JSON object sent in ``config_changed`` events."""
        return {
            "added": list(self.added),
            "removed": list(self.removed),
            "modified": list(self.modified),
            "unchanged": list(self.unchanged),
            "details": copy.deepcopy(self.details),
        }


def diff_configs(old: HubConfig, new: HubConfig) -> ConfigDiff:
    """Compare :data:`KEY_FIELDS` per server; presence versus absence is a change.

    Absent fields are left out of ``oldValues``/``newValues`` exactly as
    ``undefined`` disappears from mcp-hub's JSON.
    """
    removed = [name for name in old.servers if name not in new.servers]
    added: list[str] = []
    modified: list[str] = []
    unchanged: list[str] = []
    details: dict[str, dict[str, Any]] = {}
    for name, entry in new.servers.items():
        previous = old.servers.get(name)
        if previous is None:
            added.append(name)
            continue
        before, after = previous.config, entry.config
        changed = [
            key
            for key in KEY_FIELDS
            if (key in before) != (key in after)
            or (key in before and not _json_equal(before[key], after[key]))
        ]
        if not changed:
            unchanged.append(name)
            continue
        modified.append(name)
        details[name] = {
            "modifiedFields": changed,
            "oldValues": {k: copy.deepcopy(before[k]) for k in changed if k in before},
            "newValues": {k: copy.deepcopy(after[k]) for k in changed if k in after},
        }
    return ConfigDiff(
        added=added, removed=removed, modified=modified, unchanged=unchanged, details=details
    )
