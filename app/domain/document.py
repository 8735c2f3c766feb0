"""Policy documents (what users write, YAML or JSON) → validated `PolicyDocument` → snapshot.

CONTRACT (stub: the foundation helper implements it; the signatures are fixed):

- `load_policy_text(text) -> dict`: YAML or JSON text → the raw mapping; `DocumentError` on a
  syntax error or a non-mapping top level (loc `document`).
- `parse_policy_document(raw) -> PolicyDocument`: validates the WHOLE document (DESIGN.md §2)
  and raises `DocumentError` listing every problem with a loc such as
  `rules[2].conditions[0].op` or `rules[high_priority_vip].emissions[1].subtask_type`.
- `PolicyDocument.rules` are snapshot-shaped rule dicts (see `app.domain.snapshot`), condition
  values TEXT-encoded with `encode_value`, rule ids `rule_id_for(version, rule_name)`.
- `PolicyDocument.to_snapshot(snapshot_id=0)` builds the `PKGSnapshotData` with its checksum.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Final

from app.domain.snapshot import PKGSnapshotData, Rule

ENVIRONMENTS: Final = ("prod", "staging", "dev")
RULE_ID_NAMESPACE: Final = uuid.UUID("6f1c3a2e-4b7d-5e8f-9a0b-1c2d3e4f5a6b")


def rule_id_for(version: str, rule_name: str) -> str:
    """Deterministic rule id, so a document and its stored snapshot agree on ids."""
    return str(uuid.uuid5(RULE_ID_NAMESPACE, f"{version}\x00{rule_name}"))


@dataclass(frozen=True)
class Fixture:
    name: str
    input: dict[str, Any]
    expect: dict[str, Any]


@dataclass(frozen=True)
class PolicyDocument:
    version: str
    env: str
    engine: str
    rules: list[Rule]
    subtask_types: dict[str, dict[str, Any]]
    fixtures: list[Fixture] = field(default_factory=list)
    wasm_artifact: bytes | None = None
    entrypoint: str | None = None
    notes: str | None = None

    @property
    def checksum(self) -> str:
        raise NotImplementedError

    def to_snapshot(self, *, snapshot_id: int = 0) -> PKGSnapshotData:
        raise NotImplementedError


def load_policy_text(text: str) -> dict[str, Any]:
    raise NotImplementedError


def parse_policy_document(raw: Any) -> PolicyDocument:
    raise NotImplementedError
