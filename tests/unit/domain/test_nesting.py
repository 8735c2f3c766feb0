"""`nests_deeper` answers what measuring the depth level by level answers, at every limit,
on either side of the recursion limit, and never recurses past the limit."""

from __future__ import annotations

import json
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.nesting import nesting_bound, nests_deeper, text_depth
from tests.unit.json_depth import depth

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False)
    | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=40,
)


# strings made of what a text scan could mistake for structure
tricky_text = st.text(alphabet=st.sampled_from('"\\[]{}/:,ab\u00e9\n'), max_size=6)
tricky_values = st.recursive(
    st.none() | st.integers(-(2**63), 2**63 - 1) | tricky_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(tricky_text, inner, max_size=3),
    max_leaves=40,
)
encodings = st.sampled_from(
    [
        orjson.dumps,
        lambda v: json.dumps(v).encode(),  # \uXXXX escapes, spaces after separators
        lambda v: json.dumps(v, ensure_ascii=False, indent=2).encode(),
    ]
)


def nested(levels: int) -> Any:
    """Exactly `levels` deep: objects and lists in turn."""
    value: Any = {"leaf": 1}
    for index in range(levels - 1):
        value = {"nested": value} if index % 2 else [value]
    return value


@settings(max_examples=300, deadline=None, derandomize=True)
@given(json_values, st.integers(min_value=1, max_value=8))
def test_it_agrees_with_the_measured_depth(value: Any, limit: int) -> None:
    assert nests_deeper(value, limit) is (depth(value) > limit)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(json_values)
def test_the_bracket_count_bounds_the_depth(value: Any) -> None:
    assert nesting_bound(orjson.dumps(value), 10**9) >= depth(value)  # the count alone


def test_limits_beyond_the_recursion_limit_are_measured_with_a_stack() -> None:
    deep = nested(400)
    assert nests_deeper(deep, 300) is True
    assert nests_deeper(deep, 399) is True
    assert nests_deeper(deep, 400) is False


def test_a_value_far_deeper_than_the_limit_costs_only_the_limit() -> None:
    value: list[Any] = []
    for _ in range(100_000):  # deeper than Python's recursion limit
        value = [value]
    assert nests_deeper(value, 32) is True


def test_the_boundary_is_inclusive() -> None:
    assert depth(nested(5)) == 5
    assert nests_deeper(nested(5), 5) is False
    assert nests_deeper(nested(6), 5) is True
    assert nests_deeper({}, 1) is False
    assert nests_deeper({"a": []}, 1) is True
    assert nests_deeper("text", 1) is False


@settings(max_examples=500, deadline=None, derandomize=True)
@given(tricky_values, encodings, st.integers(min_value=0, max_value=8))
def test_the_text_depth_is_the_depth_up_to_the_limit(value: Any, encode: Any, limit: int) -> None:
    assert text_depth(encode(value), limit=limit) == min(depth(value), limit + 1)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(tricky_values, st.integers(min_value=1, max_value=8))
def test_a_bound_with_a_limit_still_bounds_the_depth(value: Any, limit: int) -> None:
    bound = nesting_bound(orjson.dumps(value), limit)
    assert bound >= min(depth(value), limit + 1)
    assert (bound > limit) is (depth(value) > limit)


def test_strings_never_count_as_nesting() -> None:
    raw = orjson.dumps({"a": ['\\"[[[{{', "]]]}}\\", '\\\\"'], "b{": "[\\\\"})
    assert text_depth(raw, limit=32) == 2
    assert nesting_bound(raw, 10**9) > 2  # the bracket count alone is fooled


def test_a_text_far_deeper_than_the_limit_costs_only_the_limit() -> None:
    raw = b"[" * 100_000 + b"]" * 100_000
    assert text_depth(raw, limit=32) == 33
