"""Task facts validation: shapes, locations, and the nesting bound."""

from __future__ import annotations

from typing import Any

import pytest

from app.domain.errors import FactsError
from app.domain.facts import validate_facts


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
