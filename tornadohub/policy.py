"""The HTTP edge policy: which requests the hub serves at all, decided once for every route.

A web page the user has open can send requests to the hub: cross-origin ``text/plain`` and
form posts go out without a CORS preflight, and a DNS-rebinding page reaches the hub under
its own host name. So, before any route runs (``handlers/base.py:HubHandler`` applies this
to REST, ``/api/events``, ``/mcp``, probes and every route added later):

* ``Host`` must name the hub: a loopback name or address (``localhost``, ``*.localhost``,
  127.0.0.0/8 in any spelling, ``::1``), the address it listens on, or a name given with
  ``--allowed-hosts``; bound to every interface (``0.0.0.0``/``::``), any IP literal too,
  since DNS rebinding always arrives with a *name*. Otherwise 421.
* ``Origin``, when a browser sends one, must be the hub's own (an allowed host and the port
  the client used) or listed in ``--allowed-origins``; ``null`` and everything else get 403.
  Without ``Origin``, a browser's ``Sec-Fetch-Site: cross-site``/``same-site`` gets 403 too
  (no-cors GETs from other pages carry no Origin).
* Bodies are parsed only as ``application/json`` or ``*/*+json`` (415 otherwise), at most
  :data:`MAX_BODY_BYTES` (413), without ``NaN``/``Infinity``, lone surrogates, and at most
  :data:`MAX_JSON_DEPTH` levels deep (400); headers at most :data:`MAX_HEADER_BYTES` (431).
* CORS headers go only to the origins of ``--allowed-origins``.

Nothing here imports tornado: the decisions are plain functions of header values.
"""

from __future__ import annotations

import enum
import ipaddress
import json
import math
import re
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit

from tornadohub import jsontext

#: Request bodies above this are refused with 413, on every route (``/mcp`` included) and by
#: the HTTP server itself (mcp-hub: 100 kB; tool arguments can be big).
MAX_BODY_BYTES: Final = 4 * 1024 * 1024
#: Request headers above this are refused with 431.
MAX_HEADER_BYTES: Final = 64 * 1024
#: JSON bodies nested deeper than this are refused with 400 (a depth bomb is cheap to send).
MAX_JSON_DEPTH: Final = 100

ALLOWED_HOSTS_ENV: Final = "MCP_HUB_ALLOWED_HOSTS"
ALLOWED_ORIGINS_ENV: Final = "MCP_HUB_ALLOWED_ORIGINS"

WILDCARD_ADDRESSES: Final = frozenset({"", "0.0.0.0", "::"})
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
_HOST_CHARS = re.compile(r"[a-z0-9._~%:-]+|\[[0-9a-f:.%a-z]+\]")
_NAME = re.compile(
    r"(?:\*\.)?[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*"
)
_DIGITS = re.compile(r"[0-9]+")
_PORT = re.compile(r"[0-9]{1,5}")
_NUMERIC_V4 = re.compile(r"[0-9a-fx.]+")
_VERDICT_CACHE_SIZE: Final = 1024
#: Response headers a configured cross-origin client may read.
_EXPOSED_HEADERS: Final = "Mcp-Session-Id, Mcp-Protocol-Version, WWW-Authenticate"


class PolicyConfigError(Exception):
    """``--allowed-hosts`` or ``--allowed-origins`` has an entry that cannot be used."""


class Check(enum.Enum):
    """The parts of the policy a route may opt out of (``HubHandler.exempt_from``; API keys
    are not part of the policy: ``HubHandler.auth_required``)."""

    host = "host"  # the Host header
    site = "site"  # Origin and Sec-Fetch-Site


@dataclass(frozen=True)
class Refusal:
    """Why a request is refused: HTTP status, mcp-hub envelope code and message."""

    status: int
    code: str
    message: str
    data: dict[str, Any] = field(default_factory=dict)


