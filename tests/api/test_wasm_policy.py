"""An OPA WebAssembly policy through the HTTP API: create → validate → promote → /evaluate."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import httpx
import pytest

from app.adapters import opa_wasm
from tests.unit.wasm import wat


def wasm_document(version: str, *, entrypoint: str = "decision") -> dict[str, object]:
    module = wat.kitchen_wasm()
    return {
        "version": version,
        "env": "prod",
        "engine": "wasm",
        "wasm": {"artifact": base64.b64encode(module).decode(), "entrypoint": entrypoint},
        "fixtures": [
            {
                "name": "vip escalates",
                "input": {"tags": ["vip"]},
                "expect": {"subtasks": [{"name": "escalate", "params": {"level": "high"}}]},
            },
            {"name": "others do not", "input": {"tags": []}, "expect": {"subtasks": []}},
        ],
    }


async def test_a_wasm_policy_goes_through_the_whole_lifecycle(api: httpx.AsyncClient) -> None:
    document = wasm_document("kitchen@1.0.0")
    created = await api.post("/snapshots", json=document)
    assert created.status_code == 201, created.text
    assert created.json()["engine"] == "wasm"
    assert created.json()["checksum"] == hashlib.sha256(wat.kitchen_wasm()).hexdigest()

    run = await api.post("/validation/runs", json={"version": "kitchen@1.0.0"})
    assert run.status_code == 201 and run.json()["success"] is True, run.text
    promoted = await api.post("/promotions", json={"version": "kitchen@1.0.0"})
    assert promoted.status_code == 201, promoted.text

    decision = (await api.post("/evaluate", json={"tags": ["vip"]})).json()
    assert (decision["engine"], decision["snapshot"]) == ("wasm", "kitchen@1.0.0")
    assert decision["subtasks"] == wat.DECISION["subtasks"]
    assert (await api.post("/evaluate", json={"tags": []})).json()["subtasks"] == []
    stored = (await api.get("/snapshots/kitchen@1.0.0")).json()
    assert base64.b64decode(stored["document"]["wasm"]["artifact"]) == wat.kitchen_wasm()


async def test_a_non_pkg_result_is_returned_as_result(api: httpx.AsyncClient) -> None:
    await api.post("/snapshots", json=wasm_document("kitchen@2.0.0", entrypoint="const"))
    await api.post("/promotions", json={"version": "kitchen@2.0.0", "force": True})
    decision = (await api.post("/evaluate", json={})).json()
    assert (decision["subtasks"], decision["dag"]) == ([], [])
    assert decision["result"] is not None


async def test_a_wasm_policy_that_traps_answers_the_error_envelope(
    api: httpx.AsyncClient,
) -> None:
    await api.post("/snapshots", json=wasm_document("kitchen@3.0.0", entrypoint="abort"))
    await api.post("/promotions", json={"version": "kitchen@3.0.0", "force": True})
    response = await api.post("/evaluate", json={})
    assert response.status_code == 200
    assert response.json()["rules"][0]["rule_id"] == "error"
    assert response.json()["subtasks"] == []


async def test_a_wasm_document_with_an_unknown_entrypoint_is_refused(
    api: httpx.AsyncClient,
) -> None:
    response = await api.post(
        "/snapshots", json=wasm_document("kitchen@4.0.0", entrypoint="nope/nothing")
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert "nope/nothing" in response.text


async def test_without_wasmtime_wasm_policies_answer_the_fallback_and_health_says_so(
    app_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(opa_wasm, "WASM_RUNTIME_AVAILABLE", False)
    api = await app_factory()
    await api.post("/snapshots", json=wasm_document("kitchen@5.0.0"))
    await api.post("/promotions", json={"version": "kitchen@5.0.0", "force": True})
    decision = (await api.post("/evaluate", json={"tags": ["vip"]})).json()
    assert decision["subtasks"] == [] and decision["rules"][0]["rule_id"] == "wasm-fallback"
    health = (await api.get("/health")).json()
    assert health["wasm_runtime"] is False and health["status"] == "degraded"
    assert "wasm-fallback" in health["last_error"]
