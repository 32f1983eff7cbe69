"""Namespacing, shortening, collisions, routing and cursors of the aggregated catalog."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tornadohub.mcp.aggregate import (
    PROMPTS,
    RESOURCES,
    TEMPLATES,
    TOOLS,
    InvalidCursorError,
    Route,
    Source,
    assign_namespaces,
    assign_server_ids,
    build_catalog,
    decode_cursor,
    encode_cursor,
    name_collisions,
    namespaced_uri,
    server_id,
    shorten,
)

PUBLIC_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def tool(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "inputSchema": {"type": "object"}, **extra}


def source(name: str, sid: str | None = None, **caps: list[dict[str, Any]]) -> Source:
    return Source(name=name, id=server_id(name) if sid is None else sid, capabilities=caps)


def test_server_ids_follow_mcp_hub() -> None:
    assert server_id("echo.two") == "echo_two"
    assert server_id("github.com/x/y") == "github_com_x_y"
    assert assign_server_ids(["a.b", "a_b", "a-b", "a_b_1"]) == {
        "a.b": "a_b",
        "a_b": "a_b_1",
        "a-b": "a_b_2",
        "a_b_1": "a_b_1_1",
    }


def test_valid_names_are_kept_and_others_shortened_deterministically() -> None:
    assert shorten("srv__get-weather.v2") == "srv__get-weather.v2"
    long_name = "srv__" + "x" * 80
    short = shorten(long_name)
    assert PUBLIC_NAME.fullmatch(short) and len(short) == 64
    assert short == shorten(long_name)  # stable
    assert short != shorten(long_name + "y")  # different originals stay apart
    spaced = shorten("srv__say hello/world")
    assert PUBLIC_NAME.fullmatch(spaced)
    assert spaced.startswith("srv__say_hello_world_") and spaced != shorten("srv__say_hello_world")


def test_catalog_namespaces_every_kind_and_routes_back() -> None:
    catalog = build_catalog(
        [
            source(
                "echo.two",
                tools=[tool("echo", title="Echo")],
                resources=[{"uri": "file:///readme.txt", "name": "readme"}],
                resourceTemplates=[{"uriTemplate": "item://{id}", "name": "item"}],
                prompts=[{"name": "simple"}],
            )
        ]
    )
    listing = catalog.listing(TOOLS)
    assert listing.items == [
        {"name": "echo_two__echo", "title": "Echo", "inputSchema": {"type": "object"}}
    ]
    assert catalog.route(TOOLS, "echo_two__echo") == Route("echo.two", "echo")
    assert catalog.route(PROMPTS, "echo_two__simple") == Route("echo.two", "simple")
    assert catalog.listing(RESOURCES).items[0]["uri"] == "echo-two+file:///readme.txt"
    assert catalog.listing(TEMPLATES).items[0]["uriTemplate"] == "echo-two+item://{id}"
    assert catalog.route_resource("echo-two+file:///readme.txt") == Route(
        "echo.two", "file:///readme.txt", "echo-two"
    )
    assert catalog.route_resource("echo-two+item://7") == Route("echo.two", "item://7", "echo-two")
    assert catalog.route(TOOLS, "echo") is None
    assert catalog.route_resource("nope+x://y") is None
    assert catalog.route_resource("file:///readme.txt") is None


# An RFC 3986 URI (section 3): scheme ":" hier-part, the scheme a letter then letters,
# digits, "+", "-" or "."; no spaces, and "%" only before two hex digits.
RFC3986_URI = re.compile(
    r"[A-Za-z][A-Za-z0-9+.-]*:(?:[A-Za-z0-9._~!$&'()*+,;=:@/?#\[\]-]|%[0-9A-Fa-f]{2})*"
)


@pytest.mark.parametrize(
    ("name", "uri", "public"),
    [
        ("echo.two", "test://static-text", "echo-two+test://static-text"),
        ("GitHub", "repo://me/x?y=1#z", "github+repo://me/x?y=1#z"),
        ("1password", "file:///tmp/a%20b", "mcp-1password+file:///tmp/a%20b"),
        ("svn", "svn+ssh://host/repo", "svn+svn+ssh://host/repo"),
        ("notes", "no-scheme", "notes+:no-scheme"),
        ("x", "urn:isbn:0451450523", "x+urn:isbn:0451450523"),
    ],
)
def test_public_resource_uris_are_valid_uris_that_route_back(
    name: str, uri: str, public: str
) -> None:
    """mcp-hub's ``<id>__<uri>`` is no URI (``_`` is not a scheme character); ours are."""
    catalog = build_catalog([source(name, resources=[{"uri": uri, "name": "r"}])])
    assert catalog.listing(RESOURCES).items[0]["uri"] == public
    assert RFC3986_URI.fullmatch(public)
    route = catalog.route_resource(public)
    assert route is not None and (route.upstream, route.original) == (name, uri)
    assert namespaced_uri(route.namespace, route.original) == public  # contents, updates
    # schemes compare without case: a client may send the scheme in upper case
    scheme, rest = public.split(":", 1)
    assert catalog.route_resource(f"{scheme.upper()}:{rest}") == route


