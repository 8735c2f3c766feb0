"""Decision-log redaction: masked paths show a marker, dropped paths are gone, nothing else
changes, and the caller's facts are never touched."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from app.domain.redaction import MASK, Redaction, parse_path

FACTS = {
    "tags": ["vip", "allergy_nuts"],
    "context": {"guest_name": "Ada", "room": "1204", "card": {"number": "4111", "cvv": "123"}},
    "items": [{"sku": "a", "card": "1"}, {"sku": "b", "card": "2"}],
}


def test_a_masked_path_keeps_its_key_with_the_marker_and_everything_else_as_it_was() -> None:
    original = copy.deepcopy(FACTS)

    out = Redaction.from_paths(mask=["input.context.guest_name"]).apply(FACTS)

    assert out["context"]["guest_name"] == MASK
    assert out["context"]["room"] == "1204" and out["tags"] == FACTS["tags"]
    assert original == FACTS  # the request's own facts are untouched


def test_a_dropped_path_is_removed_with_its_subtree() -> None:
    out = Redaction.from_paths(drop=["input.context.card"]).apply(FACTS)

    assert "card" not in out["context"] and out["context"]["guest_name"] == "Ada"


def test_a_wildcard_reaches_every_element_of_a_list() -> None:
    out = Redaction.from_paths(mask=["input.items.*.card"]).apply(FACTS)

    assert [item["card"] for item in out["items"]] == [MASK, MASK]
    assert [item["sku"] for item in out["items"]] == ["a", "b"]


def test_a_list_index_drops_one_element() -> None:
    out = Redaction.from_paths(drop=["input.tags.0"]).apply(FACTS)

    assert out["tags"] == ["allergy_nuts"]


def test_paths_that_do_not_exist_in_the_facts_change_nothing() -> None:
    redaction = Redaction.from_paths(mask=["input.context.missing.deeper"], drop=["input.nope"])

    assert redaction.apply(FACTS) == FACTS


@pytest.mark.parametrize("path", ["context.guest_name", "input", "input..x", "data.x"])
def test_a_path_must_start_at_input_and_have_no_empty_segment(path: str) -> None:
    with pytest.raises(ValueError, match="path"):
        parse_path(path)


def test_facts_paths_mask_without_the_input_root_as_shadow_examples_name_them() -> None:
    facts: dict[str, Any] = {"tags": ["vip"], "context": {"guest": {"name": "Ada"}, "room": "12"}}
    masked = Redaction.masking_facts(["context.guest.name", "signals", "context.*.missing"])
    assert masked.apply(facts) == {
        "tags": ["vip"],
        "context": {"guest": {"name": MASK}, "room": "12"},
    }
    assert facts["context"]["guest"]["name"] == "Ada"  # the original is untouched
    every = Redaction.masking_facts(["context.*"]).apply(facts)
    assert every["context"] == {"guest": MASK, "room": MASK}
    assert Redaction.masking_facts(["input.context"]) == Redaction.masking_facts(["context"])
