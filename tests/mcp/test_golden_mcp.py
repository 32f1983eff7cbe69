"""Replay of mcp-hub 4.2.1's ``/mcp`` recordings (tests/golden/mcp) over legacy SSE.

The hub runs the capture's servers (:mod:`tests.golden_hub`); a raw legacy-SSE client
(:mod:`tests.mcp.legacy_wire`) sends the recorded messages in the recorded order and every
answer is compared field for field (:mod:`tests.replay`): ``initialize``, the four aggregated
lists (``mcp-lists.json``, complete), calls, reads, prompts, errors for unknown names,
``ping``, a method mcp-hub answers ``-32601``, and the raw wire exchange (headers, framing).

Key order is compared where the hub writes the object (the message, ``initialize``'s
result). Inside objects an upstream wrote (definitions, results) it is not: mcp-hub
re-creates them in its SDK's (zod) schema order, and our SDK kernel's per-version sieve
re-creates them in its schema models' field order, which is alphabetical (the fast path
and the list cache reproduce the kernel's bytes); keys and values are compared there.
Differences we keep on purpose are in :data:`DELIBERATE`, each with the contract's or the
README's reason; any other difference fails, and so does an entry no answer needs any more.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.api.test_golden_replay import RELAYED_TOOLS
from tests.golden_hub import CAPTURED_PORT, golden_hub
from tests.helpers import ROOT, HubProcess
from tests.mcp.legacy_wire import LegacyWire, legacy_wire
from tests.replay import Deliberate, differences, unexplained

GOLDEN = ROOT / "tests" / "golden" / "mcp"
README_TABLE = 'README "Where tornadohub deliberately differs from mcp-hub"'


UNKNOWN_NAME = (
    'Contract §17 "Safe improvements": "-32602 for unknown tool/prompt instead of the '
    'ReferenceError" (§6: mcp-hub answers -32603 "key is not defined"); the message names it.'
)
DELIBERATE = [
    *(
        Deliberate(
            case,
            r"^\$\.result\.capabilities: extra keys \['completions', 'logging'\]$"
            r"|^\$\.result\.capabilities\.resources: extra keys \['subscribe'\]$",
            'README "The unified MCP endpoint": `/mcp` also serves `completion/complete`, '
            "`logging/setLevel` and `resources/subscribe` (mcp-hub answers them -32601, "
            "contract §6); a client that does not use them sees no difference.",
        )
        for case in ("initialize", "raw initialize")
    ),
    *(
        Deliberate(case, r"^\$\.error\.code: -32602 where mcp-hub has -32603$", UNKNOWN_NAME)
        for case in ("tools/call unknown", "tools/call un-namespaced", "prompts/get unknown")
    ),
    *(
        Deliberate(case, r"^\$\.error\.message: 'Unknown (tool|prompt): \S+' where", UNKNOWN_NAME)
        for case in ("tools/call unknown", "tools/call un-namespaced", "prompts/get unknown")
    ),
    *(
        Deliberate(
            case,
            r"^\$\.error\.message: 'Unknown resource: \S+' where mcp-hub has 'MCP error "
            r"-32602: Failed to read resource: Server not found'$",
            "Contract §6: the code stays -32602; the message names the URI, as for tools and "
            'prompts (§17 "Safe improvements"), instead of "Server not found" for a URI that '
            "has no server at all.",
        )
        for case in ("resources/read un-namespaced", "resources/read unknown server")
    ),
    *(
        Deliberate(
            case,
            r"^\$\.error: extra keys \['data'\]$",
            UNKNOWN_NAME + " Its `data` is the name (or `{uri}`, SEP-2164).",
        )
        for case in (
            "tools/call unknown",
            "tools/call un-namespaced",
            "prompts/get unknown",
            "resources/read un-namespaced",
            "resources/read unknown server",
            "raw tools/call unknown",
        )
    ),  # fmt: skip
    Deliberate(
        "raw tools/call unknown",
        r"^\$\.error\.code: -32602 where mcp-hub has -32603$|"
        r"^\$\.error\.message: 'Unknown tool: no_such_server__echo' where",
        UNKNOWN_NAME,
    ),
    Deliberate(
        "raw session id",
        r"^sessionId: \S+ where mcp-hub has a UUID$",
        'README "Running several hubs": session ids are sealed (they name the hub that owns '
        "the session); clients take the endpoint's URL as it comes (contract §6).",
    ),
]

#: (recording's section title prefix, case name, method, params): in recorded order
EXCHANGES: list[tuple[str, str, str, dict[str, Any] | None]] = [
    ("tools/call everything__echo  (", "echo", "tools/call",
     {"name": "everything__echo", "arguments": {"message": "hello via hub"}}),
    ("tools/call everything__get-sum", "sum", "tools/call",
     {"name": "everything__get-sum", "arguments": {"a": 19, "b": 23}}),
    ("tools/call everything_http__echo", "remote echo", "tools/call",
     {"name": "everything_http__echo", "arguments": {"message": "hello remote via hub"}}),
    ("tools/call memory__read_graph", "memory", "tools/call",
     {"name": "memory__read_graph", "arguments": {}}),
    ("tools/call everything__get-structured-content", "structured", "tools/call",
     {"name": "everything__get-structured-content", "arguments": {"location": "New York"}}),
    ("tools/call unknown tool", "tools/call unknown", "tools/call",
     {"name": "nope__echo", "arguments": {}}),
    ("tools/call un-namespaced", "tools/call un-namespaced", "tools/call",
     {"name": "echo", "arguments": {}}),
    ("tools/call everything__echo with wrong", "bad argument", "tools/call",
     {"name": "everything__echo", "arguments": {"message": 42}}),
    ("resources/read everything__demo", "read static", "resources/read",
     {"uri": "everything__demo://resource/static/document/features.md"}),
    ("resources/read memory__", "read memory", "resources/read",
     {"uri": "memory__memory://knowledge-graph"}),
    ("resources/read template-derived", "read template", "resources/read",
     {"uri": "everything__demo://resource/dynamic/text/3"}),
    ("resources/read un-namespaced", "resources/read un-namespaced", "resources/read",
     {"uri": "demo://resource/static/document/features.md"}),
    ("resources/read unknown server", "resources/read unknown server", "resources/read",
     {"uri": "nope__x://y"}),
    ("prompts/get everything__simple-prompt", "prompt simple", "prompts/get",
     {"name": "everything__simple-prompt"}),
    ("prompts/get everything_http__args-prompt", "prompt args", "prompts/get",
     {"name": "everything_http__args-prompt", "arguments": {"city": "Porto"}}),
    ("prompts/get unknown", "prompts/get unknown", "prompts/get", {"name": "nope__x"}),
    ("ping", "ping", "ping", None),
]  # fmt: skip

#: mcp-hub's codes for the errors the recording shows only as the SDK's exception text
#: (contract §6; the raw exchange shows -32603 for an unknown tool)
RECORDED_CODES = {"key is not defined": -32603}


def sections() -> dict[str, str]:
    """The recording's sections: title -> the first fenced block's text."""
    text = (GOLDEN / "mcp-endpoint.md").read_text()
    found = {}
    for part in re.split(r"^## ", text, flags=re.M)[1:]:
        title, _, body = part.partition("\n")
        block = re.search(r"```(?:json)?\n(.*?)\n```", body, flags=re.S)
        found[title] = block.group(1) if block else body
    return found


def recorded(titles: dict[str, str], prefix: str) -> dict[str, Any]:
    """The recorded answer of the section starting with *prefix*, as a JSON-RPC body."""
    (title,) = [t for t in titles if t.startswith(prefix)]
    block = titles[title]
    if "(EXCEPTION" in title:
        message = block.removeprefix("MCPError: ")
        code = RECORDED_CODES.get(message, -32602)
        return {"error": {"code": code, "message": message}}
    if TRUNCATED in block:  # compared as the text it starts with, see :func:`compare_text`
        return {"text": block.split(TRUNCATED)[0]}
    return {"result": json.loads(block)}


TRUNCATED = "\n... [truncated"


def compare_text(golden: str, ours: dict[str, Any], uris: Uris) -> list[str]:
    """A recorded answer cut short: ours, as the recording prints it, must start with it."""
    contents = []
    for item in ours.get("result", {}).get("contents", []):
        uri = uris("$.result.contents[0].uri", item["uri"].partition("+")[2], item["uri"])[1]
        # the upstream's object: in the recording's order, as :func:`compare` does
        ordered = {"uri": uri, "mimeType": item.get("mimeType"), **item}
        contents.append({**ordered, "uri": uri})
    printed = json.dumps(
        {**ours.get("result", {}), "contents": contents}, indent=2, ensure_ascii=False
    )
    if printed.startswith(golden):
        return []
    return [f"$.text: {printed[:200]!r} where mcp-hub has {golden[:200]!r}"]


# ------------------------------------------------------------------ comparison helpers
def namespace(server_id: str) -> str:
    return server_id.lower().replace("_", "-")


class Uris:
    """Reads our ``<namespace>+<uri>`` as mcp-hub's ``<id>__<uri>`` (README table: a valid
    URI, on every list and in ``contents[].uri``) and counts how often it did."""

    def __init__(self, ids: list[str]) -> None:
        self.ids = ids
        self.used = 0

    def __call__(self, path: str, golden: Any, ours: Any) -> tuple[Any, Any]:
        if not (isinstance(golden, str) and isinstance(ours, str)):
            return golden, ours
        if re.search(r"\.(uri|uriTemplate)$", path):
            for server_id in self.ids:
                prefix = f"{server_id}__"
                mine = f"{namespace(server_id)}+"
                if golden.startswith(prefix) and ours == mine + golden[len(prefix) :]:
                    self.used += 1
                    return golden, golden
                if ours == mine + golden and ".contents[" in path:  # read: original URI
                    self.used += 1
                    return golden, golden
        return golden, ours


UPSTREAM = re.compile(r"\$\.result\.(tools|resources|resourceTemplates|prompts)\[|"
                      r"\$\.result\.(content|contents|messages|structuredContent)\b")  # fmt: skip


#: values server-everything's get-structured-content draws at random
RANDOM = re.compile(r"\.structuredContent\.(temperature|conditions)$|\.content\[0\]\.text$")


def compare(
    golden: Any, ours: Any, uris: Uris, *, random: bool = False, envelope: bool = False
) -> list[str]:
    """The differences of *ours* (a JSON-RPC message) from *golden* (its result or error,
    or with *envelope* the whole message); with *random*, the weather values are compared
    by type (the text is its JSON)."""
    if random:
        weather = ours["result"]["structuredContent"]
        assert json.loads(ours["result"]["content"][0]["text"]) == weather

    def normalize(path: str, theirs: Any, mine: Any) -> tuple[Any, Any]:
        theirs, mine = uris(path, theirs, mine)
        if random and RANDOM.search(path) and type(theirs) is type(mine):
            mine = theirs  # server-everything draws the weather at random: compared by type
        if UPSTREAM.search(path) and isinstance(theirs, dict) and isinstance(mine, dict):
            first = {key: mine[key] for key in theirs if key in mine}
            mine = {**first, **{k: v for k, v in mine.items() if k not in first}}
        return theirs, mine

    body = ours if envelope else {k: v for k, v in ours.items() if k not in ("jsonrpc", "id")}
    return list(differences(golden, body, "$", ports=(CAPTURED_PORT,), normalize=normalize))


def without_relayed(listing: dict[str, Any]) -> dict[str, Any]:
    """tools/list without :data:`RELAYED_TOOLS`: server-everything offers them to clients
    that serve roots, sampling or elicitation, as the hub does (README "Servers may ask the
    client for input") and mcp-hub 4.2.1 does not (contract §9)."""
    tools = listing["tools"]
    kept = [t for t in tools if t["name"].partition("__")[2] not in RELAYED_TOOLS]
    return {**listing, "tools": kept}


# ------------------------------------------------------------------ the hub
@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    with golden_hub(tmp_path_factory.mktemp("golden-mcp")) as process:
        # the memory the capture's REST cases had written before /mcp was recorded
        entity = {"name": "golden", "entityType": "test"}
        created = process.api(
            "POST",
            "/api/servers/tools",
            {
                "server_name": "memory",
                "tool": "create_entities",
                "arguments": {
                    "entities": [{**entity, "observations": ["captured by capture_rest.py"]}]
                },
            },
        )
        assert created.status_code == 200, created.text
        yield process


def base(hub: HubProcess) -> str:
    return f"http://127.0.0.1:{hub.port}"


async def exchange(wire: LegacyWire, method: str, params: dict[str, Any] | None) -> Any:
    return await wire.request(method, params)


async def test_replay_matches_mcp_hub(hub: HubProcess) -> None:
    titles = sections()
    lists = json.loads((GOLDEN / "mcp-lists.json").read_text())
    uris = Uris(["everything", "memory", "everything_http"])
    found: dict[str, list[str]] = {}
    async with legacy_wire(base(hub)) as wire:
        init = await wire.request(
            "initialize",
            {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "golden-replay", "version": "0"},
            },
        )
        # the section's JSON is the SDK client's re-dump (its models' order): the key
        # order on the wire is the raw exchange's, whose initialize answer is the same
        printed = json.loads(titles["initialize (result)"])
        wired = raw_answers(titles)[0]["result"]
        assert printed == wired
        found["initialize"] = compare({"result": wired}, init, uris)
        await wire.notify("notifications/initialized")
        for method, key in (
            ("tools/list", "tools"),
            ("resources/list", "resources"),
            ("resources/templates/list", "resourceTemplates"),
            ("prompts/list", "prompts"),
        ):
            answer = await wire.request(method)
            if key == "tools":
                answer = {**answer, "result": without_relayed(answer["result"])}
            found[method] = compare({"result": lists[key]}, answer, uris)
        for prefix, case, method, params in EXCHANGES:
            answer = await wire.request(method, params)
            golden = recorded(titles, prefix)
            if "text" in golden:
                found[case] = compare_text(golden["text"], answer, uris)
            else:
                found[case] = compare(golden, answer, uris, random=case == "structured")
    found.update(await raw_exchange(hub, titles))
    pairs = [(case, line) for case, lines in found.items() for line in lines]
    unexpected, stale = unexplained(pairs, DELIBERATE)
    report = "\n".join(unexpected)
    assert not unexpected, f"{len(unexpected)} differences from mcp-hub 4.2.1:\n{report}"
    assert not stale, f"allowlisted differences no answer shows any more: {stale}"
    # README table: resources are `<namespace>+<uri>` (15 listed, 4 templates, 3 reads)
    assert uris.used == 15 + 4 + 3


