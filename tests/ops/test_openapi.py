"""``/api/openapi.json``: it describes every route of the app's route table, it is a sound
OpenAPI 3.1 document, and what a real hub answers matches the schemas it gives (checked
with ``jsonschema``, route by route, including mcp-hub 4.2.1's captured answers).

schemathesis is not run: most tool, resource and prompt errors are 500 by contract (mcp-hub
answers them so), which its "no server errors" check would flag on every generated call.
The live conformance test below plays its part: every documented operation is called and
each answer is checked against the schema documented for its status.
"""

from __future__ import annotations

import enum
import json
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from marshmallow import Schema, fields, validate
from tornado import web

from tests.conftest import stdio_entry
from tests.helpers import ROOT, HubProcess, initialize_request
from tests.marketplace.fakeregistry import RegistryServer
from tornadohub.handlers import default_handlers
from tornadohub.handlers.openapi import describe, openapi_path
from tornadohub.openapi import AnyOf, Components, json_schema

GOLDEN_REST = ROOT / "tests" / "golden" / "rest"
#: Operations the live test does not call: the hub would exit.
NOT_CALLED = {("post", "/api/hard-restart")}
MCP_ACCEPT = {"Accept": "application/json, text/event-stream"}
INITIALIZE = initialize_request("openapi-test")

JSONDoc = dict[str, Any]


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def registry() -> Iterator[RegistryServer]:
    server = RegistryServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory, registry: RegistryServer) -> Iterator[HubProcess]:
    root = tmp_path_factory.mktemp("openapi")
    home = root / "home"
    home.mkdir()
    config = root / "servers.json"
    servers = {
        "everything": stdio_entry("everything_stdio.py"),
        "spare": stdio_entry("everything_stdio.py"),
        "off": stdio_entry("everything_stdio.py", disabled=True),
        "broken": {"command": ""},
    }
    profiles = {"coding": {"servers": ["everything"]}}
    config.write_text(json.dumps({"mcpServers": servers, "profiles": profiles}))
    process = HubProcess(
        [str(config)],
        home=home,
        cwd=root,
        extra_args=("--marketplace-url", registry.catalog_url),
        env={"MCP_HUB_README_BASE_URL": registry.readme_base},
    )
    process.start()
    process.wait_ready()
    yield process
    assert process.stop() == 0


@pytest.fixture(scope="module")
def document(hub: HubProcess) -> JSONDoc:
    response = hub.api("GET", "/api/openapi.json")
    assert response.status_code == 200
    doc: JSONDoc = response.json()
    return doc


def operations(doc: JSONDoc) -> Iterator[tuple[str, str, JSONDoc]]:
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


def validate_body(doc: JSONDoc, schema: JSONDoc, body: Any, where: str) -> None:
    validator = Draft202012Validator(
        {**schema, "components": doc["components"]},
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )
    errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
    assert not errors, f"{where}: " + "; ".join(
        f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}" for e in errors[:5]
    )


# ------------------------------------------------------------------------ route table
def implemented_methods(handler: type[web.RequestHandler]) -> set[str]:
    return {
        method.lower()
        for method in handler.SUPPORTED_METHODS
        if getattr(handler, method.lower()) is not getattr(web.RequestHandler, method.lower())
    }


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "sample", path)


def test_every_route_of_the_route_table_is_described(document: JSONDoc) -> None:
    paths = list(document["paths"])
    described: set[str] = set()
    for pattern, handler in default_handlers:
        matching = [path for path in paths if re.fullmatch(pattern, concrete(path))]
        assert len(matching) == 1, (pattern, matching)
        path = matching[0]
        assert set(document["paths"][path]) == implemented_methods(handler), path
        described.add(path)
    assert described == set(paths), "documented paths that are not routes"
    assert document == describe(default_handlers)


def test_route_patterns_become_openapi_paths() -> None:
    assert openapi_path("(?i)/api/servers/?", []) == "/api/servers"
    assert openapi_path(r"(?i)/api/openapi\.json/?", []) == "/api/openapi.json"
    assert openapi_path("/servers/([^/]+)/mcp", ["server"]) == "/servers/{server}/mcp"
    with pytest.raises(ValueError, match="name its 1 path parameter"):
        openapi_path("/servers/([^/]+)/mcp", [])
    with pytest.raises(ValueError, match="not a plain path"):
        openapi_path("/files/.*", [])


