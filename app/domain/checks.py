"""A rule's conditions as a table of tests: the form the compiled core runs (DESIGN.md §3).

`compile_check` (conditions.py) writes each rule into one generated Python function: the
fastest a rule can be tested when the interpreter runs it. Compiled with mypyc, a generated
function stays interpreted bytecode the compiler never sees, so the compiled core tests rules
through this table instead: `compile_tests(conditions)` turns a rule's conditions into a tuple
of `Test`s (everything decided at compile time, as `compile_check` decides it), and
`holds(tests, facts, tags, signals)` runs them in one compiled loop. Both forms give the same
answer on every input; the engine's tests and the differential tests against the reference
interpreter run both (`PKG_PURE_PYTHON=1`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from app.domain.conditions import (
    MISSING,
    ORDERING_OPS,
    condition_cost,
    is_number,
    operator_test,
    path_shape,
    searcher,
    walk,
)
from app.domain.snapshot import decode_value

# How a test reads its field.
READ_NONE: Final = 0  # a tag test: no field
READ_SIGNAL: Final = 1  # signals.get(key)
READ_TOP: Final = 2  # facts.get(key)
READ_CHILD: Final = 3  # facts[a][b]
READ_ITEM: Final = 4  # facts[a][n][b], else the walk
READ_WALK: Final = 5  # any other path

# What it tests.
TAG_HAS: Final = 0  # key in tags
TAG_LACKS: Final = 1  # key not in tags
TAG_ANY: Final = 2  # any listed tag in tags
TAG_MATCH: Final = 3  # any tag matches
NEVER: Final = 4
NUMBER_ORDER: Final = 5  # a number, compared with `value`
TEXT_ORDER: Final = 6  # a string, compared with `value`
TEXT_EQUAL: Final = 7  # the string `value`
PRESENT: Final = 8  # EXISTS: present and not null
CALL: Final = 9  # `call(field)`
TEXT_IN: Final = 10  # IN a list of strings only: the string, or a list sharing one
TEXT_UNEQUAL: Final = 11  # != a string: anything present but that string
EXACT_FLOAT_LIMIT: Final = 2**53  # an int whose float is exact: float comparisons agree

GE: Final = 0
LE: Final = 1
GT: Final = 2
LT: Final = 3
_ORDER_CODES: Final = {">=": GE, "<=": LE, ">": GT, "<": LT}


class Test:
    """One condition, decided as far as compile time allows."""

    def __init__(
        self,
        read: int,
        kind: int,
        *,
        key: Any = None,
        value: Any = None,
        order: int = GE,
        a: str = "",
        b: str = "",
        n: int = 0,
        steps: tuple[tuple[str, int], ...] = (),
        listed: tuple[Any, ...] = (),
        strings: frozenset[str] = frozenset(),
        call: Callable[[Any], bool] | None = None,
    ) -> None:
        self.read = read
        self.kind = kind
        self.key = key
        self.value = value
        self.order = order
        self.a = a
        self.b = b
        self.n = n
        self.steps = steps
        self.listed = listed
        self.strings = strings
        self.call = call
        # NUMBER_ORDER on a float field compares two C doubles when `value` is one exactly
        self.exact = is_number(value) and (
            isinstance(value, float) or -EXACT_FLOAT_LIMIT <= value <= EXACT_FLOAT_LIMIT
        )
        self.number: float = float(value) if self.exact else 0.0


Tests = tuple[Test, ...]


def compile_tests(conditions: Sequence[Mapping[str, Any]]) -> Tests:
    """A rule's conditions as tests, cheap and selective ones first (as `compile_check`)."""
    return tuple(_test(c) for c in sorted(conditions, key=condition_cost))


def _test(condition: Mapping[str, Any]) -> Test:
    kind, op = condition["condition_type"], condition["operator"]
    key, value = condition.get("condition_key"), decode_value(condition.get("value"))
    if kind == "TAG":
        return _tag_test(op, key, value)
    read = _read(kind, key)
    if read is None:
        return Test(READ_NONE, NEVER)  # an unknown type or a non-string key never resolves
    code, extra = read
    if op in ORDERING_OPS and is_number(value):
        return Test(code, NUMBER_ORDER, key=key, value=value, order=_ORDER_CODES[op], **extra)
    if op in ORDERING_OPS and isinstance(value, str):
        return Test(code, TEXT_ORDER, key=key, value=value, order=_ORDER_CODES[op], **extra)
    if op == "=" and type(value) is str:
        return Test(code, TEXT_EQUAL, key=key, value=value, **extra)
    if op == "EXISTS":
        return Test(code, PRESENT, key=key, **extra)
    if op == "!=" and type(value) is str:
        return Test(code, TEXT_UNEQUAL, key=key, value=value, **extra)
    if op == "IN" and type(value) is list and all(type(v) is str for v in value):
        return Test(code, TEXT_IN, key=key, strings=frozenset(value), **extra)
    return Test(code, CALL, key=key, call=operator_test(op, value), **extra)


