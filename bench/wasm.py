"""Microbenchmark: µs per evaluation of a small wasm policy, and the ratio to the native engine.

Run with `python -m bench.wasm`. The wasm policy is the test suite's ABI 1.2 module, entrypoint
`decision`: it looks for the tag "vip" in the input and answers one `escalate` subtask. The
native engine runs the equivalent one-rule snapshot. Each figure is the median of several rounds.

Second, a data-reading policy: examples/wasm/rbac's bundle with 1,000 role grants in its
`data.json` (users u0000..u0999 over 10 roles), against a native snapshot making the same
decision (one rule per role: `user IN [its 100 users]` and `action IN [its actions]`).

Third, `REAL_MODULES`: four modules that `opa build` compiled from Rego, published in public
repositories (ABI 1.0, 1.1 and 1.2; two of them read role grants from data, looked up in OPA's
value tree), each with the input and data its repository evaluates it on (the grants scaled
to 1,000 users). They are not part of this repository: clone each into `--opa-modules DIR`
as `DIR/<owner>+<name>` (the bench prints the commands when one is missing); each file is
checked against its git blob id before it is measured, and the JSON goes to `--json`.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import platform
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.adapters.opa_wasm import OpaWasm, WasmLimits, configure, fastcall, instance
from app.domain.bundle import BundleRequest, bundle_document
from app.domain.document import parse_policy_document
from app.domain.snapshot import PKGSnapshotData, native_checksum, normalise_rules
from bench.http import cpu_ticks
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


def export_call_us(engine: OpaWasm, *, rounds: int, calls: int) -> dict[str, float]:
    """One call of an export that does nothing (`opa_heap_ptr_get`), the fast path against
    `Func.__call__`: what every call into a module costs the host."""
    instance = engine._pool.acquire()  # bench only: one instance, used by nothing else now
    try:
        instance._store.set_epoch_deadline(10**9)  # calls outside an evaluation: no deadline
        func = instance._func["opa_heap_ptr_get"]
        fast, slow = fastcall.bind(instance._store, func), fastcall._slow(instance._store, func)
        assert fast() == slow()
        fast_us = per_call_us(fast, rounds=rounds, calls=calls * 10)
        slow_us = per_call_us(slow, rounds=rounds, calls=calls)
    finally:
        engine._pool.discard(instance)  # its deadline is not an evaluation's any more
    print(f"one export call: {fast_us:.2f} µs (Func.__call__: {slow_us:.2f} µs)")
    return {"fast_us": round(fast_us, 3), "func_call_us": round(slow_us, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--opa-modules", type=Path, default=ROOT / "bench" / "opa_modules")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "out" / "wasm.json")
    args = parser.parse_args()
    figures: dict[str, Any] = {"when": datetime.now(UTC).isoformat(timespec="seconds")}
    figures["machine"] = f"{platform.machine()}, {os.cpu_count()} CPUs"
    steal_before, total_before = cpu_ticks()

    wasm = OpaWasm.load_from_bytes(
        wat.kitchen_wasm(), entrypoint="decision", limits=WasmLimits(pool_size=1)
    )
    decision = wasm.evaluate(FACTS)
    assert decision["subtasks"][0]["type"] == "escalate", decision
    wasm_us = per_call_us(lambda: wasm.evaluate(FACTS), rounds=args.rounds, calls=args.calls)
    print(f"wasm   (OpaWasm, ABI 1.2 opa_eval): {wasm_us:8.1f} µs/eval")
    figures["one_rule_wasm_us"] = round(wasm_us, 2)
    public = public_api_engine()
    public_us = per_call_us(lambda: public.evaluate(FACTS), rounds=3, calls=args.calls // 4)
    print(f"wasm   (only wasmtime.Func.__call__):{public_us:7.1f} µs/eval")
    figures["export_call_us"] = export_call_us(wasm, rounds=args.rounds, calls=args.calls)

    native = native_engine()
    if native is None:
        print("native (NativeRuleEngine): not importable yet, no ratio")
        return
    assert native.evaluate(FACTS)["subtasks"][0]["type"] == "escalate"
    native_us = per_call_us(lambda: native.evaluate(FACTS), rounds=args.rounds, calls=args.calls)
    figures["one_rule_native_us"] = round(native_us, 2)
    print(f"native (NativeRuleEngine):          {native_us:8.1f} µs/eval")
    print(f"ratio wasm / native:                {wasm_us / native_us:8.1f}x")
    figures["data_policy"] = data_policy(rounds=args.rounds, calls=args.calls)
    figures["real_modules"] = real_modules(args.opa_modules, rounds=args.rounds, calls=args.calls)
    steal_after, total_after = cpu_ticks()
    steal, total = steal_after - steal_before, total_after - total_before
    figures["steal_pct"] = round(100 * steal / max(1, total), 2)  # CPU the hypervisor took
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"figures: {args.json}")


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


def data_policy(*, rounds: int, calls: int) -> dict[str, float]:
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
    return {"wasm_us": round(wasm_us, 2), "native_us": round(native_us, 2)}


# ------------------------------------------------------------------------------ real modules
USERS = [f"u{i:04d}" for i in range(GRANTS)]
ARTICLE_ROLES = [f"role{r}" for r in range(10)]


def _article_grants() -> dict[str, Any]:
    """opa-webassembly-ts's data (`user_roles`, `role_permissions`), for 1,000 users."""
    actions = ["read", "edit", "create"]
    return {
        "user_roles": {user: [ARTICLE_ROLES[i % 10]] for i, user in enumerate(USERS)},
        "role_permissions": {
            role: [{"action": a, "object": "article"} for a in actions[: 1 + k % 3]]
            for k, role in enumerate(ARTICLE_ROLES)
        },
    }


