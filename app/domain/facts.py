"""Task facts as `/evaluate` accepts them: checked once per request, before any engine runs.

Facts are a JSON object. `tags`, when given, is a list of strings; `signals` maps names to
numbers (booleans are not numbers); `context` is an object. Any other top-level key is free.
Nesting is bounded (`max_depth`) so no engine ever walks a pathological document; the depth is
measured by `nests_deeper`, which never descends past the limit.
"""

from __future__ import annotations

from typing import Any, Final

from app.domain.errors import FactsError, FieldError
from app.domain.nesting import members_nest_deeper, nests_deeper

DEFAULT_MAX_DEPTH: Final = 32
_NUMBER: Final = (int, float)
_ABSENT: Final = object()
_NUMBERS: Final = frozenset({int, float})  # not bool: `type(True)` is bool
_SHAPED: Final = frozenset({"tags", "signals"})  # two levels deep when plain


def validate_facts(
    facts: Any, *, max_depth: int = DEFAULT_MAX_DEPTH, nesting_at_most: int | None = None
) -> None:
    """Raise `FactsError` naming every problem found (as a policy document's errors are
    named: `tags[0]`, `tags[2]`, `signals.urgency`, `context`); return None when fine.

    `nesting_at_most`: what the caller already knows bounds the nesting (`nesting_bound` of
    the raw JSON); when it is within `max_depth` the depth is not measured again."""
    if not isinstance(facts, dict):
        raise FactsError("body", f"facts must be a JSON object, not {_kind(facts)}")
    plain = _plain_tags_and_signals(facts)  # the common case: nothing to check in them
    if (nesting_at_most is None or nesting_at_most > max_depth) and (
        members_nest_deeper(facts, max_depth, _SHAPED)
        if plain and max_depth >= 2
        else nests_deeper(facts, max_depth)
    ):
        raise FactsError("body", f"facts nest deeper than the maximum depth of {max_depth}")
    context = facts.get("context", _ABSENT)
    if plain and (context is _ABSENT or type(context) is dict):
        return
    errors: list[FieldError] = []
    if not plain:
        if "tags" in facts:
            _check_tags(facts["tags"], errors)
        if "signals" in facts:
            _check_signals(facts["signals"], errors)
    if context is not _ABSENT and not isinstance(context, dict):
        errors.append(FieldError("context", f"must be an object, not {_kind(context)}"))
    if errors:
        raise FactsError.of(errors)


def _plain_tags_and_signals(facts: dict[str, Any]) -> bool:
    """`tags` (if given) a list of `str` and `signals` (if given) an object of `int`/`float`:
    what `_check_tags` and `_check_signals` accept, told at C speed (`str.join`, the member
    types) instead of a loop. Anything else is left to them, for the error they name."""
    tags = facts.get("tags", _ABSENT)
    if tags is not _ABSENT and (type(tags) is not list or not _all_strings(tags)):
        return False
    signals = facts.get("signals", _ABSENT)
    return signals is _ABSENT or (
        type(signals) is dict and _NUMBERS.issuperset(map(type, signals.values()))
    )


def _all_strings(items: list[Any]) -> bool:
    """Every item a `str` (what `_check_tags` accepts): `str.join` checks that in C, in a
    fifth of the time of collecting the item types."""
    try:
        "".join(items)
    except TypeError:
        return False
    return True


def _check_tags(tags: Any, errors: list[FieldError]) -> None:
    if not isinstance(tags, list):
        errors.append(FieldError("tags", f"must be a list of strings, not {_kind(tags)}"))
        return
    for index, tag in enumerate(tags):
        if not isinstance(tag, str):
            errors.append(FieldError(f"tags[{index}]", f"must be a string, not {_kind(tag)}"))


def _check_signals(signals: Any, errors: list[FieldError]) -> None:
    if not isinstance(signals, dict):
        errors.append(FieldError("signals", f"must be an object of numbers, not {_kind(signals)}"))
        return
    for name, value in signals.items():
        kind = value.__class__
        if (
            kind is not float
            and kind is not int
            and (kind is bool or not isinstance(value, _NUMBER))
        ):
            errors.append(FieldError(f"signals.{name}", f"must be a number, not {_kind(value)}"))


def json_kind(value: Any) -> str:
    """The kind of a JSON value: null, boolean, number, string, list or object (else its type)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    return "object" if isinstance(value, dict) else type(value).__name__


_IN_WORDS: Final = {
    "boolean": "a boolean",
    "number": "a number",
    "string": "a string",
    "list": "an array",
    "object": "an object",
}


def _kind(value: Any) -> str:
    """The JSON name of a value's type, for messages ("a number", "an array", "null")."""
    kind = json_kind(value)
    return _IN_WORDS.get(kind, kind)
