"""Settings, read from the environment with the `PKG_` prefix (and a `.env` file if present)."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.domain.facts import DEFAULT_MAX_DEPTH
from app.domain.redaction import parse_path

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./var/pkg.db"

TokenList = Annotated[list[SecretStr], NoDecode]
PathList = Annotated[list[str], NoDecode]


def _default_instance_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PKG_", env_file=".env", extra="ignore")

    # storage and propagation
    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str | None = None  # None: the in-process bus (one process, embedded mode)
    env: str = "prod"
    redis_channel: str = "pkg_updates"
    reconcile_interval_s: float = Field(default=10.0, gt=0)
    snapshot_cache_dir: Path = Path("./var/cache")
    seed_file: Path | None = None  # a policy document imported and promoted into an empty store
    auto_migrate: bool = True  # run Alembic to head on start-up (embedded mode)
    instance_id: str = Field(default_factory=_default_instance_id)
    region: str = "global"  # the region this replica reports in its heartbeat
    heartbeat_interval_s: float = Field(default=10.0, gt=0)
    db_timeout_s: float = Field(default=5.0, gt=0)
    # rollout certainty (docs/fleet.md): a replica that has not confirmed its active version
    # against the database for longer than PKG_MAX_STALENESS_S (off: unset) is unready, and
    # with fail-closed answers /evaluate 503 instead of a possibly old decision; `GET /fleet`
    # lists replicas that heartbeat within PKG_FLEET_LIVE_WINDOW_S
    max_staleness_s: float | None = Field(default=None, gt=0)
    stale_policy: Literal["serve-stale", "fail-closed"] = "serve-stale"
    fleet_live_window_s: float = Field(default=60.0, gt=0)

    # wasm sandbox
    wasm_eval_timeout_ms: int = Field(default=100, gt=0)
    wasm_max_memory_mb: int = Field(default=64, gt=0)
    wasm_pool_size: int = Field(default=8, gt=0)

    # HTTP
    host: str = "127.0.0.1"
    port: int = Field(default=8080, gt=0, lt=65536)
    admin_tokens: TokenList = Field(default_factory=list)
    evaluator_tokens: TokenList = Field(default_factory=list)
    # trust: PKG_SIGNING_KEY is a PEM Ed25519 private key file (signs unsigned snapshots and
    # audit rows); PKG_VERIFY_KEYS lists trusted public keys (PEM paths or base64 raw keys)
    signing_key: Path | None = None
    verify_keys: Annotated[list[str], NoDecode] = Field(default_factory=list)
    max_body_bytes: int = Field(default=1_048_576, gt=0)
    max_facts_depth: int = Field(default=DEFAULT_MAX_DEPTH, gt=0)
    max_batch_items: int = Field(default=100, gt=0)
    lean_evaluate: bool = True  # /evaluate(/batch) through app/api/lean.py, not FastAPI's stack
    workers: int = Field(default=1, gt=0)  # uvicorn worker processes (`pkgctl serve --workers`)
    # how long an idle keep-alive connection stays open: longer than any client's or proxy's
    # idle timeout (httpx 5 s, AWS ALB 60 s, nginx 60 s), so the client always closes first
    # and never sends a request on a connection the server is closing at that moment
    keep_alive_s: int = Field(default=75, ge=1, le=3600)
    # embedded mode (no Redis) with several workers: how often each re-reads the active version
    worker_sync_interval_s: float = Field(default=0.5, gt=0)

    # shadow lanes and promotion guards (issue 11)
    shadow_queue_size: int = Field(default=1000, gt=0)
    shadow_examples: int = Field(default=10, ge=0, le=1000)
    shadow_flush_interval_s: float = Field(default=5.0, gt=0)
    shadow_mask: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["context"])
    guard_interval_s: float = Field(default=5.0, gt=0)
    # production coverage (issue 25): how often a replica writes its fired-rule counts, and the
    # width of the time buckets they are counted in (the resolution of `?since=`)
    coverage_flush_interval_s: float = Field(default=5.0, gt=0)
    coverage_bucket_s: int = Field(default=60, ge=1, le=86400)

    # the console (docs/console.md): server-rendered pages at /ui, off with PKG_UI=false.
    # PKG_UI_SECRET signs its session cookie; unset, each process draws a random one (sessions
    # then end with the process, and several workers need it set to share sessions)
    ui: bool = True
    ui_secret: SecretStr | None = None
    ui_session_hours: float = Field(default=8.0, gt=0, le=24 * 30)

    # logging
    log_level: str = "INFO"
    log_json: bool = True

    # decision logs (README "Decision logs"): off unless asked for; the hot path never waits
    decision_log: Literal["off", "stdout", "database"] = "off"
    decision_log_sample_rate: float = Field(default=1.0, ge=0.0, le=1.0)
    decision_log_mask: PathList = Field(default_factory=list)  # e.g. input.context.guest_name
    decision_log_drop: PathList = Field(default_factory=list)
    decision_log_queue_size: int = Field(default=10_000, gt=0)
    decision_log_batch_size: int = Field(default=500, gt=0, le=10_000)
    decision_log_retention_hours: float = Field(default=168.0, gt=0)
    # replay of logged decisions on a candidate (docs/lifecycle.md "Replay")
    replay_max_records: int = Field(default=100_000, gt=0)
    replay_timeout_s: float = Field(default=30.0, gt=0)
    replay_batch_size: int = Field(default=1000, gt=0, le=10_000)
    replay_examples: int = Field(default=10, ge=0, le=1000)

    @field_validator("decision_log_mask", "decision_log_drop", "shadow_mask", mode="before")
    @classmethod
    def _split_paths(cls, value: object) -> object:
        if isinstance(value, str):
            return [path.strip() for path in value.split(",") if path.strip()]
        return value

    @field_validator("decision_log_mask", "decision_log_drop")
    @classmethod
    def _check_paths(cls, value: list[str]) -> list[str]:
        for path in value:
            parse_path(path)  # a typo fails at start-up, naming the path
        return value

    @field_validator("admin_tokens", "evaluator_tokens", mode="before")
    @classmethod
    def _split_tokens(cls, value: object) -> object:
        if isinstance(value, str):
            return [token.strip() for token in value.split(",") if token.strip()]
        return value

    @field_validator("verify_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [key.strip() for key in value.split(",") if key.strip()]
        return value

    @property
    def auth_enabled(self) -> bool:
        return bool(self.admin_tokens or self.evaluator_tokens)
