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

import rfc8785

CONDITION_TYPES: Final = ("TAG", "SIGNAL", "FACT", "VALUE")
OPERATORS: Final = ("=", "!=", ">=", "<=", ">", "<", "IN", "EXISTS", "MATCHES")
RELATIONSHIPS: Final = ("EMITS", "ORDERS", "GATE")
ENGINES: Final = ("native", "wasm")
DEFAULT_PRIORITY: Final = 100
DEFAULT_ENTRYPOINT: Final = "pkg/result"
# How a native checksum is computed. 1: `json.dumps(sort_keys=True)` (snapshots stored before
# RFC 8785; they keep verifying under it); 2: RFC 8785 canonical JSON (everything new).
CHECKSUM_SCHEME_LEGACY: Final = 1
CHECKSUM_SCHEME: Final = 2

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
    checksum_scheme: int = CHECKSUM_SCHEME
    signature: str | None = None  # base64 Ed25519 over `signing_payload(self)`
    signing_key_id: str | None = None

    def content_checksum(self) -> str:
        """The checksum the content has now, to compare with the stored `checksum`."""
        if self.engine == "wasm" or self.wasm_artifact is not None:
            return hashlib.sha256(self.wasm_artifact or b"").hexdigest()
        return native_checksum(self.rules, self.subtask_types, scheme=self.checksum_scheme)

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
    """RFC 8785 (JSON Canonicalization Scheme): the bytes checksums and signatures cover.

    Raises `rfc8785.CanonicalizationError` for what I-JSON cannot hold (integers beyond
    ±2^53, NaN, infinities); documents are refused for that when they are parsed."""
    return rfc8785.dumps(payload)


def legacy_canonical_json(payload: Any) -> bytes:
    """Checksum scheme 1: sorted keys, no spaces, UTF-8 (kept so old snapshots verify)."""
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


def native_checksum(
    rules: list[Rule],
    subtask_types: Mapping[str, Mapping[str, Any]],
    *,
    scheme: int = CHECKSUM_SCHEME,
) -> str:
    """sha256 hex of the canonical JSON of the rules (in document order) and subtask types."""
    payload = {
        "rules": [_canonical_rule(r) for r in rules],
        "subtask_types": {
            name: {"default_params": dict(spec.get("default_params") or {})}
            for name, spec in subtask_types.items()
        },
    }
    encode = legacy_canonical_json if scheme == CHECKSUM_SCHEME_LEGACY else canonical_json
    return hashlib.sha256(encode(payload)).hexdigest()


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
        "checksum_scheme": snapshot.checksum_scheme,
        "signature": snapshot.signature,
        "signing_key_id": snapshot.signing_key_id,
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
        # a cache file written before checksum schemes existed holds a scheme-1 checksum
        checksum_scheme=int(data.get("checksum_scheme") or CHECKSUM_SCHEME_LEGACY),
        signature=data.get("signature"),
        signing_key_id=data.get("signing_key_id"),
    )