def _tag_test(op: str, key: Any, value: Any) -> Test:
    if op in ("EXISTS", "=", "!=") or (op == "IN" and type(value) is not list):
        return Test(READ_NONE, TAG_LACKS if op == "!=" else TAG_HAS, key=key)
    if op == "IN":
        return Test(READ_NONE, TAG_ANY, listed=tuple(value))
    if op == "MATCHES":
        return Test(READ_NONE, TAG_MATCH, call=searcher(value))
    return Test(READ_NONE, NEVER)


def _read(kind: str, key: Any) -> tuple[int, dict[str, Any]] | None:
    if kind == "SIGNAL" and type(key) is str:
        return READ_SIGNAL, {}
    if kind not in ("FACT", "VALUE") or type(key) is not str:
        return None
    shape = path_shape(key)
    if shape.kind == "top":
        return READ_TOP, {}
    if shape.kind == "child":
        return READ_CHILD, {"a": shape.a, "b": shape.b}
    if shape.kind == "item":
        return READ_ITEM, {"a": shape.a, "n": shape.n, "b": shape.b, "steps": shape.steps}
    return READ_WALK, {"steps": shape.steps}


def plain_dict(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """What `holds` takes: a dict (compiled, its lookups are then direct dict calls)."""
    return mapping if type(mapping) is dict else dict(mapping)


def holds(tests: Tests, facts: dict[str, Any], tags: Any, signals: dict[str, Any]) -> bool:
    """Every test holds for these facts (`tags` as `facts_tags` reads them; `facts` and the
    facts' `signals` as `plain_dict`s)."""
    for test in tests:
        read = test.read
        kind = test.kind
        if read == READ_NONE:
            if kind == TAG_HAS:
                if test.key not in tags:
                    return False
            elif kind == TAG_LACKS:
                if test.key in tags:
                    return False
            elif kind == TAG_ANY:
                if not any(map(tags.__contains__, test.listed)):
                    return False
            elif kind == TAG_MATCH:
                call = test.call
                if call is None or not any(map(call, tags)):
                    return False
            else:
                return False
            continue
        field = _field(test, read, facts, signals)
        if field is MISSING or not _passes(test, kind, field):
            return False
    return True


def _field(test: Test, read: int, facts: dict[str, Any], signals: dict[str, Any]) -> Any:
    if read == READ_SIGNAL:
        return signals.get(test.key, MISSING)
    if read == READ_TOP:
        return facts.get(test.key, MISSING)
    if read == READ_CHILD:
        parent = facts.get(test.a)
        return parent.get(test.b, MISSING) if isinstance(parent, dict) else MISSING
    if read == READ_ITEM:
        items = facts.get(test.a)
        if isinstance(items, list) and len(items) > test.n:
            entry = items[test.n]
            if isinstance(entry, dict):
                return entry.get(test.b, MISSING)
    return walk(facts, test.steps)


def _passes(test: Test, kind: int, field: Any) -> bool:
    if kind == NUMBER_ORDER:
        kind_of = type(field)
        if kind_of is float and test.exact:
            return _ordered_floats(test.order, field, test.number)
        if not (kind_of is float or kind_of is int or is_number(field)):
            return False
        return _ordered(test.order, field, test.value)
    if kind == TEXT_IN:
        if type(field) is str:
            return field in test.strings
        if isinstance(field, list):
            strings = test.strings
            return any(type(item) is str and item in strings for item in field)
        return False
    if kind == TEXT_UNEQUAL:
        return not (type(field) is str and field == test.value)
    if kind == TEXT_ORDER:
        return isinstance(field, str) and _ordered(test.order, field, test.value)
    if kind == TEXT_EQUAL:
        return type(field) is str and bool(field == test.value)
    if kind == PRESENT:
        return field is not None
    call = test.call
    return call is not None and call(field)


def _ordered(order: int, field: Any, value: Any) -> bool:
    if order == GE:
        return bool(field >= value)
    if order == LE:
        return bool(field <= value)
    if order == GT:
        return bool(field > value)
    return bool(field < value)


def _ordered_floats(order: int, field: float, value: float) -> bool:
    if order == GE:
        return field >= value
    if order == LE:
        return field <= value
    if order == GT:
        return field > value
    return field < value
