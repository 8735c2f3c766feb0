"""The API fixtures (an app on SQLite and on PostgreSQL) for the `POST /evaluate` golden run."""

from tests.api.conftest import api, app_factory

__all__ = ["api", "app_factory"]
