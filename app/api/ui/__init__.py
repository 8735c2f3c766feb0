"""The PKG console: server-rendered pages at `/ui` where a team sees and steers its policies
(docs/console.md). Jinja2 templates and a vendored htmx (static/VENDORED.md) ship in the
package; nothing is fetched from elsewhere. Off with `PKG_UI=false`.

The console adds no middleware: its headers and session are handled by its own route class,
so `/evaluate` (answered ahead of the app by the lean handler) pays nothing for it."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from app.api.ui import actions, pages
from app.api.ui.render import STATIC, Pages
from app.api.ui.session import SessionKeeper
from app.api.ui.views import ShadowHistory


def install_console(app: FastAPI) -> None:
    """Mount the console's routes and files on `app` (its settings say how sessions are signed)."""
    app.state.console_pages = Pages(SessionKeeper(app.state.settings))
    app.state.console_shadow_history = ShadowHistory()
    app.include_router(pages.router)
    app.include_router(actions.router)
    app.mount("/ui/static", StaticFiles(directory=STATIC), name="console-static")


__all__ = ["install_console"]
