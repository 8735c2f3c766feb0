"""The engines and feed adapters PKG ships, installed explicitly by the composition roots.

Nothing registers itself at import: `create_app`, `pkgctl` and the seed's names on `app`
(`from app import PKGManager, PKGEvaluator, ENGINE_REGISTRY, ...`) call `install_defaults()`,
which is idempotent. Library code that imports `app.services...` directly calls it once itself
(or `register_engine` / `register_feed_adapter` with its own).
"""

from __future__ import annotations

from app.domain.engine import ENGINE_REGISTRY, register_engine
from app.domain.native import NativeRuleEngine
from app.services.feed import FEED_ADAPTERS, ChangeFeed, register_feed_adapter


def install_default_engines() -> None:
    """`native` (the pure engine) and `wasm` (OPA WebAssembly on wasmtime, or its fallback)."""
    from app.adapters.opa_wasm import build_wasm_engine

    ENGINE_REGISTRY.setdefault("native", NativeRuleEngine)
    ENGINE_REGISTRY.setdefault("wasm", build_wasm_engine)


def wrap_redis_client(client: object) -> ChangeFeed | None:
    """The seed passes a redis.asyncio client to PKGManager: listen on it as a change feed."""
    from redis.asyncio import Redis

    from app.adapters.bus.redis_feed import RedisChangeFeed

    return RedisChangeFeed(client) if isinstance(client, Redis) else None


def install_default_feed_adapters() -> None:
    if wrap_redis_client not in FEED_ADAPTERS:
        register_feed_adapter(wrap_redis_client)


def install_defaults() -> None:
    install_default_engines()
    install_default_feed_adapters()


__all__ = [
    "install_default_engines",
    "install_default_feed_adapters",
    "install_defaults",
    "register_engine",
]
