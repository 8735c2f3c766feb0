"""PKG's own builtins against the outputs OPA's documentation and test cases
(test/cases/testdata/v1/...) give for them."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from app.adapters.opa_wasm.builtins import BuiltinContext, BuiltinError
from app.adapters.opa_wasm.registry import STANDARD_BUILTINS, lookup

NS = 1_000_000_000
SECRET = "a-secret-of-at-least-32-bytes-long"
# jwt.io's example token (HS256, secret "your-256-bit-secret")
JWT_IO = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwi"
    "aWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)


def call(name: str, *args: Any) -> Any:
    builtin = lookup(name)
    assert builtin is not None, name
    return builtin.call(BuiltinContext(), *args)


KNOWN: list[tuple[str, tuple[Any, ...], Any]] = [
    # sprintf: big integers print whole (test-sprintf.yaml)
    ("sprintf", ("%s", [123456789123456789123]), "123456789123456789123"),
    ("sprintf", ("%d items", [3]), "3 items"),
    # time
    ("time.parse_rfc3339_ns", ("2017-06-02T19:00:00-07:00",), 1496455200000000000),
    ("time.parse_rfc3339_ns", ("1970-01-01T00:00:00.000000001Z",), 1),
    ("time.date", ([1517832000 * NS, ""],), [2018, 2, 5]),  # test-time-0953
    ("time.date", (1517832000 * NS,), [2018, 2, 5]),
    ("time.clock", (1582977600 * NS,), [12, 0, 0]),  # test-time-0958 (leap day)
    ("time.weekday", (1582977600 * NS,), "Saturday"),
    ("time.add_date", (1582977600 * NS, 0, 1, 0), 1585483200 * NS),  # Feb 29 + 1 month = Mar 29
    ("time.add_date", (1604145600 * NS, 0, 1, 0), 1606824000 * NS),  # Oct 31 + 1 month = Dec 1
    # json / yaml
    ("json.is_valid", ('{"a": [1, 2]}',), True),
    ("json.is_valid", ("{a: 1}",), False),
    ("json.marshal", ({"b": 1, "a": [True, None]},), '{"a":[true,null],"b":1}'),
    ("json.unmarshal", ('{"a": [1, "x"]}',), {"a": [1, "x"]}),
    ("yaml.unmarshal", ("a: [1, 2]\nb: {c: true}",), {"a": [1, 2], "b": {"c": True}}),
    ("yaml.marshal", ({"b": 1, "a": [1, 2]},), "a:\n- 1\n- 2\nb: 1\n"),
    ("yaml.is_valid", ("a: [1",), False),
    # regex (RE2)
    ("regex.split", ("[,;] *", "a, b;c"), ["a", "b", "c"]),
    ("regex.find_n", ("a.", "paranormal", 2), ["ar", "an"]),
    ("regex.find_n", ("a.", "paranormal", -1), ["ar", "an", "al"]),
    ("regex.template_match", ("urn:foo:{.*}", "urn:foo:bar:baz", "{", "}"), True),
    ("regex.template_match", ("urn:foo:{[0-9]+}", "urn:foo:bar", "{", "}"), False),
    ("regex.is_valid", ("(unclosed",), False),
    # glob (OPA's builtin reference table and test-globmatch-0133/0140)
    ("glob.match", ("*.github.com", ["."], "api.github.com"), True),
    ("glob.match", ("*.github.com", [], "api.github.com"), True),
    ("glob.match", ("*.github.com", [], "api.cdn.github.com"), False),
    ("glob.match", ("*hub.com", None, "api.cdn.github.com"), True),
    ("glob.match", ("*:github:com", [":"], "api:github:com"), True),
    ("glob.match", ("api.**.com", [], "api.cdn.github.com"), True),
    ("glob.match", ("[!abc]at", [], "fat"), True),
    ("glob.match", ("[!abc]at", [], "cat"), False),
    ("glob.match", ("{cat,bat,[fr]at}", [], "rat"), True),
    ("glob.quote_meta", ("*.github.com",), "\\*.github.com"),
    # net (test-netcidrmerge0117.yaml, test-ipv6-with-and-without-prefix.yaml)
    ("net.cidr_contains", ("10.0.0.0/8", "10.1.2.3"), True),
    ("net.cidr_contains", ("10.0.0.0/8", "192.168.1.0/24"), False),
    ("net.cidr_intersects", ("192.168.0.0/16", "192.168.1.0/24"), True),
    ("net.cidr_merge", (["192.0.128.0/24", "192.0.129.0/24"],), ["192.0.128.0/23"]),
    ("net.cidr_merge", (["192.0.2.112/30", "192.0.2.116/31", "192.0.2.118/31"],),
     ["192.0.2.112/29"]),
    ("net.cidr_merge", (["192.0.2.112", "192.0.2.116/31", "192.0.2.118/31"],), ["192.0.2.0/24"]),
    ("net.cidr_merge", (["192.0.128.0/24", "0.0.0.0/0"],), ["0.0.0.0/0"]),
    ("net.cidr_merge", (["fe80::/120", "192.0.2.0/24", "192.0.3.0/24", "192.0.4.0/25",
                         "192.0.4.128/25"],), ["192.0.2.0/23", "192.0.4.0/24", "fe80::/120"]),
    ("net.cidr_merge", (["2601:600:8a80:207e:a57d:7567:e2c9:e7b3/64",
                         "2601:600:8a80:207e:a57d:7567:e2c9:e7b3/128"],),
     ["2601:600:8a80:207e::/64"]),
    ("net.cidr_merge", ([],), []),
    # crypto
    ("crypto.sha256", ("hello",),
     "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"),
    ("crypto.md5", ("hello",), "5d41402abc4b2a76b9719d911017c592"),
    ("crypto.hmac.sha256", ("hello", "key"),
     "9307b3b915efb5171ff14d8cb55fbcc798c6c0ef1456d66ded1a6aa723a58b7b"),
    ("crypto.hmac.equal", ("abc", "abc"), True),
    # base64url / urlquery
    ("base64url.encode", ("hello?>",), "aGVsbG8_Pg=="),
    ("base64url.encode_no_pad", ("hello?>",), "aGVsbG8_Pg"),
    ("base64url.decode", ("aGVsbG8_Pg",), "hello?>"),
    ("base64url.decode", ("aGVsbG8_Pg==",), "hello?>"),
    ("urlquery.encode", ("a b&c=d/é",), "a+b%26c%3Dd%2F%C3%A9"),
    ("urlquery.decode", ("a+b%26",), "a b&"),
    ("urlquery.encode_object", ({"b": ["x", "y"], "a": "1 2"},), "a=1+2&b=x&b=y"),
    ("urlquery.decode_object", ("a=1&a=2&b=c",), {"a": ["1", "2"], "b": ["c"]}),
    # units (test-parse-bytes.yaml)
    ("units.parse_bytes", ('"100TIB"',), 109951162777600),
    ("units.parse_bytes", ("0.0",), 0),
    ("units.parse_bytes", (".5KB",), 500),
    ("units.parse_bytes", ("10KB",), 10000),
    ("units.parse_bytes", ("10Kib",), 10240),
    ("units.parse_bytes", ("1.1KiB",), 1126),
    ("units.parse_bytes", ("300GiB",), 322122547200),
    ("units.parse_bytes", ("10eib",), 11529215046068469760),
    # semver (test-semvercompare-*, test-semverisvalid-*)
    ("semver.compare", ("1.0.0", "1.0.0"), 0),
    ("semver.compare", ("1.0.0-alpha", "1.0.0"), -1),
    ("semver.compare", ("1.10.0", "1.9.9"), 1),
    ("semver.is_valid", ("1",), False),
    ("semver.is_valid", ("1.0.0+build.1",), True),
    # jwt
    ("io.jwt.decode", (JWT_IO,), [
        {"alg": "HS256", "typ": "JWT"},
        {"sub": "1234567890", "name": "John Doe", "iat": 1516239022},
        "49f94ac7044948c78a285d904f87f0a4c7897f7e8f3a4eb2255fda750b2cc397",
    ]),
    ("io.jwt.verify_hs256", (JWT_IO, "your-256-bit-secret"), True),
    ("io.jwt.verify_hs256", (JWT_IO, "another secret"), False),
]  # fmt: skip  # a table: one case per line


@pytest.mark.parametrize(("name", "args", "expected"), KNOWN)
def test_a_builtin_gives_opas_answer(name: str, args: tuple[Any, ...], expected: Any) -> None:
    assert call(name, *args) == expected


@pytest.mark.parametrize(
    ("name", "args", "message"),
    [
        ("units.parse_bytes", ("",), "no byte amount provided"),
        ("units.parse_bytes", ("GB",), "no byte amount provided"),
        ("units.parse_bytes", ("0.0.0",), "could not parse byte amount to a number"),
        ("units.parse_bytes", ("100 kb",), "spaces not allowed in resource strings"),
        ("net.cidr_merge", (["2601:600:8a80:207e:a57d:7567:e2c9:e7b3"],), "needs prefix length"),
        ("net.cidr_merge", (["foo"],), "invalid CIDR or IP"),
        ("time.parse_rfc3339_ns", ("2017-13-02T19:00:00Z",), "month"),
        ("semver.compare", ("1", "1.0.0"), "not a valid SemVer"),
        ("urlquery.decode", ("%zz",), "invalid URL escape"),
        ("yaml.unmarshal", ("a: &a [1]\n" + "".join(f"b{i}: *a\n" for i in range(101)),),
         "more than 100 aliases"),
        ("io.jwt.decode", ("a.b.c",), "malformed JWT"),
        ("io.jwt.decode", ("no-dots",), "three dot-separated parts"),
    ],
)  # fmt: skip  # a table: one case per line
def test_a_builtin_error_says_why(name: str, args: tuple[Any, ...], message: str) -> None:
    with pytest.raises(BuiltinError, match=message):
        call(name, *args)


def test_time_now_ns_is_fixed_within_one_evaluation() -> None:
    context = BuiltinContext()
    now = STANDARD_BUILTINS["time.now_ns"]
    first = now(context)
    assert now(context) == first
    assert abs(first - time.time_ns()) < 60 * NS


def _pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@pytest.mark.parametrize("algorithm", ["RS256", "ES256"])
def test_asymmetric_signatures_verify_with_the_public_key_only(algorithm: str) -> None:
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if algorithm == "RS256"
        else ec.generate_private_key(ec.SECP256R1())
    )
    other = ec.generate_private_key(ec.SECP256R1()) if algorithm == "ES256" else None
    token = jwt.encode({"sub": "alice"}, key, algorithm=algorithm)
    verify = f"io.jwt.verify_{algorithm.lower()}"
    assert call(verify, token, _pem(key)) is True
    jwk = jwt.algorithms.get_default_algorithms()[algorithm].to_jwk(key.public_key())
    assert call(verify, token, jwk) is True
    if other is not None:
        assert call(verify, token, _pem(other)) is False
    assert call("io.jwt.verify_hs256", token, "secret") is False  # wrong algorithm


def test_decode_verify_checks_signature_and_claims() -> None:
    now = 1_700_000_000
    token = jwt.encode(
        {"iss": "pkg", "aud": "svc", "exp": now + 60, "nbf": now - 60}, SECRET, algorithm="HS256"
    )
    ok = call("io.jwt.decode_verify", token, {"secret": SECRET, "aud": "svc", "time": now * NS})
    assert ok == [
        True,
        {"alg": "HS256", "typ": "JWT"},
        {"iss": "pkg", "aud": "svc", "exp": now + 60, "nbf": now - 60},
    ]
    invalid = [False, {}, {}]
    base = {"secret": SECRET, "aud": "svc", "time": now * NS}
    assert call("io.jwt.decode_verify", token, {**base, "secret": "wrong"}) == invalid
    assert call("io.jwt.decode_verify", token, {**base, "time": (now + 61) * NS}) == invalid
    assert call("io.jwt.decode_verify", token, {**base, "time": (now - 61) * NS}) == invalid
    assert call("io.jwt.decode_verify", token, {**base, "iss": "other"}) == invalid
    assert call("io.jwt.decode_verify", token, {**base, "aud": "elsewhere"}) == invalid
    assert call("io.jwt.decode_verify", token, {**base, "alg": "RS256"}) == invalid


def test_every_builtin_the_issue_names_is_there() -> None:
    wanted = {
        "sprintf", "time.now_ns", "time.parse_rfc3339_ns", "time.date", "time.add_date",
        "json.is_valid", "json.marshal", "json.unmarshal", "yaml.marshal", "yaml.unmarshal",
        "regex.split", "regex.find_n", "regex.template_match", "glob.match",
        "net.cidr_contains", "net.cidr_intersects", "net.cidr_merge", "crypto.sha256",
        "crypto.hmac.sha256", "base64url.encode", "base64url.decode", "urlquery.encode",
        "urlquery.decode", "uuid.rfc4122", "io.jwt.decode", "io.jwt.decode_verify",
        "io.jwt.verify_rs256", "io.jwt.verify_es256", "io.jwt.verify_hs256",
        "units.parse_bytes", "semver.compare", "semver.is_valid",
    }  # fmt: skip  # the issue's list, as it reads
    assert wanted - set(STANDARD_BUILTINS) == set()
