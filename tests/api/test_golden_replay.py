"""Replay of mcp-hub 4.2.1's 71 captured REST exchanges (tests/golden/rest) against our hub.

The hub runs the capture's servers: the npm reference servers ``server-everything`` (STDIO,
and again over Streamable HTTP) and ``server-memory`` at the captured versions, installed by
``python -m tests.conformance.install``; ``filesystem-disabled`` (disabled, started once by
case 51) is our STDIO fixture, so its lists and ``serverInfo`` are not compared. Each case is
sent byte for byte, in capture order (state carries over), and its answer is compared field
for field (:mod:`tests.replay`): status, reason, ``Content-Type``, the body's keys, their
order, the values' types, and the values themselves but for times, pids, ports and paths.

Where we differ on purpose, the difference is in :data:`DELIBERATE` with the contract's
reason (``shared/contract/mcp-hub-4.2.1.md``, by section) or the README's table "Where
tornadohub deliberately differs from mcp-hub". Any other difference fails the test, and so
does an entry of :data:`DELIBERATE` that no case needs any more.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.golden_hub import CAPTURED_PORT, FIXTURE, golden_hub
from tests.helpers import ROOT, HubProcess
from tests.replay import Deliberate, differences, unexplained

GOLDEN = ROOT / "tests" / "golden" / "rest"


README_TABLE = 'README "Where tornadohub deliberately differs from mcp-hub"'
UNKNOWN_SERVER = (
    f"{README_TABLE}: unknown server 404 `SERVER_NOT_FOUND` (same message and `data`) where "
    'contract §2 "Status codes" says mcp-hub answers 500 `SERVER_ERROR` (its '
    "`SERVER_NOT_FOUND`→404 mapping is never reached); mcphub.nvim reads any status >= 400 "
    "the same way (contract §16)."
)
HTML_ERRORS = (
    f"{README_TABLE}: malformed JSON, unknown routes and wrong methods answer JSON errors; "
    "contract §2 \"HTTP server generalities\": mcp-hub's are Express's HTML pages, "
    '"*not* the JSON error shape" of every other error.'
)
HEALTH_EXTRAS = (
    f'{README_TABLE} (`implementation`) and README "Tool surface" '
    "(`mcpEndpoint.profiles`, `mcpEndpoint.filterErrors`): keys added, none changed; "
    "contract §16: mcphub.nvim reads `server_id`, `status`, `version`, `servers`, `workspaces`."
)


def deliberate(cases: str, pattern: str, reason: str) -> list[Deliberate]:
    return [Deliberate(case, pattern, reason) for case in cases.split()]


DELIBERATE = [
    *deliberate(
        "01-health 70-health-after-restart",
        r"^\$\.body: extra keys \['implementation'\]$",
        HEALTH_EXTRAS,
    ),
    *deliberate(
        "01-health 70-health-after-restart",
        r"^\$\.body\.mcpEndpoint: extra keys \['profiles', 'filterErrors'\]$",
        HEALTH_EXTRAS,
    ),
    *deliberate(
        "07-server-info-unknown 18-tool-unknown-server 33-resource-unknown-server "
        "40-refresh-server-unknown 53-start-unknown 55-stop-unknown",
        r"^(status 404 where mcp-hub has 500|reason 'Not Found' where mcp-hub has "
        r"'Internal Server Error'|\$\.body\.code: 'SERVER_NOT_FOUND' where mcp-hub has "
        r"'SERVER_ERROR')$",
        UNKNOWN_SERVER,
    ),
    *deliberate(
        "06-server-info-GET 42-refresh-all-POST",
        r"^(status 405 where mcp-hub has 404|reason 'Method Not Allowed' where mcp-hub has "
        r"'Not Found'|Content-Type 'application/json; charset=utf-8' where mcp-hub has "
        r"'text/html; charset=utf-8'|\$\.text: JSON \{\"error\": \"Cannot (GET|POST) "
        r"/api/\S+\", \"code\": \"METHOD_NOT_ALLOWED\")",
        HTML_ERRORS,
    ),
    *deliberate(
        "24-malformed-json",
        r"^(Content-Type 'application/json; charset=utf-8' where mcp-hub has 'text/html; "
        r"charset=utf-8'|\$\.text: JSON \{\"error\": \"Invalid JSON in request body\", "
        r"\"code\": \"INVALID_JSON\")",
        HTML_ERRORS,
    ),
    *deliberate(
        "64-unknown-api-route",
        r"^(Content-Type 'application/json; charset=utf-8' where mcp-hub has 'text/html; "
        r"charset=utf-8'|\$\.text: JSON \{\"error\": \"Cannot GET /api/does-not-exist\", "
        r"\"code\": \"NOT_FOUND\")",
        HTML_ERRORS,
    ),
    *deliberate(
        "25-text-plain-body",
        r"^(status 415 where mcp-hub has 400|reason 'Unsupported Media Type' where mcp-hub "
        r"has 'Bad Request'|\$\.body\.error: 'Unsupported Media Type: the body must be "
        r"application/json' where mcp-hub has 'Missing server name'|\$\.body\.code: "
        r"'UNSUPPORTED_MEDIA_TYPE' where mcp-hub has 'VALIDATION_ERROR'|\$\.body\.data: "
        r"missing keys \['field'\])$",
        f"{README_TABLE}: a body that is not `application/json` is refused with 415, where "
        'contract §2 "HTTP server generalities" says mcp-hub reads it as `{}`; README '
        '"Security model": a web page can send `text/plain` cross-site without a preflight.',
    ),
    *deliberate(
        "63-oauth-callback-missing",
        r"^(Content-Type 'text/html; charset=utf-8' where mcp-hub has None|\$\.text: "
        r"'<!DOCTYPE html>.*updateStatus\(\"error\", \"Missing code or server_name "
        r"parameter\"\))",
        "Contract §3.3 (`/oauth/callback`): with parameters missing mcp-hub's body is \"only "
        'the error script", a call of `updateStatus` that only the page it skipped defines, '
        'with "no Content-Type header set": a browser shows nothing. We send the page, '
        "typed, with the same status call and message.",
    ),
    *deliberate(
        "65-root",
        r"^(status 200 where mcp-hub has 404|reason 'OK' where mcp-hub has 'Not Found'|"
        r"\$\.text: '<!DOCTYPE html>\\n<html lang=\"en\">\\n<head>\\n  <meta charset)",
        'README "Dashboard": `/` serves the dashboard; mcp-hub has no route there '
        '(contract §3.1: "No other routes").',
    ),
    *deliberate(
        "66-mcp-POST",
        r"^(status 400 where mcp-hub has 404|reason 'Bad Request' where mcp-hub has 'Not "
        r"Found'|Content-Type 'application/json' where mcp-hub has 'text/html; charset=utf-8'|"
        r"\$\.text: JSON \{\"jsonrpc\": \"2\.0\", \"error\": \{\"code\": -32600, \"message\": "
        r"\"Bad Request: Missing session ID\"\})",
        'Contract §6 "Unified MCP endpoint": "Streamable HTTP is NOT supported: `POST '
        '/mcp` → 404" (issues #107, #126), and "a drop-in that *adds* Streamable HTTP on '
        '`POST/GET/DELETE /mcp` ... is the top user request and stays backward compatible" '
        '(also §17 "Safe improvements"). A ping without a session is refused as the '
        "transport says.",
    ),
]


def load_cases() -> list[dict[str, Any]]:
    cases = []
    for path in sorted(GOLDEN.glob("[0-9]*.json")):
        case = json.loads(path.read_text())
        case["id"] = path.stem
        cases.append(case)
    return cases


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    with golden_hub(tmp_path_factory.mktemp("golden")) as process:
        yield process


def send(hub: HubProcess, request: dict[str, Any]) -> httpx.Response:
    headers = {}
    if request["content_type"] is not None:
        headers["Content-Type"] = request["content_type"]
    body = request["body_raw"]
    return hub.client.request(
        request["method"],
        request["path"],
        content=None if body is None else body.encode(),
        headers=headers,
    )


def header(headers: list[str], name: str) -> str | None:
    for line in headers:
        key, _, value = line.partition(": ")
        if key.lower() == name.lower():
            return value
    return None


def hide_fixture(value: Any) -> Any:
    """``filesystem-disabled``'s lists and serverInfo come from another server: not compared."""
    if isinstance(value, list):
        return [hide_fixture(item) for item in value]
    if not isinstance(value, dict):
        return value
    value = {key: hide_fixture(item) for key, item in value.items()}
    if value.get("name") == FIXTURE and isinstance(value.get("capabilities"), dict):
        value["capabilities"] = {key: "<lists>" for key in value["capabilities"]}
        if value.get("serverInfo") is not None:
            value["serverInfo"] = "<server>"
    return value


