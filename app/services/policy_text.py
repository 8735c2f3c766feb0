"""Policy document text (YAML or JSON, as users write it) → the raw mapping the domain checks."""

from __future__ import annotations

from typing import Any

import yaml

from app.domain.errors import DocumentError, FieldError


def load_policy_text(text: str | bytes) -> dict[str, Any]:
    """Parse YAML (a superset of JSON); `DocumentError` on a syntax error or a non-object."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DocumentError([FieldError("document", f"not valid YAML or JSON: {exc}")]) from exc
    if not isinstance(raw, dict):
        raise DocumentError([FieldError("document", "a policy document must be an object")])
    return raw
