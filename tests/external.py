"""Programs from Debian packages that some tests drive for real (nginx, redis-server, chromium).

Locally a missing program skips its tests with the reason and the package to install;
CI (``.ci/run``) sets ``TORNADOHUB_REQUIRE_EXTERNAL=1`` and installs them, so there a
missing program fails the test instead of hiding it.
"""

from __future__ import annotations

import os
import shutil

import pytest

REQUIRE_VARIABLE = "TORNADOHUB_REQUIRE_EXTERNAL"


def require_program(name: str, package: str, *, search: tuple[str, ...] = ()) -> str:
    """The path of *name* (on PATH or in *search*), else skip (locally) or fail (CI)."""
    found = shutil.which(name)
    if found is None:
        found = next((path for path in search if os.access(path, os.X_OK)), None)
    if found is not None:
        return found
    reason = (
        f"{name} is not installed (Debian package {package}; "
        "`sudo .ci/install-system-packages` installs it)"
    )
    if os.environ.get(REQUIRE_VARIABLE) == "1":
        pytest.fail(f"{reason}, and {REQUIRE_VARIABLE}=1 says it must be", pytrace=False)
    pytest.skip(reason)
