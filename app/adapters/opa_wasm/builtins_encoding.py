"""Encoding host builtins: `json.*`, `yaml.*` (PyYAML, bounded), `base64url.*`, `base64.*`,
`urlquery.*`."""

from __future__ import annotations

import base64
import binascii
import json
import re
import urllib.parse
from typing import Any, Final

import yaml

from app.adapters.opa_wasm.builtins import Builtin, BuiltinContext, BuiltinError, json_is_valid

MAX_YAML_CHARS: Final = 1_000_000
MAX_YAML_ALIASES: Final = 100  # no "billion laughs": aliases are counted before anything loads
_BAD_ESCAPE: Final = re.compile(r"%(?![0-9A-Fa-f]{2})")


def _string(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise BuiltinError(f"{name}: expects a string, got {type(value).__name__}")
    return value


def json_marshal(_ctx: BuiltinContext, value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def json_unmarshal(_ctx: BuiltinContext, text: Any) -> Any:
    try:
        return json.loads(_string("json.unmarshal", text))
    except ValueError as exc:
        raise BuiltinError(f"json.unmarshal: {exc}") from exc


def _yaml_load(name: str, text: Any) -> Any:
    source = _string(name, text)
    if len(source) > MAX_YAML_CHARS:
        raise BuiltinError(f"{name}: more than {MAX_YAML_CHARS} characters")
    try:
        aliases = sum(isinstance(event, yaml.AliasEvent) for event in yaml.parse(source))
        if aliases > MAX_YAML_ALIASES:
            raise BuiltinError(f"{name}: more than {MAX_YAML_ALIASES} aliases")
        return yaml.safe_load(source)
    except yaml.YAMLError as exc:
        raise BuiltinError(f"{name}: {exc}") from exc


def yaml_unmarshal(_ctx: BuiltinContext, text: Any) -> Any:
    value = _yaml_load("yaml.unmarshal", text)
    try:
        json.dumps(value)  # dates, binary, non-string keys: not JSON values
    except (TypeError, ValueError) as exc:
        raise BuiltinError(f"yaml.unmarshal: not a JSON value: {exc}") from exc
    return value


def yaml_marshal(_ctx: BuiltinContext, value: Any) -> str:
    return yaml.safe_dump(value, sort_keys=True, default_flow_style=False, allow_unicode=True)


def yaml_is_valid(_ctx: BuiltinContext, text: Any) -> bool:
    if not isinstance(text, str):
        return False
    try:
        _yaml_load("yaml.is_valid", text)
    except BuiltinError:
        return False
    return True


def base64url_encode(_ctx: BuiltinContext, text: Any) -> str:
    return base64.urlsafe_b64encode(_string("base64url.encode", text).encode()).decode()


def base64url_encode_no_pad(_ctx: BuiltinContext, text: Any) -> str:
    raw = base64.urlsafe_b64encode(_string("base64url.encode_no_pad", text).encode())
    return raw.decode().rstrip("=")


def _decode(name: str, text: Any, *, url: bool) -> str:
    """Padded or not (OPA tries both); the bytes must be UTF-8 to be a string value."""
    source = _string(name, text)
    padded = source + "=" * (-len(source) % 4)
    alphabet = b"-_" if url else b"+/"
    try:
        return base64.b64decode(padded, altchars=alphabet, validate=True).decode("utf-8")
    except (binascii.Error, ValueError) as exc:
        raise BuiltinError(f"{name}: {exc}") from exc


def base64url_decode(_ctx: BuiltinContext, text: Any) -> str:
    return _decode("base64url.decode", text, url=True)


def base64_encode(_ctx: BuiltinContext, text: Any) -> str:
    return base64.b64encode(_string("base64.encode", text).encode()).decode()


def base64_decode(_ctx: BuiltinContext, text: Any) -> str:
    return _decode("base64.decode", text, url=False)


def base64_is_valid(_ctx: BuiltinContext, text: Any) -> bool:
    try:
        _decode("base64.is_valid", text, url=False)
    except BuiltinError:
        return False
    return True


def urlquery_encode(_ctx: BuiltinContext, text: Any) -> str:
    """Go's url.QueryEscape: space → `+`, only `-_.~` and alphanumerics kept."""
    return urllib.parse.quote_plus(_string("urlquery.encode", text), safe="")


def urlquery_decode(_ctx: BuiltinContext, text: Any) -> str:
    source = _string("urlquery.decode", text)
    bad = _BAD_ESCAPE.search(source)
    if bad:
        raise BuiltinError(f"urlquery.decode: invalid URL escape {source[bad.start() :][:3]!r}")
    return urllib.parse.unquote_plus(source, errors="strict")


def urlquery_encode_object(_ctx: BuiltinContext, obj: Any) -> str:
    """`{"a": "b", "c": ["d", "e"]}` → `a=b&c=d&c=e` (keys sorted, as Go's Values.Encode)."""
    if not isinstance(obj, dict):
        raise BuiltinError("urlquery.encode_object: expects an object")
    pairs: list[tuple[str, str]] = []
    for key in sorted(obj):
        values = obj[key] if isinstance(obj[key], list) else [obj[key]]
        if not all(isinstance(v, str) for v in values):
            raise BuiltinError("urlquery.encode_object: values must be strings or string arrays")
        pairs.extend((key, value) for value in values)
    return urllib.parse.urlencode(pairs, quote_via=urllib.parse.quote_plus)


def urlquery_decode_object(_ctx: BuiltinContext, text: Any) -> dict[str, list[str]]:
    source = _string("urlquery.decode_object", text)
    if _BAD_ESCAPE.search(source):
        raise BuiltinError("urlquery.decode_object: invalid URL escape")
    return urllib.parse.parse_qs(source, keep_blank_values=True)


ENCODING_BUILTINS: Final[dict[str, Builtin]] = {
    "json.is_valid": json_is_valid,
    "json.marshal": json_marshal,
    "json.unmarshal": json_unmarshal,
    "yaml.marshal": yaml_marshal,
    "yaml.unmarshal": yaml_unmarshal,
    "yaml.is_valid": yaml_is_valid,
    "base64url.encode": base64url_encode,
    "base64url.encode_no_pad": base64url_encode_no_pad,
    "base64url.decode": base64url_decode,
    "base64.encode": base64_encode,
    "base64.decode": base64_decode,
    "base64.is_valid": base64_is_valid,
    "urlquery.encode": urlquery_encode,
    "urlquery.decode": urlquery_decode,
    "urlquery.encode_object": urlquery_encode_object,
    "urlquery.decode_object": urlquery_decode_object,
}
