"""Task facts validation: shapes, locations, and the nesting bound."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.errors import FactsError
from app.domain.facts import validate_facts
from tests.unit.json_depth import depth


@pytest.mark.parametrize(
    ("facts", "loc"),
    [
        ([], "body"),
        ("text", "body"),
        ({"tags": "vip"}, "tags"),
        ({"tags": ["vip", 3]}, "tags[1]"),
        ({"tags": [None]}, "tags[0]"),
        ({"signals": [1]}, "signals"),
        ({"signals": {"x": True}}, "signals.x"),
        ({"signals": {"x": "0.5"}}, "signals.x"),
        ({"signals": {"ok": 1, "y": None}}, "signals.y"),
        ({"context": ["a"]}, "context"),
    ],
)
def test_invalid_facts_name_where_the_problem_is(facts: Any, loc: str) -> None:
    with pytest.raises(FactsError) as caught:
        validate_facts(facts)
    assert caught.value.loc == loc


def test_every_bad_field_is_named_at_once_in_order() -> None:
    facts = {"tags": [1, "ok", {}], "signals": {"urgency": "high", "x": 1}, "context": 3}
    with pytest.raises(FactsError) as caught:
        validate_facts(facts)
    assert [(e.loc, e.msg) for e in caught.value.errors] == [
        ("tags[0]", "must be a string, not a number"),
        ("tags[2]", "must be a string, not an object"),
        ("signals.urgency", "must be a number, not a string"),
        ("context", "must be an object, not a number"),
    ]
    assert (caught.value.loc, caught.value.msg) == ("tags[0]", "must be a string, not a number")
    assert str(caught.value).count("; ") == 3


def test_a_bad_context_is_named_beside_plain_tags_and_signals() -> None:
    with pytest.raises(FactsError) as caught:
        validate_facts({"tags": ["vip"], "signals": {"x": 1}, "context": []})
    assert [e.loc for e in caught.value.errors] == ["context"]


def test_errors_located_within_a_batch_item_keep_every_problem() -> None:
    with pytest.raises(FactsError) as caught:
        validate_facts({"tags": "vip", "signals": []})
    inside = caught.value.within("items[3]")
    assert [e.loc for e in inside.errors] == ["items[3].tags", "items[3].signals"]


def test_valid_facts_pass() -> None:
    validate_facts(
        {
            "tags": ["vip"],
            "signals": {"x": 0.5, "n": 3},
            "context": {"a": {"b": [1, {"c": None}]}},
            "anything": [1, "two"],
        }
    )
    validate_facts({})


def nested(depth: int) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    current = facts
    for _ in range(depth - 1):
        current["x"] = {}
        current = current["x"]
    return facts


def test_nesting_up_to_the_limit_is_accepted() -> None:
    validate_facts(nested(32))
    validate_facts(nested(5), max_depth=5)


def test_nesting_beyond_the_limit_is_refused_with_a_depth_message() -> None:
    with pytest.raises(FactsError, match="depth") as caught:
        validate_facts(nested(6), max_depth=5)
    assert caught.value.loc == "body"


def test_very_deep_input_is_refused_without_recursion() -> None:
    deep: list[Any] = []
    current = deep
    for _ in range(10_000):
        current.append([])
        current = current[0]
    with pytest.raises(FactsError, match="depth"):
        validate_facts({"context": {}, "deep": deep})


scalars = (
    st.none()
    | st.booleans()
    | st.integers(-5, 5)
    | st.floats(allow_nan=False)
    | st.text(max_size=3)
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=2), inner),
    max_leaves=12,
)
facts_like = st.fixed_dictionaries(
    {},
    optional={
        "tags": st.lists(st.text(max_size=3), max_size=4) | values,
        "signals": st.dictionaries(st.text(max_size=2), st.integers() | st.floats()) | values,
        "context": st.dictionaries(st.text(max_size=2), values) | values,
        "other": values,
    },
)


def checked_one_by_one(facts: dict[str, Any], max_depth: int) -> tuple[str, str] | None:
    """The reference: the whole depth first, then each field in turn, member by member."""
    if depth(facts) > max_depth:
        return "body", f"facts nest deeper than the maximum depth of {max_depth}"
    tags = facts.get("tags", [])
    if not isinstance(tags, list):
        return "tags", "list"
    for index, tag in enumerate(tags):
        if not isinstance(tag, str):
            return f"tags[{index}]", "string"
    signals = facts.get("signals", {})
    if not isinstance(signals, dict):
        return "signals", "object"
    for name, value in signals.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"signals.{name}", "number"
    if not isinstance(facts.get("context", {}), dict):
        return "context", "object"
    return None


@settings(max_examples=400, deadline=None, derandomize=True)
@given(facts_like, st.integers(min_value=1, max_value=5))
def test_facts_are_refused_where_a_field_by_field_check_refuses_them(
    facts: dict[str, Any], max_depth: int
) -> None:
    expected = checked_one_by_one(facts, max_depth)
    if expected is None:
        validate_facts(facts, max_depth=max_depth)
        return
    with pytest.raises(FactsError) as caught:
        validate_facts(facts, max_depth=max_depth)
    assert caught.value.loc == expected[0]
    assert expected[1] in caught.value.msg
