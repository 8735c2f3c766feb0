"""`OpaWasm`: a `PolicyEngine` that evaluates an OPA policy compiled to WebAssembly."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, Final

import orjson

from app.adapters.opa_wasm.errors import WasmEvaluationError
from app.adapters.opa_wasm.instance import PolicyLayout, WasmInstance
from app.adapters.opa_wasm.limits import WasmLimits, current_limits
from app.adapters.opa_wasm.pool import InstancePool
from app.adapters.opa_wasm.registry import resolve_builtins
from app.adapters.opa_wasm.runtime import runtime
from app.domain.errors import EngineLoadError, FactsError
from app.domain.snapshot import DEFAULT_ENTRYPOINT, PKGSnapshotData

_OUTPUT_KEYS: Final = ("subtasks", "dag", "rules")
_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_loads = json.JSONDecoder().decode  # not orjson: it reads integers beyond 64 bits as floats


def _encode(value: Any) -> bytes:
    """JSON bytes of `value`: orjson (a microsecond less per decision), or the standard
    library for what orjson refuses (integers beyond 64 bits, keys that are not strings)."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return _dumps(value).encode()


def _resolve_entrypoint(declared: dict[str, int], wanted: str | None) -> int:
    candidates = [wanted, wanted.replace(".", "/")] if wanted else [DEFAULT_ENTRYPOINT]
    for name in candidates:
        if name in declared:
            return declared[name]
    if wanted is None and len(declared) == 1:
        return next(iter(declared.values()))
    if wanted is None and not declared:
        return 0  # a module without entrypoints() evaluates its only (default) entrypoint
    known = ", ".join(sorted(declared)) or "none"
    raise EngineLoadError(
        f"wasm module has no entrypoint {wanted or DEFAULT_ENTRYPOINT!r} (declared: {known})"
    )


def _layout(
    instance: WasmInstance,
    entrypoint: str | None,
    *,
    declared: dict[str, int],
    strict_builtin_errors: bool,
) -> PolicyLayout:
    abi = instance.abi_version()
    if abi[0] != 1:
        raise EngineLoadError(f"unsupported OPA wasm ABI {abi[0]}.{abi[1]} (need 1.x)")
    try:
        builtins = resolve_builtins(instance.declared("builtins"))
    except LookupError as exc:
        raise EngineLoadError(
            f"wasm policy needs builtins that are neither PKG's nor registered: {exc}"
        ) from exc
    return PolicyLayout(
        abi=abi,
        entrypoint_id=_resolve_entrypoint(declared, entrypoint),
        builtins=builtins,
        strict_builtin_errors=strict_builtin_errors,
    )


def _check_entrypoints(declared: dict[str, int], wanted: tuple[str, ...]) -> None:
    missing = [name for name in wanted if name not in declared]
    if missing:
        known = ", ".join(sorted(declared)) or "none"
        raise EngineLoadError(
            f"the bundle names entrypoints the wasm module lacks: {', '.join(missing)} "
            f"(module declares: {known})"
        )


def to_output(result_set: Any) -> dict[str, Any]:
    """An OPA result set → `{"subtasks", "dag", "rules"}`, plus `"result"` when the value is not
    a PKG decision object (a PKG object is the decision itself: no duplicate of it in `result`)."""
    if not isinstance(result_set, list):
        raise WasmEvaluationError("wasm policy returned a result set that is not an array")
    first = result_set[0] if result_set else None
    value = _bound_value(first)
    if isinstance(value, dict) and any(key in value for key in _OUTPUT_KEYS):
        output: dict[str, Any] = {}
        for key in _OUTPUT_KEYS:
            part = value.get(key)
            if part is not None and not isinstance(part, list):
                raise WasmEvaluationError(f"wasm policy result {key!r} is not an array")
            output[key] = part or []
        return output
    return {"subtasks": [], "dag": [], "rules": [], "result": value}


def _bound_value(binding: Any) -> Any:
    """The value of a result set's first binding: `result`, as `opa build` names it, or the one
    variable an older module's query binds (`[{"x": true}]` from an ABI 1.0 module)."""
    if not isinstance(binding, dict):
        return None
    if "result" in binding or len(binding) != 1:
        return binding.get("result")
    return next(iter(binding.values()))


