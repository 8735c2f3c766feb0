"""OPA bundles over HTTP: `POST /snapshots` with `application/gzip`, data visible to the policy
at its paths, entrypoints chosen per request, and every bad bundle a 422 that stores nothing."""

from __future__ import annotations

import base64
import tarfile

import httpx
import pytest

from tests.unit.wasm import wat
from tests.unit.wasm.bundles import member, opa_bundle, tar_gz

GZIP = {"Content-Type": "application/gzip"}
DATA = {
    "app/rbac/data.json": {"roles": {"alice": "admin"}},
    "app/rbac/grants/data.json": {"admin": ["read", "write"]},
    "data.json": {"region": "eu"},
}
MERGED = {
    "app": {"rbac": {"roles": {"alice": "admin"}, "grants": {"admin": ["read", "write"]}}},
    "region": "eu",
}


async def push(api: httpx.AsyncClient, raw: bytes, **params: str) -> httpx.Response:
    return await api.post("/snapshots", content=raw, headers=GZIP, params=params)


async def test_a_bundle_is_stored_with_its_data_entrypoints_and_revision(
    api: httpx.AsyncClient,
) -> None:
    created = await push(api, opa_bundle(DATA, revision="rev-7"), version="bundle@1")
    assert created.status_code == 201, created.text

    shown = (await api.get("/snapshots/bundle@1")).json()
    assert shown["engine"] == "wasm" and shown["revision"] == "rev-7"
    assert shown["entrypoints"] == ["echo_data", "echo_input", "const"]
    assert shown["entrypoint"] == "echo_data"
    assert shown["data_size"] == len(
        b'{"app":{"rbac":{"grants":{"admin":["read","write"]},"roles":{"alice":"admin"}}},'
        b'"region":"eu"}'
    )
    assert shown["document"]["wasm"]["data"] == MERGED
    assert base64.b64decode(shown["document"]["wasm"]["artifact"]) == wat.kitchen_wasm()


async def test_the_policy_sees_the_data_and_entrypoints_are_selectable(
    api: httpx.AsyncClient,
) -> None:
    assert (await push(api, opa_bundle(DATA), version="bundle@2")).status_code == 201
    promoted = await api.post("/promotions", json={"version": "bundle@2", "force": True})
    assert promoted.status_code == 201, promoted.text

    default = (await api.post("/evaluate", json={"tags": ["x"]})).json()
    assert default["result"] == MERGED
    echoed = await api.post("/evaluate", params={"entrypoint": "echo_input"}, json={"k": 1})
    assert echoed.status_code == 200 and echoed.json()["result"] == {"k": 1}
    constant = await api.post("/evaluate", params={"entrypoint": "const"}, json={})
    assert constant.json()["result"] is True

    unknown = await api.post("/evaluate", params={"entrypoint": "nope"}, json={})
    assert unknown.status_code == 422
    assert unknown.headers["content-type"].startswith("application/problem+json")
    assert "entrypoint" in unknown.text and "nope" in unknown.text


async def test_the_version_defaults_to_the_revision_and_the_default_can_be_named(
    api: httpx.AsyncClient,
) -> None:
    created = await push(api, opa_bundle(revision="rbac@3"), entrypoint="const", env="staging")
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["version"], body["entrypoint"], body["env"]) == ("rbac@3", "const", "staging")


async def test_a_data_change_makes_a_new_checksum(api: httpx.AsyncClient) -> None:
    one = await push(api, opa_bundle({"data.json": {"limit": 1}}), version="data@1")
    same = await push(api, opa_bundle({"data.json": {"limit": 1}}), version="data@2")
    other = await push(api, opa_bundle({"data.json": {"limit": 2}}), version="data@3")
    checksums = [r.json()["checksum"] for r in (one, same, other)]
    assert checksums[0] == checksums[1] != checksums[2]
    assert wat.sha256(wat.kitchen_wasm()) not in checksums


def _link() -> tarfile.TarInfo:
    info = tarfile.TarInfo("/data.json")
    info.type = tarfile.SYMTYPE
    info.linkname = "/etc/passwd"
    return info


BAD_BUNDLES = [
    pytest.param(b"plain text, not gzip", "bundle", id="not-gzip"),
    pytest.param(opa_bundle(extra=[member("../escape/data.json", b"{}")]),
                 "bundle[../escape/data.json]", id="path-traversal"),
    pytest.param(opa_bundle(extra=[(_link(), b"")]), "bundle[/data.json]", id="link"),
    pytest.param(tar_gz([member("/.manifest", {"wasm": [{"entrypoint": "a", "module": "/x"}]})]),
                 "bundle[/x]", id="missing-module"),
    pytest.param(opa_bundle({"app/data.json": b"{oops"}), "bundle[/app/data.json]",
                 id="invalid-json-data"),
    pytest.param(opa_bundle({"big/data.json": b'{"x":"' + b"0" * (65 * 1024 * 1024) + b'"}'}),
                 "bundle[/big/data.json]", id="oversize"),
    pytest.param(opa_bundle({f"d{i}/data.json": {} for i in range(1001)}), "bundle",
                 id="too-many-members"),
    pytest.param(tar_gz([member("/policy.wasm", wat.kitchen_wasm())]), "bundle",
                 id="no-manifest"),
]  # fmt: skip  # a table: one bad bundle per entry


@pytest.mark.parametrize(("raw", "loc"), BAD_BUNDLES)
async def test_a_bad_bundle_is_a_422_naming_the_member_and_nothing_is_stored(
    api: httpx.AsyncClient, raw: bytes, loc: str
) -> None:
    response = await push(api, raw, version="bad@1")
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert loc in [error["loc"] for error in response.json()["errors"]]
    assert (await api.get("/snapshots")).json() == []


async def test_a_document_can_carry_a_bundle_and_its_fixtures(api: httpx.AsyncClient) -> None:
    document = {
        "version": "doc-bundle@1",
        "engine": "wasm",
        "wasm": {"bundle": base64.b64encode(opa_bundle(DATA)).decode()},
        "fixtures": [{"name": "sees the data", "input": {}, "expect": {"result": MERGED}}],
    }
    created = await api.post("/snapshots", json=document)
    assert created.status_code == 201, created.text
    run = await api.post("/validation/runs", json={"version": "doc-bundle@1"})
    assert run.json()["success"] is True, run.text


async def test_a_documents_bad_bundle_names_the_member_under_wasm(api: httpx.AsyncClient) -> None:
    raw = opa_bundle({"app/data.json": b"{oops"})
    wasm = {"bundle": base64.b64encode(raw).decode()}
    document = {"version": "v1", "engine": "wasm", "wasm": wasm}
    response = await api.post("/snapshots", json=document)
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["errors"]] == ["wasm.bundle[/app/data.json]"]


async def test_bundle_query_parameters_on_a_document_are_refused(api: httpx.AsyncClient) -> None:
    document = {"version": "doc@1", "rules": []}
    response = await api.post("/snapshots", json=document, params={"version": "other@1"})
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["errors"]] == ["query.version"]
    assert (await api.get("/snapshots")).json() == []
