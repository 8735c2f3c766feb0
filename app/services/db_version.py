"""The database's word on what an env should serve, and what this replica last saw of it.

A replica swaps when the database's active version changed since its last look, so an
operator's `activate:<v>` lasts until the database's active version next changes (DESIGN.md §5).
"""

from __future__ import annotations

from collections.abc import Callable

from app.services.ports import SnapshotSource
from app.services.store_link import StoreLink


class DatabaseVersion:
    """`on_confirmed` runs after every successful read (app/services/freshness.py)."""

    def __init__(
        self,
        source: SnapshotSource,
        store: StoreLink,
        *,
        env: str,
        on_confirmed: Callable[[], None] = lambda: None,
    ) -> None:
        self._source = source
        self._store = store
        self._env = env
        self._on_confirmed = on_confirmed
        self.current: str | None = None  # as of the last read
        self.last_seen: str | None = None  # as of the last activation or reconcile

    async def read(self) -> str | None:
        """What the database says should be active (None also when it cannot be asked)."""
        return self.current if await self.confirm() else None

    async def confirm(self) -> bool:
        """Read the database's active version; True when the database answered."""
        try:
            version = await self._store.call(self._source.get_active_version(self._env))
        except Exception as exc:  # the reconcile loop's read: any failure means unreachable
            self._store.unreachable(exc)
            return False
        self._store.reachable()
        self.current = version
        self._on_confirmed()
        return True

    async def changed(self) -> str | None:
        """The database's active version when it changed since the last look, else None."""
        version = await self.read()
        return None if version == self.last_seen else version

    async def note(self) -> None:
        """Whatever was just activated, the database's active version counts as seen."""
        version = await self.read()
        if version is not None:
            self.last_seen = version
