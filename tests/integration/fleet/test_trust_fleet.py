"""Trust across a fleet: two `pkgctl serve` replicas with PKG_VERIFY_KEYS on real PostgreSQL
and Redis. A rule changed (value and checksum) behind the service's back, or a snapshot signed
with a rotated-out key, is refused at activation by both replicas, whichever way they hear of
it, while the previous snapshot keeps serving; the audit chain names rows tampered with psql.
"""

from __future__ import annotations

import asyncio
import copy
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import yaml
from typer.testing import CliRunner

from app.adapters.db import PKGClient
from app.adapters.db.migrations import upgrade_to_head
from app.domain.document import parse_policy_document
from app.entrypoints.cli import cli
from app.services.signing import Signer, generate_key_pair
from bench.server import ROOT
from tests.integration.fleet.conftest import (
    ADMIN,
    HEADERS,
    RECONCILE_S,
    SETTLE_S,
    Replica,
    _replica,
    wait_until,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]
runner = CliRunner()


def _document(version: str, env: str = "prod") -> dict[str, Any]:
    body: dict[str, Any] = yaml.safe_load((ROOT / "examples" / "hotel_ops.yaml").read_text())
    return copy.deepcopy(body) | {"version": version, "env": env}


def _keys(tmp: Path, name: str) -> tuple[Signer, Path]:
    private_pem, public_pem, _ = generate_key_pair()
    (tmp / f"{name}.pem").write_bytes(private_pem)
    (tmp / f"{name}.pub.pem").write_bytes(public_pem)
    return Signer.from_file(tmp / f"{name}.pem"), tmp / f"{name}.pub.pem"


@dataclass
class TrustFleet:
    a: Replica
    b: Replica
    postgres: Any
    database: str
    db_url: str
    redis_url: str
    channel: str

    def psql(self, sql: str) -> str:
        return str(self.postgres.psql(sql, dbname=self.database)).strip()

    def push(self, version: str, signer: Signer, *, env: str = "prod") -> None:
        document = _document(version, env)
        key_id, value = signer.sign_snapshot(parse_policy_document(document).to_snapshot())
        headers = {**HEADERS, "PKG-Signature": f"{key_id}:{value}"}
        created = httpx.post(self.a.url + "/snapshots", json=document, headers=headers, timeout=10)
        assert created.status_code == 201, created.text
        run = self.a.post("/validation/runs", json={"version": version})
        assert run.status_code == 201 and run.json()["success"], run.text

    def promote(self, version: str, *, env: str = "prod") -> httpx.Response:
        return self.a.post("/promotions", json={"version": version, "env": env})

    def promote_behind_the_back(self, version: str) -> None:
        """What someone with database access does: the SQL function, then a Redis message."""
        self.psql(
            "SELECT pkg_promote_snapshot("
            f"(SELECT id FROM pkg_snapshots WHERE version = '{version}'), 'prod', 'mallory')"
        )


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Signer, Path]]:
    tmp = tmp_path_factory.mktemp("keys")
    return {name: _keys(tmp, name) for name in ("old", "new")}


