"""Fixture server that runs once: ``everything_stdio.py`` the first time, then refuses.

Usage: ``python tests/servers/one_life_stdio.py MARKER``. Without the file MARKER it creates
it and becomes ``everything_stdio.py`` (same pid); with it, it exits 1 at once. So a server
killed from outside stays down (the hub's reconnects fail), as a crashed one would.
"""

import os
import sys
from pathlib import Path

marker = Path(sys.argv[1])
if marker.exists():
    print("one_life: this server already ran", file=sys.stderr, flush=True)
    sys.exit(1)
marker.touch()
script = str(Path(__file__).with_name("everything_stdio.py"))
os.execv(sys.executable, [sys.executable, script])
