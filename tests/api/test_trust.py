"""Trust over HTTP: named callers in the audit trail, signed snapshots, PKG bundles, and the
audit chain's verify route (on SQLite and PostgreSQL)."""

from __future__ import annotations

import base64
import copy
import gzip
import io
import json
import tarfile
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.domain.document import parse_policy_document
from app.services.signing import Signer, generate_key_pair
from tests.api.conftest import ADMIN, example, push_and_promote
from tests.api.test_wasm_policy import wasm_document
from tests.unit.wasm import wat

pytestmark = pytest.mark.integration
GZIP = {"Content-Type": "application/gzip"}


def _key(tmp_path: Path, name: str) -> tuple[Signer, str]:
    private_pem, public_pem, _key_id = generate_key_pair()
    (tmp_path / f"{name}.pem").write_bytes(private_pem)
    (tmp_path / f"{name}.pub.pem").write_bytes(public_pem)
    return Signer.from_file(tmp_path / f"{name}.pem"), str(tmp_path / f"{name}.pub.pem")


def _document(version: str) -> dict[str, Any]:
    document = copy.deepcopy(example("hotel_ops.yaml"))
    document["version"] = version
    return document


def _signature(signer: Signer, document: dict[str, Any]) -> dict[str, str]:
    key_id, value = signer.sign_snapshot(parse_policy_document(document).to_snapshot())
    return {"PKG-Signature": f"{key_id}:{value}"}


async def _versions(api: httpx.AsyncClient) -> list[str]:
    return [s["version"] for s in (await api.get("/snapshots")).json()]


# ---------------------------------------------------------------------------- named callers
async def test_the_audit_actor_is_the_tokens_name_whatever_the_body_says(
    app_factory: Any,
) -> None:
    api = await app_factory(admin_tokens=[f"alice:{ADMIN}"])
    document = _document("trust@1")
    assert (await api.post("/snapshots", json=document)).status_code == 201
    promoted = await api.post(
        "/promotions", json={"version": "trust@1", "force": True, "actor": "mallory"}
    )
    assert promoted.status_code == 201, promoted.text
    assert promoted.json()["actor"] == "alice"
    assert promoted.json()["on_behalf_of"] == "mallory"
    rolled = await api.post("/promotions/rollback", json={"to_version": "trust@1"})
    assert rolled.status_code == 409  # already active; nothing written
    (row,) = (await api.get("/promotions")).json()
    assert (row["actor"], row["on_behalf_of"]) == ("alice", "mallory")


async def test_a_bare_token_is_named_admin_1(api: httpx.AsyncClient) -> None:
    await api.post("/snapshots", json=_document("trust@1"))
    promoted = await api.post("/promotions", json={"version": "trust@1", "force": True})
    assert promoted.json()["actor"] == "admin-1"
    assert promoted.json()["on_behalf_of"] is None


# ---------------------------------------------------------------------------- signatures
async def test_with_verify_keys_only_correctly_signed_documents_are_stored(
    app_factory: Any, tmp_path: Path
) -> None:
    signer, public = _key(tmp_path, "ci")
    stranger, _ = _key(tmp_path, "stranger")
    api = await app_factory(verify_keys=[public])
    document = _document("signed@1")

    missing = await api.post("/snapshots", json=document)
    unknown = await api.post("/snapshots", json=document, headers=_signature(stranger, document))
    other = _signature(signer, _document("signed@2"))  # a real signature, of another version
    wrong = await api.post("/snapshots", json=document, headers=other)
    garbled = await api.post("/snapshots", json=document, headers={"PKG-Signature": "nonsense"})

    for response, words in (
        (missing, "signature missing"),
        (unknown, f"unknown key id {stranger.key_id}"),
        (wrong, "does not verify"),
        (garbled, "PKG-Signature header"),
    ):
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert words in response.json()["detail"]
    assert await _versions(api) == []

    created = await api.post("/snapshots", json=document, headers=_signature(signer, document))
    assert created.status_code == 201, created.text
    run = await api.post("/validation/runs", json={"version": "signed@1"})
    assert run.json()["success"]
    assert (await api.post("/promotions", json={"version": "signed@1"})).status_code == 201
    assert (await api.post("/evaluate", json={})).json()["snapshot"] == "signed@1"
    health = (await api.get("/health")).json()
    assert health["signature_verification"] is True and health["status"] == "ok"


async def test_the_service_key_signs_what_is_pushed_unsigned(
    app_factory: Any, tmp_path: Path
) -> None:
    signer, public = _key(tmp_path, "service")
    api = await app_factory(signing_key=tmp_path / "service.pem", verify_keys=[public])
    await push_and_promote(api, _document("served@1"))
    snapshot = (await api.get("/snapshots/served@1")).json()
    assert (await api.get("/snapshots")).json()[0]["version"] == "served@1"
    assert (await api.post("/evaluate", json={})).json()["snapshot"] == "served@1"
    rows = (await api.get("/promotions")).json()
    assert rows[0]["signing_key_id"] == signer.key_id
    assert snapshot["checksum"]


