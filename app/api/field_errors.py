"""Pydantic's validation errors in the caller's words: `errors[].loc` names the field as the
caller sent it (`items[2].signals`), `msg` says what is wrong in plain words (`must be an
integer`, `unknown field; send one of "items", "fixtures_of", or a JSON list`).

Pydantic's own locations carry the names of its validators where a type is a union or wrapped
(`function-after[_one_source(), CompareRequest]`, `list[dict[str,any]]`, `int`), and its
messages speak of "Input should be". Both 422 paths (FastAPI's routes and the lean /evaluate
handler) answer through `readable`, so no problem body shows either.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from pydantic import BaseModel

# a validator's name in a location: `function-after[...]`, `list[...]`, `json-or-python[...]`
_WRAPPER = re.compile(r"^[a-z][a-z0-9_-]*\[.*\]$", re.DOTALL)
# a union member named by its type
_TYPE_TAGS = frozenset(
    {"str", "int", "float", "bool", "bytes", "none", "list", "dict", "set", "tuple", "decimal"}
)
_PREFIXES = ("body", "query", "path", "header", "cookie")
Models = dict[str, type[BaseModel]]  # PKG's models by class name

_KIND = {
    "string_type": "a string",
    "str_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "decimal_type": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a JSON list",
    "tuple_type": "a JSON list",
    "set_type": "a JSON list",
    "dict_type": "a JSON object",
    "model_type": "a JSON object",
    "model_attributes_type": "a JSON object",
    "none_required": "null",
}


@dataclass(frozen=True, slots=True)
class _Error:
    path: tuple[str | int, ...]  # the caller's path (validator names removed)
    union_at: int | None  # where in `path` a union member's tag was removed
    model: str | None  # the model named in that tag, if any
    root_type: bool  # a type mismatch at the union member's root: "not this member"
    type: str
    msg: str
    instead: tuple[str, ...] = ()  # what the union's other members take ("a JSON list")


def readable(
    raw: Iterable[Mapping[str, Any]], *, body_model: type[BaseModel] | None = None
) -> list[dict[str, str]]:
    """`[{"loc": "items[0]", "msg": "must be a JSON object"}, ...]` for pydantic's `errors()`;
    `body_model` (the route's body, when known) names the fields an unknown one could be."""
    models = _models()  # once per answer: the names pydantic may use for a union member
    errors = [_parse(e, models) for e in raw]
    out: list[dict[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for error in _collapse_unions(errors):
        entry = {"loc": _dotted(error.path), "msg": _message(error, body_model, models)}
        key = (entry["loc"], entry["msg"])
        if key not in seen:
            seen.add(key)
            out.append(entry)
    return out


def summary(errors: Sequence[Mapping[str, str]]) -> str:
    """The problem's `detail`: every field error on one line."""
    return "; ".join(f"{e['loc']}: {e['msg']}" for e in errors) or "invalid request"


def _parse(e: Mapping[str, Any], models: Models) -> _Error:
    loc = list(e.get("loc", ()))
    if loc and loc[0] in _PREFIXES:
        loc = loc[1:]
    kind = str(e.get("type", ""))
    if kind == "json_invalid":  # the location is a character offset, not a field
        return _Error((), None, None, False, kind, _json_message(e))
    path: list[str | int] = []
    union_at = model = None
    for part in loc:
        if isinstance(part, str) and _is_tag(part, models):
            if union_at is None:
                union_at, model = len(path), _model_in(part, models)
            continue
        path.append(part if isinstance(part, int) else str(part))
    root = union_at is not None and len(path) == union_at and kind in _KIND
    return _Error(tuple(path), union_at, model, root, kind, str(e.get("msg", "")))


def _is_tag(part: str, models: Models) -> bool:
    return bool(_WRAPPER.match(part)) or part in _TYPE_TAGS or part in models


def _model_in(tag: str, models: Models) -> str | None:
    names = re.findall(r"[A-Z][A-Za-z0-9_]*", tag)
    known = [n for n in names if n in models]
    return known[-1] if known else None


def _collapse_unions(errors: list[_Error]) -> list[_Error]:
    """Of a union, report the member the caller evidently meant: the one whose errors are about
    its content, not "this is not my type". When every member refused the type, one error says
    what the value may be."""
    groups: dict[tuple[str | int, ...], list[_Error]] = {}
    for e in errors:
        if e.union_at is not None:
            groups.setdefault(e.path[: e.union_at], []).append(e)
    out: list[_Error] = []
    done: set[tuple[str | int, ...]] = set()
    for e in errors:
        if e.union_at is None:
            out.append(e)
            continue
        where = e.path[: e.union_at]
        if where in done:
            continue
        done.add(where)
        members = groups[where]
        meant = [m for m in members if not m.root_type]
        kinds = tuple(dict.fromkeys(_KIND[m.type] for m in members if m.root_type))
        if meant:
            out.extend(replace(m, instead=kinds) for m in meant)
            continue
        out.append(_Error(where, None, None, False, "union", "must be " + " or ".join(kinds)))
    return out


def _message(e: _Error, body_model: type[BaseModel] | None, models: Models) -> str:
    if e.type == "missing":
        return "required"
    if e.type == "extra_forbidden":
        return "unknown field" + _known_fields(e, body_model, models)
    if e.type in _KIND:
        return f"must be {_KIND[e.type]}"
    if e.type in ("value_error", "assertion_error"):
        return re.sub(r"^(Value error|Assertion failed), ", "", e.msg)
    if e.type == "literal_error" or e.type == "enum":
        return "must be " + re.sub(r"^Input should be ", "", e.msg)
    if e.type in ("union", "json_invalid"):
        return e.msg
    return _plain(e.msg)


def _plain(msg: str) -> str:
    """Pydantic's remaining messages, in PKG's voice."""
    for theirs, ours in (
        (r"^Input should be ", "must be "),
        (r"^String should have at least 1 character$", "must not be empty"),
        (r"^String should (have|match) ", r"must \1 "),
        (r"^(List|Dictionary|Tuple|Set|Value) should have ", "must have "),
        (r" after validation", ""),
        (r"^Field required$", "required"),
        (r"^Extra inputs are not permitted$", "unknown field"),
    ):
        msg = re.sub(theirs, ours, msg)
    return msg


def _json_message(e: Mapping[str, Any]) -> str:
    ctx = e.get("ctx") or {}
    where = e.get("loc", ())
    at = next((p for p in where if isinstance(p, int)), None)
    reason = str(ctx.get("error", "")).strip()
    text = "not valid JSON"
    if at is not None:
        text += f" (at character {at})"
    return f"{text}: {reason}" if reason else text


def _known_fields(e: _Error, body_model: type[BaseModel] | None, models: Models) -> str:
    model = models.get(e.model) if e.model else body_model
    model = _descend(model, e.path[(e.union_at or 0) : -1]) if model is not None else None
    if model is None:
        return ""
    names = [f'"{f.alias or name}"' for name, f in model.model_fields.items()]
    if e.instead and e.union_at is not None and len(e.path) - 1 == e.union_at:
        # an object or something else (`{"items": [...]}` or a bare list): say both
        *first, last = [*names, *e.instead]
        return "; send one of " + ", ".join(first) + f", or {last}"
    return "; known fields: " + ", ".join(names)


def _descend(model: type[BaseModel], path: Sequence[str | int]) -> type[BaseModel] | None:
    """The model at `path` below `model` (through nested models and lists of them)."""
    current: Any = model
    for part in path:
        if isinstance(part, int):
            continue
        field = current.model_fields.get(part) if _is_model(current) else None
        if field is None:
            return None
        current = _model_of(field.annotation)
        if current is None:
            return None
    return current if _is_model(current) else None


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if _is_model(annotation):
        return annotation  # type: ignore[no-any-return]
    for arg in getattr(annotation, "__args__", ()):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def _is_model(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, BaseModel)


def _models() -> Models:
    """PKG's models by class name (pydantic names a union member that is a model so)."""
    found: dict[str, type[BaseModel]] = {}
    stack: list[type[BaseModel]] = [BaseModel]
    while stack:
        for sub in stack.pop().__subclasses__():
            if sub.__module__.startswith("app."):
                found.setdefault(sub.__name__, sub)
            stack.append(sub)
    return found


def _dotted(path: Sequence[str | int]) -> str:
    """`("items", 2, "signals")` → `items[2].signals`; nothing → `body`."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"
