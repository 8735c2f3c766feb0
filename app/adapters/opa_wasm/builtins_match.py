"""Matching host builtins: `regex.*` on RE2 (linear time, as OPA's Go regexp), `glob.*`
(compiled to RE2), `net.cidr_*` (`ipaddress`)."""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Any, Final

import re2

from app.adapters.opa_wasm.builtins import Builtin, BuiltinContext, BuiltinError, _re2, regex_split

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_GLOB_CHARS: Final = 4096


def _string(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise BuiltinError(f"{name}: expects a string, got {type(value).__name__}")
    return value


# ---------------------------------------------------------------------------- regex
def regex_find_n(_ctx: BuiltinContext, pattern: Any, value: Any, number: Any) -> list[str]:
    """The first `number` matches (-1: all), as Go's FindAllString."""
    if isinstance(number, bool) or not isinstance(number, int):
        raise BuiltinError("regex.find_n: the count must be an integer")
    compiled = _re2(_string("regex.find_n", pattern))
    found: list[str] = []
    for match in compiled.finditer(_string("regex.find_n", value)):
        if 0 <= number <= len(found):
            break
        found.append(match.group(0))
    return found


def regex_is_valid(_ctx: BuiltinContext, pattern: Any) -> bool:
    if not isinstance(pattern, str):
        return False
    try:
        _re2(pattern)
    except BuiltinError:
        return False
    return True


def regex_template_match(
    _ctx: BuiltinContext, template: Any, value: Any, start: Any, end: Any
) -> bool:
    """`regex.template_match("urn:foo:{.*}", "urn:foo:bar:baz", "{", "}")` → true: text between
    the delimiters is a regex, the rest literal, and the whole value must match."""
    name = "regex.template_match"
    text, open_, close = _string(name, template), _string(name, start), _string(name, end)
    if len(open_) != 1 or len(close) != 1:
        raise BuiltinError(f"{name}: delimiters must be single characters")
    return bool(_template(text, open_, close).fullmatch(_string(name, value)))


@lru_cache(maxsize=256)
def _template(template: str, open_: str, close: str) -> Any:
    parts, depth, literal, inner = [], 0, "", ""
    for char in template:
        if char == open_:
            depth += 1
            if depth == 1:
                parts.append(re2.escape(literal))
                literal = ""
                continue
        elif char == close and depth:
            depth -= 1
            if depth == 0:
                parts.append(f"(?:{inner})")
                inner = ""
                continue
        if depth:
            inner += char
        else:
            literal += char
    if depth:
        raise BuiltinError(f"regex.template_match: unbalanced {open_}{close} in {template!r}")
    return _re2("".join([*parts, re2.escape(literal)]))


# ---------------------------------------------------------------------------- glob
def glob_match(_ctx: BuiltinContext, pattern: Any, delimiters: Any, value: Any) -> bool:
    """gobwas/glob as OPA uses it: `*` stays within a segment, `**` crosses delimiters, `?`, `[ab]`,
    `[!ab]`, `[a-z]`, `{a,b}`. Delimiters default to `["."]`; `null` means none."""
    name = "glob.match"
    if delimiters is None:
        separators = ""
    elif isinstance(delimiters, list) and all(isinstance(d, str) for d in delimiters):
        separators = "".join(delimiters) or "."
    else:
        raise BuiltinError(f"{name}: delimiters must be null or an array of strings")
    return bool(_glob(_string(name, pattern), separators).fullmatch(_string(name, value)))


@lru_cache(maxsize=256)
def _glob(pattern: str, separators: str) -> Any:
    if len(pattern) > MAX_GLOB_CHARS:
        raise BuiltinError(f"glob.match: pattern longer than {MAX_GLOB_CHARS} characters")
    segment = f"[^{re2.escape(separators)}]" if separators else "."
    return _re2(_GlobTranslator(pattern, segment).regex())


class _GlobTranslator:
    def __init__(self, pattern: str, segment: str) -> None:
        self.pattern, self.segment, self.at = pattern, segment, 0

    def regex(self, *, inside_braces: bool = False) -> str:
        out = []
        while self.at < len(self.pattern):
            char = self.pattern[self.at]
            if inside_braces and char in ",}":
                break
            self.at += 1
            out.append(self.token(char))
        return "".join(out)

    def token(self, char: str) -> str:
        if char == "*":
            if self.pattern.startswith("*", self.at):
                self.at += 1
                return ".*"
            return f"{self.segment}*"
        if char == "?":
            return self.segment
        if char == "\\" and self.at < len(self.pattern):
            self.at += 1
            return str(re2.escape(self.pattern[self.at - 1]))
        if char == "[":
            return self.char_class()
        if char == "{":
            return self.alternatives()
        return str(re2.escape(char))

    def char_class(self) -> str:
        close = self.pattern.find("]", self.at)
        if close < 0:
            raise BuiltinError(f"glob.match: unclosed '[' in {self.pattern!r}")
        body = self.pattern[self.at : close]
        self.at = close + 1
        negate = body.startswith("!")
        body = body[1:] if negate else body
        escaped = "".join("\\" + c if c in "\\^]" else c for c in body)
        return f"[{'^' if negate else ''}{escaped}]"

    def alternatives(self) -> str:
        options = []
        while True:
            options.append(self.regex(inside_braces=True))
            if self.at >= len(self.pattern):
                raise BuiltinError(f"glob.match: unclosed '{{' in {self.pattern!r}")
            self.at += 1
            if self.pattern[self.at - 1] == "}":
                return f"(?:{'|'.join(options)})"


def glob_quote_meta(_ctx: BuiltinContext, pattern: Any) -> str:
    text = _string("glob.quote_meta", pattern)
    return "".join("\\" + c if c in "*?\\[]{}" else c for c in text)


# ---------------------------------------------------------------------------- net
def _network(name: str, value: Any) -> IPNetwork:
    """A CIDR, or a bare address as Go's ParseCIDR-then-ParseIP does: an IPv4 address gets its
    classful default mask (A /8, B /16, C /24); an IPv6 one needs a prefix length."""
    text = _string(name, value)
    try:
        if "/" in text:
            return ipaddress.ip_network(text, strict=False)
        address = ipaddress.ip_address(text)
    except ValueError as exc:
        raise BuiltinError(f"{name}: invalid CIDR or IP {text!r}") from exc
    if isinstance(address, ipaddress.IPv6Address):
        raise BuiltinError(f"{name}: IPv6 invalid: needs prefix length")
    first = int(address) >> 24
    prefix = 8 if first < 128 else 16 if first < 192 else 24
    return ipaddress.ip_network(f"{address}/{prefix}", strict=False)


def _address_or_network(name: str, value: Any) -> IPNetwork:
    text = _string(name, value)
    try:
        return ipaddress.ip_network(text, strict=False)  # a bare address is a /32 or /128
    except ValueError as exc:
        raise BuiltinError(f"{name}: invalid CIDR or IP {text!r}") from exc


def cidr_contains(_ctx: BuiltinContext, cidr: Any, candidate: Any) -> bool:
    outer = _address_or_network("net.cidr_contains", cidr)
    inner = _address_or_network("net.cidr_contains", candidate)
    return inner.version == outer.version and inner.subnet_of(outer)  # type: ignore[arg-type]  # versions checked equal first


def cidr_intersects(_ctx: BuiltinContext, left: Any, right: Any) -> bool:
    a = _address_or_network("net.cidr_intersects", left)
    b = _address_or_network("net.cidr_intersects", right)
    return a.version == b.version and a.overlaps(b)


def cidr_is_valid(_ctx: BuiltinContext, cidr: Any) -> bool:
    if not isinstance(cidr, str) or "/" not in cidr:
        return False
    try:
        ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return False
    return True


def cidr_merge(_ctx: BuiltinContext, addresses: Any) -> list[str]:
    """The smallest set of networks covering `addresses` (IPv4 first, then IPv6)."""
    if not isinstance(addresses, list):
        raise BuiltinError("net.cidr_merge: expects an array or set of CIDRs and addresses")
    networks = [_network("net.cidr_merge", value) for value in addresses]
    merged: list[str] = []
    for version in (4, 6):
        chosen = [n for n in networks if n.version == version]
        merged.extend(str(n) for n in ipaddress.collapse_addresses(chosen))  # type: ignore[type-var]  # one version per list
    return merged


MATCH_BUILTINS: Final[dict[str, Builtin]] = {
    "regex.split": regex_split,
    "regex.find_n": regex_find_n,
    "regex.is_valid": regex_is_valid,
    "regex.template_match": regex_template_match,
    "glob.match": glob_match,
    "glob.quote_meta": glob_quote_meta,
    "net.cidr_contains": cidr_contains,
    "net.cidr_intersects": cidr_intersects,
    "net.cidr_is_valid": cidr_is_valid,
    "net.cidr_merge": cidr_merge,
}
