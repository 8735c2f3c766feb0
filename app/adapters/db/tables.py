"""The PKG schema as SQLAlchemy models (the seed's tables and columns, DESIGN.md §7).

The Alembic revision in `alembic/versions/` is the authority for DDL; these models are what the
repositories query with. Enums are native on PostgreSQL and CHECK constraints on SQLite; JSON is
JSONB on PostgreSQL. Timestamps are always timezone-aware UTC in Python.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator, TypeEngine

from app.domain.document import ENVIRONMENTS
from app.domain.snapshot import (
    CHECKSUM_SCHEME,
    CONDITION_TYPES,
    ENGINES,
    OPERATORS,
    RELATIONSHIPS,
)

ARTIFACT_TYPES: Final = ("wasm_pack", "rego_bundle")

NAMING_CONVENTION: Final = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# PostgreSQL checks with a regex; SQLite has no regex operator, so GLOB does the same job.
_HEX64_PG = "{col} ~ '^[0-9a-f]{{64}}$'"
_HEX64_SQLITE = "length({col}) = 64 AND {col} NOT GLOB '*[^0-9a-f]*'"


def hex64_checks(column: str, name: str) -> tuple[CheckConstraint, CheckConstraint]:
    """The 64-hex CHECK on `column`, one variant per dialect."""
    return (
        CheckConstraint(_HEX64_PG.format(col=column), name=name).ddl_if(dialect="postgresql"),
        CheckConstraint(_HEX64_SQLITE.format(col=column), name=name).ddl_if(dialect="sqlite"),
    )


def pkg_enum(name: str, values: tuple[str, ...]) -> Enum:
    return Enum(*values, name=name, native_enum=True, create_constraint=True)


class UtcDateTime(TypeDecorator[datetime]):
    """`TIMESTAMPTZ` on PostgreSQL; on SQLite a naive UTC timestamp, read back as aware UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value if value.tzinfo else value.replace(tzinfo=UTC)