# ------------------------------------------------------------------ OpenAPI structure
def test_document_is_structurally_openapi_3_1(document: JSONDoc) -> None:
    assert re.fullmatch(r"3\.1\.\d+", document["openapi"])
    assert isinstance(document["info"]["title"], str)
    assert isinstance(document["info"]["version"], str)
    components = document["components"]
    schemes = set(components["securitySchemes"])
    assert schemes == {"bearer", "apiKey"}
    tags = {tag["name"] for tag in document["tags"]}
    operation_ids = Counter(op["operationId"] for _, _, op in operations(document))
    assert max(operation_ids.values()) == 1, operation_ids.most_common(3)
    for name, schema in components["schemas"].items():
        Draft202012Validator.check_schema(schema)  # each component is valid JSON Schema
        assert schema["type"] == "object", name
    for requirement in document["security"]:
        assert set(requirement) <= schemes
    for path, method, operation in operations(document):
        where = f"{method.upper()} {path}"
        assert path.startswith("/") and method in {"get", "head", "post", "delete"}, where
        assert set(operation["tags"]) <= tags, where
        templated = set(re.findall(r"\{([^}]+)\}", path))
        params = operation.get("parameters", [])
        in_path = {p["name"] for p in params if p["in"] == "path"}
        assert in_path == templated, where
        assert all(p["required"] for p in params if p["in"] == "path"), where
        assert len({(p["in"], p["name"]) for p in params}) == len(params), where
        for requirement in operation.get("security", []):
            assert set(requirement) <= schemes, where
        assert operation["responses"], where
        for status, response in operation["responses"].items():
            assert re.fullmatch(r"[1-5]\d\d|default", status), where
            assert response["description"], where
            for media in response.get("content", {}).values():
                Draft202012Validator.check_schema(media["schema"])
        body = operation.get("requestBody")
        if body is not None:
            assert list(body["content"]) == ["application/json"], where
    prefix = "#/components/schemas/"
    for ref in refs(document):
        assert ref.startswith(prefix) and ref.removeprefix(prefix) in components["schemas"], ref
    assert {ref.removeprefix(prefix) for ref in refs(document["paths"])}, "no schema is used"


#: Routes that need no API key: the probes, and the dashboard's files (they hold no data).
PUBLIC_PATHS = ("/healthz", "/readyz", "/", "/ui", "/ui/{file}")


def test_probes_are_public_and_the_api_is_not(document: JSONDoc) -> None:
    for path, _, operation in operations(document):
        if path in PUBLIC_PATHS:
            assert operation["security"] == []
        else:
            assert "security" not in operation  # the document's: a key, when the hub has keys
            assert "401" in operation["responses"], path


# ----------------------------------------------------------------- generator (unit)
class Colour(enum.Enum):
    red = "r"
    green = "g"


class LeafSchema(Schema):
    """A ``leaf``.

    Only the first paragraph is the description."""

    name = fields.String(required=True, metadata={"description": "Its name"})


class SampleSchema(Schema):
    text = fields.String(validate=validate.Length(min=1, max=5))
    count = fields.Integer(required=True, validate=validate.Range(min=0, max=9))
    ratio = fields.Float(validate=validate.Range(min=0, min_inclusive=False))
    flag = fields.Boolean(load_default=False)
    when = fields.DateTime(allow_none=True)
    link = fields.Url()
    tags = fields.List(fields.String(), validate=validate.Length(min=1))
    pair = fields.Tuple((fields.String(), fields.Integer()))
    scores = fields.Dict(values=fields.Integer())
    leaf = fields.Nested(LeafSchema, allow_none=True)
    leaves = fields.Nested(LeafSchema, many=True)
    colour = fields.Enum(Colour, by_value=True)
    kind = fields.String(validate=validate.OneOf(["a", "b"]), allow_none=True)
    either = AnyOf(fields.String(), fields.Integer())
    fixed = fields.Constant("x")
    anything = fields.Raw()
    renamed = fields.String(data_key="$renamed", validate=validate.Regexp(r"^r"))


