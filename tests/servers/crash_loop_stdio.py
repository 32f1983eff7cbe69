"""Fixture stdio "server" that never connects: each start is recorded, then it dies.

Usage: ``python tests/servers/crash_loop_stdio.py STARTS_FILE``. Appends the system-wide
monotonic clock (``time.monotonic()``, comparable across processes on Linux) to STARTS_FILE
as soon as it runs, reads the first stdin line (the ``initialize`` request) and exits 1, so
the hub reconnects with its backoff and the file holds one line per attempt. Standard
library only, so that the time from spawn to the record stays small.
"""

import sys
import time


def main() -> None:
    with open(sys.argv[1], "a") as starts:
        starts.write(f"{time.monotonic()}\n")
    sys.stdin.readline()
    sys.exit(1)


if __name__ == "__main__":
    main()