#: server-everything offers these only to clients that serve roots, sampling or elicitation,
#: which our hub does for its MCP clients (README "Servers may ask the client for input")
#: and mcp-hub 4.2.1 does not (contract §9: its client capabilities are ``{}``)
RELAYED_TOOLS = {
    "get-roots-list",
    "trigger-elicitation-request",
    "trigger-url-elicitation",
    "trigger-sampling-request",
    "trigger-sampling-request-async",
    "trigger-elicitation-request-async",
}

#: objects the upstream server wrote: mcp-hub re-creates them in its SDK's (zod) schema
#: order, we pass the server's own order through, so only their keys and values count
UPSTREAM_OBJECT = re.compile(r"\.capabilities\.\w+\[|\.body\.result\b|\.serverInfo\b")


def without_relayed_tools(body: Any) -> Any:
    """*body* without :data:`RELAYED_TOOLS`, the endpoint's counts lowered to match."""
    if isinstance(body, list):
        return [without_relayed_tools(item) for item in body]
    if not isinstance(body, dict):
        return body
    relayed = sum(
        1
        for server in body.get("servers", [])
        if isinstance(server, dict) and server.get("status") == "connected"
        for tool in server["capabilities"]["tools"]
        if tool["name"] in RELAYED_TOOLS
    )
    body = {key: without_relayed_tools(value) for key, value in body.items()}
    tools = body.get("capabilities", {}).get("tools") if "capabilities" in body else None
    if isinstance(tools, list):
        body["capabilities"] = {
            **body["capabilities"],
            "tools": [tool for tool in tools if tool.get("name") not in RELAYED_TOOLS],
        }
    if isinstance(body.get("availableTools"), list):
        body["availableTools"] = [n for n in body["availableTools"] if n not in RELAYED_TOOLS]
    endpoint = body.get("mcpEndpoint")
    if isinstance(endpoint, dict):
        counts = dict(endpoint["registeredCapabilities"])
        counts["tools"] -= relayed
        body["mcpEndpoint"] = {
            **endpoint,
            "registeredCapabilities": counts,
            "totalCapabilities": endpoint["totalCapabilities"] - relayed,
        }
    return body