def test_uris_built_from_published_templates_reach_their_server() -> None:
    catalog = build_catalog(
        [
            source("gh", resourceTemplates=[{"uriTemplate": "repo://{owner}/{name}", "name": "r"}]),
            source("fs", resourceTemplates=[{"uriTemplate": "file:///{+path}", "name": "f"}]),
        ]
    )
    templates = [t["uriTemplate"] for t in catalog.listing(TEMPLATES).items]
    assert templates == ["gh+repo://{owner}/{name}", "fs+file:///{+path}"]
    # what an RFC 6570 client expands them to
    assert catalog.route_resource("gh+repo://me/hub") == Route("gh", "repo://me/hub", "gh")
    assert catalog.route_resource("fs+file:///a/b%20c") == Route("fs", "file:///a/b%20c", "fs")


def test_namespaces_are_unique_lower_case_and_stable() -> None:
    ids = assign_server_ids(["GitHub", "github", "a.b", "1x", "mcp_1x"])
    assert dict(assign_namespaces(tuple(ids.values()))) == {
        "GitHub": "github",
        "github": "github-1",
        "a_b": "a-b",
        "1x": "mcp-1x",
        "mcp_1x": "mcp-1x-1",
    }


def test_mcp_hub_resource_uris_are_still_accepted() -> None:
    catalog = build_catalog([source("a"), source("a__b", "a__b")])
    assert catalog.route_resource("a__b__x://1") == Route("a__b", "x://1", "a--b")
    assert catalog.route_resource("a__x://1") == Route("a", "x://1", "a")


def test_unprefixed_mode_keeps_unique_names_and_prefixes_collisions() -> None:
    catalog = build_catalog(
        [
            source(
                "a",
                tools=[tool("search"), tool("only_a")],
                resources=[{"uri": "mem://shared", "name": "s"}, {"uri": "mem://a", "name": "a"}],
                resourceTemplates=[{"uriTemplate": "doc://{id}", "name": "d"}],
                prompts=[{"name": "hello"}],
            ),
            source(
                "b",
                tools=[tool("search")],
                resources=[{"uri": "mem://shared", "name": "s"}],
                prompts=[{"name": "bye"}],
            ),
        ],
        unprefixed=True,
    )
    assert [t["name"] for t in catalog.listing(TOOLS).items] == ["a__search", "only_a", "b__search"]
    assert catalog.route(TOOLS, "only_a") == Route("a", "only_a")
    assert catalog.route(TOOLS, "b__search") == Route("b", "search")
    assert [r["uri"] for r in catalog.listing(RESOURCES).items] == [
        "a+mem://shared",
        "mem://a",
        "b+mem://shared",
    ]
    assert [p["name"] for p in catalog.listing(PROMPTS).items] == ["hello", "bye"]
    assert catalog.route_resource("mem://a") == Route("a", "mem://a")
    assert catalog.route_resource("doc://7") == Route("a", "doc://7")  # from a plain template
    assert catalog.route_resource("b+mem://shared") == Route("b", "mem://shared", "b")
    assert catalog.route_resource("other://1") is None  # two servers: nobody's
    assert [c.describe() for c in catalog.collisions] == [
        {"kind": "tools", "name": "search", "servers": ["a", "b"]},
        {"kind": "resources", "name": "mem://shared", "servers": ["a", "b"]},
    ]
    assert catalog.collisions == name_collisions(
        [
            source("a", tools=[tool("search")], resources=[{"uri": "mem://shared"}]),
            source("b", tools=[tool("search")], resources=[{"uri": "mem://shared"}]),
        ]
    )


