"""tornadohub vs mcp-hub 4.2.1, side by side in one run, on the same upstreams.

Run ``make bench`` (installs the anchor under ``build/bench`` first), or directly::

    build/bench/venv/bin/python -m bench.run --out build/bench/out

What it measures (every process on 127.0.0.1, stopped by pid; every loop bounded by a
count or a duration; the two hubs are measured alternately, never at the same time):

* ``tools/call`` latency (sequential, one session) of server-everything's ``echo``
  through ``/mcp`` and ``POST /api/servers/tools``, STDIO and Streamable-HTTP upstream,
  and the same call made directly to the upstream (the floor);
* throughput with 1, 8 and 32 concurrent sessions, hub CPU time per call (hub process
  only, from ``/proc``), RSS idle and under load;
* aggregated ``tools/list`` with 1, 10 and 100 upstreams and with one upstream of
  10,000 tools (a tiny stdlib server, ``bench/servers/tools_stdio.py``);
* time from launch to ``/api/health`` ``ready`` with 10 STDIO servers;
* optionally a py-spy profile of tornadohub under load (``--profile``).

mcp-hub 4.2.1 speaks only the legacy HTTP+SSE transport on ``/mcp``; tornadohub is
measured on that same transport (the like-for-like ratio) and on Streamable HTTP.
The client is :mod:`bench.rawmcp` (no SDK: it costs little CPU, so the hubs, not the
client, are what saturates). Writes ``bench.json``, ``bench.md`` and, when matplotlib
is importable, ``latency.png`` into ``--out``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fnmatch
import importlib
import json
import math
import os
import platform
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import procs, profile
from bench.rawmcp import (
    FloorClient,
    LegacySession,
    RestClient,
    Session,
    StdioSession,
    StreamableSession,
    child_env,
    echo_ok,
    list_all_tools,
)

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
TH = "tornadohub"
MH = "mcp-hub"
SessionFactory = Callable[[], Session]


# ----------------------------------------------------------------------------- setup
@dataclass
class Env:
    """Where things are installed and where this run writes."""

    build: Path
    out: Path
    hub_python: str
    node: str
    py_spy: str | None

    @property
    def node_modules(self) -> Path:
        return self.build / "node" / "node_modules"

    @property
    def everything_js(self) -> str:
        return str(self.node_modules / "@modelcontextprotocol/server-everything/dist/index.js")

    @property
    def mcp_hub_js(self) -> str:
        return str(self.node_modules / "mcp-hub/dist/cli.js")

    @property
    def guard(self) -> str:
        return str(ROOT / "bench" / "loopback-guard.cjs")

    @property
    def run(self) -> Path:
        return self.out / "run"

    def hub_env(self, label: str) -> dict[str, str]:
        """A private HOME/XDG tree, a dead proxy (nothing leaves the machine)."""
        home = self.run / f"home-{label}"
        for sub in (".config", ".local/share", ".local/state", ".cache"):
            (home / sub).mkdir(parents=True, exist_ok=True)
        dead = "http://127.0.0.1:9"
        env = child_env(
            {
                "HOME": str(home),
                "XDG_STATE_HOME": str(home / ".local/state"),
                "XDG_DATA_HOME": str(home / ".local/share"),
                "XDG_CONFIG_HOME": str(home / ".config"),
                "XDG_CACHE_HOME": str(home / ".cache"),
                "NO_PROXY": "127.0.0.1,localhost",
                "no_proxy": "127.0.0.1,localhost",
            }
        )
        for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
            env[name] = dead
        return env


def everything_stdio(env: Env) -> dict[str, Any]:
    return {"command": env.node, "args": [env.everything_js, "stdio"]}


def tools_stdio(count: int) -> dict[str, Any]:
    script = str(ROOT / "bench" / "servers" / "tools_stdio.py")
    return {"command": sys.executable, "args": [script, str(count)]}


@dataclass
class Hub:
    """One hub under test with its config."""

    kind: str
    port: int
    proc: procs.Proc
    ready_s: float = 0.0

    @property
    def pid(self) -> int:
        return self.proc.pid

    def transports(self) -> list[str]:
        return ["sse"] if self.kind == MH else ["sse", "streamable"]

    def session(self, transport: str) -> Session:
        if transport == "sse":
            return LegacySession(HOST, self.port)
        return StreamableSession(HOST, self.port)


def start_hub(env: Env, kind: str, servers: dict[str, Any], label: str) -> Hub:
    port = procs.free_port()
    config = env.run / f"config-{label}-{kind}.json"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(json.dumps({"mcpServers": servers}, indent=2))
    if kind == TH:
        argv = [env.hub_python, "-m", "tornadohub", "serve", "--port", str(port)]
        argv += ["--host", HOST, "--config", str(config)]
    else:
        argv = ["node", "--require", env.guard, env.mcp_hub_js, "--port", str(port)]
        argv += ["--config", str(config)]
    proc = procs.Proc(
        f"{kind}-{label}",
        argv,
        env.run / "logs" / f"{kind}-{label}.log",
        env=env.hub_env(kind),
        cwd=env.run,
    )
    proc.start()
    hub = Hub(kind, port, proc)
    try:
        hub.ready_s = procs.wait_ready(proc, port)
    except Exception:
        proc.stop()
        raise
    proc.remember_children()
    return hub


# ----------------------------------------------------------------------------- stats
def pct(sorted_ms: list[float], p: float) -> float | None:
    if not sorted_ms:
        return None
    k = max(0, math.ceil(p / 100 * len(sorted_ms)) - 1)  # nearest rank
    return round(sorted_ms[k], 3)


def summarize(lat_ms: list[float], errors: int = 0) -> dict[str, Any]:
    s = sorted(lat_ms)
    return {
        "n": len(s),
        "errors": errors,
        "p50_ms": pct(s, 50),
        "p90_ms": pct(s, 90),
        "p99_ms": pct(s, 99),
        "mean_ms": round(statistics.fmean(s), 3) if s else None,
        "max_ms": round(s[-1], 3) if s else None,
    }


class CpuWindow:
    """Hub CPU seconds, wall time and peak RSS over a measured window."""

    def __init__(self, pid: int | None) -> None:
        self.pid = pid
        self.rss_max_kb = 0
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> CpuWindow:
        self.t0 = time.perf_counter()
        self.c0 = procs.cpu_seconds(self.pid) if self.pid else 0.0
        self.m0 = procs.machine_busy_seconds()
        if self.pid:
            self._task = asyncio.create_task(self._sample(self.pid))
        return self

    async def _sample(self, pid: int) -> None:
        while True:
            self.rss_max_kb = max(self.rss_max_kb, procs.rss_kb(pid))
            await asyncio.sleep(0.25)

    async def __aexit__(self, *exc: object) -> None:
        self.wall_s = time.perf_counter() - self.t0
        self.hub_cpu_s = (procs.cpu_seconds(self.pid) - self.c0) if self.pid else 0.0
        self.machine_cpu_s = procs.machine_busy_seconds() - self.m0
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.pid:
            self.rss_max_kb = max(self.rss_max_kb, procs.rss_kb(self.pid))

    def info(self, calls: int) -> dict[str, Any]:
        out: dict[str, Any] = {
            "wall_s": round(self.wall_s, 3),
            "machine_busy_cpu_s": round(self.machine_cpu_s, 3),
        }
        if self.pid:
            out["hub_cpu_s"] = round(self.hub_cpu_s, 3)
            out["hub_cpu_ms_per_call"] = round(1000 * self.hub_cpu_s / calls, 4) if calls else None
            out["hub_rss_max_kb"] = self.rss_max_kb
        return out


# ----------------------------------------------------------------------------- measurements
async def timed_echo(session: Session, tool: str, message: str) -> tuple[bool, float]:
    """One echo tools/call: whether it answered the message, and how long it took (ms)."""
    t = time.perf_counter()
    try:
        result = await session.request(
            "tools/call", {"name": tool, "arguments": {"message": message}}
        )
        ok = echo_ok(result, message)
    except Exception:
        ok = False
    return ok, (time.perf_counter() - t) * 1000


async def seq_calls(
    session: Session, tool: str, n: int, warmup: int, tag: str
) -> tuple[list[float], int]:
    lat: list[float] = []
    errors = 0
    for i in range(warmup + n):
        message = f"{tag}{i}"
        ok, dt = await timed_echo(session, tool, message)
        if i >= warmup:
            lat.append(dt)
            errors += 0 if ok else 1
    return lat, errors


async def latency(
    factory: SessionFactory, tool: str, n: int, warmup: int, pid: int | None
) -> tuple[list[float], dict[str, Any]]:
    session = factory()
    await session.open()
    try:
        async with CpuWindow(pid) as window:
            lat, errors = await seq_calls(session, tool, n, warmup, "s")
    finally:
        await session.close()
    return lat, {"errors": errors} | window.info(len(lat))


async def throughput(
    factory: SessionFactory, tool: str, conc: int, duration: float, pid: int | None
) -> dict[str, Any]:
    """*conc* sessions calling back to back for *duration* s (opened and warmed first)."""
    sessions = [factory() for _ in range(conc)]
    setup_t0 = time.perf_counter()
    try:
        await asyncio.wait_for(asyncio.gather(*(s.open() for s in sessions)), 120)
        await asyncio.gather(*(seq_calls(s, tool, 0, 3, "w") for s in sessions))
        setup_s = time.perf_counter() - setup_t0
        lat: list[float] = []
        errors = [0]
        deadline = [0.0]

        async def worker(wid: int, session: Session) -> None:
            i = 0
            while time.perf_counter() < deadline[0]:
                message = f"t{wid}-{i}"
                i += 1
                ok, dt = await timed_echo(session, tool, message)
                lat.append(dt)
                errors[0] += 0 if ok else 1

        async with CpuWindow(pid) as window:
            deadline[0] = time.perf_counter() + duration
            await asyncio.wait_for(
                asyncio.gather(*(worker(k, s) for k, s in enumerate(sessions))), duration + 120
            )
    finally:
        await asyncio.gather(*(s.close() for s in sessions), return_exceptions=True)
    out = summarize(lat, errors[0]) | window.info(len(lat))
    out.update(
        concurrency=conc,
        calls=len(lat),
        calls_per_s=round(len(lat) / window.wall_s, 1),
        session_setup_s=round(setup_s, 3),
    )
    return out


async def tools_list(factory: SessionFactory, n: int, warmup: int) -> dict[str, Any]:
    session = factory()
    await session.open()
    lat: list[float] = []
    count = 0
    try:
        for i in range(warmup + n):
            t = time.perf_counter()
            count = await list_all_tools(session)
            if i >= warmup:
                lat.append((time.perf_counter() - t) * 1000)
    finally:
        await session.close()
    return summarize(lat) | {"tools": count}


def settle(hub: Hub) -> float:
    return round(procs.settle(hub.pid), 2)


# ----------------------------------------------------------------------------- phases
@dataclass
class Bench:
    env: Env
    args: argparse.Namespace
    results: dict[str, Any] = field(default_factory=dict)
    raw_latencies: dict[str, list[float]] = field(default_factory=dict)

    def log(self, text: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)

    def wanted(self, measurement: str) -> bool:
        """Whether ``--only`` selects *measurement* (e.g. ``latency:http``, ``tools_list:100``)."""
        patterns: list[str] | None = self.args.only
        return patterns is None or any(fnmatch.fnmatchcase(measurement, p) for p in patterns)

    # ------------------------------------------------------------- main config
    async def main_phases(self) -> None:
        env = self.env
        up_port = procs.free_port()
        upstream = procs.Proc(
            "everything-http",
            ["node", "--require", env.guard, env.everything_js, "streamableHttp"],
            env.run / "logs" / "upstream-http.log",
            env=child_env({"PORT": str(up_port)}),
            cwd=env.run,
        )
        upstream.start()
        hubs: dict[str, Hub] = {}
        try:
            procs.wait_port(upstream, up_port)
            servers = {
                "everything": everything_stdio(env),
                "everything-http": {"url": f"http://{HOST}:{up_port}/mcp"},
            }
            for kind in (MH, TH):
                hubs[kind] = start_hub(env, kind, servers, "main")
                self.log(f"{kind} ready in {hubs[kind].ready_s:.2f} s on port {hubs[kind].port}")
            await asyncio.sleep(2.0)
            self.results["rss_idle"] = {}
            for kind, hub in hubs.items():
                settle(hub)
                self.results["rss_idle"][kind] = {
                    "hub_kb": procs.rss_kb(hub.pid),
                    "tree_kb": procs.tree_rss_kb(hub.pid),
                    "children": len(procs.descendants(hub.pid)),
                }
            self.log(f"idle RSS: {self.results['rss_idle']}")
            if "latency" in self.args.phases:
                await self.latency_phase(hubs, up_port)
            if "throughput" in self.args.phases:
                await self.throughput_phase(hubs, up_port)
            if "floor" in self.args.phases and self.wanted("floor"):
                await self.floor_phase()
            if "profile" in self.args.phases and self.env.py_spy:
                await self.profile_phase(hubs[TH])
            self.results["rss_after"] = {k: procs.rss_kb(h.pid) for k, h in hubs.items()}
        finally:
            for hub in hubs.values():
                hub.proc.stop()
            upstream.stop()

    def targets(
        self, hubs: dict[str, Hub], upstream: str, up_port: int
    ) -> list[tuple[str, SessionFactory, str, int | None]]:
        """(label, session factory, tool name, pid to measure) for one upstream kind."""
        env = self.env
        server = "everything" if upstream == "stdio" else "everything-http"
        tool = ("everything" if upstream == "stdio" else "everything_http") + "__echo"
        out: list[tuple[str, SessionFactory, str, int | None]] = []
        if upstream == "stdio":
            argv = [env.node, env.everything_js, "stdio"]
            out.append(("direct", lambda: StdioSession(argv, child_env()), "echo", None))
        else:
            out.append(("direct", lambda: StreamableSession(HOST, up_port), "echo", None))
            # The version tornadohub's client negotiates: server-everything answers it slower
            # (a priming event, then @hono/node-server's setTimeout before the response
            # head; see same_version_rows), a wait no client can remove.
            latest = "2025-11-25"
            out.append(
                (
                    f"direct {latest}",
                    lambda: StreamableSession(HOST, up_port, version=latest),
                    "echo",
                    None,
                )
            )
        for kind, hub in hubs.items():
            for transport in hub.transports():
                label = f"{kind} /mcp {transport}"
                out.append((label, _session_factory(hub, transport), tool, hub.pid))
            out.append((f"{kind} REST", _rest_factory(hub.port, server), "echo", hub.pid))
        return out

    async def latency_phase(self, hubs: dict[str, Hub], up_port: int) -> None:
        a = self.args
        rounds = 2
        per_round = max(1, a.n // rounds)
        results: dict[str, dict[str, Any]] = {}
        for upstream in ("stdio", "http"):
            if not self.wanted(f"latency:{upstream}"):
                continue
            targets = self.targets(hubs, upstream, up_port)
            lat: dict[str, list[float]] = {label: [] for label, *_ in targets}
            info: dict[str, list[dict[str, Any]]] = {label: [] for label, *_ in targets}
            for r in range(rounds):
                ordered = targets if r % 2 == 0 else list(reversed(targets))
                for label, factory, tool, pid in ordered:
                    samples, extra = await latency(factory, tool, per_round, a.warmup, pid)
                    lat[label] += samples
                    info[label].append(extra)
                    # mcp-hub burns CPU after a session closes (see the baseline notes):
                    # let both hubs go idle so the next target is not measured during it
                    for hub in hubs.values():
                        settle(hub)
            results[upstream] = {}
            for label, samples in lat.items():
                errors = sum(x["errors"] for x in info[label])
                cpu = [x["hub_cpu_s"] for x in info[label] if "hub_cpu_s" in x]
                entry = summarize(samples, errors)
                if cpu:
                    entry["hub_cpu_ms_per_call"] = round(1000 * sum(cpu) / len(samples), 4)
                results[upstream][label] = entry
                self.raw_latencies[f"{upstream}: {label}"] = samples
                self.log(f"latency {upstream:5} {label:28} {entry}")
            for hub in hubs.values():
                settle(hub)
        self.results["latency"] = results

    async def throughput_phase(self, hubs: dict[str, Hub], up_port: int) -> None:
        a = self.args
        results: dict[str, dict[str, dict[str, Any]]] = {}
        load_rss: dict[str, int] = {kind: 0 for kind in hubs}
        for upstream in ("stdio", "http"):
            if not self.wanted(f"throughput:{upstream}"):
                continue
            duration = a.duration if upstream == "stdio" else a.duration_http
            tool = ("everything" if upstream == "stdio" else "everything_http") + "__echo"
            results[upstream] = {}
            for conc in a.conc:
                rows: list[tuple[str, SessionFactory, str, Hub | None]] = []
                if upstream == "http":
                    rows.append(("direct", lambda: StreamableSession(HOST, up_port), "echo", None))
                for kind, hub in hubs.items():
                    for transport in hub.transports():
                        label = f"{kind} /mcp {transport}"
                        rows.append((label, _session_factory(hub, transport), tool, hub))
                server = "everything" if upstream == "stdio" else "everything-http"
                for kind, hub in hubs.items():
                    rows.append((f"{kind} REST", _rest_factory(hub.port, server), "echo", hub))
                for label, factory, t, hub_or_none in rows:
                    pid = hub_or_none.pid if hub_or_none else None
                    out = await throughput(factory, t, conc, duration, pid)
                    if hub_or_none is not None:
                        out["settle_s"] = settle(hub_or_none)
                        kind = hub_or_none.kind
                        load_rss[kind] = max(load_rss[kind], out.get("hub_rss_max_kb", 0))
                    results[upstream].setdefault(label, {})[str(conc)] = out
                    self.log(
                        f"tput {upstream:5} C={conc:<3} {label:24} {out['calls_per_s']:>8} calls/s"
                        f" p50 {out['p50_ms']} p99 {out['p99_ms']} err {out['errors']}"
                        f" hubCPU/call {out.get('hub_cpu_ms_per_call')} ms"
                    )
        self.results["throughput"] = results
        self.results["rss_load_max"] = load_rss

    async def floor_phase(self) -> None:
        """The frameworks' own floor, in the same run: a bare Tornado handler (on the hub's
        interpreter) and a bare node:http server, each parsing a small JSON POST and
        answering JSON, measured like the hubs (sequential latency, then 1/8/32 clients)."""
        env, a = self.env, self.args
        servers = {
            "tornado": [env.hub_python, str(ROOT / "bench" / "servers" / "floor_tornado.py")],
            "tornado-front": [
                env.hub_python,
                str(ROOT / "bench" / "servers" / "floor_tornado.py"),
                "--front",
            ],
            "node": ["node", str(ROOT / "bench" / "servers" / "floor_node.js")],
        }
        results: dict[str, Any] = {}
        for name, argv in servers.items():
            port = procs.free_port()
            proc = procs.Proc(
                f"floor-{name}",
                [*argv, str(port)],
                env.run / "logs" / f"floor-{name}.log",
                env=child_env(),
                cwd=env.run,
            )
            proc.start()
            try:
                procs.wait_port(proc, port)
                pid = proc.pid

                def factory(port: int = port) -> Session:
                    return FloorClient(HOST, port)

                samples, extra = await latency(factory, "echo", a.n, a.warmup, pid)
                entry: dict[str, Any] = {"latency": summarize(samples, extra["errors"])}
                entry["latency"]["hub_cpu_ms_per_call"] = extra.get("hub_cpu_ms_per_call")
                self.log(f"floor {name:8} latency {entry['latency']}")
                entry["throughput"] = {}
                for conc in a.conc:
                    out = await throughput(factory, "echo", conc, a.duration, pid)
                    entry["throughput"][str(conc)] = out
                    self.log(
                        f"floor {name:8} C={conc:<3} {out['calls_per_s']:>8} calls/s"
                        f" p50 {out['p50_ms']} CPU/call {out.get('hub_cpu_ms_per_call')} ms"
                    )
                results[name] = entry
            finally:
                proc.stop()
        self.results["floor"] = results

    async def profile_phase(self, hub: Hub) -> None:
        """py-spy on tornadohub while it serves 32 sessions (not counted in the results)."""
        assert self.env.py_spy is not None
        a = self.args
        scenarios: list[tuple[str, SessionFactory, str, str, int]] = [
            (
                "/mcp legacy SSE, STDIO upstream, C=32",
                _session_factory(hub, "sse"),
                "sse",
                "everything__echo",
                32,
            ),
            (
                "/mcp Streamable HTTP, STDIO upstream, C=32",
                _session_factory(hub, "streamable"),
                "st",
                "everything__echo",
                32,
            ),
            (
                "REST, STDIO upstream, C=32",
                _rest_factory(hub.port, "everything"),
                "rest",
                "echo",
                32,
            ),
            (
                "REST, HTTP upstream, C=8",
                _rest_factory(hub.port, "everything-http"),
                "rest-http",
                "echo",
                8,
            ),
        ]
        summaries: dict[str, Any] = {}
        for title, factory, tag, tool, conc in scenarios:
            out_path = self.env.out / f"profile-{tag}.txt"
            seconds = a.profile_seconds
            recorder = asyncio.create_task(
                asyncio.to_thread(profile.record, self.env.py_spy, hub.pid, seconds, out_path)
            )
            await asyncio.sleep(0.3)
            load = await throughput(factory, tool, conc, seconds + 1.0, hub.pid)
            await recorder
            settle(hub)
            summary = profile.summarize(out_path)
            summary["load"] = {k: load.get(k) for k in ("calls_per_s", "hub_cpu_ms_per_call")}
            summaries[title] = summary
            self.log(f"profile {title}: {summary['samples']} samples -> {out_path}")
        self.results["profiles"] = summaries

    # ------------------------------------------------------------- scaling
    async def tools_list_phase(self) -> None:
        a = self.args
        cases: list[tuple[str, dict[str, Any], int]] = []
        for count in a.upstreams:
            if self.wanted(f"tools_list:{count}"):
                servers = {f"t{i:03d}": tools_stdio(13) for i in range(1, count + 1)}
                cases.append((f"{count} upstreams x 13 tools", servers, a.list_n))
        if self.wanted("tools_list:10000"):
            cases.append(("1 upstream x 10,000 tools", {"big": tools_stdio(10_000)}, a.list_n_big))
        results: dict[str, Any] = {}
        for title, servers, n in cases:
            hubs: dict[str, Hub] = {}
            try:
                for kind in (MH, TH):
                    hubs[kind] = start_hub(env=self.env, kind=kind, servers=servers, label="list")
                results[title] = {}
                for kind, hub in hubs.items():
                    settle(hub)
                    results[title][f"{kind} ready_s"] = round(hub.ready_s, 3)
                for r in range(2):
                    for kind, hub in hubs.items() if r == 0 else reversed(hubs.items()):
                        for transport in hub.transports():
                            label = f"{kind} /mcp {transport}"
                            out = await tools_list(_session_factory(hub, transport), n, 3)
                            results[title].setdefault(label, []).append(out)
                            for other in hubs.values():
                                settle(other)
                # the per-call cost of a big config: REST echo on the first server
                first = next(iter(servers))
                for kind, hub in hubs.items():
                    samples, extra = await latency(
                        _rest_factory(hub.port, first), "echo", a.rest_n_scaling, 10, hub.pid
                    )
                    results[title][f"{kind} REST echo"] = summarize(samples, extra["errors"]) | {
                        "hub_cpu_ms_per_call": extra.get("hub_cpu_ms_per_call")
                    }
                if "profile" in self.args.phases and self.env.py_spy and title.startswith("100 "):
                    await self.profile_list(hubs[TH], n)
            finally:
                for hub in hubs.values():
                    hub.proc.stop()
            merged: dict[str, Any] = {}
            for label, runs in results[title].items():
                if isinstance(runs, list):
                    p50 = statistics.median(r["p50_ms"] for r in runs)
                    p99 = max(r["p99_ms"] for r in runs)
                    merged[label] = {
                        "p50_ms": round(p50, 3),
                        "p99_ms": round(p99, 3),
                        "tools": runs[-1]["tools"],
                        "n": sum(r["n"] for r in runs),
                    }
                else:
                    merged[label] = runs
            results[title] = merged
            self.log(f"tools/list {title}: {merged}")
        self.results["tools_list"] = results

    async def profile_list(self, hub: Hub, n: int) -> None:
        assert self.env.py_spy is not None
        out_path = self.env.out / "profile-tools-list-100.txt"
        recorder = asyncio.create_task(
            asyncio.to_thread(profile.record, self.env.py_spy, hub.pid, 5, out_path)
        )
        await asyncio.sleep(0.3)
        deadline = time.monotonic() + 5.5
        session = _session_factory(hub, "streamable")()
        await session.open()
        try:
            for _ in range(100_000):
                if time.monotonic() > deadline:
                    break
                await list_all_tools(session)
        finally:
            await session.close()
        await recorder
        self.results.setdefault("profiles", {})["tools/list, 100 upstreams (Streamable HTTP)"] = (
            profile.summarize(out_path)
        )

    def startup_phase(self) -> None:
        servers = {f"ev{i:02d}": everything_stdio(self.env) for i in range(1, 11)}
        times: dict[str, list[float]] = {MH: [], TH: []}
        rss: dict[str, list[int]] = {MH: [], TH: []}
        # CPU seconds when ready: the hub's own, and its children's (the same servers for
        # both hubs, so what differs between the hubs is the hub's own share).
        hub_cpu: dict[str, list[float]] = {MH: [], TH: []}
        children_cpu: dict[str, list[float]] = {MH: [], TH: []}
        for r in range(self.args.startup_reps):
            for kind in (MH, TH) if r % 2 == 0 else (TH, MH):
                hub = start_hub(self.env, kind, servers, f"start{r}")
                try:
                    hub_cpu[kind].append(round(procs.cpu_seconds(hub.pid), 3))
                    children = procs.descendants(hub.pid)
                    children_cpu[kind].append(round(sum(map(procs.cpu_seconds, children)), 3))
                    times[kind].append(round(hub.ready_s, 3))
                    time.sleep(1.0)
                    rss[kind].append(procs.rss_kb(hub.pid))
                finally:
                    hub.proc.stop()
                time.sleep(0.5)
        self.results["startup_10"] = {
            kind: {
                "ready_s": times[kind],
                "median_s": round(statistics.median(times[kind]), 3),
                "hub_rss_kb_median": int(statistics.median(rss[kind])),
                "hub_cpu_s": hub_cpu[kind],
                "hub_cpu_median_s": round(statistics.median(hub_cpu[kind]), 3),
                "children_cpu_median_s": round(statistics.median(children_cpu[kind]), 3),
            }
            for kind in times
        }
        self.log(f"startup with 10 servers: {self.results['startup_10']}")


def _session_factory(hub: Hub, transport: str) -> SessionFactory:
    return lambda: hub.session(transport)


def _rest_factory(port: int, server: str) -> SessionFactory:
    return lambda: RestClient(HOST, port, server)


# ----------------------------------------------------------------------------- report
def machine() -> dict[str, Any]:
    def run(*argv: str) -> str:
        try:
            return subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return "?"

    model = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    load = loadavg()
    dirty = run("git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no")
    return {
        "git_head": run("git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"),
        "git_modified_files": len(dirty.splitlines()) if dirty != "?" else None,
        "nproc": run("nproc"),
        "cpu_model": model,
        "free_h": run("free", "-h"),
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "node": run("node", "--version"),
        "loadavg_at_start": load,
    }


def loadavg() -> list[str]:
    return Path("/proc/loadavg").read_text().split()[:3]


def ratio(a: Any, b: Any) -> float | None:
    if not isinstance(a, int | float) or not isinstance(b, int | float) or not b:
        return None
    return round(a / b, 2)


def fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        text = (
            f"{value:.3g}" if value < 10 else f"{value:,.0f}" if value >= 1000 else f"{value:.1f}"
        )
        return text + unit
    return f"{value}{unit}"


def verdict(value: float | None, limit: float, *, at_most: bool = True) -> str:
    if value is None:
        return "?"
    ok = value <= limit if at_most else value >= limit
    return "**yes**" if ok else "no"


#: The issue's targets (tornadohub / mcp-hub, one run): (limit, "at most" or not).
P50_TARGET = 0.8
CPU_TARGET = 0.8
THROUGHPUT_TARGET = 1.2
STARTUP_TARGET = 1.0
#: What is already better must stay better than mcp-hub.
KEEP_TARGET = 1.0

#: (label in the report, mcp-hub key, tornadohub key) for every path a client takes.
PATHS = (
    ("/mcp (legacy SSE)", f"{MH} /mcp sse", f"{TH} /mcp sse"),
    ("/mcp (Streamable HTTP)", f"{MH} /mcp sse", f"{TH} /mcp streamable"),
    ("REST", f"{MH} REST", f"{TH} REST"),
)
UPSTREAMS = (("stdio", "STDIO"), ("http", "HTTP"))


def report(results: dict[str, Any], command: str) -> str:
    """The side-by-side markdown table: ratios are tornadohub / mcp-hub.

    mcp-hub speaks only legacy SSE on ``/mcp``, so both of tornadohub's ``/mcp``
    transports are compared with it; REST is compared with REST.
    """
    lines = [
        "| measurement | direct upstream | mcp-hub 4.2.1 | tornadohub | tornadohub / mcp-hub "
        "| target | met |",
        "|---|---:|---:|---:|---:|---|---|",
    ]

    def row(
        name: str, direct: Any, mh: Any, th: Any, unit: str, target: str = "", met: str = ""
    ) -> None:
        r = ratio(th, mh)
        lines.append(
            f"| {name} | {fmt(direct, unit)} | {fmt(mh, unit)} | {fmt(th, unit)} | "
            f"{fmt(r, '×') if r is not None else '–'} | {target} | {met} |"
        )

    lat = results.get("latency", {})
    for upstream, up in UPSTREAMS:
        d = lat.get(upstream, {})
        if not d:
            continue
        direct = d.get("direct", {})
        latest = d.get("direct 2025-11-25", {})
        if latest:
            row(
                f"tools/call p50, direct to the {up} upstream at 2025-11-25 (as tornadohub asks)",
                latest.get("p50_ms"),
                None,
                None,
                " ms",
            )
        for p, limit in (("p50", P50_TARGET), ("p99", KEEP_TARGET)):
            for path, mh_key, th_key in PATHS:
                mh, th = d.get(mh_key, {}), d.get(th_key, {})
                r = ratio(th.get(f"{p}_ms"), mh.get(f"{p}_ms"))
                mark = "≤" if p == "p50" else "<"
                row(
                    f"tools/call {p}, {path}, {up} upstream",
                    direct.get(f"{p}_ms"),
                    mh.get(f"{p}_ms"),
                    th.get(f"{p}_ms"),
                    " ms",
                    f"{mark} {limit}×",
                    verdict(r, limit) if p == "p50" else _below(r, limit),
                )
        if latest:
            same_version_rows(row, d, up, latest.get("p50_ms"))
    tput = results.get("throughput", {})
    for upstream, up in UPSTREAMS:
        d = tput.get(upstream, {})
        for path, mh_key, th_key in PATHS:
            mh, th = d.get(mh_key, {}), d.get(th_key, {})
            for c in sorted(set(mh) & set(th), key=int):
                target, met = "", ""
                r = ratio(th[c].get("calls_per_s"), mh[c].get("calls_per_s"))
                if c == "32":
                    target = f"≥ {THROUGHPUT_TARGET}×"
                    met = verdict(r, THROUGHPUT_TARGET, at_most=False)
                row(
                    f"throughput C={c}, {path}, {up} upstream",
                    d.get("direct", {}).get(c, {}).get("calls_per_s"),
                    mh[c].get("calls_per_s"),
                    th[c].get("calls_per_s"),
                    " calls/s",
                    target,
                    met,
                )
        for path, mh_key, th_key in PATHS:
            mh, th = d.get(mh_key, {}), d.get(th_key, {})
            for c in ("1", "32"):
                if c not in th or c not in mh:
                    continue
                a, b = th[c].get("hub_cpu_ms_per_call"), mh[c].get("hub_cpu_ms_per_call")
                row(
                    f"hub CPU per call, C={c}, {path}, {up} upstream",
                    None,
                    b,
                    a,
                    " ms",
                    f"≤ {CPU_TARGET}×",
                    verdict(ratio(a, b), CPU_TARGET),
                )
    floor = results.get("floor", {})
    if floor:
        node, tornado = floor.get("node", {}), floor.get("tornado", {})
        row(
            "framework floor p50 (bare node:http / bare Tornado handler)",
            None,
            node.get("latency", {}).get("p50_ms"),
            tornado.get("latency", {}).get("p50_ms"),
            " ms",
        )
        for c in sorted(
            set(node.get("throughput", {})) & set(tornado.get("throughput", {})), key=int
        ):
            n, t = node["throughput"][c], tornado["throughput"][c]
            row(
                f"framework floor CPU per request, C={c} (node:http / Tornado)",
                None,
                n.get("hub_cpu_ms_per_call"),
                t.get("hub_cpu_ms_per_call"),
                " ms",
            )
            row(
                f"framework floor throughput, C={c} (node:http / Tornado)",
                None,
                n.get("calls_per_s"),
                t.get("calls_per_s"),
                " calls/s",
            )
    idle = results.get("rss_idle", {})
    if idle:
        mh_kb, th_kb = idle.get(MH, {}).get("hub_kb"), idle.get(TH, {}).get("hub_kb")
        row(
            "hub RSS idle (2 servers; hub process)",
            None,
            _mb(mh_kb),
            _mb(th_kb),
            " MB",
            "≤ 1×",
            verdict(ratio(th_kb, mh_kb), 1.0),
        )
        row(
            "hub + children RSS idle",
            None,
            _mb(idle.get(MH, {}).get("tree_kb")),
            _mb(idle.get(TH, {}).get("tree_kb")),
            " MB",
        )
    load = results.get("rss_load_max", {})
    if load:
        r = ratio(load.get(TH), load.get(MH))
        row(
            "hub RSS under load (max)",
            None,
            _mb(load.get(MH)),
            _mb(load.get(TH)),
            " MB",
            f"< {KEEP_TARGET}×",
            _below(r, KEEP_TARGET),
        )
    for title, d in results.get("tools_list", {}).items():
        mh = d.get(f"{MH} /mcp sse", {})
        for th_key, how in (
            (f"{TH} /mcp sse", "legacy SSE"),
            (f"{TH} /mcp streamable", "Streamable HTTP"),
        ):
            th = d.get(th_key, {})
            r = ratio(th.get("p50_ms"), mh.get("p50_ms"))
            row(
                f"tools/list p50, {title} ({th.get('tools')} tools; {how})",
                None,
                mh.get("p50_ms"),
                th.get("p50_ms"),
                " ms",
                f"< {KEEP_TARGET}×",
                _below(r, KEEP_TARGET),
            )
    for title, d in results.get("tools_list", {}).items():
        mh, th = d.get(f"{MH} REST echo", {}), d.get(f"{TH} REST echo", {})
        if mh or th:
            row(
                f"REST tools/call p50 with {title}", None, mh.get("p50_ms"), th.get("p50_ms"), " ms"
            )
    st = results.get("startup_10", {})
    if st:
        a, b = st.get(TH, {}).get("median_s"), st.get(MH, {}).get("median_s")
        row(
            "start to ready, 10 STDIO servers (median)",
            None,
            b,
            a,
            " s",
            f"≤ {STARTUP_TARGET}×",
            verdict(ratio(a, b), STARTUP_TARGET),
        )
        for key, label in (
            ("hub_cpu_median_s", "hub CPU to ready, 10 STDIO servers (median)"),
            ("children_cpu_median_s", "children's CPU to ready, 10 STDIO servers (median)"),
        ):
            row(label, None, st.get(MH, {}).get(key), st.get(TH, {}).get(key), " s")
        mh_kb = st.get(MH, {}).get("hub_rss_kb_median")
        th_kb = st.get(TH, {}).get("hub_rss_kb_median")
        row(
            "hub RSS idle 1 s after ready, 10 STDIO servers (median)",
            None,
            _mb(mh_kb),
            _mb(th_kb),
            " MB",
        )
    lines += ["", f"Command: `{command}`"]
    return "\n".join(lines)


def same_version_rows(
    row: Callable[..., None], d: dict[str, Any], up: str, latest_p50: Any
) -> None:
    """Each hub's p50 above the direct call at the version it negotiates, and the p50
    tornadohub would have at mcp-hub's version.

    server-everything answers a 2025-11-25 session (tornadohub's) later than a 2025-06-18
    one (mcp-hub's): it sends a priming event first, and @hono/node-server then holds the
    response head for a ``setTimeout`` (0 to 1 ms) to see whether the stream ends. The
    p50 ratio above carries that wait; these rows compare what each hub adds.
    """
    direct_p50 = d.get("direct", {}).get("p50_ms")
    if not isinstance(direct_p50, int | float) or not isinstance(latest_p50, int | float):
        return
    for path, mh_key, th_key in PATHS:
        mh, th = d.get(mh_key, {}).get("p50_ms"), d.get(th_key, {}).get("p50_ms")
        if not isinstance(mh, int | float) or not isinstance(th, int | float):
            continue
        th_added = round(th - latest_p50, 3)
        row(
            f"tools/call p50 above the direct call at each hub's version "
            f"(2025-06-18 / 2025-11-25), {path}, {up} upstream",
            None,
            round(mh - direct_p50, 3),
            th_added,
            " ms",
        )
        row(
            f"tools/call p50 at mcp-hub's version (estimate: direct 2025-06-18 + the above), "
            f"{path}, {up} upstream",
            direct_p50,
            mh,
            round(direct_p50 + th_added, 3),
            " ms",
        )


def _below(value: float | None, limit: float) -> str:
    if value is None:
        return "?"
    return "**yes**" if value < limit else "no"


def _mb(kb: Any) -> float | None:
    return round(kb / 1024, 1) if isinstance(kb, int | float) else None


def plot(raw: dict[str, list[float]], path: Path) -> bool:
    """CDFs of the sequential tools/call latencies (skipped without matplotlib)."""
    try:
        matplotlib: Any = importlib.import_module("matplotlib")
        matplotlib.use("Agg")
        plt: Any = importlib.import_module("matplotlib.pyplot")
    except ImportError:
        return False
    fig, axes = plt.subplots(1, 2, figsize=(13, 5))
    for ax, upstream in zip(axes, ("stdio", "http"), strict=True):
        for key, samples in sorted(raw.items()):
            if not key.startswith(upstream + ":") or not samples:
                continue
            s = sorted(samples)
            ax.plot(s, [(i + 1) / len(s) for i in range(len(s))], label=key.split(": ", 1)[1])
        ax.set_xscale("log")
        ax.set_xlabel("tools/call latency (ms, log)")
        ax.set_ylabel("fraction of calls")
        ax.set_title(f"echo via {upstream.upper()} upstream (sequential)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    return True


# ----------------------------------------------------------------------------- main
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--build", default=str(ROOT / "build" / "bench"), help="install dir")
    ap.add_argument("--out", default=str(ROOT / "build" / "bench" / "out"))
    ap.add_argument(
        "--hub-python",
        default=str(ROOT / ".venv" / "bin" / "python"),
        help="the interpreter that runs tornadohub",
    )
    ap.add_argument(
        "--phases",
        default="latency,throughput,floor,tools_list,startup",
        type=lambda s: set(s.split(",")),
    )
    ap.add_argument("--n", type=int, default=600, help="sequential calls per latency target")
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--conc", default=[1, 8, 32], type=lambda s: [int(x) for x in s.split(",")])
    ap.add_argument("--duration", type=float, default=6.0, help="s per throughput level")
    ap.add_argument("--duration-http", type=float, default=4.0)
    ap.add_argument(
        "--upstreams", default=[1, 10, 100], type=lambda s: [int(x) for x in s.split(",")]
    )
    # 40 per round left the p50 of a sub-millisecond list (1 x 13 tools) moving by 0.5x
    # between runs with nothing changed on its path: 200 per round costs ~15 s more.
    ap.add_argument(
        "--list-n", type=int, default=200, help="tools/list calls per round (13-tool servers)"
    )
    ap.add_argument("--list-n-big", type=int, default=10)
    ap.add_argument("--rest-n-scaling", type=int, default=300, help="REST echo calls per config")
    ap.add_argument("--startup-reps", type=int, default=3)
    ap.add_argument(
        "--profile", action="store_true", help="py-spy profiles of tornadohub (phase 'profile')"
    )
    ap.add_argument("--profile-seconds", type=float, default=8.0)
    ap.add_argument("--quick", action="store_true", help="tiny counts: a smoke test (~1 min)")
    ap.add_argument(
        "--only",
        type=lambda s: s.split(","),
        help="run only these measurements (comma-separated fnmatch patterns) within --phases:"
        " latency:stdio, latency:http, throughput:stdio, throughput:http, tools_list:<upstreams>"
        " (e.g. tools_list:100), tools_list:10000, floor, startup",
    )
    a = ap.parse_args(argv)
    if a.profile:
        a.phases.add("profile")
    if a.quick:
        a.n, a.warmup, a.duration, a.duration_http = 40, 3, 1.0, 1.0
        a.upstreams, a.list_n, a.list_n_big, a.startup_reps = [1, 10], 3, 2, 1
        a.rest_n_scaling = 20
        a.profile_seconds = 2.0
    return a


def make_env(a: argparse.Namespace) -> Env:
    build, out = Path(a.build).resolve(), Path(a.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    py_spy = shutil.which("py-spy", path=str(Path(sys.executable).parent))
    env = Env(
        build=build,
        out=out,
        hub_python=os.path.abspath(a.hub_python),
        node=shutil.which("node") or "node",
        py_spy=py_spy,
    )
    for needed in (env.everything_js, env.mcp_hub_js):
        if not Path(needed).exists():
            raise SystemExit(f"missing {needed}: run bench/setup.sh (or make bench)")
    return env


async def amain(a: argparse.Namespace, env: Env) -> dict[str, Any]:
    out = env.out
    command = " ".join(
        shlex.quote(x) for x in [Path(sys.executable).name, "-m", "bench.run", *sys.argv[1:]]
    )
    bench = Bench(env, a)
    bench.results["meta"] = {
        "machine": machine(),
        "command": command,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "args": {k: sorted(v) if isinstance(v, set) else v for k, v in vars(a).items()},
        "mcp_hub": json.loads((env.node_modules / "mcp-hub/package.json").read_text())["version"],
        "server_everything": json.loads(
            (env.node_modules / "@modelcontextprotocol/server-everything/package.json").read_text()
        )["version"],
    }
    t0 = time.monotonic()
    if a.phases & {"latency", "throughput", "floor", "profile"}:
        await bench.main_phases()
    if "tools_list" in a.phases:
        await bench.tools_list_phase()
    if "startup" in a.phases and bench.wanted("startup"):
        bench.startup_phase()
    bench.results["meta"]["duration_s"] = round(time.monotonic() - t0, 1)
    bench.results["meta"]["loadavg_at_end"] = loadavg()
    (out / "bench.json").write_text(json.dumps(bench.results, indent=2))
    (out / "latencies.json").write_text(json.dumps(bench.raw_latencies))
    table = report(bench.results, command)
    md = [table]
    for title, summary in bench.results.get("profiles", {}).items():
        md.append(profile.markdown(title, summary))
    (out / "bench.md").write_text("\n\n".join(md) + "\n")
    if bench.raw_latencies and plot(bench.raw_latencies, out / "latency.png"):
        bench.log(f"wrote {out / 'latency.png'}")
    print("\n" + table + "\n", flush=True)
    bench.log(f"wrote {out / 'bench.json'} and {out / 'bench.md'}")
    return bench.results


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> None:
    """Run; SIGTERM or SIGINT unwinds every ``finally``, so every process started is stopped.

    (A background job inherits SIGINT ignored; the default handler is put back.)
    """
    a = parse_args(argv)
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    asyncio.run(amain(a, make_env(a)))


if __name__ == "__main__":
    main()
