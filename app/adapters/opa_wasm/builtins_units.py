"""`units.parse_bytes` and `semver.*` host builtins."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any, Final

import semver

from app.adapters.opa_wasm.builtins import Builtin, BuiltinContext, BuiltinError

_BYTE_UNITS: Final = {
    "": 1,
    **{p: 1000**i for i, p in enumerate("kmgtpe", start=1)},
    **{f"{p}b": 1000**i for i, p in enumerate("kmgtpe", start=1)},
    **{f"{p}i": 1024**i for i, p in enumerate("kmgtpe", start=1)},
    **{f"{p}ib": 1024**i for i, p in enumerate("kmgtpe", start=1)},
}
_AMOUNT: Final = re.compile(r"([0-9.]*)(.*)")


def parse_bytes(_ctx: BuiltinContext, value: Any) -> int:
    """`"10KiB"` → 10240, `"1.1KB"` → 1100 (decimal and binary units, case-insensitive)."""
    name = "units.parse_bytes"
    if not isinstance(value, str):
        raise BuiltinError(f"{name}: expects a string")
    if any(c.isspace() for c in value):
        raise BuiltinError(f"{name}: spaces not allowed in resource strings")
    text = value.replace('"', "").lower()
    match = _AMOUNT.fullmatch(text)
    amount, unit = match.groups() if match else ("", text)
    if not amount:
        raise BuiltinError(f"{name}: no byte amount provided")
    if unit not in _BYTE_UNITS:
        raise BuiltinError(f"{name}: byte unit {unit!r} not recognized")
    try:
        number = Decimal(amount)
    except InvalidOperation as exc:
        raise BuiltinError(f"{name}: could not parse byte amount to a number") from exc
    return int(number * _BYTE_UNITS[unit])  # truncates like OPA: 1.1KiB = 1126


def _version(name: str, value: Any) -> semver.Version:
    if not isinstance(value, str):
        raise BuiltinError(f"{name}: expects a version string")
    try:
        return semver.Version.parse(value)
    except ValueError as exc:
        raise BuiltinError(f"{name}: {value!r} is not a valid SemVer") from exc


def semver_compare(_ctx: BuiltinContext, left: Any, right: Any) -> int:
    return int(_version("semver.compare", left).compare(_version("semver.compare", right)))


def semver_is_valid(_ctx: BuiltinContext, value: Any) -> bool:
    return isinstance(value, str) and semver.Version.is_valid(value)


UNITS_BUILTINS: Final[dict[str, Builtin]] = {
    "units.parse_bytes": parse_bytes,
    "semver.compare": semver_compare,
    "semver.is_valid": semver_is_valid,
}