def test_fields_map_to_json_schema() -> None:
    components = Components()
    assert components.ref(SampleSchema) == {"$ref": "#/components/schemas/Sample"}
    sample = components.schemas["Sample"]
    assert sample["required"] == ["count"] and sample["additionalProperties"] is False
    props = sample["properties"]
    assert props["text"] == {"type": "string", "minLength": 1, "maxLength": 5}
    assert props["count"] == {"type": "integer", "minimum": 0, "maximum": 9}
    assert props["ratio"] == {"type": "number", "exclusiveMinimum": 0}
    assert props["flag"] == {"type": "boolean", "default": False}
    assert props["when"] == {"type": ["string", "null"], "format": "date-time"}
    assert props["link"] == {"type": "string", "format": "uri"}
    assert props["tags"] == {"type": "array", "items": {"type": "string"}, "minItems": 1}
    assert props["pair"]["prefixItems"] == [{"type": "string"}, {"type": "integer"}]
    assert props["scores"] == {"type": "object", "additionalProperties": {"type": "integer"}}
    leaf_ref = {"$ref": "#/components/schemas/Leaf"}
    assert props["leaf"] == {"anyOf": [leaf_ref, {"type": "null"}]}
    assert props["leaves"] == {"type": "array", "items": leaf_ref}
    assert props["colour"] == {"enum": ["r", "g"]}
    assert props["kind"] == {"anyOf": [{"type": "string", "enum": ["a", "b"]}, {"type": "null"}]}
    assert props["either"] == {"anyOf": [{"type": "string"}, {"type": "integer"}]}
    assert props["fixed"] == {"const": "x", "default": "x"}
    assert props["anything"] == {}
    assert props["$renamed"] == {"type": "string", "pattern": "^r"}
    leaf = components.schemas["Leaf"]
    assert leaf["description"] == "A `leaf`."
    assert leaf["properties"]["name"]["description"] == "Its name"
    Draft202012Validator.check_schema(sample)
    validator = Draft202012Validator(
        {"$ref": "#/components/schemas/Sample", "components": {"schemas": components.schemas}}
    )
    assert validator.is_valid({"count": 3, "kind": None, "leaves": [{"name": "a"}]})
    assert not validator.is_valid({"count": -1})
    assert not validator.is_valid({"count": 1, "unknown": 1})


def test_unknown_fields_are_refused_not_guessed() -> None:
    class Custom(fields.Field[Any]):
        pass

    class WithCustom(Schema):
        odd = Custom()

    with pytest.raises(TypeError, match="Custom"):
        Components().ref(WithCustom)


def test_any_of_loads_the_first_choice_that_fits() -> None:
    class Coded(Schema):
        code = AnyOf(fields.Integer(strict=True), fields.String())

    assert Coded().load({"code": 5}) == {"code": 5}
    assert Coded().load({"code": "E"}) == {"code": "E"}
    with pytest.raises(Exception, match="code"):
        Coded().load({"code": [1]})


# --------------------------------------------------------------- live conformance
class Conformance:
    """Checks answers against the document and remembers which operations were seen."""

    def __init__(self, doc: JSONDoc) -> None:
        self.doc = doc
        self.seen: set[tuple[str, str]] = set()

    def check(self, response: httpx.Response, path: str) -> httpx.Response:
        method = response.request.method.lower()
        where = f"{method.upper()} {path} -> {response.status_code}"
        responses = self.doc["paths"][path][method]["responses"]
        documented = responses.get(str(response.status_code)) or responses.get("default")
        assert documented is not None, f"{where}: status not documented"
        self.seen.add((method, path))
        content = documented.get("content")
        if not content or method == "head":
            return response
        media = response.headers.get("content-type", "").split(";")[0].strip()
        assert media in content, f"{where}: {media} is not one of {list(content)}"
        schema = content[media]["schema"]
        if "$ref" in schema:
            validate_body(self.doc, schema, response.json(), where)
        return response

    def call(self, hub: HubProcess, method: str, path: str, **kwargs: Any) -> httpx.Response:
        url = kwargs.pop("url", path)
        return self.check(hub.client.request(method, url, **kwargs), path)

    def stream(self, hub: HubProcess, path: str, **kwargs: Any) -> None:
        """A streaming GET: check the status and type, read the first frame, hang up."""
        url = kwargs.pop("url", path)
        with hub.client.stream("GET", url, **kwargs) as response:
            assert response.status_code == 200, url
            self.check(response, path)
            for line in response.iter_lines():
                if line.startswith("data:"):
                    break


