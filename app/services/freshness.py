"""How long ago this replica last confirmed its active version against the database, and
whether that is too long (`PKG_MAX_STALENESS_S`, docs/fleet.md).

A confirmation is any successful read of the env's active version: every reconcile and every
heartbeat does one. Until the first, the age counts from the manager's construction (a replica
that started from its last-known-good copy has been unable to confirm since it started).

The request path asks `refuses(now)` only: one float compare against a deadline moved on each
confirmation, infinite unless the policy is fail-closed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from math import inf
from time import monotonic
from typing import Final

SERVE_STALE: Final = "serve-stale"
FAIL_CLOSED: Final = "fail-closed"


class Freshness:
    def __init__(
        self,
        *,
        max_staleness_s: float | None,
        policy: str = SERVE_STALE,
        clock: Callable[[], float] = monotonic,
    ) -> None:
        self.max_staleness_s = max_staleness_s
        self.policy = policy
        self.clock = clock
        self.confirmed = clock()  # monotonic time of the last confirmation (or of the start)
        self.confirmed_at: datetime | None = None  # wall-clock time of the last confirmation
        self.confirmations = 0
        self.refuse_after = inf
        self._arm(self.confirmed)

    @property
    def fail_closed(self) -> bool:
        return self.policy == FAIL_CLOSED and self.max_staleness_s is not None

    def confirm(self) -> None:
        now = self.clock()
        self.confirmed = now
        self.confirmed_at = datetime.now(UTC)
        self.confirmations += 1
        self._arm(now)

    def _arm(self, now: float) -> None:
        if self.fail_closed and self.max_staleness_s is not None:
            self.refuse_after = now + self.max_staleness_s

    def age(self) -> float:
        """Seconds since the last confirmation (or since the start, before the first)."""
        return max(0.0, self.clock() - self.confirmed)

    @property
    def stale(self) -> bool:
        return self.max_staleness_s is not None and self.age() > self.max_staleness_s

    def refuses(self, now: float) -> bool:
        """True when a fail-closed replica must not decide (`now` from `self.clock`)."""
        return now > self.refuse_after

    def reason(self, cause: str | None = None) -> str:
        """Why this replica is stale, for a 503's detail (`cause`: the database's last error)."""
        never = " (none since it started)" if self.confirmed_at is None else ""
        text = (
            f"stale: this replica has not confirmed its active version against the database "
            f"for {self.age():.1f}s{never}, longer than PKG_MAX_STALENESS_S="
            f"{self.max_staleness_s or 0:g} (PKG_STALE_POLICY={self.policy})"
        )
        return f"{text}; {cause}" if cause else text
