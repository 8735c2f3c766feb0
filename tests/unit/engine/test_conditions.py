"""Every operator × condition type, against DESIGN.md §3 and the shared oracle's choices."""

from __future__ import annotations

from typing import Any

import pytest

from app.domain.conditions import compile_condition, compile_conjunction, compile_pattern
from app.domain.snapshot import encode_value
from tests.unit.engine.snapshots import engine_of, fires, one_rule

FACTS: dict[str, Any] = {
    "tags": ["vip", "allergy_nuts"],
    "signals": {"urgency": 0.8, "count": 3, "flag": True},
    "context": {
        "domain": "hotel_ops",
        "date": "2025-03-01",
        "nights": 2,
        "member": True,
        "note": None,
        "langs": ["en", "fr"],
        "guest": {"tier": "gold"},
    },
    "items": [{"sku": "SKU-1234", "qty": 2}],
}


def cond(kind: str, key: str | None, op: str, value: Any = None) -> dict[str, Any]:
    return {"type": kind, "key": key, "op": op, "value": value}


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (cond("TAG", "vip", "EXISTS"), True),
        (cond("TAG", "spa", "EXISTS"), False),
        (cond("TAG", "vip", "=", "vip"), True),
        (cond("TAG", "spa", "=", "spa"), False),
        (cond("TAG", "spa", "!=", "spa"), True),
        (cond("TAG", "vip", "!=", "vip"), False),
        (cond("TAG", "ignored", "IN", ["spa", "vip"]), True),
        (cond("TAG", "ignored", "IN", ["spa", "pet"]), False),
        (cond("TAG", "vip", "IN", "not-a-list"), True),
        (cond("TAG", "tags", "MATCHES", "^allergy_"), True),
        (cond("TAG", "tags", "MATCHES", "^pet$"), False),
        (cond("TAG", "vip", ">=", "vip"), False),
        (cond("TAG", "vip", "<", 1), False),
    ],
)
def test_tag_operators_follow_the_contract(condition: dict[str, Any], expected: bool) -> None:
    assert fires(condition, FACTS) is expected


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (cond("SIGNAL", "urgency", ">=", 0.8), True),
        (cond("SIGNAL", "urgency", ">", 0.8), False),
        (cond("SIGNAL", "urgency", "<=", 0.8), True),
        (cond("SIGNAL", "urgency", "<", 0.9), True),
        (cond("SIGNAL", "count", "=", 3.0), True),
        (cond("SIGNAL", "count", "!=", 3), False),
        (cond("SIGNAL", "count", "IN", [1, 3]), True),
        (cond("SIGNAL", "count", "IN", [1, 2]), False),
        (cond("SIGNAL", "count", "IN", 3), False),
        (cond("SIGNAL", "urgency", "EXISTS"), True),
        (cond("SIGNAL", "flag", "=", 1), False),
        (cond("SIGNAL", "flag", ">=", 0), False),
        (cond("SIGNAL", "count", ">=", "3"), False),
        (cond("SIGNAL", "count", "MATCHES", "3"), False),
        (cond("SIGNAL", "missing", "!=", 1), False),
        (cond("SIGNAL", "missing", "EXISTS"), False),
    ],
)
def test_signal_operators_follow_the_contract(condition: dict[str, Any], expected: bool) -> None:
    assert fires(condition, FACTS) is expected


