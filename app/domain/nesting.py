"""How deep a JSON value nests, checked without walking more than it must.

Task facts and policy documents are refused when they nest deeper than a limit, so no engine or
validator ever walks a pathological value. The facts object (or document) itself is depth 1.
"""

from __future__ import annotations

from typing import Any, Final

_CONTAINERS: Final = (dict, list)
_RECURSION_LIMIT: Final = 256  # deeper limits are measured with a stack instead
_BRACKETS: Final = b"{}[]"
_AS_BRACES: Final = bytes.maketrans(b"[]", b"{}")  # depth does not care which kind nests
_NOT_STRUCTURE: Final = bytes(set(range(256)) - set(_BRACKETS + b'"'))


def nests_deeper(value: Any, max_depth: int) -> bool:
    """True when containers (dicts and lists: what JSON and YAML parse into) nest deeper
    than `max_depth` in `value`.

    The recursion stops at `max_depth` levels, so a 10 000-deep value costs `max_depth` frames;
    limits above `_RECURSION_LIMIT` use an explicit stack. Recursing is 2–3× faster than the
    stack for the shallow facts of a typical request, which is why both exist."""
    if not isinstance(value, _CONTAINERS):
        return False
    if max_depth < 1:
        return True
    if max_depth > _RECURSION_LIMIT:
        return _deeper_by_stack(value, max_depth)
    return _deeper(value, max_depth)


def members_nest_deeper(mapping: dict[Any, Any], max_depth: int, skip: frozenset[Any]) -> bool:
    """`nests_deeper(mapping, max_depth)` counting only the members not named in `skip` (whose
    depth the caller knows)."""
    if max_depth < 1:
        return True
    levels = max_depth - 1
    for key, child in mapping.items():
        if (
            key not in skip
            and isinstance(child, _CONTAINERS)
            and (levels == 0 or nests_deeper(child, levels))
        ):
            return True
    return False


def _deeper(container: Any, levels: int) -> bool:
    """`container` uses one of `levels`; a container below it needs another."""
    for child in container.values() if isinstance(container, dict) else container:
        if isinstance(child, _CONTAINERS) and (levels == 1 or _deeper(child, levels - 1)):
            return True
    return False


def _deeper_by_stack(value: Any, max_depth: int) -> bool:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > max_depth:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((c, depth + 1) for c in children if isinstance(c, _CONTAINERS))
    return False


def nesting_bound(raw: bytes, limit: int) -> int:
    """An upper bound of how deep the JSON text `raw` nests: every level opens with `{` or
    `[` (brackets inside strings only raise the bound). Two C-level scans, a microsecond for
    a typical request, where walking the parsed value takes a few.

    A count above `limit` is measured again from the text (`text_depth`): exact, still at C
    speed, and worth it for a body of many small members."""
    count = raw.count(b"{") + raw.count(b"[")
    return count if count <= limit else text_depth(raw, limit=limit)


def text_depth(raw: bytes, *, limit: int) -> int:
    """How deep the JSON text `raw` nests, or `limit + 1` when it nests deeper; `raw` must be
    valid JSON (parsed already). Every step runs over the bytes in C:
    1. escaped backslashes, then escaped quotes, leave the strings (left to right, as a JSON
       lexer reads them), so every quote left opens or closes a string;
    2. only quotes and brackets stay (`[` `]` as `{` `}`: depth does not care which kind);
    3. adjacent quotes go: a string with no bracket in it vanishes. A string with a bracket
       keeps a quote (its opening quote is followed by a bracket, and whatever precedes it is
       either nothing or a string already gone), so when no quote is left only the value's own
       brackets are; otherwise the pieces between quotes are dropped one by one (rare);
    4. each pass removes the innermost pairs (`{}`), one level: the passes are the depth.
    At most `limit + 1` passes, so a deep text costs what the limit allows, not its depth."""
    if b"\\" in raw:
        raw = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    brackets = raw.translate(_AS_BRACES, _NOT_STRUCTURE).replace(b'""', b"")
    if b'"' in brackets:
        brackets = b"".join(brackets.split(b'"')[::2])
    depth = 0
    while brackets:
        if depth > limit:
            return limit + 1
        brackets = brackets.replace(b"{}", b"")
        depth += 1
    return depth
