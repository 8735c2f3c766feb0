"""One log stream: PKG's structlog events and every standard-library logger (uvicorn, Alembic,
SQLAlchemy, ...) rendered the same way, one JSON object per line on standard error.

With `json=False` events are rendered for people (`ConsoleRenderer`), in colour only when
standard error is a terminal, so a redirected file never gets escape codes.
"""

from __future__ import annotations

import logging
import sys
from typing import Final

import structlog
from structlog.types import Processor

from app.services.logs import use_structlog
from app.services.request_context import add_request_ids

HANDLER_NAME: Final = "pkg"
# Loggers that come with handlers of their own when uvicorn configured them (plain `uvicorn`);
# `pkgctl serve` passes `log_config=None`, so they simply propagate to the root handler. An
# access log uvicorn switched off (handlers removed, propagation off) stays off.
FOREIGN_LOGGERS: Final = ("uvicorn", "uvicorn.error", "uvicorn.access", "alembic")
# Alembic says at INFO which dialect it found and each revision it runs ("Context impl
# SQLiteImpl.", "Running upgrade 0001 -> 0002, ..."): start-up noise in PKG's stream. Its
# warnings and errors still show; PKG_LOG_LEVEL=DEBUG shows everything.
QUIETED_LOGGERS: Final = ("alembic",)


class _CurrentStderr:
    """Whatever `sys.stderr` is when a line is written, not when logging was configured (a
    test runner or an embedding app may swap it, and a closed stream must not break logging)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return sys.stderr.isatty()


def _renderer(json: bool) -> Processor:
    if json:
        return structlog.processors.JSONRenderer()
    return structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        add_request_ids,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="time"),
    ]


def _drop_color_message(
    _logger: object, _name: str, event: structlog.types.EventDict
) -> structlog.types.EventDict:
    event.pop("color_message", None)  # uvicorn's ANSI-coloured twin of the message
    return event


def _install_root_handler(numeric: int, json: bool) -> None:
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            *_shared_processors(),
            structlog.stdlib.add_logger_name,
            structlog.stdlib.ExtraAdder(),
            _drop_color_message,
        ],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            _renderer(json),
        ],
    )
    handler = logging.StreamHandler(_CurrentStderr())
    handler.set_name(HANDLER_NAME)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for existing in list(root.handlers):
        if existing.get_name() == HANDLER_NAME:
            root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(numeric)
    for name in QUIETED_LOGGERS:
        quiet = logging.NOTSET if numeric <= logging.DEBUG else max(numeric, logging.WARNING)
        logging.getLogger(name).setLevel(quiet)
    for name in FOREIGN_LOGGERS:
        foreign = logging.getLogger(name)
        if foreign.handlers:  # uvicorn's own config (plain `uvicorn app.main:app`): take over
            foreign.handlers.clear()
            foreign.propagate = True


def configure_logging(*, level: str = "INFO", json: bool = True) -> None:
    """PKG's entry points only (`pkgctl`, `create_app`'s lifespan): a library configures no
    logging. Idempotent: safe to call once per app (tests build several apps in one process)."""
    numeric = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    _install_root_handler(numeric, json)
    structlog.configure(
        processors=[
            *_shared_processors(),
            structlog.processors.format_exc_info,
            _renderer(json),
        ],
        # a bound logger that drops lower levels before any processor runs: DEBUG events on
        # the /evaluate path cost a method call, not a render
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        # PrintLoggerFactory wants a TextIO; _CurrentStderr has the write/flush it calls
        logger_factory=structlog.PrintLoggerFactory(file=_CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )
    use_structlog()  # PKG's loggers write to this stream from now on
