"""Ratios of several ``make bench`` runs side by side, for RESULTS.md.

    python -m bench.compare before.json run1.json run2.json [--labels before,run1,run2]

One row per measurement of :func:`bench.run.report` (tornadohub / mcp-hub, each run's own
mcp-hub), then the framework floor of each run: how much CPU a bare Tornado handler and a
bare node:http server spend per request (Tornado on its own layer and on ``httpfront``'s, when
the run measured it), and tornadohub's CPU per call above the floor of the layer it served on
(``httpfront``'s when measured: the default since round 3).
Standard library only.
"""

from __future__ import annotations

import argparse
import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.run import (
    CPU_TARGET,
    KEEP_TARGET,
    MH,
    P50_TARGET,
    PATHS,
    STARTUP_TARGET,
    TH,
    THROUGHPUT_TARGET,
    UPSTREAMS,
    ratio,
)

Row = tuple[str, str, list[float | None]]  # (measurement, target, ratio per run)


def _latency(upstream: str, p: str, mh: str, th: str, run: dict[str, Any]) -> float | None:
    d = run.get("latency", {}).get(upstream, {})
    return ratio(d.get(th, {}).get(f"{p}_ms"), d.get(mh, {}).get(f"{p}_ms"))


def _load(upstream: str, c: str, field: str, mh: str, th: str, run: dict[str, Any]) -> float | None:
    d = run.get("throughput", {}).get(upstream, {})
    return ratio(d.get(th, {}).get(c, {}).get(field), d.get(mh, {}).get(c, {}).get(field))


def _rss_load(run: dict[str, Any]) -> float | None:
    load = run.get("rss_load_max", {})
    return ratio(load.get(TH), load.get(MH))


def _tools(title: str, th: str, run: dict[str, Any]) -> float | None:
    d = run.get("tools_list", {}).get(title, {})
    return ratio(d.get(th, {}).get("p50_ms"), d.get(f"{MH} /mcp sse", {}).get("p50_ms"))


def _startup(run: dict[str, Any]) -> float | None:
    st = run.get("startup_10", {})
    return ratio(st.get(TH, {}).get("median_s"), st.get(MH, {}).get("median_s"))


def rows(runs: list[dict[str, Any]]) -> list[Row]:
    out: list[Row] = []

    def add(name: str, target: str, pick: Callable[[dict[str, Any]], float | None]) -> None:
        out.append((name, target, [pick(run) for run in runs]))

    for upstream, up in UPSTREAMS:
        for p, target in (("p50", f"≤ {P50_TARGET}×"), ("p99", f"< {KEEP_TARGET}×")):
            for path, mh_key, th_key in PATHS:
                pick = functools.partial(_latency, upstream, p, mh_key, th_key)
                add(f"tools/call {p}, {path}, {up}", target, pick)
    for upstream, up in UPSTREAMS:
        for c, field, target in (
            ("32", "calls_per_s", f"≥ {THROUGHPUT_TARGET}×"),
            ("1", "hub_cpu_ms_per_call", f"≤ {CPU_TARGET}×"),
            ("32", "hub_cpu_ms_per_call", f"≤ {CPU_TARGET}×"),
        ):
            what = "throughput" if field == "calls_per_s" else "hub CPU per call"
            for path, mh_key, th_key in PATHS:
                pick = functools.partial(_load, upstream, c, field, mh_key, th_key)
                add(f"{what} C={c}, {path}, {up}", target, pick)
    add("hub RSS under load", f"< {KEEP_TARGET}×", _rss_load)
    titles = sorted({t for run in runs for t in run.get("tools_list", {})})
    for title in titles:
        for th_key, how in (
            (f"{TH} /mcp sse", "legacy SSE"),
            (f"{TH} /mcp streamable", "Streamable"),
        ):
            pick = functools.partial(_tools, title, th_key)
            add(f"tools/list p50, {title}, {how}", f"< {KEEP_TARGET}×", pick)
    add("start to ready, 10 STDIO servers", f"≤ {STARTUP_TARGET}×", _startup)
    return out


def met(target: str, value: float | None) -> bool | None:
    if value is None or not target:
        return None
    limit = float(target.split()[1].rstrip("×"))
    if target.startswith("≤"):
        return value <= limit
    if target.startswith("<"):
        return value < limit
    return value >= limit


def table(runs: list[dict[str, Any]], labels: list[str]) -> str:
    head = "| measurement (tornadohub / mcp-hub) | " + " | ".join(labels) + " | target |"
    lines = [head, "|---|" + "---:|" * len(labels) + "---|"]
    for name, target, values in rows(runs):
        cells = []
        for value in values:
            if value is None:
                cells.append("–")
                continue
            ok = met(target, value)
            text = f"{value:.2f}×"
            cells.append(f"**{text}**" if ok else text)
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {target} |")
    return "\n".join(lines)


def floor_table(runs: list[dict[str, Any]], labels: list[str]) -> str:
    lines = [
        "| run | C | node:http CPU/request | Tornado CPU/request | Tornado on httpfront "
        "CPU/request | tornadohub /mcp (legacy SSE, STDIO) CPU/call | of which above its "
        "layer's floor |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for label, run in zip(labels, runs, strict=True):
        floor = run.get("floor", {})
        th = run.get("throughput", {}).get("stdio", {}).get(f"{TH} /mcp sse", {})
        for c in ("1", "8", "32"):
            node, tornado, front = (
                floor.get(kind, {}).get("throughput", {}).get(c, {}).get("hub_cpu_ms_per_call")
                for kind in ("node", "tornado", "tornado-front")
            )
            base = front if isinstance(front, float) else tornado
            hub = th.get(c, {}).get("hub_cpu_ms_per_call")
            measured = isinstance(hub, float) and isinstance(base, float)
            above = round(hub - base, 4) if measured else None
            cells = [_ms(node), _ms(tornado), _ms(front), _ms(hub), _ms(above)]
            lines.append(f"| {label} | {c} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _ms(value: Any) -> str:
    return f"{value:.3f} ms" if isinstance(value, int | float) else "–"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("runs", nargs="+", type=Path, help="bench.json files")
    ap.add_argument("--labels", help="comma-separated column names (default: file names)")
    a = ap.parse_args()
    runs = [json.loads(path.read_text()) for path in a.runs]
    labels = a.labels.split(",") if a.labels else [path.stem for path in a.runs]
    print(table(runs, labels))
    print()
    print(floor_table(runs, labels))


if __name__ == "__main__":
    main()
