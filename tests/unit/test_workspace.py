"""The shared workspace cache: entry lifecycle, robustness and mcp-hub's lock protocol."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from tornadohub import workspace
from tornadohub.errors import HubError
from tornadohub.workspace import WorkspaceCache, pid_alive

START = datetime(2026, 11, 25, 12, 22, 53, 951_234, tzinfo=UTC)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "mcp-hub" / "workspaces.json"


@pytest.fixture
def dead_pid() -> int:
    """The pid of a child we started and reaped ourselves, so it is surely not running."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait(timeout=30)
    assert not pid_alive(proc.pid)
    return proc.pid


def cache(path: Path, port: int = 37373, pid: int | None = None) -> WorkspaceCache:
    """A cache with a short lock retry loop so contention tests stay fast."""
    return WorkspaceCache(path, port, pid, lock_attempts=3, lock_interval=0.001)


def test_register_writes_mcp_hub_entry(path: Path) -> None:
    entry = cache(path, pid=18424).register(
        cwd="bench", config_files=["/home/user/.config/mcphub/servers.json"], start_time=START
    )
    expected = {
        "cwd": "bench",
        "config_files": ["/home/user/.config/mcphub/servers.json"],
        "pid": 18424,
        "port": 37373,
        "startTime": "2026-11-25T12:22:53.951Z",
        "state": "active",
        "activeConnections": 0,
        "shutdownStartedAt": None,
        "shutdownDelay": None,
    }
    assert entry == expected
    assert list(entry) == list(expected)
    text = path.read_text(encoding="utf-8")
    assert json.loads(text) == {"37373": expected}
    assert text == json.dumps({"37373": expected}, indent=2)
    assert not path.with_name("workspaces.json.lock").exists()


def test_default_pid_and_start_time(path: Path) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    entry = WorkspaceCache(path, 4000).register(cwd="/w", config_files=[])
    assert entry["pid"] == os.getpid()
    started = datetime.fromisoformat(entry["startTime"].replace("Z", "+00:00"))
    assert entry["startTime"].endswith("Z") and len(entry["startTime"]) == 24
    assert before <= started <= datetime.now(UTC)


def test_start_time_converted_to_utc(path: Path) -> None:
    local = START.astimezone(timezone(timedelta(hours=2)))
    entry = cache(path).register(cwd="/w", config_files=[], start_time=local)
    assert entry["startTime"] == "2026-11-25T12:22:53.951Z"


def test_register_overwrites_same_port_and_keeps_others(path: Path) -> None:
    cache(path, 1000, pid=1).register(cwd="/a", config_files=["a.json"], start_time=START)
    cache(path, 2000, pid=2).register(cwd="/b", config_files=["b.json"], start_time=START)
    cache(path, 1000, pid=3).register(cwd="/c", config_files=["c.json"], start_time=START)
    data = cache(path).read_all()
    assert set(data) == {"1000", "2000"}
    assert data["1000"]["pid"] == 3 and data["1000"]["cwd"] == "/c"
    assert data["2000"]["cwd"] == "/b"


def test_update_merges_into_our_entry(path: Path) -> None:
    hub = cache(path, pid=10)
    hub.register(cwd="/w", config_files=[], start_time=START)
    hub.update(
        state="shutting_down",
        activeConnections=0,
        shutdownStartedAt=START + timedelta(seconds=5),
        shutdownDelay=600000,
    )
    entry = hub.read_all()["37373"]
    assert entry["state"] == "shutting_down"
    assert entry["shutdownStartedAt"] == "2026-11-25T12:22:58.951Z"
    assert entry["shutdownDelay"] == 600000
    assert entry["cwd"] == "/w"
    hub.update(state="active", activeConnections=2, shutdownStartedAt=None, shutdownDelay=None)
    entry = hub.read_all()["37373"]
    assert (entry["state"], entry["activeConnections"], entry["shutdownStartedAt"]) == (
        "active",
        2,
        None,
    )


