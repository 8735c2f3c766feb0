"""Storage: PostgreSQL (production) or SQLite (embedded), one Alembic history, one facade."""

from __future__ import annotations

from app.adapters.db.client import PKGClient

__all__ = ["PKGClient"]
