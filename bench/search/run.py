"""The tool search bench: quality on real tool definitions, speed over 10,000 tools.

``python -m bench.search.run`` (or ``make bench-search``). The first run installs the npm
servers under build/search-bench and captures their tools (:mod:`bench.search.capture`,
a few minutes); later runs use the cache and need no network.

Quality: every labelled query in ``queries.json`` is searched over the captured catalog
(each tool under its /mcp name ``<server id>__<tool>``). A query's relevant set is every
tool that does what it asks; recall@5 is ``|relevant in top 5| / min(|relevant|, 5)``,
averaged; success@5 counts queries with at least one relevant tool in the top 5; MRR is
the mean of 1 / rank of the first relevant tool (0 when none is in the top 10).

Speed: the real catalog is copied under renamed servers up to 10,000 tools. Timed: a full
build, indexing the largest server anew (it connected), re-indexing it when one of its tools
changed (``list_changed``), the first search after a change (lazy statistics), and every
query ``--rounds`` times on the warm index (p50, p95, max).

Wired: quality and speed the way a profile in search mode serves ``search_tools``
(:mod:`tornadohub.mcp.search_mode`): the catalog is built as ``/mcp`` builds it
(``build_catalog``: validation, namespacing), and each search goes through the view's
``ToolSearch`` (which syncs its index to the catalog it is given) and ends in the JSON
result the client gets. Timed: the catalog rebuild after one tool changed, the first search
after it (the index finds the changed server and re-indexes only it), and every query on
the warm index.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.search.capture import load_catalog
from bench.search.install import BUILD
from tornadohub.mcp.aggregate import Source, build_catalog, server_id
from tornadohub.mcp.search_mode import ToolSearch, search_catalog
from tornadohub.surface.meta_tools import search_result
from tornadohub.surface.search import ToolIndex

QUERIES = Path(__file__).with_name("queries.json")
OUT = BUILD / "out"
Entries = list[tuple[str, Mapping[str, Any]]]


def public_catalog(captured: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, Entries]:
    """Server -> ``(tool name, definition under its public name)``, as /mcp publishes them."""
    return {
        server: [(tool["name"], {**tool, "name": f"{server}__{tool['name']}"}) for tool in tools]
        for server, tools in captured.items()
    }


def scaled_catalog(catalog: Mapping[str, Entries], size: int) -> dict[str, Entries]:
    """Copies of *catalog* under servers ``<id>_<n>`` until exactly *size* tools."""
    scaled: dict[str, Entries] = {}
    total = 0
    copy = 0
    while total < size:
        for server, tools in catalog.items():
            name = f"{server}_{copy}"
            room = size - total
            chosen: Entries = [
                (original, {**definition, "name": f"{name}__{original}"})
                for original, definition in tools[:room]
            ]
            scaled[name] = chosen
            total += len(chosen)
            if total >= size:
                break
        copy += 1
    return scaled


def build_index(catalog: Mapping[str, Entries]) -> ToolIndex:
    index = ToolIndex()
    for server, tools in catalog.items():
        index.replace_server(server, tools)
    return index


def quality(index: ToolIndex, queries: list[dict[str, Any]]) -> dict[str, Any]:
    recalls: list[float] = []
    reciprocal_ranks: list[float] = []
    successes = 0
    misses: list[dict[str, Any]] = []
    for item in queries:
        relevant = set(item["relevant"])
        ranked = [hit.name for hit in index.search(item["query"], 10)]
        top5 = ranked[:5]
        found = len(relevant.intersection(top5))
        recalls.append(found / min(len(relevant), 5))
        successes += found > 0
        first = next((rank for rank, name in enumerate(ranked, 1) if name in relevant), None)
        reciprocal_ranks.append(1 / first if first else 0.0)
        if found < min(len(relevant), 5):
            misses.append(
                {"query": item["query"], "missing": sorted(relevant - set(top5)), "top5": top5}
            )
    count = len(queries)
    return {
        "queries": count,
        "recall_at_5": sum(recalls) / count,
        "success_at_5": successes / count,
        "mrr_at_10": sum(reciprocal_ranks) / count,
        "misses": misses,
    }


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def speed(
    catalog: Mapping[str, Entries], queries: list[str], size: int, rounds: int
) -> dict[str, Any]:
    scaled = scaled_catalog(catalog, size)
    builds, cpu_builds = [], []
    for _ in range(3):
        cpu_started = time.process_time()
        started = time.perf_counter()
        index = build_index(scaled)
        builds.append(time.perf_counter() - started)
        cpu_builds.append(time.process_time() - cpu_started)
    largest = max(scaled, key=lambda server: len(scaled[server]))
    tools = scaled[largest]
    updates, edits, first_searches = [], [], []
    for round_ in range(5):
        index.remove_server(largest)
        started = time.perf_counter()
        index.replace_server(largest, list(tools))  # a server (re)connects: all tools new
        updates.append(time.perf_counter() - started)
        original, definition = tools[0]
        edited = [(original, {**definition, "description": f"changed {round_}"}), *tools[1:]]
        started = time.perf_counter()
        index.replace_server(largest, edited)  # list_changed: one tool differs
        edits.append(time.perf_counter() - started)
        started = time.perf_counter()
        index.search(queries[0], 10)
        first_searches.append(time.perf_counter() - started)
    for query in queries:  # warm the per-term cache once, as a running hub would be
        index.search(query, 10)
    samples, cpu_samples = [], []
    for _ in range(rounds):
        for query in queries:
            cpu_started = time.process_time()
            started = time.perf_counter()
            index.search(query, 10)
            samples.append(time.perf_counter() - started)
            cpu_samples.append(time.process_time() - cpu_started)
    samples.sort()
    cpu_samples.sort()
    return {
        "tools": len(index),
        "servers": len(scaled),
        "build_ms_median": _ms(statistics.median(builds)),
        "build_cpu_ms_median": _ms(statistics.median(cpu_builds)),
        "update_server": largest,
        "update_server_tools": len(scaled[largest]),
        "update_ms_median": _ms(statistics.median(updates)),
        "one_tool_changed_ms_median": _ms(statistics.median(edits)),
        "first_search_after_update_ms_median": _ms(statistics.median(first_searches)),
        "search_samples": len(samples),
        "search_p50_ms": _ms(samples[len(samples) // 2]),
        "search_cpu_p50_ms": _ms(cpu_samples[len(cpu_samples) // 2]),
        "search_p95_ms": _ms(samples[int(len(samples) * 0.95)]),
        "search_max_ms": _ms(samples[-1]),
    }


def sources(catalog: Mapping[str, Entries], changed: int = -1) -> list[Source]:
    """What ``/mcp`` builds its catalog from: each server's own tool definitions (the first
    tool of the first server with another description when *changed* >= 0)."""
    built = []
    for position, (server, tools) in enumerate(catalog.items()):
        own = [{**definition, "name": original} for original, definition in tools]
        if position == 0 and changed >= 0:
            own[0] = {**own[0], "description": f"changed {changed}"}
        built.append(Source(name=server, id=server_id(server), capabilities={"tools": own}))
    return built


def wired_speed(
    catalog: Mapping[str, Entries], queries: list[str], size: int, rounds: int
) -> dict[str, Any]:
    scaled = scaled_catalog(catalog, size)
    search = ToolSearch()
    current = search_catalog(build_catalog(sources(scaled)))
    assert current.searchable is not None
    search.index(current.searchable, modern=False).search(queries[0], 10)
    rebuilds, first_searches = [], []
    for round_ in range(5):
        started = time.perf_counter()
        current = search_catalog(build_catalog(sources(scaled, changed=round_)))
        rebuilds.append(time.perf_counter() - started)
        listing = current.searchable
        assert listing is not None
        started = time.perf_counter()
        search_result(search.index(listing, modern=False).search(queries[0], 10))
        first_searches.append(time.perf_counter() - started)
    listing = current.searchable
    assert listing is not None
    for query in queries:
        search_result(search.index(listing, modern=False).search(query, 10))
    samples, cpu_samples = [], []
    for _ in range(rounds):
        for query in queries:
            cpu_started = time.process_time()
            started = time.perf_counter()
            search_result(search.index(listing, modern=False).search(query, 10))
            samples.append(time.perf_counter() - started)
            cpu_samples.append(time.process_time() - cpu_started)
    samples.sort()
    cpu_samples.sort()
    return {
        "tools": len(listing.items),
        "catalog_rebuild_ms_median": _ms(statistics.median(rebuilds)),
        "first_search_after_change_ms_median": _ms(statistics.median(first_searches)),
        "search_samples": len(samples),
        "search_p50_ms": _ms(samples[len(samples) // 2]),
        "search_cpu_p50_ms": _ms(cpu_samples[len(cpu_samples) // 2]),
        "search_p95_ms": _ms(samples[int(len(samples) * 0.95)]),
        "search_max_ms": _ms(samples[-1]),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--refresh", action="store_true", help="capture the tools again")
    parser.add_argument("--size", type=int, default=10_000, help="tools in the speed index")
    parser.add_argument("--rounds", type=int, default=20, help="timed passes over the queries")
    parser.add_argument("--show-misses", action="store_true", help="print queries below target")
    args = parser.parse_args()

    catalog = public_catalog(load_catalog(refresh=args.refresh))
    names = {definition["name"] for tools in catalog.values() for _, definition in tools}
    labelled = json.loads(QUERIES.read_text())["queries"]
    queries = []
    for item in labelled:
        relevant = [name for name in item["relevant"] if name in names]
        if relevant:
            queries.append({**item, "relevant": relevant})
        else:
            print(f"skipped (its servers were not captured): {item['query']!r}")
    index = build_index(catalog)
    wired = search_catalog(build_catalog(sources(catalog))).searchable
    assert wired is not None
    report: dict[str, Any] = {
        "catalog": {"servers": len(catalog), "tools": len(index)},
        "quality": quality(index, queries),
        "wired_quality": quality(ToolSearch().index(wired, modern=False), queries),
        "speed": speed(catalog, [item["query"] for item in queries], args.size, args.rounds),
        "wired": wired_speed(catalog, [item["query"] for item in queries], args.size, args.rounds),
        "load_average": round(os.getloadavg()[0], 2),  # the machine is shared: read times with it
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "search.json").write_text(json.dumps(report, indent=1))

    q, s = report["quality"], report["speed"]
    print(f"catalog: {len(index)} real tools from {len(catalog)} servers")
    print(
        f"quality: {q['queries']} queries  recall@5 {q['recall_at_5']:.3f}  "
        f"success@5 {q['success_at_5']:.3f}  MRR@10 {q['mrr_at_10']:.3f}"
    )
    print(
        f"speed ({s['tools']} tools, {s['servers']} servers, load average "
        f"{report['load_average']}): build {s['build_ms_median']} ms "
        f"(CPU {s['build_cpu_ms_median']} ms), "
        f"index {s['update_server']} anew ({s['update_server_tools']} tools) "
        f"{s['update_ms_median']} ms, re-index it after one tool changed "
        f"{s['one_tool_changed_ms_median']} ms, first search after that "
        f"{s['first_search_after_update_ms_median']} ms"
    )
    print(
        f"search over {s['search_samples']} samples: p50 {s['search_p50_ms']} ms "
        f"(CPU {s['search_cpu_p50_ms']} ms), p95 {s['search_p95_ms']} ms, "
        f"max {s['search_max_ms']} ms"
    )
    w, wq = report["wired"], report["wired_quality"]
    print(
        f"wired quality ({len(wired.items)} tools as /mcp publishes them): recall@5"
        f" {wq['recall_at_5']:.3f}  success@5 {wq['success_at_5']:.3f}  MRR@10"
        f" {wq['mrr_at_10']:.3f}"
    )
    print(
        f"wired ({w['tools']} tools, as search_tools serves them): catalog rebuild after one"
        f" tool changed {w['catalog_rebuild_ms_median']} ms, first search after it"
        f" {w['first_search_after_change_ms_median']} ms; search p50 {w['search_p50_ms']} ms"
        f" (CPU {w['search_cpu_p50_ms']} ms), p95 {w['search_p95_ms']} ms,"
        f" max {w['search_max_ms']} ms"
    )
    if args.show_misses:
        for miss in q["misses"]:
            print(f"  {miss['query']!r}: missing {miss['missing']}; top5 {miss['top5']}")
    print(f"written: {OUT / 'search.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