def test_unprefixed_view_routes_any_uri_to_its_only_server() -> None:
    catalog = build_catalog([source("solo", "", tools=[tool("echo")])])
    assert catalog.listing(TOOLS).items[0]["name"] == "echo"
    assert catalog.route_resource("fixture://items/3") == Route("solo", "fixture://items/3")


def test_collisions_keep_the_first_and_shorten_the_next() -> None:
    catalog = build_catalog(
        [source("a", "a", tools=[tool("b__c")]), source("a__b", "a__b", tools=[tool("c")])]
    )
    names = [item["name"] for item in catalog.listing(TOOLS).items]
    assert names[0] == "a__b__c"
    assert names[1] != "a__b__c" and PUBLIC_NAME.fullmatch(names[1])
    assert catalog.route(TOOLS, names[0]) == Route("a", "b__c")
    assert catalog.route(TOOLS, names[1]) == Route("a__b", "c")


def test_invalid_definitions_are_skipped_not_fatal() -> None:
    catalog = build_catalog(
        [source("s", tools=[tool("ok"), {"name": "no-schema"}, {"inputSchema": {}}, "junk"])]  # type: ignore[list-item]
    )
    assert [item["name"] for item in catalog.listing(TOOLS).items] == ["s__ok"]


def test_ten_thousand_tools_list_completely_through_cursors() -> None:
    catalog = build_catalog(
        [source(f"srv{n}", tools=[tool(f"t{i}") for i in range(2500)]) for n in range(4)]
    )
    listing = catalog.listing(TOOLS)
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(100):
        page, cursor = listing.page(TOOLS, cursor, 1000)
        seen += [item["name"] for item in page]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 10_000
    assert seen[0] == "srv0__t0" and seen[-1] == "srv3__t2499"


def test_cursor_resumes_after_the_last_key_when_the_list_changed() -> None:
    before = build_catalog([source("s", tools=[tool(f"t{i}") for i in range(6)])])
    page, cursor = before.listing(TOOLS).page(TOOLS, None, 3)
    assert [item["name"] for item in page] == ["s__t0", "s__t1", "s__t2"]
    # t0 disappeared meanwhile: the next page still starts right after s__t2
    after = build_catalog([source("s", tools=[tool(f"t{i}") for i in range(1, 6)])])
    page, cursor = after.listing(TOOLS).page(TOOLS, cursor, 3)
    assert [item["name"] for item in page] == ["s__t3", "s__t4", "s__t5"]
    assert cursor is None


@pytest.mark.parametrize(
    "cursor", ["", "not base64!", encode_cursor(1, "x")[:-2] + "@@", "WzEsMl0"]
)
def test_foreign_cursors_are_rejected(cursor: str) -> None:
    with pytest.raises(InvalidCursorError):
        decode_cursor(cursor)


def test_changed_kinds_compare_definitions() -> None:
    one = build_catalog([source("s", tools=[tool("a")], prompts=[{"name": "p"}])])
    same = build_catalog([source("s", tools=[tool("a")], prompts=[{"name": "p"}])])
    described = build_catalog(
        [source("s", tools=[tool("a", description="new")], prompts=[{"name": "p"}])]
    )
    assert same.changed_kinds(one) == set()
    assert described.changed_kinds(one) == {"tools"}
    assert build_catalog([]).changed_kinds(one) == {"tools", "prompts"}
