"""PKG's loggers: quiet as a library, one structlog stream under PKG's own entry points.

Imported as a library (`from app import PKGEvaluator`), PKG configures nothing: its events go
to the standard `logging` hierarchy (`pkg.evaluator`, `pkg.manager`, ...) as one line each
(`pkg_evaluation_complete duration_ms=0.01 engine=native version=v@1`), and the application's
own logging configuration decides what is shown (nothing, by default: `pkg` has a
`NullHandler`, as the logging HOWTO asks of libraries). PKG's entry points (`pkgctl`,
`create_app`) call `configure_logging`, which switches every PKG logger to the structlog
stream it sets up (`use_structlog`): the same events, with their fields, one JSON object per
line.
"""

from __future__ import annotations

import logging
from typing import Any, Final

import structlog

ROOT_LOGGER: Final = "pkg"
logging.getLogger(ROOT_LOGGER).addHandler(logging.NullHandler())

_structlog_stream = [False]  # set once an entry point configured the structlog stream


def use_structlog() -> None:
    """PKG's own entry points: from now on, PKG's events go to the structlog stream."""
    _structlog_stream[0] = True


def structlog_stream() -> bool:
    """Has an entry point configured the structlog stream (else: standard logging only)?"""
    return _structlog_stream[0]


def _line(event: str, fields: dict[str, Any]) -> str:
    return " ".join([event, *(f"{key}={fields[key]}" for key in sorted(fields))])


class PkgLogger:
    """`debug`/`info`/`warning`/`error` as structlog's (`log.info("event", key=value)`),
    routed by whoever configured logging: the structlog stream under PKG's entry points, the
    standard `logging` logger of the same name everywhere else."""

    __slots__ = ("_stdlib", "_structlog", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self._stdlib = logging.getLogger(name)
        self._structlog: Any = structlog.get_logger(name)  # reads the config at each call

    def _log(self, level: int, method: str, event: str, fields: dict[str, Any]) -> None:
        if _structlog_stream[0]:
            getattr(self._structlog, method)(event, **fields)
        elif self._stdlib.isEnabledFor(level):
            self._stdlib.log(level, "%s", _line(event, fields))

    def is_enabled_for(self, level: int) -> bool:
        """Would an event at `level` be emitted by the standard-logging route?"""
        return self._stdlib.isEnabledFor(level)

    def debug(self, event: str, **fields: Any) -> None:
        self._log(logging.DEBUG, "debug", event, fields)

    def info(self, event: str, **fields: Any) -> None:
        self._log(logging.INFO, "info", event, fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._log(logging.WARNING, "warning", event, fields)

    def error(self, event: str, **fields: Any) -> None:
        self._log(logging.ERROR, "error", event, fields)


def get_logger(name: str) -> PkgLogger:
    """PKG's logger `name` (under `pkg.`): see the module's docstring for where it writes."""
    return PkgLogger(name)