HOST_REFUSED: Final = Refusal(421, "INVALID_HOST", "Invalid Host header: not a name of this hub")
ORIGIN_REFUSED: Final = Refusal(
    403, "INVALID_ORIGIN", "Invalid Origin header: cross-origin request"
)
CROSS_SITE_REFUSED: Final = Refusal(
    403, "CROSS_SITE_REQUEST", "Cross-site request refused (Sec-Fetch-Site)"
)
MEDIA_TYPE_REFUSED: Final = Refusal(
    415, "UNSUPPORTED_MEDIA_TYPE", "Unsupported Media Type: the body must be application/json"
)
HEADERS_REFUSED: Final = Refusal(
    431, "HEADERS_TOO_LARGE", "Request headers too large", {"limit": MAX_HEADER_BYTES}
)
BODY_REFUSED: Final = Refusal(
    413, "PAYLOAD_TOO_LARGE", "Request body too large", {"limit": MAX_BODY_BYTES}
)


# ------------------------------------------------------------------ hosts
def split_host(value: str) -> tuple[str, int | None] | None:
    """``Host`` header -> (host: lower case, no brackets or final dot; port); None if malformed."""
    value = value.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return None
        host, rest = value[1:end], value[end + 1 :]
        if rest and not (rest.startswith(":") and _PORT.fullmatch(rest[1:])):
            return None
        port = rest[1:] if rest else ""
    else:
        host, colon, port = value.partition(":")
        if colon and not _PORT.fullmatch(port):
            return None
    if not host or not _HOST_CHARS.fullmatch(host if ":" not in host else f"[{host}]"):
        return None
    number = int(port) if port else None
    host = host.rstrip(".")
    if not host or (number is not None and not 0 < number < 65536):
        return None
    return host, number


