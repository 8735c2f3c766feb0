"""The reference depth of a JSON value for nesting tests: 1 for a container of scalars, 0 for a
scalar."""

from __future__ import annotations

from typing import Any


def depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    return 0
