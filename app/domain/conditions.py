"""One snapshot condition → a precompiled predicate over task facts (DESIGN.md §3).

`compile_condition(condition)` turns a snapshot-shaped condition dict (TEXT `value`) into a
closure `(facts) -> bool`; `compile_check(conditions)` turns a rule's conditions into one
function `(facts, tags, signals) -> bool` (the engine's inner loop). Everything that can be
decided at compile time is: values are decoded once, regexes compiled once (RE2: linear time),
paths split once, and an operator that can never hold for the value's type tests `False`.

Semantics (kept identical to the shared reference interpreter):
- "Missing" = the path does not resolve (absent key, index out of range, stepping into a
  scalar). A present `null` is a value: `= null` holds, EXISTS does not.
- Equality is JSON equality (1 == 1.0, booleans are not numbers); ordering needs two numbers or
  two strings; IN needs a list value (scalar field → membership, list field → overlap);
  MATCHES is an unanchored RE2 search on string fields only.
- TAG: EXISTS/=/IN test the `key` tag (IN with a list value: any listed tag), != holds when the
  `key` tag is absent, MATCHES tests every tag against the pattern in `value`.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import CodeType, MappingProxyType
from typing import Any, Final

import re2

from app.domain.snapshot import decode_value

Facts = Mapping[str, Any]
Predicate = Callable[[Facts], bool]
Check = Callable[[Facts, Any, Mapping[str, Any]], bool]  # (facts, tags, signals)
Resolver = Callable[[Facts], Any]

MISSING: Final[Any] = object()  # the path does not resolve; distinct from a present None
ORDERING_OPS: Final[dict[str, Callable[[Any, Any], bool]]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
}
NO_SIGNALS: Final[Mapping[str, Any]] = MappingProxyType({})
_MEMO_LIMIT: Final = 4096  # per-pattern cache of search results on short strings
_MEMO_MAX_LEN: Final = 256


# ------------------------------------------------------------------------------------ values
def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def json_equal(a: Any, b: Any) -> bool:
    """Equality of JSON values: 1 == 1.0, but booleans are not numbers."""
    if is_number(a) and is_number(b):
        return bool(a == b)
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    return bool(a == b)


def equality_test(value: Any) -> Callable[[Any], bool]:
    """A fast `field -> json_equal(field, value)` specialised on the value's type."""
    if isinstance(value, bool):
        return lambda field: field is value
    if value is None:
        return lambda field: field is None
    if isinstance(value, str):
        return lambda field: type(field) is str and field == value
    if is_number(value):
        return lambda field: field == value and is_number(field)
    return lambda field: json_equal(field, value)


def membership_test(values: list[Any]) -> Callable[[Any], bool]:
    """`candidate -> any(json_equal(candidate, v) for v in values)`, with hashed fast paths."""
    strings = frozenset(v for v in values if type(v) is str)
    numbers = frozenset(v for v in values if is_number(v) and v == v)
    bools = frozenset(v for v in values if isinstance(v, bool))
    has_none = any(v is None for v in values)
    others = [v for v in values if isinstance(v, list | dict)]

    def test(candidate: Any) -> bool:
        kind = type(candidate)
        if kind is str:
            return candidate in strings
        if kind is bool:
            return candidate in bools
        if candidate is None:
            return has_none
        if is_number(candidate):
            return candidate in numbers
        return any(json_equal(candidate, v) for v in others)

    return test


# ------------------------------------------------------------------------------------ regexes
def compile_pattern(pattern: object) -> Any:
    """Compile an RE2 pattern; `ValueError` when it is invalid or uses non-RE2 syntax."""
    if not isinstance(pattern, str):
        raise ValueError(f"pattern must be a string, not {type(pattern).__name__}")
    options = re2.Options()
    options.log_errors = False
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        detail = exc.args[0] if exc.args else exc
        if isinstance(detail, bytes):
            detail = detail.decode("utf-8", "replace")
        raise ValueError(f"invalid RE2 pattern {pattern!r}: {detail}") from None


def searcher(pattern: Any) -> Callable[[Any], bool]:
    """`text -> bool`: RE2 search of `pattern` in a string; non-strings never match.

    Results on short strings are memoised (bounded): tags and enum-like fields repeat a lot.
    """
    if not isinstance(pattern, str):
        return lambda _text: False
    search = compile_pattern(pattern).search
    memo: dict[str, bool] = {}

    def test(text: Any) -> bool:
        if type(text) is not str:
            return isinstance(text, str) and search(text) is not None
        hit = memo.get(text)
        if hit is not None:
            return hit
        hit = search(text) is not None
        if len(text) <= _MEMO_MAX_LEN:
            if len(memo) >= _MEMO_LIMIT:
                memo.clear()
            memo[text] = hit
        return hit

    return test


