"""Sampling profiles of the running hub with py-spy (from the bench env), summarized.

``py-spy record --format raw`` writes collapsed stacks (``frame;frame;... count``), one
line per distinct stack; only on-CPU samples are kept (py-spy skips idle threads). The
summary gives, per ``file:function``, its *self* share (samples where it is the leaf)
and its *inclusive* share (samples where it is anywhere on the stack), in percent of
all samples, plus a breakdown by package (tornadohub, mcp SDK, pydantic, tornado,
asyncio, anyio, ...).
"""

from __future__ import annotations

import re
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")
_PACKAGES = (
    ("tornadohub/", "tornadohub"),
    ("mcp_types/", "mcp_types"),
    ("mcp/", "mcp SDK"),
    ("pydantic_core/", "pydantic"),
    ("pydantic/", "pydantic"),
    ("tornado/", "tornado"),
    ("anyio/", "anyio"),
    ("asyncio/", "asyncio"),
    ("httpx2/", "httpx2/httpcore"),
    ("httpcore", "httpx2/httpcore"),
    ("h11/", "h11"),
    ("logging/", "logging"),
    ("json/", "json"),
    ("prometheus_client/", "prometheus"),
)

#: Interpreter and event-loop frames under which everything runs (left out of "inclusive").
ROOTS = frozenset(
    {
        "<frozen runpy>:_run_module_as_main",
        "<frozen runpy>:_run_code",
        "tornadohub/__main__.py:<module>",
        "tornadohub/cli.py:main",
        "tornadohub/cli.py:run_serve",
        "asyncio/runners.py:run",
        "asyncio/runners.py:Runner.run",
        "asyncio/base_events.py:BaseEventLoop.run_until_complete",
        "asyncio/base_events.py:BaseEventLoop.run_forever",
        "asyncio/base_events.py:BaseEventLoop._run_once",
        "asyncio/events.py:Handle._run",
    }
)


def record(py_spy: str, pid: int, seconds: float, out: Path, rate: int = 250) -> None:
    """Sample *pid* for *seconds* into *out* (collapsed stacks); bounded by a timeout."""
    subprocess.run(
        [
            py_spy,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(max(1, round(seconds))),
            "--rate",
            str(rate),
            "--format",
            "raw",
            "--function",
            "--nonblocking",
            "--output",
            str(out),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=seconds + 60,
    )


def short_file(path: str) -> str:
    for marker in ("site-packages/", "/lib/python3.11/", "/work/main/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


def frame_key(frame: str) -> str:
    """``file:function`` of one collapsed frame."""
    match = _FRAME.match(frame.strip())
    if match is None:
        return frame.strip()
    return f"{short_file(match['file'])}:{match['func']}"


def package_of(key: str) -> str:
    for prefix, name in _PACKAGES:
        if key.startswith(prefix) or f"/{prefix}" in key:
            return name
    return "other (stdlib, C)"


def summarize(path: Path, top: int = 15) -> dict[str, Any]:
    """Self and inclusive shares per function (main thread), self share per package.

    Stacks rooted in ``Thread._bootstrap`` are other threads (anyio's worker threads,
    mostly parked: py-spy cannot always tell a parked thread from a busy one); their share
    is reported apart and left out of everything else. Frames present in nearly every
    sample (the interpreter and event-loop roots) are left out of the inclusive list.
    """
    self_counts: Counter[str] = Counter()
    incl_counts: Counter[str] = Counter()
    tasks: Counter[str] = Counter()
    total = threads = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        keys = [frame_key(f) for f in stack.split(";") if f.strip()]
        if not keys:
            continue
        if any(k.endswith(":Thread._bootstrap") for k in keys[:2]):
            threads += count
            continue
        total += count
        tasks[task_root(keys)] += count
        self_counts[keys[-1]] += count
        for key in set(keys):
            incl_counts[key] += count
    if not total:
        return {"samples": 0, "self": [], "inclusive": [], "packages": []}

    def share(counter: Counter[str], n: int) -> list[dict[str, Any]]:
        return [
            {"function": key, "pct": round(100 * value / total, 1)}
            for key, value in counter.most_common(n)
        ]

    packages: Counter[str] = Counter()
    for key, value in self_counts.items():
        packages[package_of(key)] += value
    inner = Counter({k: v for k, v in incl_counts.items() if k not in ROOTS})
    product = Counter({k: v for k, v in inner.items() if k.startswith("tornadohub/")})
    return {
        "samples": total,
        "other_thread_samples": threads,
        "self": share(self_counts, top),
        "inclusive": share(inner, top * 2),
        "tornadohub_inclusive": share(product, top),
        "packages": share(packages, 12),
        "tasks": share(tasks, 12),
    }


#: Wrappers that run someone else's coroutine: the frame below them names the work.
_RUNNERS = ("anyio/_core/_tasks.py:TaskHandle._run_coro", "tornado/gen.py:")


def task_root(keys: list[str]) -> str:
    """What the event loop was running: the frame right under the last ``Handle._run``."""
    marks = [i for i, key in enumerate(keys) if key == "asyncio/events.py:Handle._run"]
    if not marks:
        if keys[0] in ROOTS:
            return "(event loop: select, scheduling)"
        # py-spy could not unwind past a resumed coroutine: its outermost frame is all we know
        return f"~{keys[0]}"
    rest = keys[marks[-1] + 1 :]
    while rest and rest[0].startswith(_RUNNERS):
        rest = rest[1:]
    return rest[0] if rest else "(the callback itself)"


def markdown(title: str, summary: dict[str, Any], top: int = 12) -> str:
    """A compact markdown section for RESULTS.md."""
    lines = [
        f"#### {title} ({summary.get('samples', 0)} main-thread samples"
        f", load {summary.get('load', {})})",
        "",
    ]
    lines.append("| self % | function (leaf) | | incl. % | function (on the stack) |")
    lines.append("|---:|---|---|---:|---|")
    selfs = summary.get("self", [])[:top]
    product = summary.get("inclusive", [])[:top]
    for i in range(max(len(selfs), len(product))):
        left = selfs[i] if i < len(selfs) else {"pct": "", "function": ""}
        right = product[i] if i < len(product) else {"pct": "", "function": ""}
        lines.append(
            f"| {left['pct']} | `{left['function']}` | | {right['pct']} | `{right['function']}` |"
            if right["function"]
            else f"| {left['pct']} | `{left['function']}` | | | |"
        )
    packages = ", ".join(f"{p['function']} {p['pct']}%" for p in summary.get("packages", []))
    tasks = ", ".join(f"`{t['function']}` {t['pct']}%" for t in summary.get("tasks", [])[:8])
    lines += [
        "",
        f"Self time by package: {packages}.",
        "",
        f"By loop callback / task: {tasks}.",
        "",
    ]
    return "\n".join(lines)
