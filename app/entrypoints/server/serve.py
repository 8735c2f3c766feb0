"""Running the server: uvicorn on uvloop + httptools, one process or N worker processes.

uvicorn's `http` setting is `CoalescingHttpToolsProtocol` (protocol.py beside this module):
httptools, with the writes of one turn of the event loop sent together (`uvicorn_options`).

One worker serves `create_app(settings)` in this process. With N > 1 uvicorn's supervisor
starts N processes that each build the app from the environment (`create_served_app`) and run
their own manager. On Linux each worker has its own listening socket in one `SO_REUSEPORT` group,
so the kernel spreads connections evenly (supervisor.py); elsewhere they share one:
- with Redis every worker subscribes to the change feed, so each hot-swaps within milliseconds;
- embedded (no Redis) the in-process bus reaches only the worker that made the change, so each
  worker re-reads the active version every `PKG_WORKER_SYNC_INTERVAL_S` (0.5 s, one indexed
  query): a promotion made through any worker is served by all of them within a second;
- migrations and the seed import run one worker at a time (a file lock), so exactly one seeds;
- `/metrics` uses prometheus-client's multiprocess mode (app/adapters/observability/metrics.py).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

from app.adapters.observability.logging import configure_logging
from app.adapters.observability.metrics import MULTIPROC_ENV
from app.entrypoints.server.protocol import CoalescingHttpToolsProtocol
from app.entrypoints.server.supervisor import BALANCED, BalancedMultiprocess, probe_port
from app.settings import Settings

UVICORN_OPTIONS: Final[dict[str, Any]] = {
    "loop": "uvloop",
    "http": CoalescingHttpToolsProtocol,  # httptools; one write per response
    # uvicorn's loggers get no handlers of their own: they propagate to the root logger, which
    # renders through structlog like every PKG event (one stream, app/adapters/observability)
    "log_config": None,
    "access_log": False,
    "lifespan": "on",
    "backlog": 4096,
}
FACTORY: Final = "app.entrypoints.server.serve:create_served_app"


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """What `pkgctl serve` passes to `uvicorn.run` (the bench's baselines get the same)."""
    return {
        **UVICORN_OPTIONS,
        "log_level": settings.log_level.lower(),
        "timeout_keep_alive": settings.keep_alive_s,
    }


class CannotListenError(Exception):
    """The address to serve on cannot be bound (a port in use, an address not on this host)."""


def check_can_listen(host: str, port: int) -> None:
    """Bind `host:port` and let go at once, so a port in use fails before the migrations and
    the start-up run (uvicorn binds only after the app started). Port 0 (any) always works."""
    if not port:
        return
    try:
        probe_port(host, port)
    except OSError as exc:
        where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        raise CannotListenError(f"cannot listen on {where}: {exc.strerror or exc}") from exc


def serve(settings: Settings, *, host: str, port: int, workers: int) -> None:
    """Run the server; `CannotListenError` before anything else if `host:port` is taken."""
    check_can_listen(host, port)
    configure_logging(level=settings.log_level, json=settings.log_json)
    options = uvicorn_options(settings)
    if workers == 1:
        settings = settings.model_copy(update={"host": host, "port": port})
        run_uvicorn(create_served_app(settings), host=host, port=port, **options)
        return
    os.environ["PKG_WORKERS"] = str(workers)  # each worker's Settings() reads it
    os.environ["PKG_HOST"], os.environ["PKG_PORT"] = host, str(port)  # for pkg_listening
    with metrics_directory():
        run_uvicorn(FACTORY, factory=True, host=host, port=port, workers=workers, **options)


def run_uvicorn(app: Any, *, host: str, port: int, workers: int = 1, **options: Any) -> None:
    """`uvicorn.run`, except that on Linux N > 1 workers get a listening socket each
    (`BalancedMultiprocess`); `app` is an import string then."""
    import uvicorn

    if workers == 1 or not BALANCED:
        uvicorn.run(app, host=host, port=port, workers=workers, **options)
        return
    config = uvicorn.Config(app, host=host, port=port, workers=workers, **options)
    with contextlib.suppress(KeyboardInterrupt):
        BalancedMultiprocess(config).run()


def create_served_app(settings: Settings | None = None) -> Any:
    """The app as `pkgctl serve` runs it: after start-up, everything alive then (modules,
    routes, the compiled snapshot) leaves the garbage collector's view (`gc.freeze`), so a
    full collection walks only what requests allocate: no pause of tens of ms under load."""
    from app.entrypoints.http.app import create_app

    app = create_app(settings)
    app.state.freeze_gc_after_start = True
    return app


@contextlib.contextmanager
def metrics_directory() -> Iterator[Path]:
    """`PROMETHEUS_MULTIPROC_DIR` for the workers: the one given (emptied of old values), or a
    temporary directory removed at exit."""
    given = os.environ.get(MULTIPROC_ENV)
    path = Path(given) if given else Path(tempfile.mkdtemp(prefix="pkg-metrics-"))
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()
    os.environ[MULTIPROC_ENV] = str(path)
    try:
        yield path
    finally:
        if not given:
            shutil.rmtree(path, ignore_errors=True)
