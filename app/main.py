"""The ASGI address DESIGN.md §1 names: `uvicorn app.main:app`. The app itself is built in
app/entrypoints/http/app.py."""

from __future__ import annotations

from app.entrypoints.http.app import PKGApp, create_app

app = create_app()

__all__ = ["PKGApp", "app", "create_app"]
