"""On PostgreSQL the views and functions agree with the Python repositories."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.adapters.db import PKGClient
from app.domain.bundle import BundleRequest, bundle_document
from app.domain.document import parse_policy_document
from tests.integration.db.conftest import make_document
from tests.services.postgres import PostgresServer
from tests.unit.wasm import wat
from tests.unit.wasm.bundles import opa_bundle

pytestmark = pytest.mark.integration


@pytest.fixture
async def pg_client(postgres_server: PostgresServer, pg_template: str) -> AsyncIterator[PKGClient]:
    name = f"pkg_sql_{id(object()):x}"
    postgres_server.create_database(name, template=pg_template)
    client = PKGClient(postgres_server.url(name))
    try:
        yield client
    finally:
        await client.close()
        postgres_server.drop_database(name)


async def _sql(client: PKGClient, statement: str, **params: Any) -> list[dict[str, Any]]:
    async with client.engine.begin() as conn:
        result = await conn.execute(text(statement), params)
        return [dict(r._mapping) for r in result] if result.returns_rows else []


async def test_promote_function_agrees_with_the_repository(pg_client: PKGClient) -> None:
    one = await pg_client.create_snapshot(make_document("rules@1.0.0"))
    two = await pg_client.create_snapshot(make_document("rules@2.0.0"))
    await pg_client.promote("rules@1.0.0", env="prod", actor="py", force=True)

    rows = await _sql(
        pg_client, "SELECT pkg_promote_snapshot(:id, 'prod', 'sql', 'via sql') AS id", id=two.id
    )
    active = await _sql(pg_client, "SELECT pkg_active_snapshot_id('prod') AS id")

    assert active == [{"id": two.id}]
    assert await pg_client.get_active_version("prod") == "rules@2.0.0"
    latest = (await pg_client.get_promotions(env="prod"))[0]
    assert latest["id"] == rows[0]["id"]
    assert (latest["from_version"], latest["to_version"], latest["actor"]) == (
        "rules@1.0.0",
        "rules@2.0.0",
        "sql",
    )
    assert one.id != two.id


async def test_promote_function_refuses_the_wrong_env(pg_client: PKGClient) -> None:
    staging = await pg_client.create_snapshot(make_document("staging@1", env="staging"))

    with pytest.raises(DBAPIError, match="belongs to env staging"):
        await _sql(
            pg_client, "SELECT pkg_promote_snapshot(:id, 'prod', 'sql', NULL)", id=staging.id
        )

    assert await _sql(pg_client, "SELECT pkg_active_snapshot_id('prod') AS id") == [{"id": None}]
    assert await pg_client.get_promotions() == []


async def test_coverage_view_agrees_with_the_repository(pg_client: PKGClient) -> None:
    for version in ("rules@1.0.0", "rules@2.0.0"):
        await pg_client.create_snapshot(make_document(version))
    for device, kind, version in (
        ("door:1", "door", "rules@2.0.0"),
        ("door:2", "door", "rules@1.0.0"),
    ):
        await pg_client.update_device_heartbeat(device, kind, version=version, region="eu")
    for target in ("edge:door", "router", "door"):
        await pg_client.create_deployment(
            snapshot_version="rules@2.0.0", target=target, region="eu", percent=10
        )

    view = await _sql(pg_client, "SELECT * FROM pkg_deployment_coverage ORDER BY deployment_id")
    python = await pg_client.get_deployment_coverage()

    assert view == python
    assert [(c["devices_on_snapshot"], c["devices_total"]) for c in view] == [
        (1, 2),
        (0, 0),
        (1, 2),
    ]


async def test_integrity_function_agrees_with_the_repository(pg_client: PKGClient) -> None:
    await pg_client.create_snapshot(make_document("rules@1.0.0"))
    other = await pg_client.create_snapshot(make_document("rules@2.0.0"))
    assert await _sql(pg_client, "SELECT * FROM pkg_check_integrity()") == []

    # point one emission of 1.0.0 at a subtask type of 2.0.0 (the seed's cross-snapshot bug)
    await _sql(
        pg_client,
        """UPDATE pkg_rule_emissions SET subtask_type_id =
               (SELECT id FROM pkg_subtask_types WHERE snapshot_id = :other AND name = 'notify')
           WHERE id = (SELECT min(e.id) FROM pkg_rule_emissions e
                       JOIN pkg_policy_rules r ON r.id = e.rule_id
                       JOIN pkg_snapshots s ON s.id = r.snapshot_id
                       WHERE s.version = 'rules@1.0.0')""",
        other=other.id,
    )

    sql_problems = {
        r["problem"] for r in await _sql(pg_client, "SELECT * FROM pkg_check_integrity()")
    }
    report = await pg_client.check_integrity()
    assert sql_problems == {"cross_snapshot_emission"}
    assert report["ok"] is False
    assert "cross_snapshot_emission" in {p["problem"] for p in report["problems"]}


async def test_views_expose_the_active_artifact_and_expanded_rules(pg_client: PKGClient) -> None:
    await pg_client.create_snapshot(make_document("rules@1.0.0"))
    await pg_client.promote("rules@1.0.0", env="prod", actor="t", force=True)

    expanded = await _sql(
        pg_client, "SELECT * FROM pkg_rules_expanded WHERE version = 'rules@1.0.0'"
    )
    assert len(expanded) == 3  # 2 emissions + 1, no condition product
    assert await _sql(pg_client, "SELECT * FROM pkg_active_artifact") == []


async def test_json_columns_take_dicts_on_asyncpg(pg_client: PKGClient) -> None:
    stored = await pg_client.create_snapshot(make_document("rules@1.0.0"))
    run_id = await pg_client.create_validation_run(stored.id)
    report = {"passed": 1, "failures": [{"name": "x", "expected": {"a": [1]}, "actual": None}]}

    await pg_client.finish_validation_run(run_id, True, report)

    rows = await _sql(pg_client, "SELECT jsonb_typeof(report) AS t FROM pkg_validation_runs")
    run = await pg_client.get_validation_run(run_id)
    assert rows == [{"t": "object"}]
    assert run is not None and run["report"] == report


async def test_integrity_function_checks_a_wasm_checksum_over_module_and_data(
    pg_client: PKGClient,
) -> None:
    raw = bundle_document(
        opa_bundle({"app/rbac/data.json": {"roles": {"alice": "admin"}}}),
        BundleRequest(version="bundle@1"),
    )
    stored = await pg_client.create_snapshot(parse_policy_document(raw))
    assert stored.wasm_data and stored.checksum != wat.sha256(wat.kitchen_wasm())
    assert await _sql(pg_client, "SELECT * FROM pkg_check_integrity()") == []

    await _sql(
        pg_client,
        "UPDATE pkg_snapshot_artifacts SET data_json = :data",
        data=b'{"app":{"rbac":{"roles":{"mallory":"admin"}}}}',
    )
    problems = {r["problem"] for r in await _sql(pg_client, "SELECT * FROM pkg_check_integrity()")}
    assert problems == {"checksum_mismatch"}
