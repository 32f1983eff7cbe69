"""Tool search (issue 16): tokens, stemming, BM25 ranking, incremental index, meta-tools."""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from typing import Any

import mcp_types as types
import pytest

from tornadohub.surface.meta_tools import (
    CALL_TOOL,
    DEFAULT_LIMIT,
    MAX_LIMIT,
    SEARCH_TOOL,
    CallRequest,
    MetaToolArgumentError,
    SearchRequest,
    error_result,
    meta_tool_definitions,
    parse_call_arguments,
    parse_search_arguments,
    search_result,
)
from tornadohub.surface.search import ToolIndex, query_terms, stem, tokenize


def tool(name: str, description: str = "", **params: str) -> dict[str, Any]:
    return {
        "name": name,
        "description": description,
        "inputSchema": {
            "type": "object",
            "properties": {
                key: {"type": "string", "description": text} for key, text in params.items()
            },
        },
    }


def entries(server: str, *tools: dict[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """``(original name, public definition)`` pairs, named ``<server>__<tool>`` like /mcp."""
    return [(t["name"], {**t, "name": f"{server}__{t['name']}"}) for t in tools]


CATALOG: dict[str, list[tuple[str, Mapping[str, Any]]]] = {
    "files": entries(
        "files",
        tool("read_file", "Read the whole text of a file.", path="Path of the file"),
        tool(
            "write_file",
            "Create or overwrite a file with new content.",
            path="Path",
            content="Text",
        ),
        tool("search_files", "Find files whose names match a glob pattern.", pattern="Glob"),
        tool("list_directory", "List the entries of a directory.", path="Directory path"),
        tool("move_file", "Move or rename a file.", source="From", destination="To"),
    ),
    "github": entries(
        "github",
        tool("create_issue", "Open a new issue in a repository.", owner="Owner", repo="Repo"),
        tool("list_issues", "List the issues of a repository, filtered by state."),
        tool("create_pull_request", "Open a pull request from one branch to another."),
        tool("getFileContents", "Get the contents of a file or directory from a repository."),
        tool("search_repositories", "Search GitHub repositories by keyword."),
    ),
    "browser": entries(
        "browser",
        tool("browser_navigate", "Navigate the page to a URL.", url="The URL"),
        tool("browser_take_screenshot", "Take a screenshot of the current page."),
        tool("browser_click", "Click an element on the page.", element="Description"),
    ),
}


def build(catalog: Mapping[str, Sequence[tuple[str, Mapping[str, Any]]]] = CATALOG) -> ToolIndex:
    index = ToolIndex()
    for server, tools in catalog.items():
        index.replace_server(server, tools)
    return index


def names(index: ToolIndex, query: str, limit: int = 5) -> list[str]:
    return [hit.name for hit in index.search(query, limit)]


# --------------------------------------------------------------------------- #
# Text normalisation
# --------------------------------------------------------------------------- #


def test_tokenize_splits_snake_camel_namespaces_and_digits() -> None:
    assert tokenize("github__getFileContents") == [
        "github",
        "get",
        "file",
        "contents",
        "getfilecontents",  # a mixed-case word is also kept whole
    ]
    assert tokenize("browser_take-screenshot.v2") == ["browser", "take", "screenshot", "v", "2"]
    assert tokenize("parseHTTPResponse OAuth2") == [
        "parse",
        "http",
        "response",
        "parsehttpresponse",
        "o",
        "auth",
        "2",
    ]
    assert tokenize("JavaScript javascript") == ["java", "script", "javascript", "javascript"]
    assert tokenize("") == []


@pytest.mark.parametrize(
    "words",
    [
        ("file", "files"),
        ("search", "searches", "searching", "searched"),
        ("create", "created", "creating", "creation", "creates"),
        ("run", "running", "runs"),
        ("commit", "commits", "committed"),
        ("directory", "directories"),
        ("process", "processes"),
        ("navigate", "navigation", "navigating"),
    ],
)
def test_stem_merges_word_forms(words: tuple[str, ...]) -> None:
    assert len({stem(word) for word in words}) == 1, [stem(word) for word in words]


def test_stem_leaves_short_and_non_alpha_words() -> None:
    assert stem("ids") == "ids" and stem("status") == "status" and stem("v2") == "v2"
    assert stem("string") == "string"  # no vowel before -ing: not a verb form


def test_query_terms_drop_stop_words_and_repeats() -> None:
    assert query_terms("How do I read the file, the FILE?") == ["read", stem("file")]


# --------------------------------------------------------------------------- #
# Ranking
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("read a file", "files__read_file"),
        ("take a screenshot of the page", "browser__browser_take_screenshot"),
        ("open a new issue", "github__create_issue"),
        ("create pull request", "github__create_pull_request"),
        ("rename a file", "files__move_file"),
        ("find files matching a glob", "files__search_files"),
        ("go to url", "browser__browser_navigate"),
        ("get file contents from github", "github__getFileContents"),
        ("search_repositories", "github__search_repositories"),
    ],
)
def test_ranking_expectations(query: str, expected: str) -> None:
    assert names(build(), query)[0] == expected


