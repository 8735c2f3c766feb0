"""Audit events on the log stream: every promotion, rollback and guard decision as one
`audit` event (`pkg.audit`), beside the audit row the database keeps.

Fields: `action` (`promote`, `rollback`, `guard_refused`, `guard_passed`,
`guard_rolled_back`, `guard_superseded`), `outcome` (`done` or `refused`), `actor` (the
token's name, or `pkg-guard`), `on_behalf_of`, `reason`, `env`, `version` (the version made
active, or asked for), `from_version`, `promotion_id`; `error` says why a refused one was.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, NamedTuple

from app.services.logs import get_logger

AUDIT_EVENT: Final = "audit"
log = get_logger("pkg.audit")


class Who(NamedTuple):
    """Who asked for a change, for whom, and why."""

    actor: str
    on_behalf_of: str | None
    reason: str | None


def audit_event(
    promotion: Mapping[str, Any], who: Who, *, env: str, force: bool | None = None
) -> None:
    """A promotion or rollback that committed (`promotion` is its audit row)."""
    fields: dict[str, Any] = {"force": force} if force is not None else {}
    log.info(
        AUDIT_EVENT,
        action=promotion.get("action"),
        outcome="done",
        **who._asdict(),
        env=env,
        version=promotion.get("to_version"),
        from_version=promotion.get("from_version"),
        promotion_id=promotion.get("id"),
        **fields,
    )


def audit_refused(
    action: str, who: Who, *, env: str, version: str | None, error: Exception
) -> None:
    """A promotion or rollback that was refused (nothing changed)."""
    log.warning(
        AUDIT_EVENT,
        action=action,
        outcome="refused",
        **who._asdict(),
        env=env,
        version=version,
        error=str(error),
        error_type=type(error).__name__,
    )


def audit_guard(
    action: str, *, env: str, version: str, outcome: str = "done", **fields: Any
) -> None:
    """A guard's decision: refused before a promotion, or passed / rolled back after one."""
    level = log.warning if outcome == "refused" or action == "guard_rolled_back" else log.info
    level(
        AUDIT_EVENT,
        action=action,
        outcome=outcome,
        env=env,
        version=version,
        **fields,
    )
