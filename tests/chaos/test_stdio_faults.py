"""STDIO upstreams that fail under load: SIGKILL mid-call, hangs, floods, dying during
initialize, orphaned grandchildren.

Every test runs a ``bystander`` server next to the victim and calls it throughout; each
ends with :func:`assert_no_leaks` after several rounds of the same fault (see conftest).
Overlap with ``tests/api/test_failures.py`` is avoided: that file covers an idle server
killed, ``os._exit`` inside a call, a hang in ``initialize`` at start-up, three garbage
lines and a grandchild stopped through the API; here the faults strike during calls,
repeat, and are checked for leaks.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from pathlib import Path

from tests.faults import (
    Background,
    Bystander,
    McpHttp,
    Snapshot,
    StartHub,
    WriteConfig,
    assert_no_leaks,
    base_url,
    chaos_entry,
    rest_call,
    status_kb,
    tool_text,
    wait_gone,
)
from tests.helpers import HubProcess, alive, wait_until

#: Errors the hub documents for a call whose upstream went away mid-call (REST ``error``).
LOST_CALL_ERRORS = ("MCP error -32000: Connection closed", "Not connected")
#: A call that got no answer within ``request_options.timeout``.
TIMED_OUT = "MCP error -32001: Request 'tools/call' timed out"


def victim_pid(hub: HubProcess) -> int:
    return int(tool_text(rest_call(base_url(hub), "victim", "pid")))


def _new_pid(hub: HubProcess, old: set[int]) -> bool:
    response = rest_call(base_url(hub), "victim", "pid")
    return response.status_code == 200 and int(tool_text(response)) not in old


#: How long a call just started is given to reach the upstream (nothing observable marks it).
IN_FLIGHT = 0.5


def test_sigkill_mid_call_fails_fast_and_the_server_returns(
    start_hub: StartHub, write_config: WriteConfig
) -> None:
    hub = start_hub(write_config({"victim": chaos_entry(), "bystander": chaos_entry()}))
    base = base_url(hub)
    mcp = McpHttp(hub).open()
    assert tool_text(rest_call(base, "victim", "slow", {"seconds": 0.1})) == "slept 0.1"
    assert mcp.call_tool("victim__echo", {"message": "warm"})["content"][0]["text"] == "Echo: warm"
    baseline = Snapshot.of(hub)
    killed: set[int] = set()
    with Bystander(hub, "bystander") as bystander:
        for round_ in range(3):
            pid = victim_pid(hub)
            rest = Background(hub, "victim", "slow", seconds=30)
            assert mcp.session_id is not None
            mcp_thread, via_mcp = _mcp_call_in_thread(
                hub, mcp.session_id, 1000 * (round_ + 1), "victim__slow", {"seconds": 30}
            )
            time.sleep(IN_FLIGHT)
            started = time.monotonic()
            os.kill(pid, signal.SIGKILL)
            killed.add(pid)

            response = rest.result(timeout=15)
            assert time.monotonic() - started < 5
            assert response.status_code == 500, response.text
            body = response.json()
            assert body["error"] in LOST_CALL_ERRORS, body
            assert body["data"]["server"] == "victim"

            mcp_thread.join(15)
            assert not mcp_thread.is_alive()
            result = via_mcp["result"]
            assert isinstance(result, dict) and result["isError"] is True, result
            assert result["content"][0]["text"] in LOST_CALL_ERRORS

            # the call fails as the pipe closes; the status flips a moment later, then the
            # server is restarted: wait for a live new process
            wait_until(lambda: _new_pid(hub, killed), timeout=20)
            assert hub.server("victim")["status"] == "connected"
    bystander.check()
    assert mcp.call_tool("victim__echo", {"message": "after"})["content"][0]["text"] == (
        "Echo: after"
    )
    mcp.close()
    assert_no_leaks(hub, baseline, children=2, gone=killed)


def _mcp_call_in_thread(
    hub: HubProcess, session_id: str, first_id: int, name: str, arguments: dict[str, object]
) -> tuple[threading.Thread, dict[str, object]]:
    """A ``tools/call`` on an existing session, from its own thread and HTTP client."""
    out: dict[str, object] = {}

    def run() -> None:
        other = McpHttp(hub, session_id=session_id, first_id=first_id)
        try:
            out["result"] = other.call_tool(name, arguments)
        except Exception as exc:
            out["result"] = exc
        finally:
            other.close(end_session=False)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


def test_hanging_calls_time_out_and_a_frozen_server_recovers(
    start_hub: StartHub, write_config: WriteConfig
) -> None:
    hub = start_hub(write_config({"victim": chaos_entry(), "bystander": chaos_entry()}))
    base = base_url(hub)
    # warm-up: one call that times out, one that succeeds
    assert rest_call(base, "victim", "hang", timeout_ms=300).status_code == 500
    baseline = Snapshot.of(hub)
    pid = victim_pid(hub)
    with Bystander(hub, "bystander") as bystander:
        # 1. a call that never gets an answer: the caller's timeout, the server keeps serving
        for _ in range(5):
            started = time.monotonic()
            response = rest_call(base, "victim", "hang", timeout_ms=500)
            assert time.monotonic() - started < 3
            assert response.status_code == 500
            body = response.json()
            assert body["error"] == TIMED_OUT, body
            assert body["code"] == -32001
            assert tool_text(rest_call(base, "victim", "echo", {"message": "x"})) == "Echo: x"
        # 2. the whole process frozen (SIGSTOP): calls time out, it comes back on SIGCONT
        os.kill(pid, signal.SIGSTOP)
        try:
            for _ in range(3):
                started = time.monotonic()
                response = rest_call(base, "victim", "echo", {"message": "x"}, timeout_ms=500)
                assert time.monotonic() - started < 3
                assert response.status_code == 500
                assert response.json()["error"] == TIMED_OUT
        finally:
            os.kill(pid, signal.SIGCONT)
        assert tool_text(rest_call(base, "victim", "echo", {"message": "back"})) == "Echo: back"
    bystander.check()
    assert victim_pid(hub) == pid  # the same process served again: nothing was restarted
    assert_no_leaks(hub, baseline, children=2)


def test_a_huge_line_is_dropped_quickly_without_memory_blow_up(
    start_hub: StartHub, write_config: WriteConfig
) -> None:
    hub = start_hub(write_config({"victim": chaos_entry(), "bystander": chaos_entry()}))
    base = base_url(hub)
    assert tool_text(rest_call(base, "victim", "flood", {"mib": 1})) == "flooded 1"
    baseline = Snapshot.of(hub)
    peak_before = status_kb(hub.pid, "VmHWM")
    mib = 80  # over the 64 MiB limit; the child generates it, this process never holds it
    with Bystander(hub, "bystander", max_seconds=30) as bystander:
        response = rest_call(
            base, "victim", "flood", {"mib": mib}, timeout_ms=15_000, client_timeout=30
        )
        # linear-time reading takes about a second; 15 s is generous
        assert tool_text(response) == f"flooded {mib}"  # the answer after the line arrives
        assert tool_text(rest_call(base, "victim", "echo", {"message": "x"})) == "Echo: x"
        # The huge line is the answer itself: its call fails at once with the reason, where
        # it waited out its timeout (a minute here, the client gives up at 30 s).
        arguments = {"mib": mib, "as_answer": True}
        dropped = rest_call(
            base, "victim", "flood", arguments, timeout_ms=60_000, client_timeout=30
        )
        assert dropped.status_code == 500, dropped.text
        assert dropped.json()["error"] == "MCP error -32603: Response over 67108864 bytes: dropped"
        assert tool_text(rest_call(base, "victim", "echo", {"message": "y"})) == "Echo: y"
    bystander.check(max_latency=5.0)
    growth_mib = (status_kb(hub.pid, "VmHWM") - peak_before) / 1024
    assert growth_mib < 2 * 64 + 16, f"peak RSS grew by {growth_mib:.0f} MiB"
    assert "wrote a line over 67108864 bytes; dropped" in hub.log_text()
    assert hub.server("victim")["status"] == "connected"
    assert_no_leaks(hub, baseline, children=2)


def test_garbage_floods_are_skipped(start_hub: StartHub, write_config: WriteConfig) -> None:
    hub = start_hub(write_config({"victim": chaos_entry(), "bystander": chaos_entry()}))
    base = base_url(hub)
    assert tool_text(rest_call(base, "victim", "garbage", {"lines": 6})) == "garbage written"
    baseline = Snapshot.of(hub)
    pid = victim_pid(hub)
    with Bystander(hub, "bystander") as bystander:
        calls = [Background(hub, "victim", "garbage", lines=3000) for _ in range(4)]
        echoes = [Background(hub, "victim", "echo", message=i) for i in range(10)]
        for call in calls:
            assert tool_text(call.result()) == "garbage written"
        for i, echo in enumerate(echoes):
            assert tool_text(echo.result()) == f"Echo: {i}"
    bystander.check()
    assert victim_pid(hub) == pid  # junk never cost the session
    assert "victim wrote non-JSON-RPC output to stdout" in hub.log_text()
    assert_no_leaks(hub, baseline, children=2)


def test_a_server_dying_during_initialize_is_retried_until_it_comes_back(
    start_hub: StartHub, write_config: WriteConfig, tmp_path: Path
) -> None:
    starts = tmp_path / "starts"
    flaky = chaos_entry(env={"CHAOS_START_FILE": str(starts), "CHAOS_FAIL_STARTS": "2"})
    hub = start_hub(write_config({"victim": flaky, "bystander": chaos_entry()}))
    base = base_url(hub)
    baseline = Snapshot.of(hub)
    with Bystander(hub, "bystander") as bystander:
        info = hub.server("victim")
        assert info["status"] in ("disconnected", "connecting"), info
        # why it died (issue 11 §5), not the transport's "Connection closed"
        assert info["error"].startswith("Server process exited with code 1"), info
        started = time.monotonic()
        response = rest_call(base, "victim", "echo", {"message": "x"})
        assert time.monotonic() - started < 2
        assert response.status_code == 500
        assert response.json()["code"] == "TOOL_ERROR"
        assert response.json()["error"] in ("Server not connected", "Server not initialized")
        back = hub.wait_status("victim", "connected", timeout=20)
        assert back["error"] is None
        assert tool_text(rest_call(base, "victim", "echo", {"message": "y"})) == "Echo: y"
    bystander.check()
    assert starts.read_text() == "3"  # two deaths during initialize, then success
    # every failed start was reaped: exactly victim + bystander remain, no zombies
    assert_no_leaks(hub, baseline, children=2)


def test_grandchildren_die_when_their_server_dies(
    start_hub: StartHub, write_config: WriteConfig
) -> None:
    hub = start_hub(write_config({"victim": chaos_entry(), "bystander": chaos_entry()}))
    base = base_url(hub)
    baseline = Snapshot.of(hub)
    gone: set[int] = set()
    with Bystander(hub, "bystander") as bystander:
        for _ in range(2):
            pid = victim_pid(hub)
            grandchildren = {
                int(tool_text(rest_call(base, "victim", "spawn", {"setsid": False})))
                for _ in range(3)
            }
            assert all(alive(g) for g in grandchildren)
            response = rest_call(base, "victim", "die", {"code": 0})
            assert response.status_code == 500
            gone |= grandchildren | {pid}
            wait_gone(grandchildren | {pid})
            hub.wait_status("victim", "connected", timeout=20)
    bystander.check()
    assert_no_leaks(hub, baseline, children=2, gone=gone)


def test_daemonized_grandchildren_die_when_their_server_dies(
    start_hub: StartHub, write_config: WriteConfig
) -> None:
    hub = start_hub(write_config({"victim": chaos_entry(), "bystander": chaos_entry()}))
    base = base_url(hub)
    escaped = int(tool_text(rest_call(base, "victim", "spawn", {"setsid": True})))
    try:
        assert alive(escaped)
        rest_call(base, "victim", "die", {"code": 0})
        hub.wait_status("victim", "connected", timeout=20)
        wait_until(lambda: not alive(escaped), timeout=5)
    finally:
        if alive(escaped):  # the test cleans up what the hub leaked
            with contextlib.suppress(ProcessLookupError):
                os.kill(escaped, signal.SIGKILL)