def test_update_without_changes_does_not_rewrite(path: Path) -> None:
    hub = cache(path, pid=10)
    hub.register(cwd="/w", config_files=[], start_time=START)
    inode = path.stat().st_ino
    hub.update(state="active", activeConnections=0)
    assert path.stat().st_ino == inode
    hub.update(activeConnections=1)
    assert path.stat().st_ino != inode


def test_update_is_noop_without_our_entry(path: Path) -> None:
    cache(path, pid=10).update(state="active")
    assert not path.exists()
    cache(path, pid=11).register(cwd="/other", config_files=[], start_time=START)
    before = path.read_text(encoding="utf-8")
    cache(path, pid=10).update(activeConnections=5)
    assert path.read_text(encoding="utf-8") == before


def test_deregister_removes_only_our_entry(path: Path) -> None:
    mine = cache(path, 1000, pid=10)
    mine.register(cwd="/a", config_files=[], start_time=START)
    cache(path, 2000, pid=20).register(cwd="/b", config_files=[], start_time=START)
    mine.deregister()
    assert set(mine.read_all()) == {"2000"}
    mine.deregister()  # already gone: harmless
    assert set(mine.read_all()) == {"2000"}


def test_never_deregisters_another_pids_entry(path: Path) -> None:
    """A second hub that lost the port must not delete the running hub's entry."""
    running = cache(path, 37373, pid=100)
    running.register(cwd="/w", config_files=["c.json"], start_time=START)
    loser = cache(path, 37373, pid=200)
    loser.deregister()
    assert running.read_all()["37373"]["pid"] == 100


@pytest.mark.parametrize("content", ["", "{not json", "[1, 2]", '"text"', "\x00\xff"])
def test_corrupt_file_reads_as_empty(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True)
    path.write_text(content, encoding="latin-1")
    hub = cache(path, pid=1)
    assert hub.read_all() == {}
    hub.register(cwd="/w", config_files=[], start_time=START)  # heals the file
    assert set(json.loads(path.read_text(encoding="utf-8"))) == {"37373"}


def test_read_all_missing_file_and_non_object_entries(path: Path) -> None:
    assert cache(path).read_all() == {}
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"1": {"pid": 1}, "2": "junk"}), encoding="utf-8")
    assert cache(path).read_all() == {"1": {"pid": 1}}


def test_atomic_write_leaves_no_temp_files(path: Path) -> None:
    hub = cache(path, pid=1)
    hub.register(cwd="/w", config_files=["ü.json"], start_time=START)
    for i in range(5):
        hub.update(activeConnections=i)
    assert sorted(p.name for p in path.parent.iterdir()) == ["workspaces.json"]
    assert json.loads(path.read_text(encoding="utf-8"))["37373"]["config_files"] == ["ü.json"]


