"""Golden cases (tests/golden/*.yaml): DESIGN.md §3 as examples, each a small policy, facts and
the exact expected decision, run through `PKGEvaluator` and through `POST /evaluate`.

In a file's `expect`, a subtask's `params` defaults to `{}` and `rule_id` is the rule's id; a
fired rule is written by name (its provenance entry is filled in from the policy: all of its
conditions matched, weight 1.0). Everything else is compared exactly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from app.domain.document import parse_policy_document, rule_id_for
from app.services.evaluator import PKGEvaluator
from tests.api.conftest import push_and_promote

GOLDEN = Path(__file__).parent
FILES = sorted(GOLDEN.glob("*.yaml"))
GOLDENS: dict[Path, dict[str, Any]] = {path: yaml.safe_load(path.read_text()) for path in FILES}
CASES = [
    pytest.param(path, index, id=f"{path.stem}[{index}]")
    for path, golden in GOLDENS.items()
    for index, _ in enumerate(golden["cases"])
]


def load(path: Path, index: int) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    golden = GOLDENS[path]
    case = golden["cases"][index]
    return golden["policy"], case["facts"], expected(golden["policy"], case["expect"])


def expected(policy: dict[str, Any], expect: dict[str, Any]) -> dict[str, Any]:
    version = policy["version"]
    rules = {rule["name"]: rule for rule in policy["rules"]}
    return {
        "subtasks": [
            {
                "name": s["name"],
                "type": s["type"],
                "params": s.get("params", {}),
                "rule_id": rule_id_for(version, s["rule_name"]),
                "rule_name": s["rule_name"],
            }
            for s in expect["subtasks"]
        ],
        "dag": expect["dag"],
        "rules": [
            {
                "rule_id": rule_id_for(version, name),
                "rule_name": name,
                "rule_priority": rules[name].get("priority", 100),
                "weight": 1.0,
                "matched_conditions": len(rules[name].get("conditions") or []),
                "emissions_count": len(rules[name].get("emissions") or []),
            }
            for name in expect["rules"]
        ],
        "snapshot": version,
    }


def test_there_are_golden_cases_for_every_part_of_the_semantics() -> None:
    assert {p.stem for p in FILES} >= {
        "priority_and_ties",
        "tag_operators",
        "comparisons",
        "dag_and_params",
    }


@pytest.mark.parametrize(("path", "index"), CASES)
def test_the_evaluator_decides_exactly_as_written(path: Path, index: int) -> None:
    policy, facts, decision = load(path, index)
    evaluator = PKGEvaluator(parse_policy_document(policy).to_snapshot())
    assert evaluator.evaluate(facts) == decision


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
async def test_post_evaluate_decides_exactly_as_written(api: httpx.AsyncClient, path: Path) -> None:
    golden = GOLDENS[path]
    await push_and_promote(api, golden["policy"], validate=False)
    for index in range(len(golden["cases"])):
        _, facts, decision = load(path, index)
        response = await api.post("/evaluate", json=facts)
        assert response.status_code == 200, response.text
        body = response.json()  # the decision, plus the service's envelope (decision_id, ...)
        assert {key: body.get(key) for key in decision} == decision, golden["cases"][index]["name"]
