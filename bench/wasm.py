"""Microbenchmark: µs per evaluation of a small wasm policy, and the ratio to the native engine.

Run with `python -m bench.wasm`. The wasm policy is the test suite's ABI 1.2 module, entrypoint
`decision`: it looks for the tag "vip" in the input and answers one `escalate` subtask. The
native engine runs the equivalent one-rule snapshot. Each figure is the median of several rounds.

Second, a data-reading policy: examples/wasm/rbac's bundle with 1,000 role grants in its
`data.json` (users u0000..u0999 over 10 roles), against a native snapshot making the same
decision (one rule per role: `user IN [its 100 users]` and `action IN [its actions]`).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import time
from collections.abc import Callable, Mapping
from typing import Any

from app.adapters.opa_wasm import OpaWasm, WasmLimits, configure, fastcall, instance
from app.domain.bundle import BundleRequest, bundle_document
from app.domain.document import parse_policy_document
from app.domain.snapshot import PKGSnapshotData, native_checksum, normalise_rules
from bench.server import ROOT
from tests.unit.wasm import wat

FACTS: Mapping[str, Any] = {
    "tags": ["vip", "priority"],
    "signals": {"risk": 0.4, "latency_ms": 120},
    "context": {"domain": "retail", "region": "eu"},
}
RULES: list[dict[str, Any]] = [
    {
        "id": "r-vip",
        "rule_name": "vip_escalation",
        "priority": 100,
        "disabled": False,
        "metadata": {},
        "conditions": [
            {
                "condition_type": "TAG",
                "condition_key": "vip",
                "operator": "EXISTS",
                "value": None,
                "position": 0,
            }
        ],
        "emissions": [
            {
                "subtask_type": "escalate",
                "name": "escalate",
                "relationship_type": "EMITS",
                "params": {},
                "position": 0,
            }
        ],
    }
]
SUBTASK_TYPES = {"escalate": {"default_params": {"level": "high"}}}


def per_call_us(evaluate: Callable[[], object], *, rounds: int, calls: int) -> float:
    """Median over `rounds` of the mean µs per call across `calls` calls."""
    evaluate()  # warm up
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(calls):
            evaluate()
        samples.append((time.perf_counter() - started) / calls * 1e6)
    return statistics.median(samples)


def native_engine() -> Any | None:
    """The native engine on the equivalent snapshot, or None while it is not importable."""
    try:
        from app.domain.native import NativeRuleEngine
    except ImportError:
        return None
    snapshot = PKGSnapshotData(
        id=1,
        version="bench@1",
        engine="native",
        wasm_artifact=None,
        checksum=native_checksum(RULES, SUBTASK_TYPES),
        rules=normalise_rules(RULES),
        subtask_types=SUBTASK_TYPES,
    )
    return NativeRuleEngine(snapshot)


def public_api_engine() -> OpaWasm:
    """The same policy with every export called through `wasmtime.Func.__call__` (no direct
    `wasmtime_func_call`), to show what the fast path in `fastcall.py` buys."""
    original = getattr(instance, "bind")  # noqa: B009  # bench only: force the slow path
    setattr(instance, "bind", fastcall._slow)  # noqa: B010
    try:  # the pool's first instance is built at load, with slow calls
        return OpaWasm.load_from_bytes(
            wat.kitchen_wasm(), entrypoint="decision", limits=WasmLimits(pool_size=1)
        )
    finally:
        setattr(instance, "bind", original)  # noqa: B010


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()

    wasm = OpaWasm.load_from_bytes(
        wat.kitchen_wasm(), entrypoint="decision", limits=WasmLimits(pool_size=1)
    )
    decision = wasm.evaluate(FACTS)
    assert decision["subtasks"][0]["type"] == "escalate", decision
    wasm_us = per_call_us(lambda: wasm.evaluate(FACTS), rounds=args.rounds, calls=args.calls)
    print(f"wasm   (OpaWasm, ABI 1.2 opa_eval): {wasm_us:8.1f} µs/eval")
    public = public_api_engine()
    public_us = per_call_us(lambda: public.evaluate(FACTS), rounds=3, calls=args.calls // 4)
    print(f"wasm   (only wasmtime.Func.__call__):{public_us:7.1f} µs/eval")

    native = native_engine()
    if native is None:
        print("native (NativeRuleEngine): not importable yet, no ratio")
        return
    assert native.evaluate(FACTS)["subtasks"][0]["type"] == "escalate"
    native_us = per_call_us(lambda: native.evaluate(FACTS), rounds=args.rounds, calls=args.calls)
    print(f"native (NativeRuleEngine):          {native_us:8.1f} µs/eval")
    print(f"ratio wasm / native:                {wasm_us / native_us:8.1f}x")
    data_policy(rounds=args.rounds, calls=args.calls)


GRANTS = 1000
ROLES = {f"role{r}": ["read", "write", "delete"][: 1 + r % 3] for r in range(10)}
RBAC_FACTS: Mapping[str, Any] = {"user": "u0999", "action": "read"}


def _rbac_bundle() -> bytes:
    path = ROOT / "examples/wasm/rbac/build.py"
    spec = importlib.util.spec_from_file_location("rbac_build", path)
    assert spec is not None and spec.loader is not None
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    roles = {f"u{i:04d}": f"role{i % 10}" for i in range(GRANTS)}
    data = json.dumps({"roles": roles, "grants": ROLES}).encode()
    bundle: bytes = build.build_bundle(data={"app/rbac/data.json": data})
    return bundle


def _rbac_native() -> Any:
    from app.domain.native import NativeRuleEngine

    document = parse_policy_document(
        {
            "version": "rbac-native@1",
            "subtask_types": {"grant_access": {}},
            "rules": [
                {
                    "name": f"rbac_{role}",
                    "conditions": [
                        {"type": "FACT", "key": "user", "op": "IN",
                         "value": [f"u{i:04d}" for i in range(GRANTS) if i % 10 == r]},
                        {"type": "FACT", "key": "action", "op": "IN", "value": actions},
                    ],
                    "emissions": [{"subtask_type": "grant_access", "params": {"role": role}}],
                }
                for r, (role, actions) in enumerate(ROLES.items())
            ],
        }
    )  # fmt: skip  # each condition reads best on its own line
    return NativeRuleEngine(document.to_snapshot())


def data_policy(*, rounds: int, calls: int) -> None:
    raw = bundle_document(_rbac_bundle(), BundleRequest(version="rbac-bench@1"))
    snapshot = parse_policy_document(raw).to_snapshot()
    # a loaded machine can stall one evaluation past the default 100 ms deadline: not the point
    configure(WasmLimits(eval_timeout_ms=10_000, pool_size=1))
    wasm = OpaWasm.from_snapshot(snapshot)
    native = _rbac_native()
    decided = [
        [(s["name"], s["params"]) for s in engine.evaluate(RBAC_FACTS)["subtasks"]]
        for engine in (wasm, native)
    ]
    assert decided[0] == decided[1] == [("grant_access", {"role": "role9"})], decided
    print(f"data policy: {GRANTS} grants, {snapshot.data_size} bytes of data.json")
    wasm_us = per_call_us(lambda: wasm.evaluate(RBAC_FACTS), rounds=rounds, calls=calls)
    print(f"wasm   (rbac bundle, reads data):   {wasm_us:8.1f} µs/eval")
    native_us = per_call_us(lambda: native.evaluate(RBAC_FACTS), rounds=rounds, calls=calls)
    print(f"native (10 rules, IN 100 users):    {native_us:8.1f} µs/eval")
    print(f"ratio wasm / native (data policy):  {wasm_us / native_us:8.1f}x")


if __name__ == "__main__":
    main()