def ip_literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """*host* as an IP address, in every spelling a browser or ``inet_aton`` reads as one
    (``127.1``, ``0x7f.0.0.1``, ``2130706433``); None for a name."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if _NUMERIC_V4.fullmatch(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def is_loopback(host: str) -> bool:
    """``localhost``, a ``*.localhost`` name, or a loopback address (``127.0.0.0/8``, ``::1``).

    ``.localhost`` is reserved for loopback (RFC 6761, and browsers resolve it there
    themselves), so no one can point such a name at their own server for a rebinding.
    """
    if host == "localhost" or host.endswith(".localhost"):
        return True
    address = ip_literal(host)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address is not None and address.is_loopback


def parse_allowed_hosts(entries: Iterable[str]) -> frozenset[str]:
    """``--allowed-hosts`` entries: names (``hub.example.com``, ``*.example.com``) or IPs.

    A leading ``*.`` allows every subdomain (not the name itself): the operator controls that
    zone's DNS, and rebinding needs the attacker to control the name's DNS. Ports, schemes
    and paths are refused: the Host check is about names, any port matches.
    """
    hosts: set[str] = set()
    for raw in entries:
        entry = raw.strip().lower()
        if not entry:
            continue
        bare = entry[1:-1] if entry.startswith("[") and entry.endswith("]") else entry
        if ip_literal(bare) is not None:
            hosts.add(str(ip_literal(bare)))
            continue
        name = bare.rstrip(".")
        if not _NAME.fullmatch(name) or name == "*":
            raise PolicyConfigError(
                f"--allowed-hosts: {raw.strip()!r} is not a host name (give names like"
                " hub.example.com or *.example.com, without scheme or port)"
            )
        hosts.add(name)
    return frozenset(hosts)


# ---------------------------------------------------------------- origins
def normalise_origin(value: str) -> tuple[str, str, int] | None:
    """An ``Origin`` (``scheme://host[:port]``) as (scheme, host, port); None if it is not one."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or parts.path not in ("", "/") or parts.query:
        return None
    if parts.username is not None or parts.password is not None or parts.fragment:
        return None
    host = (parts.hostname or "").rstrip(".")
    if not host:
        return None
    return scheme, host, port if port is not None else _DEFAULT_PORTS[scheme]


def origin_text(scheme: str, host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}" if _DEFAULT_PORTS[scheme] == port else f"{scheme}://{shown}:{port}"


def parse_allowed_origins(entries: Iterable[str]) -> frozenset[str]:
    """``--allowed-origins`` entries, each exactly ``scheme://host[:port]`` (no ``*``)."""
    origins: set[str] = set()
    for raw in entries:
        if not raw.strip():
            continue
        parsed = normalise_origin(raw)
        if parsed is None:
            raise PolicyConfigError(
                f"--allowed-origins: {raw.strip()!r} is not an origin"
                " (scheme://host[:port], e.g. http://localhost:6274)"
            )
        origins.add(origin_text(*parsed))
    return frozenset(origins)


def split_list(value: str | None) -> list[str]:
    """A comma-separated flag or environment value as a list of entries."""
    return [item for item in (value or "").split(",") if item.strip()]


# ----------------------------------------------------------------- policy
@dataclass(frozen=True)
class EdgePolicy:
    """What the hub accepts; :meth:`refusal` decides one request from its headers."""

    bound_host: str = "127.0.0.1"
    allowed_hosts: frozenset[str] = frozenset()
    allowed_origins: frozenset[str] = frozenset()
    #: Host header value -> allowed; the same few values arrive on every request.
    _host_verdicts: dict[str, bool] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    def host_header_allowed(self, value: str) -> bool:
        """Whether a ``Host`` header value names this hub (well-formed and allowed)."""
        verdict = self._host_verdicts.get(value)
        if verdict is None:
            host = split_host(value)
            verdict = host is not None and self.host_allowed(host[0])
            if len(self._host_verdicts) >= _VERDICT_CACHE_SIZE:
                self._host_verdicts.clear()
            self._host_verdicts[value] = verdict
        return verdict

    @property
    def any_interface(self) -> bool:
        return self.bound_host.strip("[]") in WILDCARD_ADDRESSES

    def host_allowed(self, host: str) -> bool:
        """Whether *host* (from :func:`split_host`) names this hub."""
        if is_loopback(host) or host in self.allowed_hosts:
            return True
        if any(entry.startswith("*.") and host.endswith(entry[1:]) for entry in self.allowed_hosts):
            return True
        address = ip_literal(host)
        if address is not None:
            if self.any_interface or str(address) in self.allowed_hosts:
                return True
            bound = ip_literal(self.bound_host.strip("[]"))
            return bound is not None and bound == address
        return host == self.bound_host.strip("[]").lower().rstrip(".")

    def origin_allowed(self, origin: str, host_header: str | None) -> bool:
        """Whether a browser page at *origin* may use the hub (reached as *host_header*).

        The page must be the hub's own: same port as the request, and a host that names the
        hub (for an IP literal on a hub bound to every interface: the very address of the
        request, since any address is accepted there). Or it is listed in ``--allowed-origins``.
        """
        parsed = normalise_origin(origin)
        if parsed is None:
            return False
        scheme, host, port = parsed
        if origin_text(scheme, host, port) in self.allowed_origins:
            return True
        target = split_host(host_header or "")
        if target is None:
            return False
        target_host, target_port = target
        if port != (target_port if target_port is not None else _DEFAULT_PORTS[scheme]):
            return False
        if host == target_host:
            return self.host_allowed(host)
        if ip_literal(host) is not None and self.any_interface:
            return is_loopback(host) or str(ip_literal(host)) in self.allowed_hosts
        return self.host_allowed(host)

    def refusal(
        self,
        method: str,
        headers: Mapping[str, str],
        *,
        exempt: frozenset[Check] = frozenset(),
        header_bytes: int = 0,
        check_body: bool = True,
    ) -> Refusal | None:
        """The first rule *headers* break (Host, size, Origin, body), or None.

        *headers* is looked up with canonical names (``Host``, ``Origin``, ``Content-Type``);
        *check_body* False skips the body rules (a method the route does not take: 405).
        """
        host_header = headers.get("Host")
        if Check.host not in exempt and host_header is not None:
            if not self.host_header_allowed(host_header):
                return HOST_REFUSED
        if header_bytes > MAX_HEADER_BYTES:
            return HEADERS_REFUSED
        if Check.site not in exempt:
            origin = headers.get("Origin")
            if origin is not None:
                if not self.origin_allowed(origin, host_header):
                    return ORIGIN_REFUSED
            elif headers.get("Sec-Fetch-Site", "").lower() in ("cross-site", "same-site"):
                return CROSS_SITE_REFUSED
        return body_refusal(method, headers) if check_body else None

    def cors_headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        """CORS response headers for a request from a configured origin (else none)."""
        origin = headers.get("Origin")
        parsed = normalise_origin(origin) if origin else None
        if parsed is None or origin_text(*parsed) not in self.allowed_origins:
            return {}
        return {
            "Access-Control-Allow-Origin": origin_text(*parsed),
            "Access-Control-Expose-Headers": _EXPOSED_HEADERS,
            "Vary": "Origin",
        }

    def preflight_headers(self, headers: Mapping[str, str]) -> dict[str, str] | None:
        """The answer to a CORS preflight from a configured origin; None if it is not one."""
        cors = self.cors_headers(headers)
        if not cors or "Access-Control-Request-Method" not in headers:
            return None
        requested = headers.get("Access-Control-Request-Headers", "")
        return {
            **cors,
            "Access-Control-Allow-Methods": "GET, POST, DELETE, OPTIONS",
            "Access-Control-Allow-Headers": requested,
            "Access-Control-Max-Age": "600",
        }


def body_refusal(method: str, headers: Mapping[str, str]) -> Refusal | None:
    """A body the hub will not read: too large (413), or declared other than JSON (415)."""
    length_text = headers.get("Content-Length", "").strip()
    length = int(length_text[:19]) if _DIGITS.fullmatch(length_text) else 0
    if length > MAX_BODY_BYTES:
        return BODY_REFUSED
    has_body = length > 0 or "Transfer-Encoding" in headers
    content_type = headers.get("Content-Type")
    declared = content_type is not None and method not in ("GET", "HEAD", "OPTIONS")
    if (has_body or declared) and not is_json_type(content_type or ""):
        return MEDIA_TYPE_REFUSED
    return None


def is_json_type(content_type: str) -> bool:
    """``application/json`` or a ``+json`` type, any parameters; not ``text/plain;x=json``."""
    media = content_type.split(";", 1)[0].strip().lower()
    kind, slash, subtype = media.partition("/")
    return (
        bool(kind) and slash == "/" and (media == "application/json" or subtype.endswith("+json"))
    )


# ------------------------------------------------------------------- JSON
class JsonBodyError(ValueError):
    """A body that is not acceptable JSON; the message says why."""


def _no_constant(name: str) -> Any:
    raise JsonBodyError(f"{name} is not valid JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JsonBodyError(f"number {text[:20]}... is out of range")
    return value


def parse_json(body: bytes, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Strict JSON: no ``NaN``/``Infinity``, finite numbers, at most *max_depth* deep, and
    strings of Unicode text.

    A lone surrogate (``"\\ud800"``: JSON grammar, no character) is refused here, with the
    parse errors: the hub could write it neither upstream nor back (:mod:`tornadohub.jsontext`).
    """
    try:
        value = json.loads(body, parse_constant=_no_constant, parse_float=_finite)
    except RecursionError:
        raise JsonBodyError(f"JSON nested deeper than {max_depth} levels") from None
    except JsonBodyError:
        raise
    except (ValueError, UnicodeDecodeError) as exc:
        raise JsonBodyError(str(exc)) from None
    if jsontext.nested_deeper(body, value, max_depth):
        raise JsonBodyError(f"JSON nested deeper than {max_depth} levels")
    if jsontext.may_have_surrogates(body) and jsontext.has_lone_surrogate(value):
        raise JsonBodyError("JSON string with a lone surrogate (\\uD800-\\uDFFF): not Unicode text")
    return value


def policy_from(
    bound_host: str, hosts: Iterable[str] = (), origins: Iterable[str] = ()
) -> EdgePolicy:
    """The policy for a hub bound to *bound_host* with the operator's extra hosts and origins."""
    return EdgePolicy(
        bound_host=bound_host,
        allowed_hosts=parse_allowed_hosts(hosts),
        allowed_origins=parse_allowed_origins(origins),
    )
