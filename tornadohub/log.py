"""Logging in mcp-hub's shape, built on the stdlib :mod:`logging` module.

mcp-hub prints one JSON object per line, ``{"type","message","data","timestamp","code"?}``:
debug and info on stdout, warn and error on stderr. Its text log file holds only the
messages and is truncated at every start. Every entry also feeds SSE ``log`` events, which
is what :func:`add_log_listener` is for.

Code logs with ``logging.getLogger("tornadohub.<module>")`` and passes the envelope's
extra fields as ``extra={"data": {...}, "code": "..."}``. Tornado's own loggers are routed
to the same output; its access log is demoted to ``debug`` so requests stay quiet.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import sys
import threading
import traceback
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol, TextIO

from tornadohub.clock import iso_from_epoch, iso_timestamp

HUB_LOGGER = "tornadohub"
TORNADO_LOGGER = "tornado"
ACCESS_LOGGER = "tornado.access"

LEVELS: dict[str, int] = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}

EntryType = Literal["debug", "info", "warn", "error"]


def entry_type(levelno: int) -> EntryType:
    """Map a Python level to mcp-hub's four ``type`` strings (CRITICAL is ``error``)."""
    if levelno >= logging.ERROR:
        return "error"
    if levelno >= logging.WARNING:
        return "warn"
    if levelno >= logging.INFO:
        return "info"
    return "debug"


def _json_safe(value: Any) -> Any:
    """Make ``data`` serialisable so neither the console nor SSE can fail on it."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, Mapping):
        return {str(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_json_safe(item) for item in value]
    if isinstance(value, datetime):
        return iso_timestamp(value)
    if isinstance(value, Path):
        return str(value)
    return str(value)


def log_entry(record: logging.LogRecord) -> dict[str, Any]:
    """Build mcp-hub's log envelope for ``record``; shared by the console and SSE.

    ``data`` comes from ``extra={"data": ...}`` (``{}`` by default; a non-mapping is
    wrapped as ``{"value": ...}``) and an exception's traceback is added as
    ``data["stack"]``. ``code`` is present only when the caller passed one.
    """
    raw = getattr(record, "data", None)
    if raw is None:
        data: dict[str, Any] = {}
    elif isinstance(raw, Mapping):
        data = _json_safe(raw)
    else:
        data = {"value": _json_safe(raw)}
    if record.exc_info and record.exc_info[1] is not None and "stack" not in data:
        data["stack"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
    entry: dict[str, Any] = {
        "type": entry_type(record.levelno),
        "message": record.getMessage(),
        "data": data,
        "timestamp": iso_from_epoch(record.created),
    }
    code = getattr(record, "code", None)
    if code is not None:
        entry["code"] = code
    return entry


class JsonLineFormatter(logging.Formatter):
    """Render a record as mcp-hub's compact one-line JSON envelope."""

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(log_entry(record), ensure_ascii=False, separators=(",", ":"), default=str)


class _MessageFormatter(logging.Formatter):
    """The text log holds the bare message, like mcp-hub's file log."""

    def format(self, record: logging.LogRecord) -> str:
        return record.getMessage()


#: Windows reports a closed pipe on a std stream as EINVAL rather than EPIPE.
_PIPE_ERRNOS = (errno.EPIPE, errno.EINVAL) if sys.platform == "win32" else (errno.EPIPE,)


def _is_broken_pipe(exc: OSError) -> bool:
    return isinstance(exc, BrokenPipeError) or exc.errno in _PIPE_ERRNOS


class _ConsoleHandler(logging.Handler):
    """Write JSON lines to a stream, ignoring a closed or broken pipe.

    With no explicit stream it looks ``sys.stdout``/``sys.stderr`` up at each write, so
    later redirection (and pytest's capture) is honoured.
    """

    def __init__(self, stream: TextIO | None, std_name: Literal["stdout", "stderr"]) -> None:
        super().__init__()
        self._stream = stream
        self._std_name = std_name

    @property
    def stream(self) -> TextIO | None:
        """The stream written to now; ``None`` when Python has no such stream."""
        stream: TextIO | None = (
            self._stream if self._stream is not None else getattr(sys, self._std_name, None)
        )
        return stream

    def emit(self, record: logging.LogRecord) -> None:
        stream = self.stream
        if stream is None:
            return
        try:
            line = self.format(record)
            stream.write(line + "\n")
            stream.flush()
        except ValueError:
            # Writing to a closed stream at interpreter shutdown: nothing to report to.
            pass
        except OSError as exc:
            if not _is_broken_pipe(exc):
                self.handleError(record)
                return
            self._silence(stream)
        except Exception:
            self.handleError(record)

    @staticmethod
    def _silence(stream: TextIO) -> None:
        """Point a real std stream at /dev/null so the exit-time flush cannot fail too."""
        if stream not in (sys.__stdout__, sys.__stderr__):
            return
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(devnull, stream.fileno())
            finally:
                os.close(devnull)
        except (OSError, ValueError):
            pass


class _BelowWarning(logging.Filter):
    """Keep debug and info on stdout; warn and error go to stderr."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno < logging.WARNING


class _DemoteAccessLog(logging.Filter):
    """Log every Tornado access line at debug, whatever its status code."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.levelno = logging.DEBUG
        record.levelname = logging.getLevelName(logging.DEBUG)
        return True


def access_log_level(level: int) -> int:
    """The level an access line meant for *level* ends up at: debug while it is demoted.

    The hub's ``log_function`` asks first and skips the line when that level is off, instead
    of building a record that :class:`_DemoteAccessLog` turns into one every handler drops.
    """
    return logging.DEBUG if _access_demoted else level


