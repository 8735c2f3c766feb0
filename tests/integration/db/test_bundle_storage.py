"""A wasm snapshot from an OPA bundle survives the store: data, entrypoints, revision, strict
builtin errors and the checksum over module and data (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from app.adapters.db import PKGClient
from app.domain.bundle import BundleRequest, bundle_document
from app.domain.document import document_from_snapshot, parse_policy_document
from app.domain.snapshot import snapshot_from_dict, snapshot_to_dict
from tests.unit.wasm import wat
from tests.unit.wasm.bundles import opa_bundle

pytestmark = pytest.mark.integration


async def test_a_bundle_snapshot_round_trips_through_the_store(client: PKGClient) -> None:
    raw = bundle_document(
        opa_bundle({"app/rbac/data.json": {"roles": {"alice": "admin"}}}, revision="r-9"),
        BundleRequest(version="bundle@1", entrypoint="echo_input", strict_builtin_errors=True),
    )
    document = parse_policy_document(raw)

    stored = await client.create_snapshot(document)

    assert stored.checksum == document.checksum == stored.content_checksum()
    assert stored.wasm_data == b'{"app":{"rbac":{"roles":{"alice":"admin"}}}}'
    assert stored.entrypoints == ("echo_data", "echo_input", "const")
    assert (stored.entrypoint, stored.revision, stored.strict_builtin_errors) == (
        "echo_input", "r-9", True,
    )  # fmt: skip  # one expected tuple
    # what an export carries (the document) and the last-known-good cache keep all of it
    again = parse_policy_document(document_from_snapshot(stored))
    assert again.checksum == stored.checksum and again.wasm == document.wasm
    assert snapshot_from_dict(snapshot_to_dict(stored)) == stored


async def test_a_bare_module_keeps_its_sha256_as_checksum(client: PKGClient) -> None:
    raw = bundle_document(opa_bundle(), BundleRequest(version="bare@1"))
    stored = await client.create_snapshot(parse_policy_document(raw))
    assert stored.wasm_data is None and stored.data_size == 0
    assert stored.checksum == wat.sha256(wat.kitchen_wasm())