RAW_HEADERS = ("Content-Type", "Cache-Control", "Connection", "Transfer-Encoding")


def raw_answers(titles: dict[str, str]) -> list[dict[str, Any]]:
    """The answers of the recording's raw exchange, in wire order."""
    raw = titles["Raw legacy-SSE wire exchange (hand-written httpx client)"]
    return [json.loads(m) for m in re.findall(r"^  \| data: (\{.*\})$", raw, flags=re.M)]


async def raw_exchange(hub: HubProcess, titles: dict[str, str]) -> dict[str, list[str]]:
    """The recording's hand-written wire exchange: headers, the endpoint event, and each
    answer's exact frame (``event: message``, one ``data:`` line)."""
    raw = titles["Raw legacy-SSE wire exchange (hand-written httpx client)"]
    recorded_headers = dict(
        line.strip().split(": ", 1) for line in raw.splitlines()[1:] if line.startswith("  ")
        and ": " in line and not line.strip().startswith(("|", "->", "SSE"))
    )  # fmt: skip
    datas = raw_answers(titles)
    found: dict[str, list[str]] = {"raw headers": [], "raw session id": [], "raw frames": []}
    async with legacy_wire(base(hub)) as wire:
        for name in RAW_HEADERS:
            mine, recorded = wire.response.headers.get(name), recorded_headers.get(name)
            if mine != recorded:
                found["raw headers"].append(f"{name}: {mine!r} where mcp-hub has {recorded!r}")
        session = wire.endpoint.removeprefix("/messages?sessionId=")
        if wire.first.raw != f"event: endpoint\ndata: /messages?sessionId={session}":
            found["raw frames"].append(f"endpoint frame {wire.first.raw!r}")
        if not re.fullmatch(r"[0-9a-f-]{36}", session):
            found["raw session id"].append(f"sessionId: {session[:20]}... where mcp-hub has a UUID")
        messages: list[dict[str, Any]] = [
            {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": "2025-06-18", "capabilities": {},
                "clientInfo": {"name": "raw-probe", "version": "0"}}},
            {"jsonrpc": "2.0", "method": "notifications/initialized"},
            {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
                "name": "everything__echo", "arguments": {"message": "raw wire"}}},
            {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {
                "name": "no_such_server__echo", "arguments": {}}},
            {"jsonrpc": "2.0", "id": 4, "method": "no/such/method"},
        ]  # fmt: skip
        answers = iter(datas)
        for message in messages:
            posted = await wire.post(message)
            if (posted.status_code, posted.text, posted.headers.get("content-type")) != (
                202,
                "Accepted",
                None,
            ):
                found["raw frames"].append(f"POST answered {posted.status_code} {posted.text!r}")
            if "id" not in message:
                continue
            with anyio.fail_after(30):
                frame = await wire.frames.receive()
            assert frame is not None
            if frame.raw != f"event: message\ndata: {frame.data}":
                found["raw frames"].append(f"message frame {frame.raw[:80]!r}")
            case = {2: "raw tools/call", 3: "raw tools/call unknown", 4: "raw method"}.get(
                message["id"], "raw initialize"
            )
            # the whole message here: its members' order on the wire too
            golden = next(answers)
            answer = json.loads(frame.data)
            found.setdefault(case, []).extend(compare(golden, answer, Uris([]), envelope=True))
    return found


def test_recording_is_whole() -> None:
    """Every section of the recording is replayed (a new capture must not go unread)."""
    titles = sections()
    covered = [prefix for prefix, *_ in EXCHANGES]
    skipped = ("initialize", "tools/list", "resources/list", "resources/templates/list",
               "prompts/list", "Raw legacy-SSE")  # fmt: skip
    for title in titles:
        if title.startswith(skipped):
            continue
        assert any(title.startswith(prefix) for prefix in covered), title
    assert Path(GOLDEN / "mcp-lists.json").exists()
