"""Structured JSON log lines, with secrets redacted before anything is written.

Configuration only. Every line, structlog's and the standard library's, goes through one sink:
stderr, or while a progress bar is shown, that bar's console (`logs_through`).
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import structlog

if TYPE_CHECKING:
    from rich.console import Console

SECRET_KEYS = re.compile(
    r"(api_?key|token|secret|password|authorization|credentials|xml)", re.IGNORECASE
)
BEARER = re.compile(r"(Bearer\s+|pb_)[A-Za-z0-9_\-\.]{8,}")
# Libraries whose INFO lines are noise to an operator: request lines (we log our own) and
# Alembic's "Context impl …" / "Running upgrade …" on every start (the CLI says in one line
# when migrations were applied).
QUIET_LOGGERS = ("httpx", "httpcore", "uvicorn.access", "alembic")


def redact(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Drop values of secret-looking keys and mask tokens inside strings."""
    for key in list(event):
        if SECRET_KEYS.search(key):
            event[key] = "[redacted]"
        elif isinstance(event[key], str):
            event[key] = BEARER.sub(r"\1[redacted]", event[key])
    return event


class _Sink:
    """Where log lines go. A line written straight to stderr while a rich progress bar is
    drawn lands in the middle of the bar (or is erased by its next refresh); the bar's console
    prints it above the bar instead."""

    def __init__(self) -> None:
        self.console: Console | None = None
        self._lock = threading.Lock()

    def line(self, text: str) -> None:
        console = self.console
        if console is not None:
            console.out(text, highlight=False)
            return
        with self._lock:
            # Looked up on every line: a test (or a caller) may have replaced stderr since.
            stream = sys.stderr
            stream.write(text + "\n")
            stream.flush()


_SINK = _Sink()


class _LineLogger:
    """structlog's output: each rendered event as one line to the sink."""

    def msg(self, message: str) -> None:
        _SINK.line(message)

    log = debug = info = warn = warning = err = error = critical = exception = fatal = msg


_LINE_LOGGER = _LineLogger()


def _line_logger(*_args: Any) -> _LineLogger:
    return _LINE_LOGGER


class _SinkHandler(logging.Handler):
    """The standard library's records (Alembic, uvicorn, asyncio) as lines to the sink."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            _SINK.line(self.format(record))
        except Exception:
            self.handleError(record)


@contextmanager
def logs_through(console: Console) -> Iterator[None]:
    """While the block runs, log lines are printed by `console` (a progress bar's), which
    draws them above the bar rather than through it."""
    previous, _SINK.console = _SINK.console, console
    try:
        yield
    finally:
        _SINK.console = previous


def configure_logging(level: str = "INFO") -> None:
    """JSON lines on stderr: timestamp, level, event, bound context (request/job/integration ids)."""
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.INFO
    root = logging.getLogger()
    root.setLevel(numeric)
    if not any(isinstance(handler, _SinkHandler) for handler in root.handlers):
        handler = _SinkHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        root.addHandler(handler)
    for noisy in QUIET_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=_line_logger,
        cache_logger_on_first_use=True,
    )
