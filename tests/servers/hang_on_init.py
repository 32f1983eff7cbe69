"""Fixture stdio "server" that never answers anything, not even ``initialize``.

Usage: ``python tests/servers/hang_on_init.py``. Reads and discards stdin until EOF, then exits
with code 0, so closing its stdin is enough to stop it. Standard library only.
"""

import sys


def main() -> None:
    for _line in sys.stdin.buffer:
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
