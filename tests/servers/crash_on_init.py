"""Fixture stdio "server" that dies while the client is initializing.

Usage: ``python tests/servers/crash_on_init.py``. Reads the first stdin line (the
``initialize`` request), writes ``dying during initialize`` to stderr and exits with code 1.
Standard library only.
"""

import sys


def main() -> None:
    sys.stdin.readline()
    print("dying during initialize", file=sys.stderr, flush=True)
    sys.exit(1)


if __name__ == "__main__":
    main()
