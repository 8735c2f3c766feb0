"""The snapshot model: one immutable, versioned policy as every engine and store sees it.

A snapshot's native rules travel as plain dicts (the seed's `rules: List[Dict]`), in this shape:

    {"id": str, "rule_name": str, "priority": int, "disabled": bool, "metadata": dict,
     "conditions": [{"condition_type": "TAG"|"SIGNAL"|"FACT"|"VALUE", "condition_key": str,
                     "operator": "="|"!="|">="|"<="|">"|"<"|"IN"|"EXISTS"|"MATCHES",
                     "value": str | None,   # TEXT, as stored: json.dumps(value) from the API
                     "position": int}],
     "emissions": [{"subtask_type": str, "name": str, "relationship_type": "EMITS"|"ORDERS"|"GATE",
                    "params": dict, "position": int}]}

`subtask_types` maps a subtask type's name to `{"default_params": dict}`.
Condition values are TEXT (as in `pkg_rule_conditions.value`); engines decode them with
`decode_value` when they compile a snapshot.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

CONDITION_TYPES: Final = ("TAG", "SIGNAL", "FACT", "VALUE")
OPERATORS: Final = ("=", "!=", ">=", "<=", ">", "<", "IN", "EXISTS", "MATCHES")
RELATIONSHIPS: Final = ("EMITS", "ORDERS", "GATE")
ENGINES: Final = ("native", "wasm")
DEFAULT_PRIORITY: Final = 100
DEFAULT_ENTRYPOINT: Final = "pkg/result"

Rule = dict[str, Any]


@dataclass(frozen=True)
class PKGSnapshotData:
    """One policy snapshot. Frozen: an evaluator built from it can never see it change."""

    id: int
    version: str
    engine: str
    wasm_artifact: bytes | None
    checksum: str | None
    rules: list[Rule]
    env: str = "prod"
    entrypoint: str | None = None
    subtask_types: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    notes: str | None = None
    # wasm only: the policy's data document (canonical JSON bytes), every entrypoint it offers
    # (`entrypoint` is the default), the OPA bundle's revision, strict builtin errors
    wasm_data: bytes | None = None
    entrypoints: tuple[str, ...] = ()
    revision: str | None = None
    strict_builtin_errors: bool = False

    def content_checksum(self) -> str:
        """The checksum the content has now, to compare with the stored `checksum`."""
        return content_checksum(
            engine=self.engine,
            wasm_artifact=self.wasm_artifact,
            wasm_data=self.wasm_data,
            rules=self.rules,
            subtask_types=self.subtask_types,
        )

    @property
    def data_size(self) -> int:
        """Bytes of the wasm policy's data document (0 without data)."""
        return len(self.wasm_data or b"")

    def verify_checksum(self) -> None:
        """Raise `ChecksumMismatchError` unless the stored checksum matches the content."""
        from app.domain.errors import ChecksumMismatchError

        actual = self.content_checksum()
        if self.checksum != actual:
            raise ChecksumMismatchError(self.version, expected=self.checksum, actual=actual)


def decode_value(raw: Any) -> Any:
    """TEXT as stored → the value it means: JSON when it parses (`"0.5"` → 0.5), else the string."""
    if not isinstance(raw, str):
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def encode_value(value: Any) -> str | None:
    """A document value → the TEXT stored for it (None stays NULL: "no value given")."""
    return None if value is None else json.dumps(value, sort_keys=True, separators=(",", ":"))