@pytest.fixture(scope="module")
def fleet(
    postgres_server: Any,
    redis_server: Any,
    keys: dict[str, tuple[Signer, Path]],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[TrustFleet]:
    tmp = tmp_path_factory.mktemp("trust-fleet")
    database = f"trust_{uuid.uuid4().hex[:8]}"
    postgres_server.create_database(database)
    db_url = postgres_server.url(database)
    asyncio.run(upgrade_to_head(db_url))
    env = {
        "PKG_DATABASE_URL": db_url,
        "PKG_REDIS_URL": redis_server.url,
        "PKG_REDIS_CHANNEL": f"trust-{uuid.uuid4().hex[:8]}",
        "PKG_ENV": "prod",
        "PKG_AUTO_MIGRATE": "false",
        "PKG_RECONCILE_INTERVAL_S": str(RECONCILE_S),
        "PKG_HEARTBEAT_INTERVAL_S": "1",
        "PKG_ADMIN_TOKENS": f"alice:{ADMIN}",
        "PKG_VERIFY_KEYS": str(keys["new"][1]),  # "old" was rotated out
        "PKG_LOG_LEVEL": "INFO",
    }
    a, b = _replica("a", env, tmp), _replica("b", env, tmp)
    try:
        for replica in (a, b):
            replica.server.wait(path="/health")
        fleet = TrustFleet(
            a, b, postgres_server, database, db_url, redis_server.url, env["PKG_REDIS_CHANNEL"]
        )
        fleet.push("trust@1", keys["new"][0])
        assert fleet.promote("trust@1").status_code == 201
        wait_until(lambda: b.serves() == "trust@1", within=RECONCILE_S + SETTLE_S)
        yield fleet
    finally:
        a.server.stop()
        b.server.stop()


def _rejections(replica: Replica) -> float:
    text = replica.get("/metrics").text
    found = re.search(r"^pkg_snapshot_signature_rejections_total (\S+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


def _refused(replica: Replica, words: str) -> bool:
    health = replica.health()
    return not health["healthy"] and words in (health["last_error"] or "")


def _serves(replica: Replica, version: str) -> bool:
    return replica.serves() == version


def _recompute_checksum(db_url: str, version: str) -> str:
    async def checksum() -> str:
        client = PKGClient(db_url)
        try:
            snapshot = await client.get_snapshot_by_version(version)
            assert snapshot is not None
            return snapshot.content_checksum()
        finally:
            await client.close()

    return asyncio.run(checksum())


def test_a_rule_changed_with_its_checksum_is_refused_on_both_replicas(
    fleet: TrustFleet, keys: dict[str, tuple[Signer, Path]]
) -> None:
    fleet.push("trust@2", keys["new"][0])
    condition = fleet.psql(
        "SELECT c.id FROM pkg_rule_conditions c JOIN pkg_policy_rules r ON r.id = c.rule_id"
        " JOIN pkg_snapshots s ON s.id = r.snapshot_id"
        " WHERE s.version = 'trust@2' AND c.condition_type = 'SIGNAL' LIMIT 1"
    )
    fleet.psql(f"UPDATE pkg_rule_conditions SET value = '0.01' WHERE id = {condition}")
    checksum = _recompute_checksum(fleet.db_url, "trust@2")
    fleet.psql(f"UPDATE pkg_snapshots SET checksum = '{checksum}' WHERE version = 'trust@2'")

    refused = fleet.promote("trust@2")
    assert refused.status_code == 422 and "does not verify" in refused.json()["detail"]

    before = {r.name: _rejections(r) for r in (fleet.a, fleet.b)}
    fleet.promote_behind_the_back("trust@2")  # reconcile sees it within RECONCILE_S
    redis.Redis.from_url(fleet.redis_url).publish(fleet.channel, "activate:trust@2")
    for replica in (fleet.a, fleet.b):
        wait_until(partial(_refused, replica, "does not verify"), within=RECONCILE_S + SETTLE_S)
        assert replica.serves() == "trust@1"
        assert replica.health()["status"] == "degraded"
        assert _rejections(replica) > before[replica.name]


def test_a_rotated_out_key_is_refused_and_the_new_key_passes(
    fleet: TrustFleet, keys: dict[str, tuple[Signer, Path]]
) -> None:
    old, new = keys["old"][0], keys["new"][0]
    fleet.push("trust@3", new)
    document = parse_policy_document(_document("trust@3")).to_snapshot()
    stored = fleet.psql("SELECT checksum FROM pkg_snapshots WHERE version = 'trust@3'")
    key_id, value = old.sign_snapshot(replace(document, checksum=stored))
    fleet.psql(
        f"UPDATE pkg_snapshots SET signature = '{value}', signing_key_id = '{key_id}'"
        " WHERE version = 'trust@3'"
    )  # as if signed before the rotation

    refused = fleet.promote("trust@3")
    assert refused.status_code == 422 and f"unknown key id {old.key_id}" in refused.text
    fleet.promote_behind_the_back("trust@3")
    for replica in (fleet.a, fleet.b):
        wait_until(partial(_refused, replica, "unknown key id"), within=RECONCILE_S + SETTLE_S)
        assert replica.serves() == "trust@1"

    fleet.push("trust@4", new)
    assert fleet.promote("trust@4").status_code == 201
    for replica in (fleet.a, fleet.b):
        wait_until(partial(_serves, replica, "trust@4"), within=RECONCILE_S + SETTLE_S)
        assert replica.health()["status"] == "ok"


def _audit_verify(fleet: TrustFleet, env: str) -> tuple[int, str]:
    args = ["audit", "verify", "--url", fleet.a.url, "--token", ADMIN, "--env", env]
    result = runner.invoke(cli, args)
    return result.exit_code, result.output


def _promotion_ids(fleet: TrustFleet, env: str) -> list[str]:
    return fleet.psql(f"SELECT id FROM pkg_promotions WHERE env = '{env}' ORDER BY id").split()


def test_audit_verify_names_rows_changed_with_psql(
    fleet: TrustFleet, keys: dict[str, tuple[Signer, Path]]
) -> None:
    for env in ("staging", "dev"):
        for n in (1, 2, 3):
            fleet.push(f"{env}@{n}", keys["new"][0], env=env)
            promoted = fleet.promote(f"{env}@{n}", env=env)
            assert promoted.status_code == 201 and promoted.json()["actor"] == "alice"
        code, output = _audit_verify(fleet, env)
        assert code == 0 and '"ok": true' in output, output

    staging = _promotion_ids(fleet, "staging")
    fleet.psql(f"UPDATE pkg_promotions SET reason = 'routine' WHERE id = {staging[1]}")
    code, output = _audit_verify(fleet, "staging")
    assert code == 1 and '"problem": "altered"' in output and f'"row_id": {staging[1]}' in output

    dev = _promotion_ids(fleet, "dev")
    fleet.psql(
        "INSERT INTO pkg_promotions (snapshot_id, env, from_version, to_version, actor, action,"
        " success) SELECT snapshot_id, env, to_version, to_version, 'mallory', 'promote', true"
        f" FROM pkg_promotions WHERE id = {dev[-1]}"
    )
    inserted = _promotion_ids(fleet, "dev")[-1]
    code, output = _audit_verify(fleet, "dev")
    assert code == 1 and '"problem": "inserted"' in output and f'"row_id": {inserted}' in output

    fleet.psql(f"DELETE FROM pkg_promotions WHERE id IN ({inserted}, {dev[1]})")
    code, output = _audit_verify(fleet, "dev")
    assert code == 1 and '"problem": "removed"' in output and f'"row_id": {dev[2]}' in output
