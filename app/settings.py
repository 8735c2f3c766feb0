"""Settings, read from the environment with the `PKG_` prefix (and a `.env` file if present)."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.domain.facts import DEFAULT_MAX_DEPTH

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./var/pkg.db"

TokenList = Annotated[list[SecretStr], NoDecode]


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
    # embedded mode (no Redis) with several workers: how often each re-reads the active version
    worker_sync_interval_s: float = Field(default=0.5, gt=0)

    # logging
    log_level: str = "INFO"
    log_json: bool = True

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
