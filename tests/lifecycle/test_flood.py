"""A server flooding stdout with junk costs a few log lines, not one per line (issue 17).

20 MB of non-JSON lines used to become 700,000 warnings (each also an ``/api/events``
frame); now a handful get through per window and the rest are counted in one
"N non-JSON lines suppressed" line.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from tests.conftest import stdio_entry
from tests.helpers import EventStream, HubProcess, wait_until

StartHub = Callable[..., HubProcess]
WriteConfig = Callable[..., str]

FLOOD_MIB = 4
#: Lines the flood writes: about 40 bytes each.
FLOOD_LINES = FLOOD_MIB * 1024 * 1024 // 40
#: Junk warnings allowed through (a few per window; the flood lasts a few windows at most).
MAX_JUNK_WARNINGS = 50

SUPPRESSED = re.compile(r"flood: (\d+) non-JSON lines suppressed")


def test_a_stdout_flood_is_summarised_and_other_servers_keep_answering(
    start_hub: StartHub, write_config: WriteConfig
) -> None:
    config = write_config(
        {
            "quiet": stdio_entry("everything_stdio.py"),
            "flood": {
                **stdio_entry("flood_stdio.py"),
                "args": [*stdio_entry("flood_stdio.py")["args"], str(FLOOD_MIB)],
                "disabled": True,
            },
        }
    )
    hub = start_hub(config)
    events = EventStream(str(hub.client.base_url))
    hub.api("POST", "/api/servers/start", {"server_name": "flood"})
    hub.wait_status("flood", "connected", timeout=120)
    called = hub.api(
        "POST",
        "/api/servers/tools",
        {"server_name": "quiet", "tool": "echo", "arguments": {"message": "still here"}},
    )
    assert called.status_code == 200, called.text

    def summarised() -> int:
        counts = [int(m) for m in SUPPRESSED.findall(hub.log_text())]
        return sum(counts) if counts else 0

    # Every junk line is either logged or counted.
    wait_until(lambda: summarised() + junk_warnings(hub) >= FLOOD_LINES * 0.95, 60)
    assert junk_warnings(hub) <= MAX_JUNK_WARNINGS
    frames = 0
    while (item := events.next(5)) is not None:
        if item[0] == "log" and "non-JSON" in str(item[1].get("message")):
            frames += 1
        if events.events.empty():
            break
    assert frames <= MAX_JUNK_WARNINGS + 5
    events.close()


def junk_warnings(hub: HubProcess) -> int:
    return hub.log_text().count("wrote non-JSON-RPC output to stdout")
