"""`pkgctl serve` and `migrate`: run the server, and bring its database schema up to date."""

from __future__ import annotations

from typing import Annotated

import typer

from app.adapters.observability.logging import configure_logging
from app.entrypoints.cli.app import cli
from app.entrypoints.cli.common import fail, is_loopback


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (PKG_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (PKG_PORT)")] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Worker processes (PKG_WORKERS)")
    ] = None,
) -> None:
    """Serve the API. Without tokens configured it only binds a loopback address."""
    from app.entrypoints.server.serve import CannotListenError
    from app.entrypoints.server.serve import serve as run_server
    from app.settings import Settings

    settings = Settings()
    host = host or settings.host
    port = port or settings.port
    if not settings.auth_enabled and not is_loopback(host):
        fail(
            f"refusing to bind {host}: no tokens are configured. Set PKG_ADMIN_TOKENS (and "
            "PKG_EVALUATOR_TOKENS), or bind 127.0.0.1."
        )
    try:
        run_server(settings, host=host, port=port, workers=workers or settings.workers)
    except CannotListenError as exc:
        fail(str(exc))


@cli.command()
def migrate(
    database_url: Annotated[str | None, typer.Option(envvar="PKG_DATABASE_URL")] = None,
) -> None:
    """Upgrade the database schema to the newest migration."""
    import asyncio

    from app.adapters.db.migrations import upgrade_to_head
    from app.settings import Settings

    settings = Settings()
    configure_logging(level=settings.log_level, json=settings.log_json)
    url = database_url or settings.database_url
    asyncio.run(upgrade_to_head(url))
    typer.echo("database is at the newest migration")
