"""The pure part of replay: which paths a snapshot reads, which records they make
unreplayable, the outlines compared, the report's totals, rules and examples, and windows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.domain.decision import DecisionRecord
from app.domain.redaction import MASK, Redaction, masked_paths
from app.domain.replay import (
    ReplayReport,
    ReplayRequestError,
    blocking_path,
    decode_cursor,
    encode_cursor,
    outline_of_decision,
    outline_of_record,
    parse_moment,
    read_paths,
    redacted_paths,
)
from app.domain.snapshot import PKGSnapshotData

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def rule(name: str, *conditions: tuple[str, str | None], disabled: bool = False) -> dict[str, Any]:
    return {
        "rule_name": name,
        "disabled": disabled,
        "conditions": [
            {"condition_type": kind, "condition_key": key, "operator": "EXISTS", "value": None}
            for kind, key in conditions
        ],
        "emissions": [],
    }


def snapshot(*rules: dict[str, Any], engine: str = "native") -> PKGSnapshotData:
    return PKGSnapshotData(1, "v", engine, None, None, list(rules))  # type: ignore[arg-type]


def record(
    facts: Any,
    *,
    rules: list[str] = (),  # type: ignore[assignment]
    subtasks: list[str] = (),  # type: ignore[assignment]
    outcome: str = "matched",
    redacted: list[str] | None = None,
    decision_id: str = "d",
) -> DecisionRecord:
    return DecisionRecord(
        decision_id=decision_id,
        time=NOW,
        env="prod",
        version="v1",
        engine="native",
        lane="active",
        deployment_id=None,
        input=facts,
        rules=list(rules),
        subtasks=list(subtasks),
        duration_ms=0.1,
        outcome=outcome,  # type: ignore[arg-type]
        role=None,
        instance=None,
        redacted=redacted,
    )


def test_a_snapshot_reads_tags_signals_and_dotted_facts_of_its_enabled_rules() -> None:
    policy = snapshot(
        rule("a", ("TAG", "vip"), ("SIGNAL", "urgency")),
        rule("b", ("FACT", "context.domain"), ("VALUE", "items.0.sku")),
        rule("off", ("FACT", "context.secret"), disabled=True),
    )

    assert read_paths(policy) == frozenset(
        {("tags",), ("signals", "urgency"), ("context", "domain"), ("items", "0", "sku")}
    )
    assert read_paths(snapshot(engine="wasm")) is None  # a wasm policy may read anything


@pytest.mark.parametrize(
    ("redacted", "blocked"),
    [
        (["input.context.guest_name"], None),  # masked, but no condition reads it
        (["input.context"], "input.context"),  # a parent of context.domain
        (["input.context.domain.raw"], "input.context.domain.raw"),  # below a read path
        (["input.tags.0"], "input.tags.0"),  # TAG conditions read every tag
        (["input.signals.urgency"], "input.signals.urgency"),
        (["input.signals.other"], None),
        (["input.items.*.sku"], "input.items.*.sku"),  # a wildcard covers items.0
        (["input.items.*.card"], None),
        (["input.context.guest_name", "input.context"], "input.context"),
    ],
)
def test_a_redacted_path_blocks_replay_only_where_a_condition_reads_it(
    redacted: list[str], blocked: str | None
) -> None:
    reads = read_paths(
        snapshot(
            rule("a", ("TAG", "vip"), ("SIGNAL", "urgency")),
            rule("b", ("FACT", "context.domain"), ("VALUE", "items.0.sku")),
        )
    )

    assert blocking_path(redacted, reads) == blocked


def test_anything_redacted_blocks_a_policy_that_may_read_anything() -> None:
    assert blocking_path(["input.context.guest_name"], None) == "input.context.guest_name"
    assert blocking_path([], None) is None


def test_redaction_notes_the_paths_that_reached_the_input() -> None:
    redaction = Redaction.from_paths(
        mask=["input.context.guest_name", "input.items.*.card", "input.absent"],
        drop=["input.context.card"],
    )
    facts = {"context": {"guest_name": "Ada", "card": "4111"}, "items": [{"sku": 1}]}

    assert redaction.touched(facts) == ["input.context.card", "input.context.guest_name"]
    masked = redaction.apply(facts)
    assert masked_paths(masked) == ["input.context.guest_name"]  # a drop leaves no trace


def test_an_older_record_without_notes_is_searched_for_masked_values() -> None:
    older = record({"context": {"guest_name": MASK}, "tags": [MASK, "vip"]})
    noted = record({"context": {"guest_name": MASK}}, redacted=[])

    assert redacted_paths(older) == ["input.context.guest_name", "input.tags.0"]
    assert redacted_paths(noted) == []  # it says nothing was redacted: MASK is the caller's


def test_a_recorded_answer_and_a_new_decision_compare_in_the_same_outline() -> None:
    then = outline_of_record(record({}, rules=["r1"], subtasks=["s1", "s1"]))
    now = outline_of_decision(
        {
            "subtasks": [{"name": "s1", "type": "t", "params": {"a": 1}}] * 2,
            "dag": [{"from": "s1", "to": "s1", "type": "sequential"}],
            "rules": [{"rule_id": "7", "rule_name": "r1", "matched_conditions": 2}],
        }
    )
    error = outline_of_decision({"subtasks": [], "rules": [{"rule_id": "error", "error": "x"}]})

    assert then == now  # params and the DAG are not in a record: not compared
    assert error == outline_of_record(record({}, outcome="error"))


def answer(*names: str, subtasks: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "subtasks": [{"name": s} for s in subtasks],
        "rules": [{"rule_name": n} for n in names],
    }


def test_the_report_counts_differences_rules_and_keeps_the_newest_examples() -> None:
    report = ReplayReport(reads=frozenset({("tags",)}), max_items=1, max_examples=1)
    decisions = {
        "newest": answer("r1", "r2"),  # fires r2 now
        "older": answer(),  # r1 no longer fires
        "same": answer("r1"),
    }
    for name in ("newest", "older", "same"):
        facts = {"id": name}
        report.replay(
            record(facts, rules=["r1"], decision_id=name),
            lambda f: decisions[f["id"]],
        )
    report.replay(record({"tags": [MASK]}, redacted=["input.tags.0"]), lambda f: answer())
    body = report.as_dict()

    assert (body["records"], body["replayed"]) == (4, 3)
    assert body["unreplayable"] == {"count": 1, "paths": {"input.tags.0": 1}}
    assert (body["totals"]["different"], body["totals"]["identical"]) == (2, 1)
    assert body["divergence"] == 2 / 3
    assert body["rules"] == [
        {"rule": "r1", "fired_more": 0, "fired_less": 1, "changed": 1},
        {"rule": "r2", "fired_more": 1, "fired_less": 0, "changed": 1},
    ]
    assert [item["decision_id"] for item in body["items"]] == ["newest"]
    assert body["items_dropped"] == 1
    assert body["examples"][0]["recorded"] == {"rules": ["r1"], "subtasks": []}
    assert body["examples"][0]["replayed"] == {"rules": ["r1", "r2"], "subtasks": []}


def test_facts_no_engine_takes_now_are_unreplayable_not_a_crash() -> None:
    from app.domain.errors import FactsError

    def refuse(_facts: Any) -> dict[str, Any]:
        raise FactsError("context", "nested too deeply")

    report = ReplayReport(reads=frozenset())
    report.replay(record({"context": {}}), refuse)

    assert report.as_dict()["unreplayable"]["paths"] == {"input.context": 1}
    assert report.divergence is None


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("24h", NOW - timedelta(hours=24)),
        ("30m", NOW - timedelta(minutes=30)),
        ("1.5d", NOW - timedelta(hours=36)),
        ("2w", NOW - timedelta(weeks=2)),
        ("2026-12-01T00:00:00Z", datetime(2026, 12, 1, tzinfo=UTC)),
        ("2026-12-01", datetime(2026, 12, 1, tzinfo=UTC)),
    ],
)
def test_a_moment_is_a_duration_before_now_or_an_iso_time(text: str, moment: datetime) -> None:
    assert parse_moment(text, now=NOW, loc="since") == moment


def test_a_bad_moment_or_cursor_names_its_field() -> None:
    with pytest.raises(ReplayRequestError) as bad:
        parse_moment("yesterday", now=NOW, loc="until")
    assert bad.value.loc == "until"
    with pytest.raises(ReplayRequestError) as overflow:
        parse_moment("99999999999999w", now=NOW, loc="since")
    assert overflow.value.loc == "since"
    for text in ("x@y", f"{2**64}@2026-12-07T00:00:00+00:00", "-1@2026-12-07"):
        with pytest.raises(ReplayRequestError) as cursor:
            decode_cursor(text)
        assert cursor.value.loc == "cursor"
    assert decode_cursor(encode_cursor((NOW, 42))) == (NOW, 42)
