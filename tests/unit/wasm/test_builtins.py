"""The host builtins a wasm policy can call, checked directly."""

from __future__ import annotations

from typing import Any

import pytest

from app.adapters.opa_wasm.builtins import (
    BUILTINS,
    BuiltinContext,
    BuiltinError,
)
from app.adapters.opa_wasm.registry import HostBuiltin, resolve_builtins


def call(name: str, *args: Any) -> Any:
    return BUILTINS[name](BuiltinContext(), *args)


@pytest.mark.parametrize(
    ("fmt", "args", "expected"),
    [
        ("%s-%d", ["a", 5], "a-5"),
        ("%v|%v|%v", [1.5, True, None], "1.5|true|null"),
        ("%v", [{"b": 1, "a": [2]}], '{"a":[2],"b":1}'),
        ("%.2f", [3.14159], "3.14"),
        ("%f", [2], "2.000000"),
        ("%5d|%-4s|", [42, "x"], "   42|x   |"),
        ("%x %q %t", [255, "hi", False], 'ff "hi" false'),
        ("%d", [2.0], "2"),
        ("%d", ["nope"], "%!d(str=nope)"),
        ("%s and %s", ["one"], "one and %!s(MISSING)"),
        ("100%%", [], "100%"),
    ],
)
def test_sprintf_formats_like_go(fmt: str, args: list[Any], expected: str) -> None:
    assert call("sprintf", fmt, args) == expected


def test_json_is_valid() -> None:
    assert call("json.is_valid", '{"a": 1}') is True
    assert call("json.is_valid", "{nope") is False
    assert call("json.is_valid", 3) is False


def test_regex_split_uses_re2() -> None:
    assert call("regex.split", "[,;] *", "a, b;c") == ["a", "b", "c"]
    with pytest.raises(BuiltinError, match="invalid regular expression"):
        call("regex.split", "(?<=a)b", "ab")  # lookbehind: not RE2


def test_time_now_ns_and_uuid_are_fixed_within_one_context() -> None:
    ctx = BuiltinContext()
    assert BUILTINS["time.now_ns"](ctx) == BUILTINS["time.now_ns"](ctx)
    first = BUILTINS["uuid.rfc4122"](ctx, "k")
    assert BUILTINS["uuid.rfc4122"](ctx, "k") == first
    assert BUILTINS["uuid.rfc4122"](ctx, "other") != first
    assert BUILTINS["uuid.rfc4122"](BuiltinContext(), "k") != first


def test_time_add_date_normalises_month_overflow_like_go() -> None:
    oct_31_2021 = 1_635_638_400 * 10**9
    dec_1_2021 = 1_638_316_800 * 10**9
    assert call("time.add_date", oct_31_2021, 0, 1, 0) == dec_1_2021


@pytest.mark.parametrize(
    ("name", "args", "expected"),
    [
        ("concat", [",", ["a", "b"]], "a,b"),
        ("upper", ["aB"], "AB"),
        ("lower", ["aB"], "ab"),
        ("trim", ["xxhixx", "x"], "hi"),
        ("trim_space", ["  hi "], "hi"),
        ("contains", ["hello", "ell"], True),
        ("startswith", ["hello", "he"], True),
        ("endswith", ["hello", "he"], False),
        ("count", [[1, 2, 3]], 3),
        ("replace", ["a-b", "-", "+"], "a+b"),
        ("substring", ["hello", 1, 3], "ell"),
        ("substring", ["hello", 1, -1], "ello"),
        ("abs", [-2.0], 2),
        ("round", [2.5], 3),
        ("round", [-2.5], -3),
    ],
)
def test_string_and_number_builtins(name: str, args: list[Any], expected: Any) -> None:
    assert call(name, *args) == expected


def test_type_errors_raise_builtin_error() -> None:
    with pytest.raises(BuiltinError, match="upper: expects a string"):
        call("upper", 3)


def test_resolve_builtins_names_every_missing_one() -> None:
    assert resolve_builtins({"sprintf": 0}) == {0: HostBuiltin("sprintf", BUILTINS["sprintf"])}
    with pytest.raises(LookupError, match=r"^http\.send, opa\.runtime$"):
        resolve_builtins({"sprintf": 0, "opa.runtime": 1, "http.send": 2})