# -------------------------------------------------------------------------------------- paths
@dataclass(frozen=True, slots=True)
class PathShape:
    """How a dotted path is read, decided once: `top` is `facts[a]`, `child` `facts[a][b]`,
    `item` `facts[a][n][b]` when `a` is a list of objects (any other shape: the walk), `walk`
    the `steps` (each segment with its list index, -1 when it is no index)."""

    kind: str
    a: str = ""
    b: str = ""
    n: int = 0
    steps: tuple[tuple[str, int], ...] = ()


def path_shape(path: str) -> PathShape:
    segments = path.split(".")
    if len(segments) == 1:
        return PathShape("top", segments[0])
    if len(segments) == 2 and not segments[1].isdigit():
        return PathShape("child", segments[0], segments[1])
    steps = tuple((s, int(s) if s.isdigit() else -1) for s in segments)
    if len(segments) == 3 and segments[1].isdigit():
        return PathShape("item", segments[0], segments[2], int(segments[1]), steps)
    return PathShape("walk", steps=steps)


def path_resolver(path: str) -> Resolver:
    """`facts -> value at the dotted path` (`context.guest.tier`, `items.0.sku`), or MISSING."""
    shape = path_shape(path)
    first, second, index, steps = shape.a, shape.b, shape.n, shape.steps
    if shape.kind == "top":
        return lambda facts: facts.get(first, MISSING)
    if shape.kind == "child":

        def child(facts: Facts) -> Any:
            parent = facts.get(first, MISSING)
            return parent.get(second, MISSING) if isinstance(parent, dict) else MISSING

        return child
    if shape.kind == "walk":
        return lambda facts: walk(facts, steps)

    def item_field(facts: Facts) -> Any:
        """`first.index.second` without the walk's loop when `first` is a list of objects;
        any other shape is walked (a dict keyed "0", an index out of range, ...)."""
        items = facts.get(first)
        if isinstance(items, list) and len(items) > index:
            entry = items[index]
            if isinstance(entry, dict):
                return entry.get(second, MISSING)
        return walk(facts, steps)

    return item_field


def walk(current: Any, steps: Sequence[tuple[str, int]]) -> Any:
    for segment, index in steps:
        if isinstance(current, dict):
            current = current.get(segment, MISSING)
            if current is MISSING:
                return MISSING
        elif isinstance(current, list) and index >= 0:
            if index >= len(current):
                return MISSING
            current = current[index]
        else:
            return MISSING
    return current


def compile_condition(condition: Mapping[str, Any]) -> Predicate:
    """A snapshot condition dict (TEXT `value`) → `(facts) -> bool`."""
    return compile_conjunction([condition])


# ------------------------------------------------------------------------------- conjunctions
# A rule's conditions compile into ONE generated function, so testing a candidate rule is one
# Python call instead of a chain of closures (about 2x faster at 1000 rules): the common shapes
# (tag presence, thresholds, string equality, EXISTS) are written inline, any other operator
# calls a small `operator_test` closure. Values reach the generated code only through its
# namespace (`k0`, `c0`, ...), never through the source text, so no value is ever parsed.
_NUMBER_TEST: Final = (
    "((t{i} := v{i}.__class__) is float or t{i} is int"
    " or (t{i} is not bool and isinstance(v{i}, (int, float))))"
)


def compile_conjunction(conditions: Sequence[Mapping[str, Any]]) -> Predicate:
    """`(facts) -> bool`: every condition holds (no conditions → always)."""
    check = compile_check(conditions)
    return lambda facts: check(facts, facts_tags(facts), facts_signals(facts))


def facts_tags(facts: Facts) -> list[Any] | tuple[()]:
    """The facts' tags as `compile_check` functions take them: no `tags` list → no tags."""
    tags = facts.get("tags")
    return tags if isinstance(tags, list) else ()


def facts_signals(facts: Facts) -> Mapping[str, Any]:
    signals = facts.get("signals")
    return signals if isinstance(signals, dict) else NO_SIGNALS


def compile_check(conditions: Sequence[Mapping[str, Any]]) -> Check:
    """`(facts, tags, signals) -> bool` with tags and signals already read from the facts
    (`facts_tags`, `facts_signals`), so an engine reads them once per decision, not per rule."""
    if not conditions:
        return _always_check
    namespace: dict[str, Any] = {"M": MISSING}
    ordered = sorted(conditions, key=condition_cost)  # pure tests: any order, the same result
    tests = [_inline(c, f"{i}", namespace) for i, c in enumerate(ordered)]
    body = " and ".join(f"({test})" for test in tests)
    exec(_compiled(f"def check(facts, tags, signals):\n    return {body}\n"), namespace)
    check: Check = namespace["check"]
    return check