def test_failed_write_keeps_old_file(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hub = cache(path, pid=1)
    hub.register(cwd="/w", config_files=[], start_time=START)
    before = path.read_text(encoding="utf-8")

    def broken_replace(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(HubError) as info:
        hub.update(state="shutting_down")
    assert info.value.code == "WORKSPACE_ERROR"
    monkeypatch.undo()
    assert path.read_text(encoding="utf-8") == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["workspaces.json"]


def test_lock_held_by_live_pid_retries_then_removes_it(
    path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path.parent.mkdir(parents=True)
    lock = path.with_name("workspaces.json.lock")
    lock.write_text(str(os.getpid()), encoding="ascii")  # a live holder
    hub = WorkspaceCache(path, 1, pid=7, lock_attempts=4, lock_interval=0.001)
    with caplog.at_level(logging.WARNING, logger="tornadohub.workspace"):
        hub.register(cwd="/w", config_files=[], start_time=START)
    assert [r.getMessage() for r in caplog.records] == ["removing potentially stale lock file"]
    assert set(hub.read_all()) == {"1"}
    assert not lock.exists()


def test_lock_released_by_holder_during_retries(
    path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    path.parent.mkdir(parents=True)
    lock = path.with_name("workspaces.json.lock")
    lock.write_text(str(os.getpid()), encoding="ascii")
    waits: list[float] = []

    def fake_sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 2:
            lock.unlink()  # the other hub finishes its write

    monkeypatch.setattr(workspace, "_sleep", fake_sleep)
    hub = WorkspaceCache(path, 1, pid=7)  # mcp-hub's defaults: 10 x 100 ms
    with caplog.at_level(logging.WARNING, logger="tornadohub.workspace"):
        hub.register(cwd="/w", config_files=[], start_time=START)
    assert waits == [0.1, 0.1]
    assert caplog.records == []
    assert not lock.exists()


def test_lock_of_dead_pid_is_removed_at_once(
    path: Path, dead_pid: int, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    path.parent.mkdir(parents=True)
    lock = path.with_name("workspaces.json.lock")
    lock.write_text(str(dead_pid), encoding="ascii")
    waits: list[float] = []
    monkeypatch.setattr(workspace, "_sleep", waits.append)
    hub = WorkspaceCache(path, 1, pid=7)
    with caplog.at_level(logging.WARNING, logger="tornadohub.workspace"):
        hub.register(cwd="/w", config_files=[], start_time=START)
    assert waits == []
    assert caplog.records == []
    assert not lock.exists()


def test_lock_that_cannot_be_cleaned_raises(path: Path) -> None:
    lock = path.with_name("workspaces.json.lock")
    lock.mkdir(parents=True)  # neither creatable nor unlinkable as a file
    hub = cache(path, pid=7)
    with pytest.raises(HubError) as info:
        hub.register(cwd="/w", config_files=[], start_time=START)
    assert info.value.code == "WORKSPACE_ERROR"
    assert info.value.message.startswith("Failed to acquire lock after 3 attempts and cleanup: ")
    assert not path.exists()


def test_lock_file_holds_our_pid_while_writing(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hub = cache(path, pid=4242)
    seen: list[str] = []
    real_write = WorkspaceCache._write

    def spy(self: WorkspaceCache, data: dict[str, dict[str, object]]) -> None:
        seen.append(self.lock_path.read_text(encoding="ascii"))
        real_write(self, data)

    monkeypatch.setattr(WorkspaceCache, "_write", spy)
    hub.register(cwd="/w", config_files=[], start_time=START)
    assert seen == ["4242"]
    assert not hub.lock_path.exists()


def test_lock_released_when_write_fails(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hub = cache(path, pid=1)

    def boom(self: WorkspaceCache, data: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(WorkspaceCache, "_write", boom)
    with pytest.raises(RuntimeError):
        hub.register(cwd="/w", config_files=[], start_time=START)
    assert not hub.lock_path.exists()


def test_release_leaves_a_lock_taken_over_by_another_pid(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub = cache(path, pid=1)
    real_write = WorkspaceCache._write

    def steal(self: WorkspaceCache, data: dict[str, dict[str, object]]) -> None:
        real_write(self, data)
        self.lock_path.write_text("999999", encoding="ascii")

    monkeypatch.setattr(WorkspaceCache, "_write", steal)
    hub.register(cwd="/w", config_files=[], start_time=START)
    assert hub.lock_path.read_text(encoding="ascii") == "999999"


def test_threads_of_one_process_do_not_lose_writes(path: Path) -> None:
    """Our own pid holds the file lock, so threads must also be serialised in-process."""
    hubs = [cache(path, 5000 + i, pid=os.getpid()) for i in range(8)]
    barrier = threading.Barrier(len(hubs))

    def work(hub: WorkspaceCache) -> None:
        barrier.wait(timeout=10)
        hub.register(cwd="/w", config_files=[], start_time=START)
        for n in range(5):
            hub.update(activeConnections=n)

    threads = [threading.Thread(target=work, args=(hub,)) for hub in hubs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    data = hubs[0].read_all()
    assert sorted(data) == [str(5000 + i) for i in range(8)]
    assert {entry["activeConnections"] for entry in data.values()} == {4}
    assert not hubs[0].lock_path.exists()


def test_pid_alive(dead_pid: int) -> None:
    assert pid_alive(os.getpid())
    assert not pid_alive(dead_pid)
    assert not pid_alive(0)
    assert not pid_alive(-1)