def call_servers(conf: Conformance, hub: HubProcess) -> None:
    for path in ("/api/health", "/api/workspaces", "/api/servers", "/api/refresh"):
        assert conf.call(hub, "GET", path).status_code == 200
    info = "/api/servers/info"
    assert conf.call(hub, "POST", info, json={"server_name": "everything"}).status_code == 200
    assert conf.call(hub, "POST", info, json={"server_name": "broken"}).status_code == 200
    assert conf.call(hub, "POST", info, json={"server_name": "nope"}).status_code == 404
    assert conf.call(hub, "POST", info, json={}).status_code == 400
    tools = "/api/servers/tools"
    tool_calls: list[tuple[dict[str, Any], int]] = [
        ({"tool": "echo", "arguments": {"message": "hi"}}, 200),
        ({"tool": "add", "arguments": {"a": 1, "b": 2}}, 200),
        ({"tool": "fail", "arguments": {"message": "boom"}}, 200),
        ({"tool": "nope", "arguments": {}}, 500),
        ({"tool": "echo", "arguments": "message=hi"}, 500),
        ({"tool": "slow", "arguments": {"seconds": 5}, "request_options": {"timeout": 100}}, 500),
        ({"tool": "echo", "request_options": {"timeout": "soon"}}, 400),
        ({}, 400),
    ]
    for body, status in tool_calls:
        response = conf.call(hub, "POST", tools, json={"server_name": "everything", **body})
        assert response.status_code == status, (body, response.text)
    assert conf.call(hub, "POST", tools, json={"server_name": "x", "tool": "t"}).status_code == 404
    malformed = conf.call(
        hub, "POST", tools, content="{", headers={"Content-Type": "application/json"}
    )
    assert malformed.status_code == 400
    resources = "/api/servers/resources"
    for uri, status in [("fixture://readme", 200), ("fixture://items/7", 200), ("x://", 500)]:
        read = {"server_name": "everything", "uri": uri}
        assert conf.call(hub, "POST", resources, json=read).status_code == status
    prompts = "/api/servers/prompts"
    prompt_gets: list[tuple[dict[str, Any], int]] = [
        ({"prompt": "simple"}, 200),
        ({"prompt": "weather", "arguments": {"city": "Lisbon", "state": 1}}, 200),
        ({"prompt": "nope"}, 500),
    ]
    for body, status in prompt_gets:
        response = conf.call(hub, "POST", prompts, json={"server_name": "everything", **body})
        assert response.status_code == status, (body, response.text)
    refresh = "/api/servers/refresh"
    assert conf.call(hub, "POST", refresh, json={"server_name": "everything"}).status_code == 200
    spare = {"server_name": "spare"}
    stop, start = "/api/servers/stop", "/api/servers/start"
    assert conf.call(hub, "POST", stop, url=f"{stop}?disable=true", json=spare).status_code == 200
    assert conf.call(hub, "POST", start, json=spare).status_code == 200
    assert conf.call(hub, "POST", stop, json=spare).status_code == 200
    assert conf.call(hub, "POST", start, json=spare).status_code == 200
    assert conf.call(hub, "POST", start, json={"server_name": "broken"}).status_code == 500
    for route in (start, stop):  # found by schemathesis: was a TypeError, 500 INTERNAL_ERROR
        assert conf.call(hub, "POST", route, json={"server_name": {}}).status_code == 400
    wrong_method = hub.client.post("/api/refresh")
    assert wrong_method.status_code == 405 and wrong_method.headers["allow"] == "GET"


