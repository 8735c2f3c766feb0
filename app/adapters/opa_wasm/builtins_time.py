"""`time.*` host builtins, with Go's semantics: instants are integer nanoseconds since the epoch,
a zone is an IANA name ("" and "UTC" are UTC, "Local" the host's)."""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.adapters.opa_wasm.builtins import Builtin, BuiltinContext, BuiltinError, time_add_date

_RFC3339: Final = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))"
)
_NS: Final = 1_000_000_000
_WEEKDAYS: Final = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def parse_rfc3339_ns(_ctx: BuiltinContext, value: Any) -> int:
    """`time.parse_rfc3339_ns("2017-06-02T19:00:00-07:00")` → 1496455200000000000."""
    match = _RFC3339.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise BuiltinError(f"time.parse_rfc3339_ns: not an RFC 3339 time: {value!r}")
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    fraction, _zulu, sign, offset_h, offset_m = match.groups()[6:]
    try:
        datetime(year, month, day, hour, minute, second)  # range checks (month 13, Feb 30, ...)
    except ValueError as exc:
        raise BuiltinError(f"time.parse_rfc3339_ns: {exc}") from exc
    seconds = calendar.timegm((year, month, day, hour, minute, second))
    if sign:
        offset = int(offset_h) * 3600 + int(offset_m) * 60
        seconds -= offset if sign == "+" else -offset
    return seconds * _NS + int((fraction or "0").ljust(9, "0"))


@lru_cache(maxsize=64)
def _zone(name: str) -> tzinfo:
    if name in ("", "UTC"):
        return UTC
    if name == "Local":
        return datetime.now().astimezone().tzinfo or UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise BuiltinError(f"unknown time zone {name!r}") from exc


def _moment(name: str, value: Any) -> datetime:
    """`ns` or `[ns, zone]` → an aware datetime (Go's time.Unix(0, ns).In(zone))."""
    zone = ""
    if isinstance(value, list) and len(value) == 2 and isinstance(value[1], str):
        value, zone = value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BuiltinError(f"{name}: expects nanoseconds or [nanoseconds, zone]")
    seconds, rest = divmod(int(value), _NS)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    moment = epoch + timedelta(seconds=seconds, microseconds=rest // 1000)
    return moment.astimezone(_zone(zone))


def date(_ctx: BuiltinContext, value: Any) -> list[int]:
    moment = _moment("time.date", value)
    return [moment.year, moment.month, moment.day]


def clock(_ctx: BuiltinContext, value: Any) -> list[int]:
    moment = _moment("time.clock", value)
    return [moment.hour, moment.minute, moment.second]


def weekday(_ctx: BuiltinContext, value: Any) -> str:
    return _WEEKDAYS[_moment("time.weekday", value).weekday()]


TIME_BUILTINS: Final[dict[str, Builtin]] = {
    "time.parse_rfc3339_ns": parse_rfc3339_ns,
    "time.date": date,
    "time.clock": clock,
    "time.weekday": weekday,
    "time.add_date": time_add_date,
}