def condition_cost(condition: Mapping[str, Any]) -> int:
    """Cheap, selective tests first: tag presence, then thresholds, then calls, then `!=`."""
    op = condition["operator"]
    if condition["condition_type"] == "TAG":
        return {"EXISTS": 0, "=": 0, "IN": 2, "MATCHES": 3}.get(op, 4)
    return {">=": 1, "<=": 1, ">": 1, "<": 1, "=": 1, "EXISTS": 3, "!=": 4}.get(op, 2)


def _always_check(_facts: Facts, _tags: Any, _signals: Any) -> bool:
    return True


@functools.lru_cache(maxsize=1024)
def _compiled(source: str) -> CodeType:
    """Rules of the same shape share their source text (values live in the namespace)."""
    return compile(source, "<pkg-rule>", "exec")


def _inline(condition: Mapping[str, Any], i: str, ns: dict[str, Any]) -> str:
    kind, op = condition["condition_type"], condition["operator"]
    key, value = condition.get("condition_key"), decode_value(condition.get("value"))
    ns[f"k{i}"], ns[f"c{i}"] = key, value
    if kind == "TAG":
        return _inline_tag(op, key, value, i, ns)
    access = _inline_access(kind, key, i, ns)
    if access is None:
        return "False"  # an unknown type or a non-string key never resolves
    ns[f"t{i}"] = operator_test(op, value)
    guard, field = access
    test = _inline_test(op, value, i)
    return f"{guard}(v{i} := {field}) is not M and {test}"


def _inline_access(kind: str, key: Any, i: str, ns: dict[str, Any]) -> tuple[str, str] | None:
    """(guard, expression) reading the field, or None when only the closure can."""
    if kind == "SIGNAL" and type(key) is str:
        return "", f"signals.get(k{i}, M)"
    if kind not in ("FACT", "VALUE") or type(key) is not str:
        return None
    shape = path_shape(key)
    if shape.kind == "top":
        return "", f"facts.get(k{i}, M)"
    if shape.kind == "child":
        ns[f"a{i}"], ns[f"b{i}"] = shape.a, shape.b
        return f"isinstance(q{i} := facts.get(a{i}), dict) and ", f"q{i}.get(b{i}, M)"
    ns["walk"], ns[f"w{i}"] = walk, shape.steps
    if shape.kind == "item":  # the item's field inline, as `path_resolver` reads it, else the walk
        ns[f"a{i}"], ns[f"n{i}"], ns[f"b{i}"] = shape.a, shape.n, shape.b
        shaped = (
            f"isinstance(q{i} := facts.get(a{i}), list) and len(q{i}) > n{i}"
            f" and isinstance(r{i} := q{i}[n{i}], dict)"
        )
        return "", f"(r{i}.get(b{i}, M) if {shaped} else walk(facts, w{i}))"
    return "", f"walk(facts, w{i})"


def _inline_tag(op: str, key: Any, value: Any, i: str, ns: dict[str, Any]) -> str:
    if op in ("EXISTS", "=", "!=") or (op == "IN" and type(value) is not list):
        return f"k{i} {'not in' if op == '!=' else 'in'} tags"
    if op == "IN":
        ns[f"l{i}"] = tuple(value)
        return f"any(map(tags.__contains__, l{i}))"  # any listed tag: C calls, no generator
    if op == "MATCHES":
        ns[f"s{i}"] = searcher(value)
        return f"any(map(s{i}, tags))"
    return "False"


def _inline_test(op: str, value: Any, i: str) -> str:
    """The test of `v{i}` (known not MISSING) for the common operator shapes."""
    if op in ORDERING_OPS and is_number(value):
        return f"{_NUMBER_TEST.format(i=i)} and v{i} {op} c{i}"
    if op in ORDERING_OPS and isinstance(value, str):
        return f"isinstance(v{i}, str) and v{i} {op} c{i}"
    if op == "=" and type(value) is str:
        return f"v{i}.__class__ is str and v{i} == c{i}"
    if op == "EXISTS":
        return f"v{i} is not None"
    return f"t{i}(v{i})"


def operator_test(op: str, value: Any) -> Callable[[Any], bool]:
    """`field -> bool` for a field known to be present."""
    if op == "=":
        return equality_test(value)
    if op == "!=":
        equal = equality_test(value)
        return lambda field: not equal(field)
    if op == "IN" and isinstance(value, list):
        member = membership_test(value)
        return lambda field: any(map(member, field)) if isinstance(field, list) else member(field)
    if op == "MATCHES":
        return searcher(value)
    return lambda _field: False  # unknown operator, or ordering against a non-scalar
