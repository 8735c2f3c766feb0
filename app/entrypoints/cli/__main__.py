"""`python -m app.entrypoints.cli`: the same as `pkgctl`."""

from __future__ import annotations

from app.entrypoints.cli import main

main()
