"""mcp-hub's log shape: JSON lines split across stdout/stderr, a truncated text file, listeners."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from tornadohub import log as hublog
from tornadohub.clock import iso_timestamp
from tornadohub.log import (
    JsonLineFormatter,
    add_log_listener,
    log_entry,
    parse_level,
    setup_logging,
    teardown_logging,
)

CREATED = datetime(2026, 11, 25, 12, 22, 58, 981_500, tzinfo=UTC).timestamp()


@pytest.fixture(autouse=True)
def _clean_logging() -> Iterator[None]:
    yield
    teardown_logging()


@pytest.fixture
def streams() -> tuple[io.StringIO, io.StringIO]:
    return io.StringIO(), io.StringIO()


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def make_record(level: int, msg: str, *args: object, **extra: Any) -> logging.LogRecord:
    record = logging.LogRecord("tornadohub.test", level, __file__, 1, msg, args, None)
    record.created = CREATED
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def test_iso_timestamp_matches_javascript() -> None:
    moment = datetime(2026, 11, 25, 12, 22, 53, 951_999, tzinfo=UTC)
    assert iso_timestamp(moment) == "2026-11-25T12:22:53.951Z"
    assert iso_timestamp(moment.astimezone(timezone(timedelta(hours=-5)))) == (
        "2026-11-25T12:22:53.951Z"
    )
    assert iso_timestamp(moment.replace(tzinfo=None, microsecond=0)) == "2026-11-25T12:22:53.000Z"
    assert iso_timestamp().endswith("Z")


def test_formatter_exact_line() -> None:
    line = JsonLineFormatter().format(make_record(logging.INFO, "Hub %s", "ready"))
    assert line == (
        '{"type":"info","message":"Hub ready","data":{},"timestamp":"2026-11-25T12:22:58.981Z"}'
    )


def test_formatter_with_data_and_code() -> None:
    record = make_record(
        logging.ERROR, "boom", data={"server": "echo", "when": Path("/x")}, code="TOOL_ERROR"
    )
    parsed = json.loads(JsonLineFormatter().format(record))
    assert list(parsed) == ["type", "message", "data", "timestamp", "code"]
    assert parsed["data"] == {"server": "echo", "when": "/x"}
    assert parsed["code"] == "TOOL_ERROR"


@pytest.mark.parametrize(
    ("level", "kind"),
    [
        (5, "debug"),
        (logging.DEBUG, "debug"),
        (logging.INFO, "info"),
        (logging.WARNING, "warn"),
        (logging.ERROR, "error"),
        (logging.CRITICAL, "error"),
    ],
)
def test_type_mapping(level: int, kind: str) -> None:
    assert log_entry(make_record(level, "m"))["type"] == kind


def test_entry_data_is_json_safe_and_code_optional() -> None:
    class Odd:
        def __str__(self) -> str:
            return "odd"

    entry = log_entry(make_record(logging.INFO, "m", data={"o": Odd(), 1: (1, 2)}))
    assert entry == {
        "type": "info",
        "message": "m",
        "data": {"o": "odd", "1": [1, 2]},
        "timestamp": "2026-11-25T12:22:58.981Z",
    }
    assert log_entry(make_record(logging.INFO, "m", data=[1]))["data"] == {"value": [1]}
    assert "code" not in log_entry(make_record(logging.INFO, "m", code=None))
    assert log_entry(make_record(logging.INFO, "m", code=0))["code"] == 0


def test_exception_traceback_goes_to_data_stack(streams: tuple[io.StringIO, io.StringIO]) -> None:
    out, err = streams
    setup_logging("debug", stdout=out, stderr=err)
    try:
        raise KeyError("missing")
    except KeyError:
        logging.getLogger("tornadohub.x").exception("failed", extra={"code": "E"})
    (entry,) = lines(err)
    assert entry["message"] == "failed" and entry["code"] == "E"
    assert "KeyError: 'missing'" in entry["data"]["stack"]


def test_stdout_stderr_split(streams: tuple[io.StringIO, io.StringIO]) -> None:
    out, err = streams
    setup_logging("debug", stdout=out, stderr=err)
    logger = logging.getLogger("tornadohub.hub")
    logger.debug("d")
    logger.info("i", extra={"data": {"n": 1}})
    logger.warning("w")
    logger.error("e", extra={"code": "SERVER_ERROR"})
    logger.critical("c")
    assert [(e["type"], e["message"]) for e in lines(out)] == [("debug", "d"), ("info", "i")]
    assert lines(out)[1]["data"] == {"n": 1}
    assert [(e["type"], e["message"]) for e in lines(err)] == [
        ("warn", "w"),
        ("error", "e"),
        ("error", "c"),
    ]
    assert lines(err)[1]["code"] == "SERVER_ERROR"
    assert "code" not in lines(err)[0]


@pytest.mark.parametrize(
    ("level", "expected"),
    [("info", ["i", "w"]), ("warn", ["w"]), ("WARNING", ["w"]), ("error", [])],
)
def test_level_threshold(
    streams: tuple[io.StringIO, io.StringIO], level: str, expected: list[str]
) -> None:
    out, err = streams
    setup_logging(level, stdout=out, stderr=err)
    logger = logging.getLogger("tornadohub")
    logger.debug("d")
    logger.info("i")
    logger.warning("w")
    assert [e["message"] for e in lines(out) + lines(err)] == expected


def test_parse_level_rejects_unknown() -> None:
    assert parse_level(" Warn ") == logging.WARNING
    with pytest.raises(ValueError, match="Unknown log level"):
        parse_level("verbose")


def test_setup_is_idempotent(streams: tuple[io.StringIO, io.StringIO]) -> None:
    out, err = streams
    setup_logging("info", stdout=out, stderr=err)
    setup_logging("info", stdout=out, stderr=err)
    logging.getLogger("tornadohub").info("once")
    assert [e["message"] for e in lines(out)] == ["once"]
    owned = [
        h
        for h in logging.getLogger("tornadohub").handlers
        if getattr(h, "_tornadohub_owned", False)
    ]
    assert len(owned) == 2


def test_file_gets_plain_messages_and_is_truncated(
    tmp_path: Path, streams: tuple[io.StringIO, io.StringIO]
) -> None:
    out, err = streams
    log_file = tmp_path / "state" / "logs" / "mcp-hub.log"
    log_file.parent.mkdir(parents=True)
    log_file.write_text("from the previous run\n", encoding="utf-8")
    setup_logging("debug", log_file=log_file, stdout=out, stderr=err)
    logger = logging.getLogger("tornadohub.hub")
    logger.info("Starting hub on port %d", 37373, extra={"data": {"port": 37373}})
    logger.error("Broken ü", extra={"code": "X"})
    assert log_file.read_text(encoding="utf-8") == "Starting hub on port 37373\nBroken ü\n"
    setup_logging("debug", log_file=log_file, stdout=out, stderr=err)  # a new start
    assert log_file.read_text(encoding="utf-8") == ""


def test_file_parent_created(tmp_path: Path, streams: tuple[io.StringIO, io.StringIO]) -> None:
    log_file = tmp_path / "new" / "logs" / "mcp-hub.log"
    setup_logging("info", log_file=log_file, stdout=streams[0], stderr=streams[1])
    logging.getLogger("tornadohub").info("hello")
    assert log_file.read_text(encoding="utf-8") == "hello\n"


def test_unopenable_file_is_reported_not_fatal(
    tmp_path: Path, streams: tuple[io.StringIO, io.StringIO]
) -> None:
    out, err = streams
    log_file = tmp_path / "is-a-dir"
    log_file.mkdir()
    setup_logging("info", log_file=log_file, stdout=out, stderr=err)
    (entry,) = lines(err)
    assert entry["type"] == "warn" and entry["message"].startswith("Cannot open log file")
    logging.getLogger("tornadohub").info("still works")
    assert [e["message"] for e in lines(out)] == ["still works"]


def test_listener_receives_entries_and_can_unsubscribe(
    streams: tuple[io.StringIO, io.StringIO],
) -> None:
    setup_logging("debug", stdout=streams[0], stderr=streams[1])
    got: list[dict[str, Any]] = []
    unsubscribe = add_log_listener(got.append)
    logging.getLogger("tornadohub.sse").warning("slow", extra={"data": {"ms": 5}, "code": "C"})
    unsubscribe()
    unsubscribe()  # twice is harmless
    logging.getLogger("tornadohub.sse").warning("after")
    assert len(got) == 1
    assert {k: v for k, v in got[0].items() if k != "timestamp"} == {
        "type": "warn",
        "message": "slow",
        "data": {"ms": 5},
        "code": "C",
    }


def test_listener_errors_and_reentry_are_contained(
    streams: tuple[io.StringIO, io.StringIO], capsys: pytest.CaptureFixture[str]
) -> None:
    out, err = streams
    setup_logging("debug", stdout=out, stderr=err)
    got: list[str] = []

    def failing(entry: dict[str, Any]) -> None:
        raise RuntimeError("subscriber gone")

    def chatty(entry: dict[str, Any]) -> None:
        got.append(entry["message"])
        logging.getLogger("tornadohub.sse").debug("broadcast %s", entry["message"])

    unsubscribe = [add_log_listener(failing), add_log_listener(chatty)]
    logging.getLogger("tornadohub").info("event")
    for fn in unsubscribe:
        fn()
    assert got == ["event"]
    assert [e["message"] for e in lines(out)] == ["event", "broadcast event"]
    assert capsys.readouterr().err == ""


def test_listener_respects_level(streams: tuple[io.StringIO, io.StringIO]) -> None:
    setup_logging("info", stdout=streams[0], stderr=streams[1])
    got: list[dict[str, Any]] = []
    unsubscribe = add_log_listener(got.append)
    logging.getLogger("tornadohub").debug("hidden")
    logging.getLogger("tornado.access").info("200 GET /api/health")
    logging.getLogger("tornadohub").info("shown")
    unsubscribe()
    assert [e["message"] for e in got] == ["shown"]


class BrokenPipeStream(io.StringIO):
    def write(self, s: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


class ClosedStream(io.StringIO):
    def write(self, s: str) -> int:
        raise ValueError("I/O operation on closed file.")


def test_broken_pipe_is_ignored(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("debug", stdout=BrokenPipeStream(), stderr=ClosedStream())
    logger = logging.getLogger("tornadohub")
    logger.info("to a closed reader")
    logger.error("to a closed stream")
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


def test_other_stream_errors_use_logging_error_path(monkeypatch: pytest.MonkeyPatch) -> None:
    class Full(io.StringIO):
        def write(self, s: str) -> int:
            raise OSError(28, "No space left on device")

    handled: list[logging.LogRecord] = []
    monkeypatch.setattr(logging.Handler, "handleError", lambda self, record: handled.append(record))
    setup_logging("info", stdout=Full(), stderr=io.StringIO())
    logging.getLogger("tornadohub").info("x")
    assert [r.getMessage() for r in handled] == ["x"]


def test_default_streams_follow_sys(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("info")
    logging.getLogger("tornadohub").info("out")
    logging.getLogger("tornadohub").warning("err")
    captured = capsys.readouterr()
    assert json.loads(captured.out)["message"] == "out"
    assert json.loads(captured.err)["message"] == "err"


def test_tornado_loggers_share_the_output(streams: tuple[io.StringIO, io.StringIO]) -> None:
    out, err = streams
    setup_logging("debug", stdout=out, stderr=err)
    logging.getLogger("tornado.access").info("200 GET /api/health (127.0.0.1) 0.40ms")
    logging.getLogger("tornado.access").error("500 GET /api/x (127.0.0.1) 1.00ms")
    logging.getLogger("tornado.application").error("Uncaught exception")
    logging.getLogger("tornado.general").warning("Malformed HTTP message")
    assert [(e["type"], e["message"]) for e in lines(out)] == [
        ("debug", "200 GET /api/health (127.0.0.1) 0.40ms"),
        ("debug", "500 GET /api/x (127.0.0.1) 1.00ms"),
    ]
    assert [(e["type"], e["message"]) for e in lines(err)] == [
        ("error", "Uncaught exception"),
        ("warn", "Malformed HTTP message"),
    ]


def test_access_log_hidden_above_debug(streams: tuple[io.StringIO, io.StringIO]) -> None:
    out, err = streams
    setup_logging("info", stdout=out, stderr=err)
    logging.getLogger("tornado.access").warning("404 GET /nope")
    assert out.getvalue() == "" and err.getvalue() == ""


def test_teardown_restores_loggers(streams: tuple[io.StringIO, io.StringIO]) -> None:
    setup_logging("debug", stdout=streams[0], stderr=streams[1])
    teardown_logging()
    for name in ("tornadohub", "tornado"):
        logger = logging.getLogger(name)
        assert logger.propagate
        assert not [h for h in logger.handlers if getattr(h, "_tornadohub_owned", False)]
    assert not [
        f
        for f in logging.getLogger("tornado.access").filters
        if isinstance(f, hublog._DemoteAccessLog)
    ]