class OpaWasm:
    """An OPA wasm policy: one shared compiled module, a bounded pool of instances."""

    def __init__(
        self,
        pool: InstancePool[WasmInstance],
        *,
        checksum: str,
        limits: WasmLimits,
        entrypoints: dict[str, int] | None = None,
    ):
        self._pool = pool
        self.checksum = checksum
        self.limits = limits
        self.entrypoints: dict[str, int] = dict(entrypoints or {})

    @classmethod
    def load_from_bytes(
        cls,
        wasm_bytes: bytes,
        *,
        checksum: str | None = None,
        entrypoint: str | None = None,
        data: Any = None,
        limits: WasmLimits | None = None,
        entrypoints: tuple[str, ...] = (),
        strict_builtin_errors: bool = False,
    ) -> OpaWasm:
        """Compile (or reuse) the module, check its ABI, builtins and entrypoints, load data.

        `checksum`, when given, must be the artifact's sha256 hex (optionally `sha256:`-prefixed).
        `data` is the data document, or its JSON bytes. Every name in `entrypoints` (an OPA
        bundle's) must be one the module declares.
        """
        digest = hashlib.sha256(wasm_bytes).hexdigest()
        # the compiled-module cache is keyed by this digest: a wrong checksum must not alias
        if checksum is not None and checksum.removeprefix("sha256:") != digest:
            raise EngineLoadError(
                f"wasm artifact sha256 {digest} does not match checksum {checksum!r}"
            )
        return cls._load(
            wasm_bytes,
            digest,
            entrypoint=entrypoint,
            data=data,
            limits=limits,
            entrypoints=entrypoints,
            strict_builtin_errors=strict_builtin_errors,
        )

    @classmethod
    def _load(
        cls,
        wasm_bytes: bytes,
        digest: str,
        *,
        entrypoint: str | None,
        data: Any = None,
        limits: WasmLimits | None = None,
        entrypoints: tuple[str, ...] = (),
        strict_builtin_errors: bool = False,
    ) -> OpaWasm:
        """Load bytes whose `digest` (their sha256 hex, or the snapshot's verified checksum over
        module and data) is already known (no second hash); it keys the compiled module."""
        limits = limits or current_limits()
        host = runtime()
        module = host.module(digest, wasm_bytes)
        data_json = data if isinstance(data, bytes) else _encode({} if data is None else data)
        first = WasmInstance(host.engine, module, limits=limits)
        declared = first.declared("entrypoints")
        _check_entrypoints(declared, entrypoints)
        layout = _layout(
            first, entrypoint, declared=declared, strict_builtin_errors=strict_builtin_errors
        )
        first.prepare(layout, data_json)

        def build() -> WasmInstance:
            instance = WasmInstance(host.engine, module, limits=limits)
            instance.prepare(layout, data_json)
            return instance

        wait = max(1.0, limits.eval_timeout_ms * 10 / 1000)
        pool = InstancePool(build, size=limits.pool_size, wait_seconds=wait)
        pool.seed(first)
        return cls(pool, checksum=digest, limits=limits, entrypoints=declared)

    @classmethod
    def from_snapshot(cls, snapshot: PKGSnapshotData) -> OpaWasm:
        """The engine for a `wasm` snapshot that `PKGEvaluator` has verified (its checksum
        covers the module, so the compiled-module cache reuses it: one hash per load)."""
        artifact = snapshot.wasm_artifact
        if not artifact:
            raise EngineLoadError(f"snapshot {snapshot.version} has no wasm artifact")
        if snapshot.checksum is None:
            raise EngineLoadError(f"snapshot {snapshot.version} has no checksum")
        # PKGEvaluator verified the checksum (module and data): it keys the compiled module
        return cls._load(
            artifact,
            snapshot.checksum,
            entrypoint=snapshot.entrypoint or DEFAULT_ENTRYPOINT,
            data=snapshot.wasm_data,
            entrypoints=snapshot.entrypoints,
            strict_builtin_errors=snapshot.strict_builtin_errors,
        )

    @property
    def instances_created(self) -> int:
        """Instances built since load, beyond the first (each trap costs one rebuild)."""
        return self._pool.created

    def evaluate(
        self, task_facts: Mapping[str, Any], *, entrypoint: str | None = None
    ) -> dict[str, Any]:
        """Evaluate the default entrypoint, or `entrypoint` (any the module declares)."""
        entrypoint_id = None if entrypoint is None else self.entrypoint_id(entrypoint)
        try:
            payload = _encode(task_facts if isinstance(task_facts, dict) else dict(task_facts))
        except (TypeError, ValueError) as exc:
            raise WasmEvaluationError(f"task facts are not JSON: {exc}") from exc
        raw = self.evaluate_raw(payload, entrypoint_id)
        try:
            result_set = _loads(raw.decode())
        except ValueError as exc:
            raise WasmEvaluationError(f"wasm policy returned invalid JSON: {exc}") from exc
        return to_output(result_set)

    def evaluate_entrypoint(self, task_facts: Mapping[str, Any], entrypoint: str) -> dict[str, Any]:
        return self.evaluate(task_facts, entrypoint=entrypoint)

    def entrypoint_id(self, name: str) -> int:
        """The module's id for entrypoint `name` (`a/b` or `a.b`); `FactsError` if unknown."""
        for candidate in (name, name.replace(".", "/")):
            if candidate in self.entrypoints:
                return self.entrypoints[candidate]
        known = ", ".join(sorted(self.entrypoints)) or "only the default"
        raise FactsError("entrypoint", f"the policy has no entrypoint {name!r} (has: {known})")

    def evaluate_raw(self, payload: bytes, entrypoint_id: int | None = None) -> bytes:
        """JSON input bytes → the JSON result set's bytes, on a pooled instance."""
        instance = self._pool.acquire()
        try:
            raw = instance.evaluate(payload, entrypoint_id)
        except BaseException:
            self._pool.discard(instance)
            raise
        self._pool.release(instance)
        return raw
