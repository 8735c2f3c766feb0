"""Masking and dropping parts of a decision's input before it is kept (OPA's decision-log
masks, in dotted form): `input.context.guest_name`, `input.items.*.card`, `input.tags.0`.
Decision logs and shadow-lane examples both redact through `Redaction`.

A path starts at `input` (the facts of the decision). A segment names an object key, a list
index, or `*` for every element or key at that level. Redaction copies only along the paths it
touches: the caller's facts are never changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

MASK: Final = "**REDACTED**"
ROOT: Final = "input"
WILDCARD: Final = "*"
MAX_SEGMENTS: Final = 32


@dataclass(frozen=True)
class Redaction:
    """Paths (without the `input` root) whose values are masked, and paths that are removed."""

    mask: tuple[tuple[str, ...], ...] = ()
    drop: tuple[tuple[str, ...], ...] = ()

    @classmethod
    def from_paths(cls, *, mask: Sequence[str] = (), drop: Sequence[str] = ()) -> Redaction:
        return cls(tuple(parse_path(p) for p in mask), tuple(parse_path(p) for p in drop))

    @classmethod
    def masking_facts(cls, paths: Sequence[str]) -> Redaction:
        """A mask of facts paths that may leave out the `input.` root (`context.guest`, as
        `PKG_SHADOW_MASK` has them; `input.context.guest` means the same)."""
        rooted = [p if p.strip().startswith(f"{ROOT}.") else f"{ROOT}.{p.strip()}" for p in paths]
        return cls.from_paths(mask=rooted)

    def __bool__(self) -> bool:
        return bool(self.mask or self.drop)

    def apply(self, facts: Any) -> Any:
        """A copy of `facts` with every drop path removed and every mask path masked."""
        for path in self.drop:
            facts = _rewrite(facts, path, drop=True)
        for path in self.mask:
            facts = _rewrite(facts, path, drop=False)
        return facts

    def touched(self, facts: Any) -> list[str]:
        """The paths (`input.` form, as configured) that reach something in `facts`: what
        `apply` masks or drops there. A decision record keeps them, so replay knows which
        parts of its input are not the caller's (app/domain/replay.py)."""
        return [
            ".".join((ROOT, *path)) for path in (*self.drop, *self.mask) if _reaches(facts, path)
        ]


def masked_paths(value: Any, *, limit: int = 64) -> list[str]:
    """Concrete paths (`input.` form) holding MASK in an already redacted input: what a record
    written before records noted their redaction can still tell (drops leave no trace)."""
    found: list[str] = []
    stack: list[tuple[tuple[str, ...], Any]] = [((ROOT,), value)]
    while stack and len(found) < limit:
        path, node = stack.pop()
        if node == MASK and isinstance(node, str):
            found.append(".".join(path))
        elif isinstance(node, dict):
            stack.extend(((*path, str(k)), v) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend(((*path, str(i)), v) for i, v in enumerate(node))
    return sorted(found)


def parse_path(text: str) -> tuple[str, ...]:
    """`input.a.b` → `("a", "b")`. Raises ValueError naming what is wrong."""
    segments = text.strip().split(".")
    if segments[0] != ROOT:
        raise ValueError(f"{text!r}: a decision-log path starts with 'input.'")
    rest = tuple(segments[1:])
    if not rest or any(not segment for segment in rest):
        raise ValueError(f"{text!r}: empty path segment")
    if len(rest) > MAX_SEGMENTS:
        raise ValueError(f"{text!r}: more than {MAX_SEGMENTS} segments")
    return rest


def _rewrite(node: Any, path: tuple[str, ...], *, drop: bool) -> Any:
    head, rest = path[0], path[1:]
    if isinstance(node, dict):
        keys = list(node) if head == WILDCARD else [head] if head in node else []
        if not keys:
            return node
        copy = dict(node)
        for key in keys:
            _apply(copy, key, rest, drop=drop)
        return copy
    if isinstance(node, list):
        indexes = _indexes(node, head)
        if not indexes:
            return node
        copy_list = list(node)
        if drop and not rest:
            return [item for i, item in enumerate(copy_list) if i not in indexes]
        for index in indexes:
            copy_list[index] = _leaf(copy_list[index], rest, drop=drop)
        return copy_list
    return node


def _apply(container: dict[str, Any], key: str, rest: tuple[str, ...], *, drop: bool) -> None:
    if not rest and drop:
        del container[key]
    else:
        container[key] = _leaf(container[key], rest, drop=drop)


def _leaf(value: Any, rest: tuple[str, ...], *, drop: bool) -> Any:
    return _rewrite(value, rest, drop=drop) if rest else MASK


def _reaches(node: Any, path: tuple[str, ...]) -> bool:
    head, rest = path[0], path[1:]
    if isinstance(node, dict):
        children = list(node.values()) if head == WILDCARD else [node[head]] if head in node else []
    elif isinstance(node, list):
        children = [node[i] for i in _indexes(node, head)]
    else:
        return False
    return bool(children) and (not rest or any(_reaches(child, rest) for child in children))


def _indexes(items: list[Any], head: str) -> set[int]:
    if head == WILDCARD:
        return set(range(len(items)))
    if head.isdigit() and int(head) < len(items):
        return {int(head)}
    return set()