def test_an_unknown_query_term_matches_the_words_it_begins() -> None:
    index = build()
    assert names(index, "reposit")[0] == "github__search_repositories"
    assert names(index, "screens")[0] == "browser__browser_take_screenshot"
    # a term the index knows is not expanded: "repo" is a parameter of create_issue only
    assert names(index, "repo", 10) == ["github__create_issue"]
    assert index.search("rep") == []  # too short to expand


def test_no_match_empty_query_and_limits() -> None:
    index = build()
    assert index.search("zzzz qqqq") == []
    assert index.search("the of and") == []  # nothing but stop words
    assert index.search("") == []
    assert index.search("file", 0) == []
    assert len(index.search("file", 2)) == 2
    assert ToolIndex().search("file") == []


def test_hits_carry_the_published_definition_and_server() -> None:
    hit = build().search("screenshot", 1)[0]
    assert hit.server == "browser" and hit.score > 0
    assert hit.definition["name"] == "browser__browser_take_screenshot"
    assert hit.definition["description"] == "Take a screenshot of the current page."


def test_ranking_is_deterministic_whatever_the_insertion_order() -> None:
    queries = ["file", "create", "page", "list issues", "repository file contents", "zz"]
    reference = build()
    expected = {q: [(h.name, round(h.score, 9)) for h in reference.search(q, 20)] for q in queries}
    servers = list(CATALOG)
    rng = random.Random(7)
    for _ in range(5):
        rng.shuffle(servers)
        index = ToolIndex()
        for server in servers:
            index.replace_server(server, list(reversed(CATALOG[server])))
        # churn: remove and re-add a server
        index.remove_server(servers[0])
        index.replace_server(servers[0], CATALOG[servers[0]])
        for query in queries:
            assert [(h.name, round(h.score, 9)) for h in index.search(query, 20)] == expected[query]


def test_a_name_outweighs_repeated_mentions_in_a_description() -> None:
    catalog = {
        "s": entries(
            "s",
            tool("take_screenshot", "Capture the visible page as an image."),
            tool("page_report", "Report on a page: screenshot status, screenshot size, links."),
        )
    }
    assert names(build(catalog), "screenshot") == ["s__take_screenshot", "s__page_report"]


def test_ties_break_by_name() -> None:
    twins = entries("s", tool("beta_tool", "same words"), tool("alpha_tool", "same words"))
    hits = build({"s": twins}).search("same words", 5)
    assert [hit.name for hit in hits] == ["s__alpha_tool", "s__beta_tool"]
    assert hits[0].score == hits[1].score


# --------------------------------------------------------------------------- #
# Incremental updates
# --------------------------------------------------------------------------- #


def test_replace_and_remove_server_update_results() -> None:
    index = build()
    assert len(index) == 13
    index.remove_server("browser")
    assert len(index) == 10 and index.search("screenshot") == []
    index.replace_server("browser", entries("browser", tool("snap", "Take a screenshot.")))
    assert names(index, "screenshot") == ["browser__snap"]
    index.remove_server("nobody")  # unknown: nothing happens
    assert sorted(index.servers) == ["browser", "files", "github"]


def test_incremental_index_equals_a_fresh_one() -> None:
    index = build()
    for query in ["read file", "page", "click element", "issue"]:
        index.search(query)  # fill the lazy caches before changing the catalog
    index.replace_server("files", entries("files", tool("read_file", "Read a file.")))
    index.remove_server("github")
    fresh = build(
        {
            "files": entries("files", tool("read_file", "Read a file.")),
            "browser": CATALOG["browser"],
        }
    )
    index.search("click element")  # and again after the first changes
    index.replace_server("new", entries("new", tool("click_here", "Click a page element.")))
    fresh.replace_server("new", entries("new", tool("click_here", "Click a page element.")))
    for query in ["read file", "page", "click element", "issue"]:
        assert [(h.name, h.score) for h in index.search(query, 10)] == [
            (h.name, h.score) for h in fresh.search(query, 10)
        ]


def test_a_changed_definition_is_tokenized_again() -> None:
    index = build()
    assert index.search("teleport") == []
    files = [
        (original, {**definition, "description": "Teleport the file."})
        if original == "move_file"
        else (original, definition)
        for original, definition in CATALOG["files"]
    ]
    index.replace_server("files", files)
    assert names(index, "teleport") == ["files__move_file"]
    # same public name, other upstream name: tokenized again too
    index.replace_server("files", [("warp_file", files[4][1])])
    assert names(index, "warp") == ["files__move_file"]


