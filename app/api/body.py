"""Reading request bodies fast (orjson) with problem+json errors that name the field."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request
from starlette.responses import Response

from app.domain.bundle import BundleRequest, bundle_document
from app.domain.errors import DocumentError, FactsError, FieldError
from app.services.policy_text import load_policy_text

YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")
BUNDLE_TYPES = ("application/gzip", "application/x-gzip", "application/x-tar+gzip")

FACTS_BODY_SCHEMA: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "description": "Task facts: tags, signals, context, and any other keys",
                    "properties": {
                        "tags": {"type": "array", "items": {"type": "string"}},
                        "signals": {"type": "object", "additionalProperties": {"type": "number"}},
                        "context": {"type": "object"},
                    },
                },
                "example": {
                    "tags": ["vip", "allergy_nuts"],
                    "signals": {"urgency": 0.9},
                    "context": {"domain": "hotel_ops", "task_type": "guest_request"},
                },
            }
        },
    }
}


class JSONResponse(Response):
    """orjson: the /evaluate response is rendered in microseconds, not tens of them."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return render(content)


def render(content: Any) -> bytes:
    """orjson; keys that are not strings (a wasm policy's output may hold some) are written
    as strings, on a second try, since allowing them up front makes every dump slower."""
    try:
        return orjson.dumps(content)
    except TypeError:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


async def read_facts(request: Request) -> dict[str, Any]:
    return parse_facts(await request.body())


def parse_facts(raw: bytes) -> dict[str, Any]:
    try:
        facts = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise FactsError("body", f"not valid JSON: {exc}") from exc
    if not isinstance(facts, dict):
        raise FactsError("body", f"task facts must be a JSON object, not {type(facts).__name__}")
    return facts


def _refuse_bundle_options(bundle: BundleRequest | None) -> None:
    """`?version=` and friends describe a bundle; on a document they would be silently ignored."""
    if bundle is None:
        return
    given = {
        "version": bundle.version,
        "env": bundle.env,
        "entrypoint": bundle.entrypoint,
        "strict_builtin_errors": bundle.strict_builtin_errors or None,
    }
    errors = [
        FieldError(f"query.{name}", "applies to a gzip bundle body; set it in the document")
        for name, value in given.items()
        if value is not None
    ]
    if errors:
        raise DocumentError(errors)


async def read_document(request: Request, bundle: BundleRequest | None = None) -> dict[str, Any]:
    """A policy document in JSON or YAML, or a gzipped bundle (OPA or PKG export) that stands
    for one (by Content-Type; JSON is the default). `bundle` says what a bundle leaves open."""
    raw = await request.body()
    content_type = request.headers.get("content-type", "application/json").split(";")[0].strip()
    if content_type in BUNDLE_TYPES:
        return bundle_document(raw, bundle or BundleRequest())
    _refuse_bundle_options(bundle)
    if content_type in YAML_TYPES:
        return load_policy_text(raw.decode("utf-8", "replace"))
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise DocumentError([FieldError("document", f"not valid JSON: {exc}")]) from exc
    if not isinstance(document, dict):
        raise DocumentError([FieldError("document", "a policy document must be an object")])
    return document