JsonDoc: TypeEngine[Any] = JSON(none_as_null=True).with_variant(
    JSONB(none_as_null=True), "postgresql"
)
BigId: TypeEngine[int] = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class SnapshotRow(Base):
    __tablename__ = "pkg_snapshots"
    __table_args__ = (
        *hex64_checks("checksum", "checksum_hex64"),
        Index(
            "uq_pkg_snapshots_one_active_per_env",
            "env",
            unique=True,
            postgresql_where=text("is_active"),
            sqlite_where=text("is_active"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version: Mapped[str] = mapped_column(Text, unique=True)
    env: Mapped[str] = mapped_column(pkg_enum("pkg_env", ENVIRONMENTS), default="prod")
    engine: Mapped[str] = mapped_column(pkg_enum("pkg_engine", ENGINES), default="native")
    checksum: Mapped[str] = mapped_column(String(64))
    entrypoint: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[str | None] = mapped_column(Text)
    # revision 0004: what an OPA bundle carries besides its module
    entrypoints: Mapped[list[str] | None] = mapped_column(JsonDoc)
    bundle_revision: Mapped[str | None] = mapped_column(Text)
    strict_builtin_errors: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    activated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # trust (revision 0003): how `checksum` was computed, and the detached Ed25519 signature
    checksum_scheme: Mapped[int] = mapped_column(Integer, default=CHECKSUM_SCHEME)
    signature: Mapped[str | None] = mapped_column(Text)
    signing_key_id: Mapped[str | None] = mapped_column(Text)


_SNAPSHOT_FK = "pkg_snapshots.id"


class SnapshotArtifactRow(Base):
    __tablename__ = "pkg_snapshot_artifacts"
    __table_args__ = hex64_checks("sha256", "sha256_hex64")

    snapshot_id: Mapped[int] = mapped_column(
        ForeignKey(_SNAPSHOT_FK, ondelete="CASCADE"), primary_key=True
    )
    artifact_type: Mapped[str] = mapped_column(
        pkg_enum("pkg_artifact_type", ARTIFACT_TYPES), primary_key=True
    )
    artifact_bytes: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    # revision 0004: a wasm module's data document (canonical JSON), checksummed with it
    data_json: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class SubtaskTypeRow(Base):
    __tablename__ = "pkg_subtask_types"
    __table_args__ = (UniqueConstraint("snapshot_id", "name"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    snapshot_id: Mapped[int] = mapped_column(ForeignKey(_SNAPSHOT_FK, ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(Text)
    default_params: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)


class PolicyRuleRow(Base):
    __tablename__ = "pkg_policy_rules"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    snapshot_id: Mapped[int] = mapped_column(
        ForeignKey(_SNAPSHOT_FK, ondelete="CASCADE"), index=True
    )
    rule_name: Mapped[str] = mapped_column(Text)
    priority: Mapped[int] = mapped_column(Integer, default=100)
    rule_source: Mapped[str | None] = mapped_column(Text)
    # document order: the checksum is taken over the rules in the order they were written
    position: Mapped[int] = mapped_column(Integer, default=0)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # `metadata` is taken by the declarative base; the column keeps the seed's name
    rule_metadata: Mapped[dict[str, Any]] = mapped_column("metadata", JsonDoc, default=dict)


_RULE_FK = "pkg_policy_rules.id"


class RuleConditionRow(Base):
    __tablename__ = "pkg_rule_conditions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    rule_id: Mapped[str] = mapped_column(ForeignKey(_RULE_FK, ondelete="CASCADE"), index=True)
    condition_type: Mapped[str] = mapped_column(pkg_enum("pkg_condition_type", CONDITION_TYPES))
    condition_key: Mapped[str | None] = mapped_column(Text)
    operator: Mapped[str] = mapped_column(pkg_enum("pkg_operator", OPERATORS))
    value: Mapped[str | None] = mapped_column(Text)
    position: Mapped[int] = mapped_column(Integer, default=0)


class RuleEmissionRow(Base):
    __tablename__ = "pkg_rule_emissions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    rule_id: Mapped[str] = mapped_column(ForeignKey(_RULE_FK, ondelete="CASCADE"), index=True)
    subtask_type_id: Mapped[str] = mapped_column(
        ForeignKey("pkg_subtask_types.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str | None] = mapped_column(Text)
    relationship_type: Mapped[str] = mapped_column(
        pkg_enum("pkg_relation", RELATIONSHIPS), default="EMITS"
    )
    params: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    position: Mapped[int] = mapped_column(Integer, default=0)


class DeploymentRow(Base):
    __tablename__ = "pkg_deployments"
    __table_args__ = (
        CheckConstraint("percent BETWEEN 0 AND 100", name="percent_range"),
        CheckConstraint("mode IN ('canary', 'shadow')", name="mode_kind"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    snapshot_id: Mapped[int] = mapped_column(
        ForeignKey(_SNAPSHOT_FK, ondelete="CASCADE"), index=True
    )
    target: Mapped[str] = mapped_column(Text)
    region: Mapped[str] = mapped_column(Text, default="global")
    percent: Mapped[int] = mapped_column(Integer, default=0)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    mode: Mapped[str] = mapped_column(Text, default="canary")  # canary | shadow (0005)


class ValidationFixtureRow(Base):
    __tablename__ = "pkg_validation_fixtures"
    __table_args__ = (UniqueConstraint("snapshot_id", "name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    snapshot_id: Mapped[int] = mapped_column(ForeignKey(_SNAPSHOT_FK, ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(Text)
    input: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    expect: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ValidationRunRow(Base):
    __tablename__ = "pkg_validation_runs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    snapshot_id: Mapped[int] = mapped_column(
        ForeignKey(_SNAPSHOT_FK, ondelete="CASCADE"), index=True
    )
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    success: Mapped[bool | None] = mapped_column(Boolean)
    report: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc)
    coverage: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc)  # fixture coverage (0006)


class PromotionRow(Base):
    """The audit trail. Its foreign key RESTRICTs: a promoted snapshot can never be deleted."""

    __tablename__ = "pkg_promotions"
    __table_args__ = (
        CheckConstraint("action IN ('promote', 'rollback')", name="action_kind"),
        Index("ix_pkg_promotions_env_id", "env", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    snapshot_id: Mapped[int] = mapped_column(
        ForeignKey(_SNAPSHOT_FK, ondelete="RESTRICT"), index=True
    )
    env: Mapped[str] = mapped_column(pkg_enum("pkg_env", ENVIRONMENTS))
    from_version: Mapped[str | None] = mapped_column(Text)
    to_version: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(Text, default="promote")
    reason: Mapped[str | None] = mapped_column(Text)
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc)
    success: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # trust (revision 0003): who the caller said it acted for, and the per-env hash chain
    on_behalf_of: Mapped[str | None] = mapped_column(Text)
    chain_seq: Mapped[int | None] = mapped_column(Integer)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    row_hash: Mapped[str | None] = mapped_column(String(64))
    signature: Mapped[str | None] = mapped_column(Text)
    signing_key_id: Mapped[str | None] = mapped_column(Text)


class DeviceVersionRow(Base):
    __tablename__ = "pkg_device_versions"
    __table_args__ = (Index("ix_pkg_device_versions_type_region", "device_type", "region"),)

    device_id: Mapped[str] = mapped_column(Text, primary_key=True)
    device_type: Mapped[str] = mapped_column(Text)
    region: Mapped[str] = mapped_column(Text, default="global")
    snapshot_id: Mapped[int | None] = mapped_column(ForeignKey(_SNAPSHOT_FK, ondelete="SET NULL"))
    version: Mapped[str | None] = mapped_column(Text)
    last_seen: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ShadowStatsRow(Base):
    """One replica's cumulative shadow counts for one lane and shadow version (0005)."""

    __tablename__ = "pkg_shadow_stats"

    deployment_id: Mapped[int] = mapped_column(
        ForeignKey("pkg_deployments.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[str] = mapped_column(Text, primary_key=True)
    replica: Mapped[str] = mapped_column(Text, primary_key=True)
    evaluated: Mapped[int] = mapped_column(BigInteger, default=0)
    identical: Mapped[int] = mapped_column(BigInteger, default=0)
    different: Mapped[int] = mapped_column(BigInteger, default=0)
    errors: Mapped[int] = mapped_column(BigInteger, default=0)
    dropped: Mapped[int] = mapped_column(BigInteger, default=0)
    examples: Mapped[list[dict[str, Any]]] = mapped_column(JsonDoc, default=list)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


GUARD_STATUSES: Final = ("watching", "passed", "rolled_back", "superseded")


class PromotionGuardRow(Base):
    """A watched promotion: rolled back by the service if the fleet's error rate rises (0005)."""

    __tablename__ = "pkg_promotion_guards"
    __table_args__ = (
        CheckConstraint(
            "status IN ('watching', 'passed', 'rolled_back', 'superseded')", name="status_kind"
        ),
        Index("ix_pkg_promotion_guards_env_status", "env", "status"),
    )

    promotion_id: Mapped[int] = mapped_column(
        ForeignKey("pkg_promotions.id", ondelete="RESTRICT"), primary_key=True
    )
    env: Mapped[str] = mapped_column(Text)
    version: Mapped[str] = mapped_column(Text)
    from_version: Mapped[str | None] = mapped_column(Text)
    config: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    watch_until: Mapped[datetime] = mapped_column(UtcDateTime)
    status: Mapped[str] = mapped_column(Text, default="watching")
    outcome: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc)
    decided_by: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class GuardStatsRow(Base):
    """One replica's decisions and error envelopes on a watched promotion's version (0005)."""

    __tablename__ = "pkg_guard_stats"

    promotion_id: Mapped[int] = mapped_column(
        ForeignKey("pkg_promotion_guards.promotion_id", ondelete="CASCADE"), primary_key=True
    )
    replica: Mapped[str] = mapped_column(Text, primary_key=True)
    decisions: Mapped[int] = mapped_column(BigInteger, default=0)
    errors: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class RuleFireCountRow(Base):
    """How often one rule fired on one replica, for one version, in one time bucket (0006)."""

    __tablename__ = "pkg_rule_fire_counts"

    version: Mapped[str] = mapped_column(Text, primary_key=True)
    bucket: Mapped[datetime] = mapped_column(UtcDateTime, primary_key=True)
    replica: Mapped[str] = mapped_column(Text, primary_key=True)
    rule: Mapped[str] = mapped_column(Text, primary_key=True)
    fired: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class DecisionCountRow(Base):
    """One replica's decisions (and error envelopes) on one version in one time bucket (0006)."""

    __tablename__ = "pkg_decision_counts"

    version: Mapped[str] = mapped_column(Text, primary_key=True)
    bucket: Mapped[datetime] = mapped_column(UtcDateTime, primary_key=True)
    replica: Mapped[str] = mapped_column(Text, primary_key=True)
    decisions: Mapped[int] = mapped_column(BigInteger, default=0)
    errors: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


metadata: Final = Base.metadata
