"""A real `pkgctl serve` per test module for the client's tests, with the demo policy active,
an admin and an evaluator token, the decision log on and the shadow and guard loops quick."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
import yaml

from bench.server import ROOT, ServerProcess

EXAMPLES = ROOT / "examples"
ADMIN = "client-admin-token"
READER = "client-reader-token"
VIP_ALLERGY = {"tags": ["vip", "allergy_nuts"], "signals": {"urgency": 0.9}}

T = TypeVar("T")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess.embedded(
        tmp_path_factory.mktemp("client"),
        PKG_SEED_FILE=str(EXAMPLES / "hotel_ops.yaml"),
        PKG_ADMIN_TOKENS=ADMIN,
        PKG_EVALUATOR_TOKENS=READER,
        PKG_DECISION_LOG="database",
        PKG_SHADOW_FLUSH_INTERVAL_S="0.05",
        PKG_GUARD_INTERVAL_S="0.05",
    )
    process.start()
    yield process
    process.stop()


def document(version: str) -> dict[str, Any]:
    """The demo's v2 policy (hotel_ops_v2.yaml: VIP allergies also notify the duty manager),
    under another version."""
    raw: dict[str, Any] = yaml.safe_load((EXAMPLES / "hotel_ops_v2.yaml").read_text())
    return {**raw, "version": version}


def until(read: Callable[[], T], done: Callable[[T], bool], *, within: float = 20.0) -> T:
    """`read()` again until `done` says its answer is the awaited one (the server's loops
    flush and decide periodically); fail after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        value = read()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"still {value!r} after {within}s")
        time.sleep(0.05)
