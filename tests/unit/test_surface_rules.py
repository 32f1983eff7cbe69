"""Tool-surface rules (issue 16): glob syntax, server visibility, profiles, validation messages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tornadohub.config import check_config, load_config
from tornadohub.surface import Surface, parse_surface
from tornadohub.surface.filters import UNRESTRICTED, parse_server_visibility
from tornadohub.surface.globs import GlobError, GlobSet, expand_braces
from tornadohub.surface.profiles import parse_profiles

# --------------------------------------------------------------------------- #
# Globs
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(
    ("pattern", "matching", "not_matching"),
    [
        ("read_*", ["read_file", "read_", "read_a/b"], ["Read_file", "xread_file", "read"]),
        ("*file*", ["file", "read_file", "file_info"], ["fil", "FILE"]),
        ("get_?", ["get_a", "get_1"], ["get_", "get_ab"]),
        ("[gs]et_*", ["get_x", "set_x"], ["let_x", "[gs]et_x"]),
        ("[!gs]et_*", ["let_x"], ["get_x", "set_x"]),
        ("issue_[0-9]", ["issue_7"], ["issue_x"]),
        ("[*]", ["*"], ["a", "**"]),
        ("file:///tmp/*", ["file:///tmp/a", "file:///tmp/a/b.txt"], ["file:///etc/passwd"]),
        ("github__*", ["github__create_issue"], ["gitlab__create_issue"]),
        ("{get,list}_*", ["get_me", "list_issues"], ["set_me", "{get,list}_x"]),
        ("*_{issue{,s},pr}", ["create_issue", "list_issues", "merge_pr"], ["merge_prs"]),
        ("exact", ["exact"], ["exactly", "inexact"]),
    ],
)
def test_glob_semantics(pattern: str, matching: list[str], not_matching: list[str]) -> None:
    globs = GlobSet.of([pattern])
    for name in matching:
        assert globs.matches(name), (pattern, name)
    for name in not_matching:
        assert not globs.matches(name), (pattern, name)


def test_glob_set_is_any_of_and_empty_matches_nothing() -> None:
    globs = GlobSet.of(["a*", "b*"])
    assert globs.matches("apple") and globs.matches("banana") and not globs.matches("cherry")
    assert not GlobSet(()).matches("")
    assert not GlobSet(())


def test_brace_expansion_order_and_brackets() -> None:
    assert expand_braces("{a,b}c{d,e}") == ["acd", "ace", "bcd", "bce"]
    assert expand_braces("x{a,a}") == ["xa"]
    assert expand_braces("[{]") == ["[{]"]  # a brace inside a set is a character
    assert expand_braces("a{b,[,}]}c") == ["abc", "a[,}]c"]
    # without a comma the braces are characters, as in the shell: URI templates match
    assert expand_braces("file:///{path}") == ["file:///{path}"]
    assert expand_braces("{a{b,c}}") == ["{ab}", "{ac}"]
    assert expand_braces("x{}y{a,b}") == ["x{}ya", "x{}yb"]
    assert GlobSet(("db://{id}",)).matches("db://{id}")
    assert not GlobSet(("db://{id}",)).matches("db://id")


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("read_{file", "has a '{' without its '}'"),
        ("read_file}", "has a '}' without its '{'"),
        ("{a,b}{c,d}{e,f}{g,h}{i,j}{k,l}{m,n}{o,p}{q,r}", "expands to more than 256"),
    ],
)
def test_glob_errors(pattern: str, message: str) -> None:
    with pytest.raises(GlobError, match=message):
        GlobSet.of([pattern])


# --------------------------------------------------------------------------- #
# Server visibility
# --------------------------------------------------------------------------- #

CAPS: dict[str, list[dict[str, Any]]] = {
    "tools": [
        {"name": "read_file"},
        {"name": "write_file"},
        {"name": "delete_file"},
        {"name": "list_directory"},
    ],
    "resources": [{"uri": "file:///tmp/a"}, {"uri": "file:///etc/passwd"}],
    "resourceTemplates": [{"uriTemplate": "file:///tmp/{name}"}, {"uriTemplate": "db://{id}"}],
    "prompts": [{"name": "summarize"}, {"name": "review"}],
}


def shown(entry: dict[str, Any]) -> dict[str, list[str]]:
    visibility, errors = parse_server_visibility("fs", entry)
    assert errors == []
    result = visibility.apply(CAPS)
    ids = {"tools": "name", "resources": "uri", "resourceTemplates": "uriTemplate"}
    return {kind: [item[ids.get(kind, "name")] for item in items] for kind, items in result.items()}


def test_no_rules_is_unrestricted_and_returns_the_same_object() -> None:
    visibility, errors = parse_server_visibility("fs", {"command": "x", "disabled_tools": []})
    assert visibility is UNRESTRICTED and errors == []
    assert visibility.apply(CAPS) is CAPS


def test_mcphub_nvim_disabled_lists_hide_exact_names() -> None:
    result = shown(
        {
            "disabled_tools": ["write_file", "delete_file", "no_such_tool"],
            "disabled_resources": ["file:///etc/passwd"],
            "disabled_resourceTemplates": ["db://{id}"],
            "disabled_prompts": ["review"],
        }
    )
    assert result == {
        "tools": ["read_file", "list_directory"],
        "resources": ["file:///tmp/a"],
        "resourceTemplates": ["file:///tmp/{name}"],
        "prompts": ["summarize"],
    }


def test_disabled_names_are_not_patterns() -> None:
    assert shown({"disabled_tools": ["*_file"]})["tools"] == [t["name"] for t in CAPS["tools"]]


def test_lua_empty_table_counts_as_an_empty_list() -> None:
    visibility, errors = parse_server_visibility("fs", {"disabled_tools": {}})
    assert errors == [] and visibility is UNRESTRICTED


def test_include_then_exclude() -> None:
    result = shown({"tools": {"include": ["*_file"], "exclude": ["delete_*"]}})
    assert result["tools"] == ["read_file", "write_file"]
    assert result["prompts"] == ["summarize", "review"]  # other kinds untouched


def test_exclude_alone_and_empty_include() -> None:
    assert shown({"tools": {"exclude": ["{write,delete}_*"]}})["tools"] == [
        "read_file",
        "list_directory",
    ]
    assert shown({"prompts": {"include": []}})["prompts"] == []


def test_resources_filter_covers_uris_and_templates() -> None:
    result = shown({"resources": {"include": ["file:///tmp/*"]}})
    assert result["resources"] == ["file:///tmp/a"]
    assert result["resourceTemplates"] == ["file:///tmp/{name}"]


def test_disabled_wins_over_include() -> None:
    result = shown({"tools": {"include": ["read_file"]}, "disabled_tools": ["read_file"]})
    assert result["tools"] == []


def test_visible_answers_per_name() -> None:
    visibility, _ = parse_server_visibility(
        "fs", {"tools": {"exclude": ["delete_*"]}, "disabled_prompts": ["review"]}
    )
    assert visibility.visible("tools", "read_file")
    assert not visibility.visible("tools", "delete_file")
    assert not visibility.visible("prompts", "review")
    assert visibility.visible("resources", "file:///etc/passwd")


def test_items_without_their_name_field_are_hidden_once_rules_apply() -> None:
    visibility, _ = parse_server_visibility("fs", {"tools": {"exclude": ["x"]}})
    result = visibility.apply({"tools": [{"name": "a"}, {"description": "no name"}]})
    assert result["tools"] == [{"name": "a"}]


@pytest.mark.parametrize(
    ("entry", "messages"),
    [
        (
            {"tools": ["read_*"]},
            [
                "Server 'fs' has invalid tools config: must be an object with "
                '"include" and/or "exclude", not an array'
            ],
        ),
        (
            {"tools": {"include": "read_*"}},
            [
                "Server 'fs' has invalid tools.include config: must be an array of glob "
                "patterns, not a string"
            ],
        ),
        (
            {"prompts": {"exclude": ["ok", "", 3]}},
            [
                "Server 'fs' has invalid prompts.exclude[1] pattern: must be a non-empty "
                "string, not an empty string",
                "Server 'fs' has invalid prompts.exclude[2] pattern: must be a non-empty "
                "string, not a number",
            ],
        ),
        (
            {"resources": {"include": ["file:///{tmp"]}},
            [
                "Server 'fs' has invalid resources.include[0] pattern 'file:///{tmp': "
                "has a '{' without its '}'"
            ],
        ),
        (
            {"tools": {"includes": ["read_*"]}},
            [
                "Server 'fs' has invalid tools config: unknown key 'includes' "
                '(use "include", "exclude")'
            ],
        ),
        (
            {"disabled_tools": "write_file"},
            ["Server 'fs' has invalid disabled_tools config: must be an array of strings"],
        ),
        (
            {"disabled_resourceTemplates": [1]},
            [
                "Server 'fs' has invalid disabled_resourceTemplates config: "
                "must be an array of strings"
            ],
        ),
    ],
)
def test_validation_messages(entry: dict[str, Any], messages: list[str]) -> None:
    _, errors = parse_server_visibility("fs", entry)
    assert errors == messages


def test_an_unusable_rule_hides_only_the_kinds_it_governs() -> None:
    visibility, errors = parse_server_visibility(
        "fs", {"tools": {"include": "read_*"}, "disabled_resourceTemplates": "x"}
    )
    assert len(errors) == 2
    result = visibility.apply(CAPS)
    assert result["tools"] == [] and result["resourceTemplates"] == []
    assert result["prompts"] == CAPS["prompts"] and result["resources"] == CAPS["resources"]


def test_entries_that_are_not_objects_are_left_to_config() -> None:
    assert parse_server_visibility("fs", "nope") == (UNRESTRICTED, [])


# --------------------------------------------------------------------------- #
# Profiles
# --------------------------------------------------------------------------- #

SERVERS = ("github", "filesystem", "echo.two")


def test_profile_parsing() -> None:
    profiles, errors = parse_profiles(
        {
            "coding": {
                "servers": ["github", "filesystem"],
                "tools": {"exclude": ["github__delete_*"]},
                "search": True,
            },
            "everything": {},
        },
        SERVERS,
    )
    assert errors == []
    coding = profiles["coding"]
    assert coding.search and coding.admits("github") and not coding.admits("echo.two")
    assert coding.visible("tools", "github", "create_issue")
    assert not coding.visible("tools", "github", "delete_repo")
    assert coding.visible("prompts", "github", "delete_repo")  # only tools are filtered
    everything = profiles["everything"]
    assert not everything.search and everything.admits("anything") and not everything.filters
    assert coding.to_json() == {
        "name": "coding",
        "endpoint": "/profiles/coding/mcp",
        "servers": ["filesystem", "github"],
        "search": True,
    }
    assert everything.to_json()["servers"] is None


def test_profile_resource_filter_covers_templates_with_the_server_qualifier() -> None:
    profiles, _ = parse_profiles({"p": {"resources": {"include": ["fs__file:///*"]}}}, SERVERS)
    profile = profiles["p"]
    assert profile.visible("resources", "fs", "file:///a")
    assert profile.visible("resourceTemplates", "fs", "file:///{x}")
    assert not profile.visible("resources", "db", "file:///a")


@pytest.mark.parametrize(
    ("value", "messages", "served"),
    [
        ("coding", ["Invalid profiles config: must be an object of named profiles"], []),
        ({"coding": []}, ["Profile 'coding' must be an object"], []),
        (
            {"my coding": {}, ".hidden": {}, "ok": {}},
            [
                "Profile 'my coding' has an invalid name: use letters, digits, '_', '.' and '-'"
                " (at most 64, not starting with '.')",
                "Profile '.hidden' has an invalid name: use letters, digits, '_', '.' and '-'"
                " (at most 64, not starting with '.')",
            ],
            ["ok"],
        ),
        (
            {"coding": {"server": ["github"]}},
            [
                "Profile 'coding' has unknown key 'server' "
                "(use servers, tools, prompts, resources, search)"
            ],
            [],
        ),
        (
            {"coding": {"servers": "github"}},
            ["Profile 'coding' has invalid servers config: must be an array of server names"],
            [],
        ),
        (
            {"coding": {"search": "yes"}},
            ["Profile 'coding' has invalid search config: must be true or false"],
            [],
        ),
        (
            {"coding": {"tools": {"include": ["github__{a"]}}, "ok": {}},
            [
                "Profile 'coding' has invalid tools.include[0] pattern 'github__{a': "
                "has a '{' without its '}'"
            ],
            ["ok"],
        ),
        (
            {"coding": {"servers": ["github", "gitub"]}},
            ["Profile 'coding' names unknown server 'gitub'"],
            ["coding"],
        ),
    ],
)
def test_profile_messages(value: Any, messages: list[str], served: list[str]) -> None:
    profiles, errors = parse_profiles(value, SERVERS)
    assert errors == messages
    assert list(profiles) == served


# --------------------------------------------------------------------------- #
# The whole surface, from a real config file
# --------------------------------------------------------------------------- #


def write_config(tmp_path: Path, document: dict[str, Any]) -> str:
    path = tmp_path / "hub.json"
    path.write_text(json.dumps(document))
    return str(path)


def test_parse_surface_from_a_loaded_config(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        {
            "mcpServers": {
                "fs": {"command": "x", "disabled_tools": ["delete_file"]},
                "github": {"url": "http://127.0.0.1:1/mcp", "tools": {"include": "x"}},
                "plain": {"command": "y"},
            },
            "profiles": {
                "coding": {"servers": ["fs", "github", "nope"], "search": True},
                "broken": {"search": 1},
            },
        },
    )
    config = load_config([path])
    surface = config.surface
    assert surface == parse_surface(config.data)
    expected = (
        "Server 'github' has invalid tools.include config: must be an array of glob "
        "patterns, not a string",
        "Profile 'coding' names unknown server 'nope'",
        "Profile 'broken' has invalid search config: must be true or false",
    )
    assert surface.errors == expected
    assert set(surface.servers) == {"fs", "github"}  # "plain" has no rules
    assert list(surface.profiles) == ["coding"]
    # every server entry is still valid for mcp-hub; check-config adds the surface's errors
    assert config.errors == []
    assert check_config([path]) == list(expected)


def test_capabilities_for_combines_server_rules_and_profile() -> None:
    surface = parse_surface(
        {
            "mcpServers": {"fs": {"disabled_tools": ["delete_file"]}, "db": {}},
            "profiles": {
                "read": {"servers": ["fs"], "tools": {"include": ["*__read_*", "*__list_*"]}},
                "all": {},
            },
        }
    )
    plain = surface.capabilities_for("fs", "fs", CAPS)
    assert plain is not None
    assert [t["name"] for t in plain["tools"]] == ["read_file", "write_file", "list_directory"]
    read = surface.capabilities_for("fs", "fs", CAPS, surface.profiles["read"])
    assert read is not None
    assert [t["name"] for t in read["tools"]] == ["read_file", "list_directory"]
    assert read["prompts"] == CAPS["prompts"]
    assert surface.capabilities_for("db", "db", CAPS, surface.profiles["read"]) is None
    assert surface.capabilities_for("db", "db", CAPS, surface.profiles["all"]) is CAPS


def test_profile_resource_patterns_match_the_public_uri_or_the_qualified_form() -> None:
    surface = parse_surface(
        {
            "mcpServers": {"fs": {}},
            "profiles": {
                "public": {"resources": {"include": ["fs+file:///*"]}},
                "qualified": {"resources": {"include": ["fs__file:///*"]}},
                "mixed": {"resources": {"include": ["fs+*"], "exclude": ["fs__file:///b*"]}},
            },
        }
    )
    caps = {
        "resources": [{"uri": "file:///a"}, {"uri": "file:///b"}, {"uri": "mem://c"}],
        "resourceTemplates": [{"uriTemplate": "file:///{path}"}],
    }

    def public(uri: str) -> str:
        return f"fs+{uri}"

    def shown(profile: str, kind: str) -> list[str]:
        got = surface.capabilities_for("fs", "fs", caps, surface.profiles[profile], public)
        assert got is not None
        return [item.get("uri") or item["uriTemplate"] for item in got[kind]]

    for profile in ("public", "qualified"):
        assert shown(profile, "resources") == ["file:///a", "file:///b"]
        assert shown(profile, "resourceTemplates") == ["file:///{path}"]
    # include by the public form, exclude by mcp-hub's: both apply
    assert shown("mixed", "resources") == ["file:///a", "mem://c"]


def test_empty_document_gives_an_empty_surface() -> None:
    assert parse_surface({}) == Surface()
    assert parse_surface({"mcpServers": {"a": {"command": "x"}}}).servers == {}