class LogListener(Protocol):
    """Receives :func:`log_entry` of every record; may run on any thread."""

    def __call__(self, entry: dict[str, Any], /) -> None: ...


class _ListenerHandler(logging.Handler):
    """Fan records out to listeners, swallowing their errors and any re-entry."""

    def __init__(self) -> None:
        super().__init__()
        self._listeners: tuple[LogListener, ...] = ()
        self._guard = threading.local()
        self._edit_lock = threading.Lock()

    def add(self, listener: LogListener) -> None:
        with self._edit_lock:
            self._listeners = (*self._listeners, listener)

    def remove(self, listener: LogListener) -> None:
        with self._edit_lock:
            self._listeners = tuple(item for item in self._listeners if item is not listener)

    def handle(self, record: logging.LogRecord) -> bool:
        # No handler lock: listeners may log themselves or block briefly.
        if self.filter(record):
            self.emit(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:
        listeners = self._listeners
        if not listeners or getattr(self._guard, "active", False):
            return
        self._guard.active = True
        try:
            entry = log_entry(record)
            for listener in listeners:
                try:
                    listener(dict(entry))
                except Exception:
                    pass  # a broken subscriber must not break logging or other subscribers
        finally:
            self._guard.active = False


_listener_handler = _ListenerHandler()
_OWNED = "_tornadohub_owned"
_setup_lock = threading.Lock()
#: Whether setup_logging() installed :class:`_DemoteAccessLog` (see :func:`access_log_level`).
_access_demoted = False


def _owned_loggers() -> tuple[logging.Logger, logging.Logger]:
    return logging.getLogger(HUB_LOGGER), logging.getLogger(TORNADO_LOGGER)


def _attach_listener_handler() -> None:
    for logger in _owned_loggers():
        if _listener_handler not in logger.handlers:
            logger.addHandler(_listener_handler)


def add_log_listener(fn: LogListener) -> Callable[[], None]:
    """Call ``fn(entry)`` for every record the hub (or Tornado) logs; return an unsubscribe.

    ``fn`` runs on the logging thread, which may be a worker thread (``to_thread``), so
    an event-loop consumer must hop over with ``loop.call_soon_threadsafe``. Its
    exceptions are swallowed and records it logs itself are not fed back to listeners.
    """
    _attach_listener_handler()
    _listener_handler.add(fn)

    def unsubscribe() -> None:
        _listener_handler.remove(fn)

    return unsubscribe


def parse_level(level: str) -> int:
    """Accept mcp-hub's level names (and ``warning``); reject anything else loudly."""
    try:
        return LEVELS[level.strip().lower()]
    except KeyError:
        names = ", ".join(sorted(LEVELS))
        raise ValueError(f"Unknown log level {level!r} (expected one of {names})") from None


def _remove_owned_handlers(logger: logging.Logger) -> None:
    for handler in list(logger.handlers):
        if getattr(handler, _OWNED, False):
            logger.removeHandler(handler)
            handler.close()


def setup_logging(
    level: str = "info",
    *,
    log_file: Path | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> None:
    """Route the ``tornadohub`` and ``tornado`` loggers to mcp-hub's console and file output.

    Calling it again replaces the previous handlers (and truncates ``log_file`` again).
    Both loggers stop propagating to the root logger so a stray ``basicConfig`` cannot
    print every line twice. A log file that cannot be opened is reported, not fatal.
    """
    global _access_demoted
    numeric = parse_level(level)
    formatter = JsonLineFormatter()

    out = _ConsoleHandler(stdout, "stdout")
    out.addFilter(_BelowWarning())
    err = _ConsoleHandler(stderr, "stderr")
    handlers: list[logging.Handler] = [out, err]
    file_error: OSError | None = None
    if log_file is not None:
        try:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            # Owner-only (0600), also when an older hub left the file 0644: logs name
            # servers, tools and errors other users have no business reading.
            os.close(os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
            os.chmod(log_file, 0o600)
            file_handler = logging.FileHandler(log_file, mode="a", encoding="utf-8")
        except OSError as exc:
            file_error = exc
        else:
            file_handler.setFormatter(_MessageFormatter())
            handlers.append(file_handler)
    for handler in handlers:
        if handler.formatter is None:
            handler.setFormatter(formatter)
        handler.setLevel(numeric)
        setattr(handler, _OWNED, True)
    err.setLevel(max(numeric, logging.WARNING))

    with _setup_lock:
        access = logging.getLogger(ACCESS_LOGGER)
        if not any(isinstance(f, _DemoteAccessLog) for f in access.filters):
            access.addFilter(_DemoteAccessLog())
        _access_demoted = True
        for logger in _owned_loggers():
            _remove_owned_handlers(logger)
            logger.removeHandler(_listener_handler)  # re-added last: console before SSE
            for handler in handlers:
                logger.addHandler(handler)
            logger.addHandler(_listener_handler)
            logger.setLevel(numeric)
            logger.propagate = False
        _listener_handler.setLevel(numeric)

    if file_error is not None:
        logging.getLogger(f"{HUB_LOGGER}.log").warning(
            "Cannot open log file %s: %s",
            log_file,
            file_error,
            extra={"data": {"path": str(log_file)}},
        )


def teardown_logging() -> None:
    """Undo :func:`setup_logging` (close the file, restore propagation); used by tests."""
    global _access_demoted
    with _setup_lock:
        access = logging.getLogger(ACCESS_LOGGER)
        for flt in [f for f in access.filters if isinstance(f, _DemoteAccessLog)]:
            access.removeFilter(flt)
        _access_demoted = False
        for logger in _owned_loggers():
            _remove_owned_handlers(logger)
            logger.setLevel(logging.NOTSET)
            logger.propagate = True
        _listener_handler.setLevel(logging.NOTSET)