def _entrypoint_grants() -> dict[str, Any]:
    """opa-entrypoint-authorizer's permissions.json with 1,000 users, and one REST route."""
    roles = ["admin", "namecheck"]
    return {
        "permissions": {
            "user_roles": {user: [roles[i % 2]] for i, user in enumerate(USERS)},
            "role_permissions": {
                "namecheck": [{"resources": ["user"], "verbs": ["getname", "list"]}],
                "admin": [{"resources": ["user"]}],
            },
            "public_permissions": [{"resources": ["office"]}],
            "owner_permissions": [{"resources": ["user"]}],
        },
        "entrypointSetting": {
            "type": "REST",
            "restEntrypoints": [
                {"path": "/users", "method": "GET", "require": {"resource": "user", "verb": "list"}}
            ],
        },
        "policyInputMap": {},
    }


@dataclass(frozen=True)
class RealModule:
    """A module `opa build` wrote, at `path` in the public repository `repo` (its git blob id
    `blob`), and the decision it makes on `facts` with `data`: `result`."""

    repo: str
    path: str
    blob: str
    abi: str
    rego: str  # what it decides, in a few words
    facts: Mapping[str, Any]
    data: Callable[[], Any] = dict
    result: Any = True

    def file(self, root: Path) -> Path:
        return root / self.repo.replace("/", "+") / self.path


REAL_MODULES: list[RealModule] = [
    RealModule(
        "srenatus/opa-wasm-browser",
        "policy.wasm",
        "7837b15d01b21a0caadd34fbf657dd9a30cd0579",
        "1.2",
        'test.p: input.fragment == "moo"',
        {"fragment": "moo"},
    ),
    RealModule(
        "weihanchen/opa-webassembly-ts",
        "policy.wasm",
        "39e25196630f93db159fc7d2a140c12f66ee307b",
        "1.1",
        "example.allow: the user's roles' permissions (data) hold {action, object}",
        {"user": "u0999", "action": "read", "object": "article"},
        _article_grants,
    ),
    RealModule(
        "onelittlenightmusic/opa-entrypoint-authorizer",
        "policy.wasm",
        "3752ff4a600b6933972c9f16e7f4a4633ae241bf",
        "1.2",
        "authz.allow: RBAC over data.permissions for the REST route the input matches",
        {"who": "u0999", "path": "/users", "method": "GET"},
        _entrypoint_grants,
    ),
    RealModule(
        "mkraft/web-wasm-demo",
        "policy.wasm",
        "7fcc85c1087f1cd298ca05fd7568e09e77bb8810",
        "1.0",
        'channel-role permissions for a post (an early OPA\'s output: [{"x": ...}])',
        {
            "subject": {"type": "person", "attributes": {"channel_role": "admin"}},
            "operation": "write",
            "resource": {"type": "post", "attributes": {"channel_id": "foo"}},
        },
        lambda: {
            "post_restricted_channels": {
                "user": ["c3r1pae4hjrepx6qfghatmeekc"],
                "guest": [],
                "admin": [],
            }
        },
    ),
]


def git_blob_id(content: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(content) + content, usedforsecurity=False).hexdigest()


def real_modules(root: Path, *, rounds: int, calls: int) -> list[dict[str, Any]]:
    """µs per decision of each of `REAL_MODULES` found under `root`, through `OpaWasm.evaluate`
    (facts in, PKG decision out), through `evaluate_raw` (JSON in, JSON out: without PKG's
    conversions) and `evaluate_raw` of `{}` (the policy's shortest path: mostly the host)."""
    figures = []
    for module in REAL_MODULES:
        path = module.file(root)
        if not path.is_file():
            target = root / module.repo.replace("/", "+")
            print(f"{module.repo}: not under {root}; to measure it:")
            print(f"    git clone --depth 1 https://github.com/{module.repo} {target}")
            continue
        content = path.read_bytes()
        if git_blob_id(content) != module.blob:
            print(f"{module.repo}/{module.path}: not the module measured here (blob id differs)")
            continue
        figures.append(measure_module(module, content, rounds=rounds, calls=calls))
    return figures


def measure_module(
    module: RealModule, content: bytes, *, rounds: int, calls: int
) -> dict[str, Any]:
    engine = OpaWasm.load_from_bytes(content, data=module.data())
    decided = engine.evaluate(module.facts)
    assert decided["result"] == module.result, (module.repo, decided)
    payload = json.dumps(module.facts).encode()
    evaluate_us = per_call_us(lambda: engine.evaluate(module.facts), rounds=rounds, calls=calls)
    raw_us = per_call_us(lambda: engine.evaluate_raw(payload), rounds=rounds, calls=calls)
    empty_us = per_call_us(lambda: engine.evaluate_raw(b"{}"), rounds=rounds, calls=calls)
    print(f"{module.repo} (ABI {module.abi}, {len(content)} bytes): {module.rego}")
    print(
        f"    evaluate {evaluate_us:6.1f} µs/decision, evaluate_raw {raw_us:6.1f} µs, "
        f"on {{}} {empty_us:6.1f} µs"
    )
    return {
        "repo": module.repo,
        "path": module.path,
        "blob": module.blob,
        "abi": module.abi,
        "bytes": len(content),
        "evaluate_us": round(evaluate_us, 2),
        "evaluate_raw_us": round(raw_us, 2),
        "empty_input_us": round(empty_us, 2),
    }


if __name__ == "__main__":
    main()
