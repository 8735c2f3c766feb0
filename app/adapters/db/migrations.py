"""Run the Alembic history programmatically (start-up auto-migration, tests, `pkgctl`)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Final

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import make_url

SOURCE_ROOT: Final = Path(__file__).resolve().parents[3]


def _project_root() -> Path:
    """A source checkout has alembic/ beside app/; an installed package (the Docker image)
    runs from the directory that holds alembic.ini and alembic/ (its WORKDIR)."""
    if (SOURCE_ROOT / "alembic.ini").exists():
        return SOURCE_ROOT
    return Path.cwd()


def alembic_config(url: str) -> Config:
    """The repository's Alembic config, pointed at `url` whatever the working directory."""
    root = _project_root()
    config = Config(str(root / "alembic.ini"))
    config.set_main_option("script_location", str(root / "alembic"))
    # '%' is interpolation syntax in ini files; a password may contain it
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def _ensure_sqlite_dir(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)


async def upgrade_to_head(url: str) -> None:
    """Migrate the database at `url` to the newest revision (creates a SQLite file's folder).

    Alembic's env runs its own event loop, so it runs in a worker thread."""
    _ensure_sqlite_dir(url)
    await asyncio.to_thread(command.upgrade, alembic_config(url), "head")


async def downgrade_to_base(url: str) -> None:
    """Drop everything the history created."""
    await asyncio.to_thread(command.downgrade, alembic_config(url), "base")
