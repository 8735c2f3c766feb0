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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, TypedDict

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


class Condition(TypedDict):
    condition_type: str  # TAG | SIGNAL | FACT | VALUE
    condition_key: str | None
    operator: str  # = != >= <= > < IN EXISTS MATCHES
    value: str | None  # TEXT as stored: json.dumps(value); None = no value
    position: int


class Emission(TypedDict):
    subtask_type: str
    name: str  # the subtask type's name when the document gave none
    relationship_type: str  # EMITS | ORDERS | GATE
    params: dict[str, Any]
    position: int


class Rule(TypedDict):
    """A snapshot rule, normalised once (`normalise_rules`): every default filled in, conditions
    and emissions in position order. It is a plain dict (the seed's `rules: List[Dict]`)."""

    id: str
    rule_name: str
    priority: int
    disabled: bool
    metadata: dict[str, Any]
    conditions: list[Condition]
    emissions: list[Emission]


def normalise_rules(rules: Any) -> list[Rule]:
    """Rules as any store or caller gives them → `Rule`s: sorted by position, emission name
    defaulting to the subtask type, rule id to the rule name. Readers rely on this and re-derive
    nothing. Idempotent."""
    normalised: list[Rule] = []
    for rule in rules or []:
        conditions = sorted(rule.get("conditions") or [], key=lambda c: c.get("position", 0))
        emissions = sorted(rule.get("emissions") or [], key=lambda e: e.get("position", 0))
        normalised.append(
            {
                "id": str(rule.get("id") or rule["rule_name"]),
                "rule_name": rule["rule_name"],
                "priority": rule.get("priority", DEFAULT_PRIORITY),
                "disabled": bool(rule.get("disabled", False)),
                "metadata": rule.get("metadata") or {},
                "conditions": [
                    {
                        "condition_type": c["condition_type"],
                        "condition_key": c.get("condition_key"),
                        "operator": c["operator"],
                        "value": c.get("value"),
                        "position": c.get("position", index),
                    }
                    for index, c in enumerate(conditions)
                ],
                "emissions": [
                    {
                        "subtask_type": e["subtask_type"],
                        "name": e.get("name") or e["subtask_type"],
                        "relationship_type": e.get("relationship_type", "EMITS"),
                        "params": e.get("params") or {},
                        "position": e.get("position", index),
                    }
                    for index, e in enumerate(emissions)
                ],
            }
        )
    return normalised


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
    # wasm only: the policy's data document (canonical JSON bytes), every entrypoint it offers
    # (`entrypoint` is the default), the OPA bundle's revision, strict builtin errors
    wasm_data: bytes | None = None
    entrypoints: tuple[str, ...] = ()
    revision: str | None = None
    strict_builtin_errors: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "rules", normalise_rules(self.rules))

    def content_checksum(self) -> str:
        """The checksum the content has now, to compare with the stored `checksum`."""
        return content_checksum(
            self.engine,
            self.wasm_artifact,
            self.rules,
            self.subtask_types,
            scheme=self.checksum_scheme,
            wasm_data=self.wasm_data,
        )

    @property
    def data_size(self) -> int:
        """Bytes of the wasm policy's data document (0 without data)."""
        return len(self.wasm_data or b"")

    def verify_checksum(self) -> str:
        """The content's checksum; `ChecksumMismatchError` when a stored checksum is given and
        does not match it. `checksum=None` (the seed's `Optional[str]`: a snapshot built by hand)
        means nothing to verify. Stored snapshots always carry one: the schema requires it."""
        from app.domain.errors import ChecksumMismatchError, EngineLoadError

        if self.engine == "wasm" and not self.wasm_artifact:
            raise EngineLoadError(f"snapshot {self.version} has no wasm artifact")
        actual = self.content_checksum()
        if self.checksum is not None and self.checksum != actual:
            raise ChecksumMismatchError(self.version, expected=self.checksum, actual=actual)
        return actual


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


def _canonical_rule(rule: Rule) -> dict[str, Any]:
    """What a rule *means*: ids and storage positions left out, values decoded, order kept."""
    return {
        "rule_name": rule["rule_name"],
        "priority": rule["priority"],
        "disabled": rule["disabled"],
        "metadata": rule["metadata"],
        "conditions": [
            {
                "condition_type": c["condition_type"],
                "condition_key": c["condition_key"],
                "operator": c["operator"],
                "value": decode_value(c["value"]),
            }
            for c in rule["conditions"]
        ],
        "emissions": [
            {k: e[k] for k in ("subtask_type", "name", "relationship_type", "params")}
            for e in rule["emissions"]
        ],
    }


def content_checksum(
    engine: str,
    wasm_artifact: bytes | None,
    rules: Iterable[Mapping[str, Any]],
    subtask_types: Mapping[str, Mapping[str, Any]],
    *,
    wasm_data: bytes | None = None,
    scheme: int = CHECKSUM_SCHEME,
) -> str:
    """THE checksum (DESIGN.md §2): for a wasm policy, sha256 hex of the module's bytes followed
    by its data document's canonical JSON (no data: the module's sha256 alone), else of the
    canonical JSON (RFC 8785; `scheme` 1 for snapshots stored before it) of the native rules and
    subtask types. Documents, stores and the evaluator all call this one function."""
    if engine == "wasm":
        digest = hashlib.sha256(wasm_artifact or b"")
        if wasm_data:
            digest.update(wasm_data)
        return digest.hexdigest()
    return native_checksum(rules, subtask_types, scheme=scheme)


def native_checksum(
    rules: Iterable[Mapping[str, Any]],
    subtask_types: Mapping[str, Mapping[str, Any]],
    *,
    scheme: int = CHECKSUM_SCHEME,
) -> str:
    """sha256 hex of the canonical JSON of the rules (in document order) and subtask types."""
    payload = {
        "rules": [_canonical_rule(r) for r in normalise_rules(rules)],
        "subtask_types": {
            name: {"default_params": dict(spec.get("default_params") or {})}
            for name, spec in subtask_types.items()
        },
    }
    encode = legacy_canonical_json if scheme == CHECKSUM_SCHEME_LEGACY else canonical_json
    return hashlib.sha256(encode(payload)).hexdigest()


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
        "checksum_scheme": snapshot.checksum_scheme,
        "signature": snapshot.signature,
        "signing_key_id": snapshot.signing_key_id,
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
        # a cache file written before checksum schemes existed holds a scheme-1 checksum
        checksum_scheme=int(data.get("checksum_scheme") or CHECKSUM_SCHEME_LEGACY),
        signature=data.get("signature"),
        signing_key_id=data.get("signing_key_id"),
        wasm_data=base64.b64decode(data["wasm_data"]) if data.get("wasm_data") else None,
        entrypoints=tuple(data.get("entrypoints") or ()),
        revision=data.get("revision"),
        strict_builtin_errors=bool(data.get("strict_builtin_errors", False)),
    )