# ---------------------------------------------------------------------------- bundles
async def test_export_then_import_round_trips_byte_identically(
    app_factory: Any, tmp_path: Path
) -> None:
    signer, public = _key(tmp_path, "ci")
    source = await app_factory(verify_keys=[public])
    document = _document("bundle@1")
    created = await source.post("/snapshots", json=document, headers=_signature(signer, document))
    assert created.status_code == 201
    exported = await source.get("/snapshots/bundle@1/bundle")
    assert exported.status_code == 200 and exported.headers["content-type"] == "application/gzip"

    production = await app_factory(
        verify_keys=[public],
        database_url=f"sqlite+aiosqlite:///{tmp_path}/production.db",
        snapshot_cache_dir=tmp_path / "production-cache",
    )
    imported = await production.post("/snapshots", content=exported.content, headers=GZIP)
    assert imported.status_code == 201, imported.text
    assert imported.json()["checksum"] == created.json()["checksum"]

    again = await production.get("/snapshots/bundle@1/bundle")
    assert again.content == exported.content
    with tarfile.open(fileobj=io.BytesIO(again.content), mode="r:gz") as tar:
        manifest = json.load(tar.extractfile("pkg-bundle.json"))  # type: ignore[arg-type]
    assert manifest["signature"]["key_id"] == signer.key_id
    assert (await production.post("/validation/runs", json={"version": "bundle@1"})).json()[
        "success"
    ]


def _rewrite(bundle: bytes, name: str, change: Any) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(bundle), mode="r:gz") as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar}  # type: ignore[union-attr]
    members[name] = change(members[name])
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for member, data in members.items():
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue())


async def test_bad_bundles_are_422_naming_what_failed_and_store_nothing(
    app_factory: Any, tmp_path: Path
) -> None:
    signer, public = _key(tmp_path, "ci")
    source = await app_factory(signing_key=tmp_path / "ci.pem")
    await source.post("/snapshots", json=_document("bundle@1"))
    bundle = (await source.get("/snapshots/bundle@1/bundle")).content
    target = await app_factory(
        verify_keys=[public],
        database_url=f"sqlite+aiosqlite:///{tmp_path}/target.db",
        snapshot_cache_dir=tmp_path / "target-cache",
    )

    def manifest(**changes: Any) -> Any:
        return lambda raw: json.dumps({**json.loads(raw), **changes}).encode()

    forged_signature = base64.b64encode(b"x" * 64).decode()
    cases = {
        "truncated": (bundle[: len(bundle) // 2], "not a readable gzipped tar"),
        "not gzip": (b"hello", "not a gzip file"),
        "checksum": (
            _rewrite(bundle, "pkg-bundle.json", manifest(checksum="0" * 64)),
            "does not match the bundle's content",
        ),
        "signature": (
            _rewrite(
                bundle,
                "pkg-bundle.json",
                manifest(signature={"key_id": signer.key_id, "value": forged_signature}),
            ),
            "does not verify",
        ),
        "version swap": (
            _rewrite(bundle, "pkg-bundle.json", manifest(version="bundle@2")),
            "differs from the document",
        ),
    }
    for name, (data, words) in cases.items():
        response = await target.post("/snapshots", content=data, headers=GZIP)
        assert response.status_code == 422, (name, response.text)
        assert words in response.json()["detail"], (name, response.json()["detail"])
    assert await _versions(target) == []
    good = await target.post("/snapshots", content=bundle, headers=GZIP)
    assert good.status_code == 201, good.text


# ---------------------------------------------------------------------------- audit chain
async def test_promotions_verify_passes_on_an_honest_history(api: httpx.AsyncClient) -> None:
    for version in ("chain@1", "chain@2", "chain@3"):
        await push_and_promote(api, _document(version), validate=False)
    assert (await api.post("/promotions/rollback", json={})).status_code == 201

    report = (await api.get("/promotions/verify", params={"env": "prod"})).json()

    assert report == {"env": "prod", "ok": True, "rows": 4, "signed": False, "first_break": None}


async def test_promotions_verify_names_an_unknown_env(api: httpx.AsyncClient) -> None:
    response = await api.get("/promotions/verify", params={"env": "moon"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == "env"


async def test_a_wasm_snapshot_travels_with_its_module(app_factory: Any, tmp_path: Path) -> None:
    signer, public = _key(tmp_path, "ci")
    source = await app_factory(signing_key=tmp_path / "ci.pem", verify_keys=[public])
    assert (await source.post("/snapshots", json=wasm_document("kitchen@1"))).status_code == 201
    exported = (await source.get("/snapshots/kitchen@1/bundle")).content
    with tarfile.open(fileobj=io.BytesIO(exported), mode="r:gz") as tar:
        module = tar.extractfile("policy.wasm").read()  # type: ignore[union-attr]
    assert module == wat.kitchen_wasm()

    target = await app_factory(
        verify_keys=[public],
        database_url=f"sqlite+aiosqlite:///{tmp_path}/target.db",
        snapshot_cache_dir=tmp_path / "target-cache",
    )
    imported = await target.post("/snapshots", content=exported, headers=GZIP)
    assert imported.status_code == 201, imported.text
    assert imported.json()["signing_key_id"] == signer.key_id
    assert (await target.get("/snapshots/kitchen@1/bundle")).content == exported
    await validate_and_promote(target, "kitchen@1")
    decision = (await target.post("/evaluate", json={"tags": ["vip"]})).json()
    assert decision["subtasks"] == wat.DECISION["subtasks"]


async def validate_and_promote(api: httpx.AsyncClient, version: str) -> None:
    run = await api.post("/validation/runs", json={"version": version})
    assert run.status_code == 201 and run.json()["success"], run.text
    assert (await api.post("/promotions", json={"version": version})).status_code == 201
