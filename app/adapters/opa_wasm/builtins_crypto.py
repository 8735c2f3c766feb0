"""Crypto host builtins: digests and HMACs (`hashlib`/`hmac`), and `io.jwt.*` on PyJWT with
`cryptography` keys (PEM certificates, PEM public keys, JWK and JWK sets, as OPA accepts)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any, Final

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from app.adapters.opa_wasm.builtins import Builtin, BuiltinContext, BuiltinError

_VERIFY_ALGORITHMS: Final = (
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
    "ES256", "ES384", "ES512", "HS256", "HS384", "HS512",
)  # fmt: skip  # a table: one algorithm family per line
_NS: Final = 1_000_000_000


def _string(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise BuiltinError(f"{name}: expects a string, got {type(value).__name__}")
    return value


# ---------------------------------------------------------------------------- digests
def _digest(name: str, algorithm: str) -> Builtin:
    def builtin(_ctx: BuiltinContext, value: Any) -> str:
        return hashlib.new(algorithm, _string(name, value).encode()).hexdigest()

    return builtin


def _hmac(name: str, algorithm: str) -> Builtin:
    def builtin(_ctx: BuiltinContext, value: Any, key: Any) -> str:
        message, secret = _string(name, value).encode(), _string(name, key).encode()
        return hmac.new(secret, message, algorithm).hexdigest()

    return builtin


def hmac_equal(_ctx: BuiltinContext, left: Any, right: Any) -> bool:
    name = "crypto.hmac.equal"
    return hmac.compare_digest(_string(name, left).encode(), _string(name, right).encode())


# ---------------------------------------------------------------------------- JWT
def _b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _split(name: str, token: Any) -> tuple[dict[str, Any], dict[str, Any], bytes]:
    parts = _string(name, token).split(".")
    if len(parts) != 3:
        raise BuiltinError(f"{name}: a JWT has three dot-separated parts")
    try:
        header, payload = json.loads(_b64(parts[0])), json.loads(_b64(parts[1]))
        signature = _b64(parts[2])
    except (binascii.Error, ValueError) as exc:
        raise BuiltinError(f"{name}: malformed JWT: {exc}") from exc
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise BuiltinError(f"{name}: JWT header and payload must be JSON objects")
    return header, payload, signature


def jwt_decode(_ctx: BuiltinContext, token: Any) -> list[Any]:
    """`[header, payload, signature as hex]`, without verifying anything."""
    header, payload, signature = _split("io.jwt.decode", token)
    return [header, payload, signature.hex()]


def _public_keys(name: str, material: str) -> list[Any]:
    """Every verification key in a PEM certificate, PEM public key, JWK or JWK set."""
    text = material.strip()
    try:
        if text.startswith("-----BEGIN CERTIFICATE"):
            return [x509.load_pem_x509_certificate(text.encode()).public_key()]
        if text.startswith("-----BEGIN"):
            return [serialization.load_pem_public_key(text.encode())]
        document = json.loads(text)
        if isinstance(document, dict) and isinstance(document.get("keys"), list):
            return [jwt.PyJWK(key).key for key in document["keys"]]
        return [jwt.PyJWK(document).key]
    except (ValueError, TypeError, jwt.PyJWTError) as exc:
        raise BuiltinError(f"{name}: unusable key material: {exc}") from exc


def _signature_ok(token: str, keys: list[Any], algorithm: str) -> bool:
    if algorithm.startswith("HS"):  # OPA takes any secret length; PyJWT would warn on short ones
        signed, _, signature = token.rpartition(".")
        digest = "sha" + algorithm[2:]
        return any(
            hmac.compare_digest(hmac.new(key, signed.encode(), digest).digest(), _b64(signature))
            for key in keys
        )
    for key in keys:
        try:
            jwt.api_jws.PyJWS().decode_complete(token, key, algorithms=[algorithm])
        except jwt.PyJWTError:
            continue
        return True
    return False


def _verifier(algorithm: str) -> Builtin:
    name = f"io.jwt.verify_{algorithm.lower()}"

    def builtin(_ctx: BuiltinContext, token: Any, material: Any) -> bool:
        header, _payload, _signature = _split(name, token)
        if header.get("alg") != algorithm:
            return False
        secret = _string(name, material)
        keys = [secret.encode()] if algorithm.startswith("HS") else _public_keys(name, secret)
        return _signature_ok(token, keys, algorithm)

    return builtin


def jwt_decode_verify(ctx: BuiltinContext, token: Any, constraints: Any) -> list[Any]:
    """`[valid, header, payload]`; `[false, {}, {}]` unless signature and claims check out."""
    name = "io.jwt.decode_verify"
    if not isinstance(constraints, dict):
        raise BuiltinError(f"{name}: constraints must be an object")
    header, payload, _signature = _split(name, token)
    invalid: list[Any] = [False, {}, {}]
    algorithm = header.get("alg")
    if algorithm not in _VERIFY_ALGORITHMS or constraints.get("alg", algorithm) != algorithm:
        return invalid
    keys = _constraint_keys(name, constraints, str(algorithm))
    if not _signature_ok(str(token), keys, str(algorithm)):
        return invalid
    if not _claims_ok(payload, constraints, ctx):
        return invalid
    return [True, header, payload]


def _constraint_keys(name: str, constraints: dict[str, Any], algorithm: str) -> list[Any]:
    if ("cert" in constraints) == ("secret" in constraints):
        raise BuiltinError(f"{name}: give exactly one of 'cert' and 'secret'")
    if algorithm.startswith("HS"):
        return [_string(name, constraints["secret"]).encode()] if "secret" in constraints else []
    return _public_keys(name, _string(name, constraints["cert"])) if "cert" in constraints else []


def _claims_ok(payload: dict[str, Any], constraints: dict[str, Any], ctx: BuiltinContext) -> bool:
    now = constraints.get("time", ctx.now_ns()) / _NS
    expires, not_before = payload.get("exp"), payload.get("nbf")
    if isinstance(expires, int | float) and now >= expires:
        return False
    if isinstance(not_before, int | float) and now < not_before:
        return False
    if "iss" in constraints and payload.get("iss") != constraints["iss"]:
        return False
    audience = payload.get("aud")
    wanted = constraints.get("aud")
    if audience is None:
        return wanted is None
    audiences = audience if isinstance(audience, list) else [audience]
    return wanted is not None and wanted in audiences


CRYPTO_BUILTINS: Final[dict[str, Builtin]] = {
    "crypto.md5": _digest("crypto.md5", "md5"),
    "crypto.sha1": _digest("crypto.sha1", "sha1"),
    "crypto.sha256": _digest("crypto.sha256", "sha256"),
    "crypto.hmac.md5": _hmac("crypto.hmac.md5", "md5"),
    "crypto.hmac.sha1": _hmac("crypto.hmac.sha1", "sha1"),
    "crypto.hmac.sha256": _hmac("crypto.hmac.sha256", "sha256"),
    "crypto.hmac.sha512": _hmac("crypto.hmac.sha512", "sha512"),
    "crypto.hmac.equal": hmac_equal,
    "io.jwt.decode": jwt_decode,
    "io.jwt.decode_verify": jwt_decode_verify,
    **{f"io.jwt.verify_{alg.lower()}": _verifier(alg) for alg in _VERIFY_ALGORITHMS},
}
