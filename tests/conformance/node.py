"""The Node binary the tests that drive Node tools run, or a skip (a failure when required)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conformance.install import MIN_NODE, missing
from tests.conformance.install import node as find_node

#: ``make test`` sets it: the Node tools were installed, so their tests must run.
REQUIRE_VARIABLE = "TORNADOHUB_CONFORMANCE"


def require_node() -> Path:
    """Node with every npm tool installed; else skip, or fail under ``TORNADOHUB_CONFORMANCE=1``."""
    node = find_node()
    absent = missing()
    if node is None or absent:
        names = ", ".join(package.spec for package in absent) or f"node >= {MIN_NODE}"
        message = f"not installed: {names} (run `make conformance`)"
        if os.environ.get(REQUIRE_VARIABLE) == "1":
            pytest.fail(message)
        pytest.skip(message)
    return node
