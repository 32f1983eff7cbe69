"""Inbound authentication: the API keys clients must present on ``/api/*`` and ``/mcp``.

Off unless keys are configured. Keys come from ``--auth-token-file FILE`` (one per line,
``name:token`` or a bare token; blank lines and ``#`` comments are skipped) and from the
environment variable ``MCP_HUB_AUTH_TOKENS`` (``name:token,name:token``). Each key has a
name, which is what logs and metrics show; the token itself is hashed on load and never
kept, logged or echoed, not even in a configuration error.

A request presents its token as ``Authorization: Bearer <token>`` or ``X-API-Key: <token>``.
Presented tokens are hashed and compared with every key in constant time.

Nothing here knows about HTTP frameworks; ``HubHandler.authenticate`` (``handlers/base.py``)
applies it. Outbound OAuth (the hub as a client of remote servers) is :mod:`tornadohub.oauth`.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import stat
from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tornadohub.policy import ip_literal, is_loopback

log = logging.getLogger("tornadohub.auth")

AUTH_TOKENS_ENV = "MCP_HUB_AUTH_TOKENS"
#: Shorter tokens are refused: they could be guessed (``openssl rand -hex 32`` makes a good one).
MIN_TOKEN_LENGTH = 16
#: The ``WWW-Authenticate`` challenge of every 401.
REALM = "mcp-hub"

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")
_TOKEN = re.compile(r"[\x21-\x7e]+")  # printable ASCII without spaces: safe in any header


class AuthConfigError(Exception):
    """The keys cannot be loaded; the message names the source and line, never a token."""


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


@dataclass(frozen=True)
class ApiKey:
    """A named key; only the token's SHA-256 is kept."""

    name: str
    digest: bytes = field(repr=False)

    @classmethod
    def from_token(cls, name: str, token: str) -> ApiKey:
        return cls(name, _digest(token))


class Keyring:
    """The configured keys, and the check of a presented token against them."""

    def __init__(self, keys: Sequence[ApiKey]) -> None:
        if not keys:
            raise AuthConfigError("no API keys given")
        seen: dict[bytes, str] = {}
        names: set[str] = set()
        for key in keys:
            if key.name in names:
                raise AuthConfigError(f"API key name {key.name!r} is used twice")
            if key.digest in seen:
                raise AuthConfigError(f"API keys {seen[key.digest]!r} and {key.name!r} are equal")
            names.add(key.name)
            seen[key.digest] = key.name
        self._keys = tuple(keys)

    @property
    def names(self) -> list[str]:
        return [key.name for key in self._keys]

    def __len__(self) -> int:
        return len(self._keys)

    def authenticate(self, token: str) -> ApiKey | None:
        """The key whose token is *token*, or None.

        Every key is compared, matched or not, so the time taken tells neither which key
        matched nor how much of a token was right.
        """
        presented = _digest(token)
        found: ApiKey | None = None
        for key in self._keys:
            if hmac.compare_digest(presented, key.digest) and found is None:
                found = key
        return found


def parse_entries(entries: Iterable[tuple[int, str]], *, prefix: str, where: str) -> list[ApiKey]:
    """Keys from ``(position, text)`` entries: ``name:token`` or a bare ``token``.

    A bare token is named ``<prefix>-<position>``. Errors start with *where* and the position.
    """
    keys: list[ApiKey] = []
    for position, raw in entries:
        text = raw.strip()
        place = f"{where} {position}"
        if ":" in text:
            name, token = (part.strip() for part in text.split(":", 1))
            if not _NAME.fullmatch(name):
                raise AuthConfigError(
                    f"{place}: invalid key name (letters, digits and _ . @ - only, at most 64)"
                )
        else:
            name, token = f"{prefix}-{position}", text
        if not _TOKEN.fullmatch(token):
            raise AuthConfigError(f"{place}: the token is empty or has spaces or non-ASCII")
        if len(token) < MIN_TOKEN_LENGTH:
            raise AuthConfigError(
                f"{place}: the token is shorter than {MIN_TOKEN_LENGTH} characters"
            )
        keys.append(ApiKey.from_token(name, token))
    return keys


def read_token_file(path: str | Path) -> list[ApiKey]:
    """Keys from a file; warns when other users may read it."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
        mode = file.stat().st_mode
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
        raise AuthConfigError(f"cannot read token file {file}: {reason}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning(
            "Token file %s is readable by other users; chmod 600 it",
            file,
            extra={"data": {"path": str(file)}},
        )
    entries = [
        (number, line)
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    return parse_entries(entries, prefix="file", where=f"token file {file}, line")


def parse_env_tokens(value: str) -> list[ApiKey]:
    """Keys from ``MCP_HUB_AUTH_TOKENS``: ``name:token`` entries separated by commas."""
    entries = [
        (number, item) for number, item in enumerate(value.split(","), start=1) if item.strip()
    ]
    return parse_entries(entries, prefix="env", where=f"{AUTH_TOKENS_ENV}, entry")


def load_keyring(token_file: str | None, environ: Mapping[str, str]) -> Keyring | None:
    """The keys from the token file and the environment, or None when auth is off."""
    keys: list[ApiKey] = []
    if token_file is not None:
        keys += read_token_file(token_file)
        if not keys:
            raise AuthConfigError(f"token file {token_file} has no tokens")
    from_env = environ.get(AUTH_TOKENS_ENV, "")
    if from_env.strip():
        keys += parse_env_tokens(from_env)
    return Keyring(keys) if keys else None


def presented_token(authorization: str | None, api_key: str | None) -> str | None:
    """The token of ``Authorization: Bearer <token>``, else of ``X-API-Key``, else None."""
    if authorization:
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    if api_key and api_key.strip():
        return api_key.strip()
    return None


def challenge(*, invalid: bool) -> str:
    """The ``WWW-Authenticate`` value (RFC 6750): ``invalid_token`` when one was presented."""
    value = f'Bearer realm="{REALM}"'
    return value + ', error="invalid_token"' if invalid else value


def is_loopback_host(host: str) -> bool:
    """Whether listening on *host* keeps the hub reachable from this machine only
    (``localhost``, or a loopback address in any spelling: ``127.1``, ``::1``)."""
    name = host.strip().strip("[]").lower().rstrip(".")
    return name == "localhost" or (ip_literal(name) is not None and is_loopback(name))


def drop_from_environment(environ: MutableMapping[str, str]) -> None:
    """Remove ``MCP_HUB_AUTH_TOKENS`` so no child, ``${cmd: ...}`` or placeholder sees it."""
    environ.pop(AUTH_TOKENS_ENV, None)
