"""Host implementations of the OPA builtins a wasm policy may call through `opa_builtinN`.

Each builtin takes the evaluation's `BuiltinContext` and its arguments as plain JSON values and
returns a JSON value. Non-deterministic builtins (`time.now_ns`, `uuid.rfc4122`) answer the same
within one evaluation, as OPA does.
"""

from __future__ import annotations

import json
import math
import re
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, Final

import re2


class BuiltinError(Exception):
    """A builtin was called with arguments it cannot handle."""


class BuiltinContext:
    """Per-evaluation memory of the non-deterministic builtins."""

    __slots__ = ("_now_ns", "_uuids")

    def __init__(self) -> None:
        self._now_ns: int | None = None
        self._uuids: dict[str, str] = {}

    def now_ns(self) -> int:
        if self._now_ns is None:
            self._now_ns = time.time_ns()
        return self._now_ns

    def uuid_for(self, key: str) -> str:
        return self._uuids.setdefault(key, str(uuid.uuid4()))


Builtin = Callable[..., Any]

_VERB = re.compile(r"%([-+ #0]*)(\d+)?(?:\.(\d+))?([a-zA-Z%])")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _text(value: Any) -> str:
    """How `%v`/`%s` show a value: strings raw, everything else as compact JSON."""
    if isinstance(value, str):
        return value
    if _is_number(value) and float(value).is_integer() and abs(value) < 2**63:
        return str(int(value))
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _spec(flags: str, width: str | None, precision: str | None, *, numeric: bool) -> str:
    """Go's flags (`-` left-justify, `+`/` ` sign, `0` pad) as a Python format spec."""
    align = "<" if "-" in flags else ("" if numeric else ">")
    sign = ("+" if "+" in flags else " " if " " in flags else "") if numeric else ""
    zero = "0" if numeric and "0" in flags and "-" not in flags else ""
    return f"{align}{sign}{zero}{width or ''}" + (f".{precision}" if precision else "")


def _bad_verb(verb: str, arg: Any) -> str:
    return f"%!{verb}({type(arg).__name__}={_text(arg)})"


def _format_one(flags: str, width: str | None, precision: str | None, verb: str, arg: Any) -> str:
    if verb in "dxXob":
        if not _is_number(arg) or not float(arg).is_integer():
            return _bad_verb(verb, arg)
        return format(int(arg), _spec(flags, width, None, numeric=True) + verb.replace("d", ""))
    if verb in "feEgG":
        if not _is_number(arg):
            return _bad_verb(verb, arg)
        digits = "6" if precision is None and verb in "feE" else precision
        return format(float(arg), _spec(flags, width, digits, numeric=True) + verb)
    if verb == "t" and isinstance(arg, bool):
        return "true" if arg else "false"
    text = json.dumps(_text(arg)) if verb == "q" else _text(arg)
    return format(text, _spec(flags, width, precision, numeric=False))


def sprintf(_ctx: BuiltinContext, fmt: Any, args: Any) -> str:
    """Go's fmt.Sprintf for the common verbs (%s %v %d %f %.2f %x %q %t %%)."""
    if not isinstance(fmt, str) or not isinstance(args, list):
        raise BuiltinError("sprintf: expects a format string and an array of arguments")
    remaining = iter(args)
    missing = object()

    def replace(match: re.Match[str]) -> str:
        flags, width, precision, verb = match.groups()
        if verb == "%":
            return "%"
        arg = next(remaining, missing)
        if arg is missing:
            return f"%!{verb}(MISSING)"
        return _format_one(flags, width, precision, verb, arg)

    return _VERB.sub(replace, fmt)


