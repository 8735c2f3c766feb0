"""Masking task facts before they are kept anywhere (shadow examples): the values at the given
dotted paths are replaced, the shape of everything else is kept so an example stays readable."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

MASK: Final = "**masked**"


def mask_facts(facts: Any, paths: Iterable[str]) -> Any:
    """A copy of `facts` with each path's value replaced by `MASK` (missing paths are fine).

    A path is dotted (`context.guest.name`); `*` masks every key of one level (`context.*`)."""
    masked = _copy(facts)
    for path in paths:
        parts = [part for part in path.split(".") if part]
        if parts:
            _mask(masked, parts)
    return masked


def _mask(node: Any, parts: list[str]) -> None:
    if not isinstance(node, dict):
        return
    head, rest = parts[0], parts[1:]
    keys = list(node) if head == "*" else ([head] if head in node else [])
    for key in keys:
        if rest:
            _mask(node[key], rest)
        else:
            node[key] = MASK


def _copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _copy(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_copy(v) for v in value]
    return value
