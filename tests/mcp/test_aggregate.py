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
    assign_server_ids,
    build_catalog,
    decode_cursor,
    encode_cursor,
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
    assert catalog.listing(RESOURCES).items[0]["uri"] == "echo_two__file:///readme.txt"
    assert catalog.listing(TEMPLATES).items[0]["uriTemplate"] == "echo_two__item://{id}"
    assert catalog.route_resource("echo_two__file:///readme.txt") == Route(
        "echo.two", "file:///readme.txt"
    )
    assert catalog.route_resource("echo_two__item://7") == Route("echo.two", "item://7")
    assert catalog.route(TOOLS, "echo") is None
    assert catalog.route_resource("nope__x://y") is None
    assert catalog.route_resource("file:///readme.txt") is None


def test_template_uris_go_to_the_longest_matching_server_id() -> None:
    catalog = build_catalog([source("a", "a"), source("a__b", "a__b")])
    assert catalog.route_resource("a__b__x://1") == Route("a__b", "x://1")
    assert catalog.route_resource("a__x://1") == Route("a", "x://1")


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