def json_is_valid(_ctx: BuiltinContext, value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        json.loads(value)
    except ValueError:
        return False
    return True


@lru_cache(maxsize=256)
def _re2(pattern: str) -> Any:
    try:
        return re2.compile(pattern)
    except re2.error as exc:
        raise BuiltinError(f"invalid regular expression {pattern!r}: {exc}") from exc


def regex_split(_ctx: BuiltinContext, pattern: Any, value: Any) -> list[str]:
    return list(_re2(_string("regex.split", pattern)).split(_string("regex.split", value)))


def time_now_ns(ctx: BuiltinContext) -> int:
    return ctx.now_ns()


def uuid_rfc4122(ctx: BuiltinContext, key: Any) -> str:
    return ctx.uuid_for(_string("uuid.rfc4122", key))


def time_add_date(_ctx: BuiltinContext, ns: Any, years: Any, months: Any, days: Any) -> int:
    """Go's Time.AddDate: month overflow normalises (Oct 31 + 1 month = Dec 1)."""
    if not all(_is_number(v) and float(v).is_integer() for v in (ns, years, months, days)):
        raise BuiltinError("time.add_date: expects integers")
    seconds, rest_ns = divmod(int(ns), 1_000_000_000)
    moment = datetime.fromtimestamp(seconds, UTC)
    month_index = moment.year * 12 + moment.month - 1 + int(years) * 12 + int(months)
    year, month = divmod(month_index, 12)
    start = moment.replace(year=year, month=month + 1, day=1)
    shifted = start + timedelta(days=moment.day - 1 + int(days))
    return int(shifted.timestamp()) * 1_000_000_000 + rest_ns


def _string(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise BuiltinError(f"{name}: expects a string, got {type(value).__name__}")
    return value


def concat(_ctx: BuiltinContext, delimiter: Any, values: Any) -> str:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise BuiltinError("concat: expects an array of strings")
    return _string("concat", delimiter).join(values)


def count(_ctx: BuiltinContext, value: Any) -> int:
    if not isinstance(value, str | list | dict):
        raise BuiltinError("count: expects a string, array, object or set")
    return len(value)


def trim(_ctx: BuiltinContext, value: Any, cutset: Any) -> str:
    return _string("trim", value).strip(_string("trim", cutset))


def replace(_ctx: BuiltinContext, value: Any, old: Any, new: Any) -> str:
    return _string("replace", value).replace(_string("replace", old), _string("replace", new))


def substring(_ctx: BuiltinContext, value: Any, offset: Any, length: Any) -> str:
    text = _string("substring", value)
    if not (_is_number(offset) and _is_number(length)) or offset < 0:
        raise BuiltinError("substring: expects a non-negative offset and a length")
    start = int(offset)
    return text[start:] if length < 0 else text[start : start + int(length)]


def _abs(_ctx: BuiltinContext, value: Any) -> int | float:
    if not _is_number(value):
        raise BuiltinError("abs: expects a number")
    result = abs(value)
    return int(result) if isinstance(result, float) and result.is_integer() else result


def _round(_ctx: BuiltinContext, value: Any) -> int:
    if not _is_number(value):
        raise BuiltinError("round: expects a number")
    number = float(value)
    return math.floor(number + 0.5) if number >= 0 else -math.floor(-number + 0.5)


def _unary_string(name: str, op: Callable[[str], Any]) -> Builtin:
    def builtin(_ctx: BuiltinContext, value: Any) -> Any:
        return op(_string(name, value))

    return builtin


def _binary_string(name: str, op: Callable[[str, str], Any]) -> Builtin:
    def builtin(_ctx: BuiltinContext, left: Any, right: Any) -> Any:
        return op(_string(name, left), _string(name, right))

    return builtin


BUILTINS: Final[dict[str, Builtin]] = {
    "sprintf": sprintf,
    "json.is_valid": json_is_valid,
    "regex.split": regex_split,
    "time.now_ns": time_now_ns,
    "time.add_date": time_add_date,
    "uuid.rfc4122": uuid_rfc4122,
    "concat": concat,
    "count": count,
    "trim": trim,
    "replace": replace,
    "substring": substring,
    "abs": _abs,
    "round": _round,
    "upper": _unary_string("upper", str.upper),
    "lower": _unary_string("lower", str.lower),
    "trim_space": _unary_string("trim_space", str.strip),
    "contains": _binary_string("contains", lambda s, sub: sub in s),
    "startswith": _binary_string("startswith", str.startswith),
    "endswith": _binary_string("endswith", str.endswith),
}