def call_the_rest(conf: Conformance, hub: HubProcess) -> None:
    for path in ("/healthz", "/readyz", "/metrics", "/api/openapi.json"):
        assert conf.call(hub, "GET", path).status_code == 200
    for path in ("/healthz", "/readyz"):
        assert conf.call(hub, "HEAD", path).status_code == 200
    conf.stream(hub, "/api/events")
    market = "/api/marketplace"
    assert conf.call(hub, "GET", market, url=f"{market}?sort=stars&tags=search").status_code == 200
    details = "/api/marketplace/details"
    assert conf.call(hub, "POST", details, json={"mcpId": "alpha-search"}).status_code == 200
    assert conf.call(hub, "POST", details, json={}).status_code == 400
    authorize = "/api/servers/authorize"
    assert conf.call(hub, "POST", authorize, json={"server_name": "everything"}).status_code == 500
    callback = "/api/oauth/callback"
    query = "?server_name=everything&code=abc&state=s"
    assert conf.call(hub, "GET", callback, url=callback + query).status_code == 200
    manual = "/api/oauth/manual_callback"
    pasted = {"url": f"http://localhost:1/callback{query}"}
    assert conf.call(hub, "POST", manual, json=pasted).status_code == 409

    for path, url in [
        ("/mcp", "/mcp"),
        ("/servers/{server}/mcp", "/servers/everything/mcp"),
        ("/profiles/{profile}/mcp", "/profiles/coding/mcp"),
    ]:
        opened = conf.call(hub, "POST", path, url=url, json=INITIALIZE, headers=MCP_ACCEPT)
        assert opened.status_code == 200, opened.text
        session = {"Mcp-Session-Id": opened.headers["mcp-session-id"]}
        ended = conf.call(hub, "DELETE", path, url=url, headers=session)
        assert ended.status_code == 200
        conf.stream(hub, path, url=url, headers={"Accept": "text/event-stream"})
    assert conf.call(hub, "POST", "/messages", json={"jsonrpc": "2.0"}).status_code == 400
    lost = conf.call(hub, "POST", "/messages", url="/messages?sessionId=nope", json=INITIALIZE)
    assert lost.status_code == 404

    call_the_dashboards(conf, hub)
    assert conf.call(hub, "POST", "/api/restart").status_code == 200
    hub.wait_ready()


def call_the_dashboards(conf: Conformance, hub: HubProcess) -> None:
    """The page, its files, and the routes it added to the API."""
    for path in ("/", "/ui"):
        assert conf.call(hub, "GET", path).status_code == 200
    asset = "/ui/{file}"
    for name, status in [("app.js", 200), ("style.css", 200), ("icon.svg", 200), ("x.js", 404)]:
        assert conf.call(hub, "GET", asset, url=f"/ui/{name}").status_code == status
    logs = "/api/logs"
    for query, status in [("", 200), ("?server_name=everything&level=warn&limit=5", 200)]:
        assert conf.call(hub, "GET", logs, url=logs + query).status_code == status
    assert conf.call(hub, "GET", logs, url=f"{logs}?level=x").status_code == 400
    assert conf.call(hub, "GET", logs, url=f"{logs}?server_name=nope").status_code == 404
    assert conf.call(hub, "GET", "/api/stats").status_code == 200
    add = "/api/marketplace/add"
    body = {"mcpId": "fixture-everything", "name": "added", "installation": "python"}
    assert conf.call(hub, "POST", add, json=body).status_code == 200
    assert conf.call(hub, "POST", add, json=body).status_code == 400  # it exists now


def test_live_answers_match_their_schemas(hub: HubProcess, document: JSONDoc) -> None:
    conf = Conformance(document)
    call_servers(conf, hub)
    call_the_rest(conf, hub)
    documented = {(method, path) for path, method, _ in operations(document)}
    assert documented - conf.seen == NOT_CALLED


def test_mcp_hub_answers_match_the_schemas(document: JSONDoc) -> None:
    """mcp-hub 4.2.1's captured answers: the schemas describe the contract, not just us."""
    checked = 0
    for capture in sorted(GOLDEN_REST.glob("*.json")):
        case = json.loads(capture.read_text())
        request, response = case["request"], case["response"]
        path = request["path"].split("?")[0].lower().rstrip("/")
        operation = document["paths"].get(path, {}).get(request["method"].lower())
        body = response.get("body_json")
        if operation is None or body is None:
            continue  # a route mcp-hub answers with HTML (404, malformed JSON)
        responses = operation["responses"]
        documented = responses.get(str(response["status"])) or responses["default"]
        schema = documented["content"]["application/json"]["schema"]
        validate_body(document, schema, body, capture.name)
        checked += 1
    assert checked >= 60, checked


def test_json_schema_helper_names_one_component(document: JSONDoc) -> None:
    schema = json_schema(document, "Error")
    error = {"error": "x", "code": -32001, "data": {}, "timestamp": "2026-01-01T00:00:00.000Z"}
    Draft202012Validator(schema).validate(error)
    assert not Draft202012Validator(schema).is_valid({**error, "extra": 1})
