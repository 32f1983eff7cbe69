"""The REST half of the fuzz pass: cases for every route, and what every answer must be.

Cases are built from a fixed table of bad values and a seeded shuffle, so a run is the
same run every time; :func:`rest_cases` bounds the count. Bodies are written as JSON
*text* (not ``json.dumps`` of Python values) so that lone surrogates, duplicate keys,
10,000-deep nesting, 5,000-digit integers and broken JSON reach the hub as such.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from tests.fuzz.wire import Answer

#: Bad values for a field or a whole body, as JSON text.
BAD_VALUES: list[tuple[str, str]] = [
    ("null", "null"),
    ("zero", "0"),
    ("negative", "-1"),
    ("float", "1.5"),
    ("big-float", "1e308"),
    ("true", "true"),
    ("false", "false"),
    ("empty-array", "[]"),
    ("array", '[1, "a", null]'),
    ("empty-object", "{}"),
    ("nested-object", '{"a": {"b": [1, {"c": null}]}}'),
    ("empty-string", '""'),
    ("nul", '"a\\u0000b"'),
    ("lone-surrogate", '"\\ud800"'),
    ("reversed-surrogates", '"\\udc00x\\ud800"'),
    ("unicode", '"\\u00e9\\ud834\\udd1e\\u202e"'),
    ("crlf", '"a\\r\\nb"'),
    ("path", '"../../etc/passwd"'),
    ("huge-string", '"' + "x" * (1 << 20) + '"'),
    ("huge-int", "1" + "0" * 400),
    ("too-many-digits", "9" * 5000),
    ("deep-300", '{"a": ' * 300 + "1" + "}" * 300),
    ("deep-10k", "[" * 10_000 + "]" * 10_000),
]

#: Whole bodies that are not JSON at all, or not quite.
MALFORMED: list[tuple[str, bytes]] = [
    ("truncated", b'{"server_name": "fuzz-nobody"'),
    ("no-value", b'{"server_name": }'),
    ("single-quotes", b"{'server_name': 'fuzz-nobody'}"),
    ("trailing-comma", b'{"server_name": "fuzz-nobody",}'),
    ("two-documents", b'{"a": 1}{"b": 2}'),
    ("trailing-garbage", b'{"a": 1} x'),
    ("nan", b'{"a": NaN}'),
    ("infinity", b'{"a": -Infinity}'),
    ("bad-utf8", b'{"server_name": "\xff\xfe"}'),
    ("utf16-bom", '{"server_name": "fuzz-nobody"}'.encode("utf-16")),
    ("utf8-bom", b'\xef\xbb\xbf{"server_name": "fuzz-nobody"}'),
    ("nul-byte", b"\x00"),
    ("whitespace", b" \t\r\n "),
    ("bare-word", b"hello"),
    ("control-in-string", b'{"server_name": "a\x01b"}'),
    ("bad-escape", b'{"server_name": "\\x41"}'),
    ("short-unicode-escape", b'{"server_name": "\\u12"}'),
    ("deep-object-10k", b'{"a":' * 10_000 + b"1" + b"}" * 10_000),
    ("unclosed-deep", b"[" * 10_000),
]

CONTENT_TYPES = [
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/json; charset=latin-1",
    "application/json; charset=utf-16",
    "APPLICATION/JSON",
    "application/jsonx",
    "application/merge-patch+json",
    "application/json, text/plain",
    ";",
    "",
]

METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE", "PROPFIND"]

#: Query strings with odd encodings, tried on every route.
ODD_QUERIES = [
    "%ZZ",
    "%",
    "a=%",
    "a=%00",
    "a=%FF%FE",
    "a=%C0%AE%C0%AE",
    "a=%ED%A0%80",
    "a=b&a=c&a=",
    "=&&=&",
    "a+b=c+d",
    "a=" + "x" * 4000,
    ";a=b;c",
    "a[]=1&a[x]=2",
    "a=%E2%80%AE",
]


@dataclass(frozen=True)
class Route:
    """One route: its method, path, body fields (name → a good value as JSON text) and query."""

    method: str
    path: str
    fields: dict[str, str] = field(default_factory=dict)
    query: dict[str, list[str]] = field(default_factory=dict)
    #: Send bodies? (False: a route whose POST restarts or stops the hub: wrong methods only.)
    bodies: bool = True
    #: What the route answers on success other than JSON (HTML, text, a stream).
    json_answers: bool = True


#: Every route of the hub's table with bodies or query parameters the fuzz pass may send.
#: Names that would change state (stop, start, authorize, add) are of no configured server.
ROUTES: list[Route] = [
    Route("GET", "/api/health"),
    Route("GET", "/api/workspaces"),
    Route("GET", "/api/servers"),
    Route("POST", "/api/servers/info", {"server_name": '"everything"'}),
    Route("POST", "/api/servers/start", {"server_name": '"no-such-server"'}, {"node": ["n1"]}),
    Route(
        "POST",
        "/api/servers/stop",
        {"server_name": '"no-such-server"'},
        {"disable": ["true", "TRUE", "1", "yes"], "node": ["n1"]},
    ),
    Route("POST", "/api/servers/refresh", {"server_name": '"garbage"'}),
    Route("GET", "/api/refresh"),
    Route(
        "POST",
        "/api/servers/tools",
        {
            "server_name": '"everything"',
            "tool": '"echo"',
            "arguments": '{"message": "fuzz"}',
            "request_options": '{"timeout": 5000}',
        },
    ),
    Route(
        "POST",
        "/api/servers/resources",
        {
            "server_name": '"everything"',
            "uri": '"fixture://readme"',
            "request_options": '{"timeout": 5000}',
        },
    ),
    Route(
        "POST",
        "/api/servers/prompts",
        {
            "server_name": '"everything"',
            "prompt": '"simple"',
            "arguments": '{"a": "x"}',
            "request_options": '{"timeout": 5000}',
        },
    ),
    Route("POST", "/api/restart", bodies=False),
    Route("POST", "/api/hard-restart", bodies=False),
    Route("GET", "/api/events", json_answers=False),
    Route("GET", "/healthz", json_answers=False),
    Route("GET", "/readyz", json_answers=False),
    Route("GET", "/metrics", json_answers=False),
    Route(
        "GET",
        "/api/marketplace",
        query={"search": ["x", "%00"], "category": ["c"], "tags": ["a,b", ",,"], "sort": ["bogus"]},
    ),
    Route("POST", "/api/marketplace/details", {"mcpId": '"no-such-id"'}),
    Route("POST", "/api/servers/authorize", {"server_name": '"no-such-server"'}),
    Route(
        "GET",
        "/api/oauth/callback",
        query={"server_name": ["no-such-server"], "code": ["c"], "state": ["s"], "iss": ["i"]},
        json_answers=False,
    ),
    Route(
        "POST",
        "/api/oauth/manual_callback",
        {"url": '"http://127.0.0.1/api/oauth/callback?server_name=no-such-server&code=c"'},
    ),
    Route("GET", "/api/openapi.json"),
    Route(
        "GET",
        "/api/logs",
        query={
            "server_name": ["everything", "no-such-server"],
            "level": ["debug", "bogus", "ERROR"],
            "limit": ["1", "0", "-1", "1001", "99999999999999999999", "1.5", "\u00b2", "\u0661"],
        },
    ),
    Route("GET", "/api/stats"),
    Route(
        "POST",
        "/api/marketplace/add",
        {
            "mcpId": '"no-such-id"',
            "installation": '"x"',
            "name": '"fuzz-added"',
            "params": '{"KEY": "v"}',
            "force": "false",
        },
    ),
    Route("GET", "/", json_answers=False),
    Route("GET", "/ui", json_answers=False),
    Route("GET", "/ui/app.js", json_answers=False),
]

#: Paths no route has, or spelled oddly.
ODD_PATHS = [
    "/api/nope",
    "/API/HEALTH/",
    "/api//servers",
    "/api/servers/%00",
    "/api/servers/..%2f..%2fetc%2fpasswd",
    "/ui/..%2f..%2fetc%2fpasswd",
    "/ui/%2e%2e",
    "/ui/%00",
    "/ui/%FF",
    "/api/" + "a" * 6000,
    "/api/health%20",
    "/api/health;x=y",
    "//api/health",
]


@dataclass(frozen=True)
class Case:
    """One request of the fuzz pass."""

    name: str
    method: str
    target: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    route: Route | None = None


JSON_HEADERS = (("Content-Type", "application/json"),)


def _object(fields: dict[str, str]) -> bytes:
    return ("{" + ", ".join(f"{json.dumps(k)}: {v}" for k, v in fields.items()) + "}").encode()


def _route_cases(route: Route) -> Iterator[Case]:
    path = route.path
    for method in METHODS:
        if method != route.method:
            yield Case(f"{path} method {method}", method, path, route=route)
    # A route that restarts or stops the hub gets odd queries on a method it refuses.
    query_method = route.method if route.bodies else "GET"
    for query in ODD_QUERIES:
        yield Case(f"{path} query {query[:20]}", query_method, f"{path}?{query}", route=route)
    for name, values in route.query.items():
        for value in values:
            encoded = value.encode().hex()
            escaped = "".join(f"%{encoded[i : i + 2]}" for i in range(0, len(encoded), 2))
            target = f"{path}?{name}={escaped}"
            body = _object(route.fields) if route.method == "POST" else b""
            headers = JSON_HEADERS if route.method == "POST" else ()
            yield Case(f"{path} {name}={value!r}", route.method, target, headers, body, route)
    if route.method != "POST" or not route.bodies:
        return
    good = _object(route.fields)
    for label, value in BAD_VALUES:
        yield Case(f"{path} body {label}", "POST", path, JSON_HEADERS, value.encode(), route)
    for label, raw in MALFORMED:
        yield Case(f"{path} body {label}", "POST", path, JSON_HEADERS, raw, route)
    yield Case(f"{path} body empty", "POST", path, JSON_HEADERS, b"", route)
    for content_type in CONTENT_TYPES:
        headers = (("Content-Type", content_type),)
        yield Case(f"{path} content-type {content_type!r}", "POST", path, headers, good, route)
    yield Case(f"{path} no content-type", "POST", path, (), good, route)
    twice = (("Content-Type", "application/json"), ("Content-Type", "text/plain"))
    yield Case(f"{path} two content-types", "POST", path, twice, good, route)
    for name in route.fields:
        for label, value in BAD_VALUES:
            body = _object({**route.fields, name: value})
            yield Case(f"{path} {name}={label}", "POST", path, JSON_HEADERS, body, route)
        inner = json.loads(route.fields[name])
        for key in inner if isinstance(inner, dict) else ():
            for label, value in BAD_VALUES:
                members = {k: json.dumps(v) for k, v in inner.items()}
                nested = _object({**members, key: value}).decode()
                body = _object({**route.fields, name: nested})
                yield Case(f"{path} {name}.{key}={label}", "POST", path, JSON_HEADERS, body, route)
        missing = {k: v for k, v in route.fields.items() if k != name}
        yield Case(f"{path} without {name}", "POST", path, JSON_HEADERS, _object(missing), route)
        # Duplicate keys: the last one wins in Python's parser (and JSON.parse).
        duplicated = good[:-1] + f', {json.dumps(name)}: "dup"}}'.encode()
        yield Case(f"{path} duplicate {name}", "POST", path, JSON_HEADERS, duplicated, route)
    extra = {**route.fields, "extra": '{"x": [1]}', "__proto__": '{"polluted": true}'}
    yield Case(f"{path} extra fields", "POST", path, JSON_HEADERS, _object(extra), route)


def rest_cases(seed: int, limit: int) -> list[Case]:
    """Every route's cases and the odd paths, shuffled by *seed*, at most *limit* of them.

    The cut keeps a share of each route, so a smaller limit still touches every route.
    """
    rng = random.Random(seed)
    per_route = [list(_route_cases(route)) for route in ROUTES]
    per_route.append([Case(f"path {p[:30]}", m, p) for p in ODD_PATHS for m in ("GET", "POST")])
    total = sum(len(cases) for cases in per_route)
    chosen: list[Case] = []
    for cases in per_route:
        share = max(1, len(cases) * limit // total) if total > limit else len(cases)
        chosen += rng.sample(cases, min(share, len(cases)))
    rng.shuffle(chosen)
    return chosen


#: Codes of the 500s a route may answer by design (an upstream failed, no catalog), never
#: for the shape of the request.
UPSTREAM_CODES = {
    "CONNECTION_ERROR",
    "MARKETPLACE_ERROR",
    "TOOL_EXECUTION_ERROR",
    "RESOURCE_READ_ERROR",
    "PROMPT_EXECUTION_ERROR",
    "SERVER_ERROR",
    # mcp-hub answers 500 for every failure of an upstream call, an unknown tool included.
    "TOOL_ERROR",
    "RESOURCE_ERROR",
    "OPEN_REQUEST_ERROR",
}


def rest_problems(case: Case, answer: Answer) -> list[str]:
    """What is wrong with *answer* to *case*: an empty list when nothing is."""
    if answer.failure is not None:
        return [answer.failure]
    problems = []
    status = answer.status
    expects_json = case.route.json_answers if case.route is not None else True
    if case.method == "HEAD":
        return ["5xx to HEAD"] if status >= 500 else []
    is_error = status >= 400
    if (is_error or expects_json) and status not in (204, 101):
        if answer.content_type != "application/json" and not (
            # The wire layer refuses a request it cannot parse before any route sees it.
            status == 400 and not answer.headers.get("content-type")
        ):
            problems.append(f"{status} answered {answer.content_type or 'no content type'}")
            return problems
        if answer.content_type == "application/json":
            try:
                body: Any = answer.json()
            except ValueError:
                return [f"{status} body is not JSON: {answer.body[:200]!r}"]
            if is_error:
                problems += _envelope_problems(body)
    if status >= 500:
        code = body.get("code") if answer.content_type == "application/json" else None
        if code not in UPSTREAM_CODES and not isinstance(code, int):
            problems.append(f"{status} {answer.body[:300]!r}")
    return problems


def _envelope_problems(body: Any) -> list[str]:
    if not isinstance(body, dict) or set(body) != {"error", "code", "data", "timestamp"}:
        return [f"not the error envelope: {str(body)[:300]}"]
    problems = []
    if not isinstance(body["error"], str) or not body["error"]:
        problems.append(f"error is not a message: {body['error']!r}")
    if not isinstance(body["code"], str | int):
        problems.append(f"code is {body['code']!r}")
    if not isinstance(body["data"], dict):
        problems.append(f"data is {body['data']!r}")
    return problems
