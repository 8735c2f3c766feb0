"""Property tests: the engine agrees with the oracle on random documents and facts."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.domain.checks import compile_tests, holds, plain_dict
from app.domain.conditions import compile_check, facts_signals, facts_tags
from tests.unit.engine.snapshots import comparable, engine_of, one_rule, oracle, snapshot_of

TAGS = ["vip", "spa", "pet", "allergy_nuts", "allergy_gluten"]
SIGNALS = ["u", "v"]
PATHS = ["context.domain", "context.n", "context.list", "items.0.sku", "items.1.qty", "flat"]
OPS = ["=", "!=", ">=", "<=", ">", "<", "IN", "EXISTS", "MATCHES"]
PATTERNS = ["^a", "s$", "^(vip|spa)$", "allergy_", "[0-9]+", "(a+)+$"]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.sampled_from([0.5, 1.0, 2.5, -1.0]),
    st.sampled_from(["a", "spa", "vip", "as", "2025-01-01", "x1"]),
)
values = st.one_of(scalars, st.lists(scalars, max_size=3))


@st.composite
def conditions(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["TAG", "SIGNAL", "FACT", "VALUE"]))
    op = draw(st.sampled_from(OPS))
    keys = {"TAG": TAGS, "SIGNAL": SIGNALS}.get(kind, PATHS)
    key = draw(st.sampled_from(keys))
    if op == "MATCHES":
        value: Any = draw(st.one_of(st.sampled_from(PATTERNS), scalars))
    elif op == "IN" and kind == "TAG":
        value = draw(st.one_of(st.lists(st.sampled_from(TAGS), max_size=3), scalars))
    elif kind == "TAG":
        value = key
    else:
        value = draw(values)
    return {"type": kind, "key": key, "op": op, "value": value}


@st.composite
def emissions(draw: st.DrawFn) -> list[dict[str, Any]]:
    names = draw(st.lists(st.sampled_from(["a", "b", "c"]), min_size=0, max_size=3))
    return [
        {
            "subtask_type": draw(st.sampled_from(["t", "u"])),
            "name": name if draw(st.booleans()) else None,
            "relationship": draw(st.sampled_from(["EMITS", "ORDERS", "GATE"])),
            "params": draw(st.sampled_from([{}, {"level": "high"}, {"deep": {"k": [1]}}])),
        }
        for name in names
    ]


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    count = draw(st.integers(0, 8))
    rules = []
    for index in range(count):
        rule: dict[str, Any] = {
            "name": draw(st.sampled_from(["r1", "r2", "r3"])) + f"_{index}",
            "conditions": draw(st.lists(conditions(), max_size=3)),
            "emissions": draw(emissions()),
            "disabled": draw(st.booleans()) and draw(st.booleans()),
            "metadata": {"gate_source": draw(st.sampled_from(["a", "b", "t", "zz"]))},
        }
        if draw(st.booleans()):
            rule["priority"] = draw(st.sampled_from([0, 10, 100]))
        rules.append(rule)
    return {
        "version": "prop@1",
        "subtask_types": {"t": {"default_params": {"level": "normal"}}, "u": {}},
        "rules": rules,
    }


@st.composite
def facts(draw: st.DrawFn) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if draw(st.booleans()):
        out["tags"] = draw(st.lists(st.sampled_from(TAGS), max_size=4))
    out["signals"] = draw(st.dictionaries(st.sampled_from(SIGNALS), scalars, max_size=2))
    out["context"] = draw(
        st.fixed_dictionaries(
            {},
            optional={"domain": scalars, "n": scalars, "list": st.lists(scalars, max_size=3)},
        )
    )
    if draw(st.booleans()):
        out["items"] = draw(
            st.lists(st.fixed_dictionaries({}, optional={"sku": scalars, "qty": scalars}))
        )
    if draw(st.booleans()):
        out["flat"] = draw(values)
    return out


SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(documents(), facts())
def test_engine_output_equals_the_oracle(
    document: dict[str, Any], fact_set: dict[str, Any]
) -> None:
    assert comparable(engine_of(document).evaluate(fact_set)) == comparable(
        oracle(document, fact_set)
    )


@SETTINGS
@given(documents(), facts())
def test_evaluation_is_deterministic(document: dict[str, Any], fact_set: dict[str, Any]) -> None:
    engine = engine_of(document)
    assert engine.evaluate(fact_set) == engine.evaluate(fact_set)
    assert engine_of(document).evaluate(fact_set) == engine.evaluate(fact_set)


@SETTINGS
@given(documents(), facts())
def test_disabled_rules_never_fire(document: dict[str, Any], fact_set: dict[str, Any]) -> None:
    disabled = {r["name"] for r in document["rules"] if r["disabled"]}
    fired = {r["rule_name"] for r in engine_of(document).evaluate(fact_set)["rules"]}
    assert not fired & disabled


@SETTINGS
@given(documents(), facts(), st.randoms())
def test_reordering_rules_of_distinct_priority_changes_nothing(
    document: dict[str, Any], fact_set: dict[str, Any], random: Any
) -> None:
    for index, rule in enumerate(document["rules"]):
        rule["priority"] = index * 10
    shuffled = {**document, "rules": list(document["rules"])}
    random.shuffle(shuffled["rules"])
    assert comparable(engine_of(shuffled).evaluate(fact_set)) == comparable(
        engine_of(document).evaluate(fact_set)
    )


small = st.sampled_from([None, True, False, 0, 1, 1.0, 2.5, "a", "spa", "2025-01-01"])


@st.composite
def dense_facts(draw: st.DrawFn) -> dict[str, Any]:
    """Facts where every path the conditions read is present, with the values they compare
    with: boundaries (`>=` on an equal value, `=` on 1 and 1.0) come up often."""
    return {
        "tags": draw(st.lists(st.sampled_from(TAGS), max_size=3)),
        "signals": {name: draw(small) for name in SIGNALS},
        "context": {"domain": draw(small), "n": draw(small), "list": draw(st.lists(small))},
        "items": [{"sku": draw(small), "qty": draw(small)}],
        "flat": draw(st.one_of(small, st.lists(small, max_size=2))),
    }


@st.composite
def dense_conditions(draw: st.DrawFn) -> dict[str, Any]:
    condition = draw(conditions())
    if condition["op"] not in ("MATCHES",) and condition["type"] != "TAG":
        condition["value"] = draw(st.one_of(small, st.lists(small, max_size=3)))
    return condition


@settings(max_examples=600, deadline=None)
@given(
    st.one_of(st.lists(conditions(), max_size=4), st.lists(dense_conditions(), max_size=2)),
    st.one_of(facts(), dense_facts()),
)
def test_the_table_of_tests_agrees_with_the_generated_check(
    raw: list[dict[str, Any]], fact_set: dict[str, Any]
) -> None:
    """The two forms a rule's conditions compile to (the compiled core runs the table, the
    interpreter the generated function) answer alike, on every condition shape."""
    rule = snapshot_of(one_rule(*raw)).rules[0]
    conditions = rule["conditions"]
    tags, signals = facts_tags(fact_set), facts_signals(fact_set)
    expected = compile_check(conditions)(fact_set, tags, signals)
    assert holds(compile_tests(conditions), fact_set, tags, plain_dict(signals)) is expected


SMALL = [
    *(None, True, False, 0, 1, 1.0, 2.5, -1, 2**53 - 1, float(2**53)),
    *("a", "spa", "2025-01-01", ["a", 1], ["spa", "x"], [], {"k": 1}),
]
READS = [("SIGNAL", "u"), ("FACT", "flat"), ("FACT", "context.n"), ("VALUE", "items.0.qty")]


@pytest.mark.parametrize("op", ["=", "!=", ">=", "<=", ">", "<", "IN", "EXISTS"])
@pytest.mark.parametrize(("kind", "key"), READS)
def test_both_forms_agree_on_every_pair_of_small_values(op: str, kind: str, key: str) -> None:
    """Every operator, every way of reading a field, every pair of these values: boundaries
    (an equal value under `>`, 1 against 1.0, booleans against numbers) are all tried."""
    for value in [*SMALL, ["spa", 1.0, None], ["a", "spa"]]:
        condition = {"type": kind, "key": key, "op": op, "value": value}
        conditions = snapshot_of(one_rule(condition)).rules[0]["conditions"]
        check, tests = compile_check(conditions), compile_tests(conditions)
        for field in [*SMALL, 2**53 + 1, float("inf"), float("nan")]:  # facts can hold these
            fact_set = {
                "signals": {"u": field},
                "flat": field,
                "context": {"n": field},
                "items": [{"qty": field}],
            }
            signals = facts_signals(fact_set)
            expected = check(fact_set, (), signals)
            assert holds(tests, fact_set, (), plain_dict(signals)) is expected, (condition, field)