#: the marketplace's failed fetch: its URL (ours is a closed port) and the error's wording
#: (mcp-hub's comes from its curl fallback) are compared by type only
MARKETPLACE_FETCH = ("$.body.data.url", "$.body.data.error")


def normalize(path: str, golden: Any, ours: Any) -> tuple[Any, Any]:
    """In objects an upstream wrote, our keys in mcp-hub's order (see UPSTREAM_OBJECT)."""
    if UPSTREAM_OBJECT.search(path) and isinstance(golden, dict) and isinstance(ours, dict):
        first = {key: ours[key] for key in golden if key in ours}
        ours = {**first, **{key: value for key, value in ours.items() if key not in first}}
    return golden, ours


def compare(case: dict[str, Any], response: httpx.Response, port: int) -> list[str]:
    """Every difference between the captured answer of *case* and *response*."""
    golden = case["response"]
    found = []
    if response.status_code != golden["status"]:
        found.append(f"status {response.status_code} where mcp-hub has {golden['status']}")
    if response.reason_phrase != golden["reason"]:
        found.append(f"reason {response.reason_phrase!r} where mcp-hub has {golden['reason']!r}")
    wanted_type = header(golden["headers"], "Content-Type")
    got_type = response.headers.get("content-type")
    if got_type != wanted_type:
        found.append(f"Content-Type {got_type!r} where mcp-hub has {wanted_type!r}")
    ports = (CAPTURED_PORT, str(port))
    fetch_failed = golden.get("body_json", {}).get("code") == "MARKETPLACE_ERROR"

    def normalized(path: str, theirs: Any, ours: Any) -> tuple[Any, Any]:
        if fetch_failed and path in MARKETPLACE_FETCH and isinstance(ours, str):
            ours = theirs if isinstance(theirs, str) else ours
        return normalize(path, theirs, ours)

    if "body_json" in golden:
        try:
            ours = response.json()
        except ValueError:
            found.append(f"$.body: not JSON: {response.text[:120]!r}")
        else:
            # counted before hide_fixture: the fixture's own tools are none of these
            ours = hide_fixture(without_relayed_tools(ours))
            found += differences(
                hide_fixture(golden["body_json"]),
                ours,
                "$.body",
                ports=ports,
                normalize=normalized,
            )
    else:
        try:
            ours = response.json()
        except ValueError:
            found += differences(golden["body_text"], response.text, "$.text", ports=ports)
        else:
            found.append(f"$.text: JSON {json.dumps(ours)[:160]} where mcp-hub has text")
    return found


def test_replay_matches_mcp_hub(hub: HubProcess) -> None:
    cases = load_cases()
    assert len(cases) == 71
    found = [
        (case["id"], line)
        for case in cases
        for line in compare(case, send(hub, case["request"]), hub.port)
    ]
    unexpected, stale = unexplained(found, DELIBERATE)
    report = "\n".join(unexpected)
    assert not unexpected, f"{len(unexpected)} differences from mcp-hub 4.2.1:\n{report}"
    assert not stale, f"allowlisted differences no case shows any more: {stale}"
