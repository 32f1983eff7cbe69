"""The access log from ``metrics.log_request``: which requests are logged at which level.

Once :func:`setup_logging` ran, every access line is debug (and costs nothing above debug);
without it, the level follows the status as in Tornado, with quiet probes at debug.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from tornado.web import RequestHandler

from tornadohub import metrics
from tornadohub.log import setup_logging, teardown_logging

#: (handler class, method, status, level without setup_logging)
REQUESTS = [
    ("ServersHandler", "GET", 200, logging.INFO),
    ("HealthHandler", "GET", 200, logging.DEBUG),
    ("HealthHandler", "GET", 503, logging.ERROR),
    ("ServerInfoHandler", "POST", 404, logging.WARNING),
    ("ToolCallHandler", "POST", 500, logging.ERROR),
]


class _Request:
    def __init__(self, method: str) -> None:
        self.method = method
        self.path = "/api/x"
        self.remote_ip = "127.0.0.1"

    def request_time(self) -> float:
        return 0.00125


def handler(name: str, method: str, status: int) -> RequestHandler:
    """A stand-in with what ``log_request`` reads, its class named after a real handler."""
    cls = type(name, (), {"request": _Request(method), "get_status": lambda self: status})
    return cast(RequestHandler, cls())


def message(method: str, status: int) -> str:
    return f"{status} {method} /api/x (127.0.0.1) 1.25ms"


@pytest.fixture(autouse=True)
def _clean_logging() -> Iterator[None]:
    yield
    teardown_logging()


@pytest.fixture
def access_records() -> Iterator[list[logging.LogRecord]]:
    """Every LogRecord made for the access logger, whether or not a handler takes it."""
    made: list[logging.LogRecord] = []
    factory = logging.getLogRecordFactory()

    def counting(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        if record.name == metrics.access_log.name:
            made.append(record)
        return record

    logging.setLogRecordFactory(counting)
    try:
        yield made
    finally:
        logging.setLogRecordFactory(factory)


def test_above_debug_no_record_is_made(access_records: list[logging.LogRecord]) -> None:
    out, err = io.StringIO(), io.StringIO()
    setup_logging("info", stdout=out, stderr=err)
    for name, method, status, _ in REQUESTS:
        metrics.log_request(handler(name, method, status))
    assert access_records == []
    assert out.getvalue() == "" and err.getvalue() == ""


def test_at_debug_every_line_is_debug(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    log_file = tmp_path / "mcp-hub.log"
    setup_logging("debug", stdout=out, stderr=err, log_file=log_file)
    for name, method, status, _ in REQUESTS:
        metrics.log_request(handler(name, method, status))
    entries = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(e["type"], e["message"], e["data"]) for e in entries] == [
        ("debug", message(method, status), {"status": status, "method": method, "path": "/api/x"})
        for _, method, status, _ in REQUESTS
    ]
    assert err.getvalue() == ""
    assert log_file.read_text().splitlines() == [message(m, s) for _, m, s, _ in REQUESTS]


def test_without_setup_the_level_follows_the_status(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger=metrics.access_log.name)
    for name, method, status, _ in REQUESTS:
        metrics.log_request(handler(name, method, status))
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (level, message(method, status)) for _, method, status, level in REQUESTS
    ]