@pytest.mark.parametrize("kind", ["FACT", "VALUE"])
@pytest.mark.parametrize(
    ("key", "op", "value", "expected"),
    [
        ("context.domain", "=", "hotel_ops", True),
        ("context.domain", "!=", "hotel_ops", False),
        ("context.domain", "!=", "spa", True),
        ("context.date", ">=", "2025-01-31", True),
        ("context.date", "<", "2025-01-31", False),
        ("context.nights", ">", 1, True),
        ("context.nights", "<=", 1.5, False),
        ("context.nights", ">=", "1", False),
        ("context.domain", ">", 1, False),
        ("context.member", "=", True, True),
        ("context.member", "=", 1, False),
        ("context.nights", "=", True, False),
        ("context.note", "=", None, True),
        ("context.note", "EXISTS", None, False),
        ("context.guest", "EXISTS", None, True),
        ("context.guest", "=", {"tier": "gold"}, True),
        ("context.langs", "=", ["en", "fr"], True),
        ("context.domain", "IN", ["spa", "hotel_ops"], True),
        ("context.domain", "IN", ["spa"], False),
        ("context.langs", "IN", ["de", "fr"], True),
        ("context.langs", "IN", ["de"], False),
        ("context.nights", "IN", [2.0, 5], True),
        ("context.member", "IN", [1], False),
        ("context.guest.tier", "MATCHES", "^go", True),
        ("context.guest.tier", "MATCHES", "^sil", False),
        ("context.nights", "MATCHES", "2", False),
        ("items.0.sku", "MATCHES", r"^SKU-1\d{3}$", True),
        ("items.0.qty", ">=", 2, True),
        ("items.1.qty", "EXISTS", None, False),
        ("items.x.qty", "EXISTS", None, False),
        ("context.domain.x", "EXISTS", None, False),
        ("context.missing", "!=", "x", False),
        ("context.missing", "=", None, False),
    ],
)
def test_path_operators_follow_the_contract(
    kind: str, key: str, op: str, value: Any, expected: bool
) -> None:
    assert fires(cond(kind, key, op, value), FACTS) is expected


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        ([{"sku": "A", "qty": 2}], True),
        ([{"sku": "A", "qty": 2}, {"sku": "B"}], True),
        ({"0": {"sku": "A", "qty": 2}}, True),  # a dict keyed "0" is walked by its key
        ([], False),
        ([["A", 2]], False),  # the item is a list: `sku` is no index
        (["A"], False),
        ({"1": {"sku": "A", "qty": 2}}, False),
        ("A", False),
        (None, False),
    ],
)
def test_a_list_item_field_resolves_on_every_shape_as_the_walk_does(
    items: Any, expected: bool
) -> None:
    """`items.0.sku =` is the rule's anchor (looked up through the index), `items.0.qty >=`
    a remaining condition (in the rule's compiled check): both read the same field."""
    anchored = cond("FACT", "items.0.sku", "=", "A")
    checked = cond("VALUE", "items.0.qty", ">=", 2)
    assert fires(anchored, {"items": items}) is expected
    assert fires(checked, {"items": items}) is expected
    assert bool(engine_of(one_rule(anchored, checked)).evaluate({"items": items})["rules"]) is (
        expected
    )


def test_tag_not_equal_holds_when_facts_have_no_tags() -> None:
    assert fires(cond("TAG", "vip", "!=", "vip"), {"signals": {}}) is True
    assert fires(cond("TAG", "vip", "EXISTS"), {"tags": "vip"}) is False


def test_text_values_are_json_decoded_when_compiled() -> None:
    def holds(value_text: str | None, field: Any) -> bool:
        condition = {
            "condition_type": "FACT",
            "condition_key": "x",
            "operator": "=",
            "value": value_text,
        }
        return compile_condition(condition)({"x": field})

    assert holds("0.5", 0.5)
    assert holds('["a","b"]', ["a", "b"])
    assert holds("not json", "not json")
    assert holds(encode_value("0.5"), "0.5")
    assert not holds("0.5", "0.5")
    assert holds(None, None)


def test_unknown_condition_type_and_operator_never_hold() -> None:
    assert fires(cond("COLOUR", "x", "=", 1), {"x": 1}) is False
    assert fires(cond("FACT", "x", "LIKE", 1), {"x": 1}) is False


def test_invalid_and_non_re2_patterns_raise_value_error() -> None:
    with pytest.raises(ValueError, match="invalid RE2 pattern"):
        compile_pattern("(unclosed")
    with pytest.raises(ValueError, match="invalid RE2 pattern"):
        compile_pattern(r"(a)\1")
    with pytest.raises(ValueError, match="string"):
        compile_pattern(5)  # a document may hold any value
    assert compile_pattern("^a+$").search("aaa") is not None


def test_catastrophic_pattern_runs_in_linear_time_on_a_long_string() -> None:
    text = "a" * 100_000
    assert fires(cond("FACT", "s", "MATCHES", "(a+)+$"), {"s": text}) is True
    assert fires(cond("FACT", "s", "MATCHES", "(a+)+b$"), {"s": text}) is False


@pytest.mark.parametrize(
    "facts",
    [
        FACTS,
        {},
        {"tags": "vip", "signals": [1], "context": "x"},
        {"tags": ["spa"], "signals": {"urgency": 0.1}, "context": {"domain": "spa"}},
    ],
)
def test_a_compiled_conjunction_agrees_with_its_conditions(facts: dict[str, Any]) -> None:
    conditions = [
        {
            "condition_type": kind,
            "condition_key": key,
            "operator": op,
            "value": encode_value(value),
        }
        for kind, key, op, value in [
            ("TAG", "vip", "EXISTS", None),
            ("TAG", "spa", "!=", "spa"),
            ("TAG", "x", "IN", ["vip", "spa"]),
            ("TAG", "tags", "MATCHES", "^a"),
            ("SIGNAL", "urgency", ">=", 0.5),
            ("SIGNAL", "count", "EXISTS", None),
            ("FACT", "context.domain", "=", "hotel_ops"),
            ("FACT", "context.date", "<", "2026"),
            ("VALUE", "items.0.qty", "IN", [2, 3]),
            ("FACT", "context.guest.tier", "!=", "basic"),
        ]
    ]
    for size in range(len(conditions) + 1):
        chosen = conditions[:size]
        expected = all(compile_condition(c)(facts) for c in chosen)
        assert compile_conjunction(chosen)(facts) is expected