def canonical_json(payload: Any) -> bytes:
    """Sorted keys, no spaces, UTF-8: the bytes a checksum is taken over."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _canonical_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    """What a rule *means*: ids and storage positions left out, values decoded, order kept."""
    conditions = sorted(rule.get("conditions") or [], key=lambda c: c.get("position", 0))
    emissions = sorted(rule.get("emissions") or [], key=lambda e: e.get("position", 0))
    return {
        "rule_name": rule["rule_name"],
        "priority": rule.get("priority", DEFAULT_PRIORITY),
        "disabled": bool(rule.get("disabled", False)),
        "metadata": rule.get("metadata") or {},
        "conditions": [
            {
                "condition_type": c["condition_type"],
                "condition_key": c.get("condition_key"),
                "operator": c["operator"],
                "value": decode_value(c.get("value")),
            }
            for c in conditions
        ],
        "emissions": [
            {
                "subtask_type": e["subtask_type"],
                "name": e.get("name") or e["subtask_type"],
                "relationship_type": e.get("relationship_type", "EMITS"),
                "params": e.get("params") or {},
            }
            for e in emissions
        ],
    }


def native_checksum(rules: list[Rule], subtask_types: Mapping[str, Mapping[str, Any]]) -> str:
    """sha256 hex of the canonical JSON of the rules (in document order) and subtask types."""
    payload = {
        "rules": [_canonical_rule(r) for r in rules],
        "subtask_types": {
            name: {"default_params": dict(spec.get("default_params") or {})}
            for name, spec in subtask_types.items()
        },
    }
    return hashlib.sha256(canonical_json(payload)).hexdigest()


def content_checksum(
    *,
    engine: str,
    wasm_artifact: bytes | None,
    wasm_data: bytes | None,
    rules: list[Rule],
    subtask_types: Mapping[str, Mapping[str, Any]],
) -> str:
    """THE checksum of a snapshot's content (documents and stored snapshots both use this).

    wasm: sha256 hex of the module's bytes followed by its data's canonical JSON (no data → the
    module's bytes alone, so a bare module's checksum is its sha256). native: `native_checksum`.
    """
    if engine == "wasm" or wasm_artifact is not None:
        digest = hashlib.sha256(wasm_artifact or b"")
        if wasm_data:
            digest.update(wasm_data)
        return digest.hexdigest()
    return native_checksum(rules, subtask_types)


def encode_data(data: Any) -> bytes | None:
    """A wasm policy's data document → the bytes stored and checksummed (None when empty)."""
    return canonical_json(data) if data else None


def snapshot_to_dict(snapshot: PKGSnapshotData) -> dict[str, Any]:
    """A JSON-ready dict of everything a snapshot holds (the last-known-good cache format)."""
    return {
        "id": snapshot.id,
        "version": snapshot.version,
        "engine": snapshot.engine,
        "wasm_artifact": (
            base64.b64encode(snapshot.wasm_artifact).decode("ascii")
            if snapshot.wasm_artifact is not None
            else None
        ),
        "checksum": snapshot.checksum,
        "rules": snapshot.rules,
        "env": snapshot.env,
        "entrypoint": snapshot.entrypoint,
        "subtask_types": {name: dict(spec) for name, spec in snapshot.subtask_types.items()},
        "notes": snapshot.notes,
        "wasm_data": (
            base64.b64encode(snapshot.wasm_data).decode("ascii") if snapshot.wasm_data else None
        ),
        "entrypoints": list(snapshot.entrypoints),
        "revision": snapshot.revision,
        "strict_builtin_errors": snapshot.strict_builtin_errors,
    }


def snapshot_from_dict(data: Mapping[str, Any]) -> PKGSnapshotData:
    """The inverse of `snapshot_to_dict`; the caller verifies the checksum."""
    artifact = data.get("wasm_artifact")
    return PKGSnapshotData(
        id=int(data["id"]),
        version=str(data["version"]),
        engine=str(data["engine"]),
        wasm_artifact=base64.b64decode(artifact) if artifact is not None else None,
        checksum=data.get("checksum"),
        rules=list(data.get("rules") or []),
        env=str(data.get("env") or "prod"),
        entrypoint=data.get("entrypoint"),
        subtask_types=dict(data.get("subtask_types") or {}),
        notes=data.get("notes"),
        wasm_data=base64.b64decode(data["wasm_data"]) if data.get("wasm_data") else None,
        entrypoints=tuple(data.get("entrypoints") or ()),
        revision=data.get("revision"),
        strict_builtin_errors=bool(data.get("strict_builtin_errors", False)),
    )