def test_sync_reindexes_only_changed_servers() -> None:
    index = ToolIndex()
    assert sorted(index.sync(CATALOG)) == sorted(CATALOG)
    same = {server: list(tools) for server, tools in CATALOG.items()}  # equal, not identical
    assert index.sync(same) == []
    changed = {**same, "browser": entries("browser", tool("snap", "Take a screenshot."))}
    del changed["github"]
    assert index.sync(changed) == ["browser"]
    assert sorted(index.servers) == ["browser", "files"]
    assert index.search("issue") == []


def test_a_public_name_taken_by_another_server_is_skipped() -> None:
    index = ToolIndex()
    index.replace_server("a", [("x", tool("shared", "first"))])
    index.replace_server("b", [("x", tool("shared", "second")), ("y", tool("own", "second"))])
    assert len(index) == 2
    assert index.search("first")[0].server == "a"


# --------------------------------------------------------------------------- #
# Meta-tools
# --------------------------------------------------------------------------- #


def test_meta_tool_definitions_are_valid_mcp_tools() -> None:
    definitions = meta_tool_definitions()
    assert [d["name"] for d in definitions] == [SEARCH_TOOL, CALL_TOOL]
    for definition in definitions:
        types.Tool.model_validate(definition)
    search, call = definitions
    assert search["inputSchema"]["required"] == ["query"]
    assert set(search["inputSchema"]["properties"]) == {"query", "limit"}
    assert search["inputSchema"]["properties"]["limit"]["maximum"] == MAX_LIMIT
    assert call["inputSchema"]["required"] == ["name"]
    assert set(call["inputSchema"]["properties"]) == {"name", "arguments"}
    assert meta_tool_definitions() is not definitions  # callers may mutate their copy


def test_search_result_shape_matches_the_output_schema() -> None:
    hits = build().search("screenshot", 2)
    result = search_result(hits)
    parsed = types.CallToolResult.model_validate(result)
    assert parsed.is_error is False
    structured = result["structuredContent"]
    assert json.loads(result["content"][0]["text"]) == structured
    first = structured["tools"][0]
    assert list(first) == ["name", "description", "inputSchema"]
    assert first["name"] == "browser__browser_take_screenshot"
    assert search_result([]) == {
        "content": [{"type": "text", "text": '{"tools":[]}'}],
        "structuredContent": {"tools": []},
        "isError": False,
    }


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"query": " read file "}, SearchRequest("read file", DEFAULT_LIMIT)),
        ({"query": "x", "limit": 3}, SearchRequest("x", 3)),
        ({"query": "x", "limit": 3.0}, SearchRequest("x", 3)),
        ({"query": "x", "limit": None}, SearchRequest("x", DEFAULT_LIMIT)),
    ],
)
def test_parse_search_arguments(arguments: dict[str, Any], expected: SearchRequest) -> None:
    assert parse_search_arguments(arguments) == expected


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (None, "search_tools needs a query: a non-empty string"),
        ({"query": "  "}, "search_tools needs a query: a non-empty string"),
        ({"query": 3}, "search_tools needs a query: a non-empty string"),
        ({"query": "x", "limit": 0}, f"limit must be an integer from 1 to {MAX_LIMIT}"),
        ({"query": "x", "limit": 51}, f"limit must be an integer from 1 to {MAX_LIMIT}"),
        ({"query": "x", "limit": True}, f"limit must be an integer from 1 to {MAX_LIMIT}"),
        ({"query": "x", "limit": "5"}, f"limit must be an integer from 1 to {MAX_LIMIT}"),
        ({"query": "x", "q": 1}, "search_tools takes only query and limit; unexpected: q"),
    ],
)
def test_search_argument_errors(arguments: dict[str, Any] | None, message: str) -> None:
    with pytest.raises(MetaToolArgumentError) as caught:
        parse_search_arguments(arguments)
    assert str(caught.value) == message


def test_parse_call_arguments() -> None:
    assert parse_call_arguments({"name": "a__b"}) == CallRequest("a__b", {})
    assert parse_call_arguments({"name": "a__b", "arguments": None}) == CallRequest("a__b", {})
    assert parse_call_arguments({"name": "a__b", "arguments": {"x": 1}}) == CallRequest(
        "a__b", {"x": 1}
    )


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({}, "call_tool needs the name of a tool, as search_tools gave it"),
        ({"name": ""}, "call_tool needs the name of a tool, as search_tools gave it"),
        ({"name": "a", "arguments": [1]}, "arguments must be an object (the tool's arguments)"),
        ({"name": "a", "path": "/x"}, "call_tool takes only name and arguments; unexpected: path"),
    ],
)
def test_call_argument_errors(arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(MetaToolArgumentError) as caught:
        parse_call_arguments(arguments)
    assert str(caught.value) == message
    result = error_result(caught.value)
    assert types.CallToolResult.model_validate(result).is_error is True
    assert result["content"][0]["text"] == message
