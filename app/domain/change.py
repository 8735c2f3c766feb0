"""Change messages on the `pkg_updates` channel: what a replica is told, never the policy itself."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final, Literal

ACTIVATE: Final = "activate"
DEPLOYMENTS_CHANGED: Final = "deployments_changed"
Action = Literal["activate", "deployments_changed"]


@dataclass(frozen=True)
class ChangeMessage:
    action: Action
    version: str | None = None
    env: str | None = None

    def encode(self) -> str:
        """`activate:<version>` when that says it all (the seed's wire form), else JSON."""
        if self.action == ACTIVATE and self.version and self.env is None:
            return f"{ACTIVATE}:{self.version}"
        body: dict[str, Any] = {"action": self.action}
        if self.version is not None:
            body["version"] = self.version
        if self.env is not None:
            body["env"] = self.env
        return json.dumps(body, separators=(",", ":"))


def parse_change_message(raw: str | bytes) -> ChangeMessage:
    """`activate:<version>` (whitespace stripped) or `{"action", "version", "env"}`.

    Raises ValueError for anything else, so the listener can log it and go on.
    """
    text = (raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw).strip()
    if text.startswith("{"):
        return _parse_json(text)
    action, sep, version = text.partition(":")
    version = version.strip()
    if action.strip() != ACTIVATE or not sep or not version:
        raise ValueError(f"not a PKG change message: {text[:200]!r}")
    return ChangeMessage(ACTIVATE, version=version)


def _parse_json(text: str) -> ChangeMessage:
    try:
        body = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"change message is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise ValueError("change message JSON must be an object")
    action, version, env = body.get("action"), body.get("version"), body.get("env")
    if action not in (ACTIVATE, DEPLOYMENTS_CHANGED):
        raise ValueError(f"unknown change action {action!r}")
    if action == ACTIVATE and not (isinstance(version, str) and version.strip()):
        raise ValueError("an activate message needs a version")
    if version is not None and not isinstance(version, str):
        raise ValueError("version must be a string")
    if env is not None and not isinstance(env, str):
        raise ValueError("env must be a string")
    return ChangeMessage(action, version=version.strip() if version else None, env=env)
