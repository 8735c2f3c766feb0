"""Reading request bodies fast (orjson) with problem+json errors that name the field."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request
from starlette.responses import Response

from app.domain.bundle import BundleRequest, bundle_document
from app.domain.dag import RuleOutput, SharedDecision
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
    as strings, on a second try, since allowing them up front makes every dump slower.

    A decision assembled from the snapshot's own dicts (`SharedDecision`, alone or as the
    items of a batch) reuses the JSON of each rule output that fired, rendered the first time
    that output fires: the same bytes, without walking the same dicts on every request."""
    try:
        return orjson.dumps(_reusing(content))
    except TypeError:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


def _reusing(content: Any) -> Any:
    kind = type(content)
    if kind is SharedDecision:
        return _with_fragments(content)
    if kind is dict and len(content) == 1:
        items = content.get("items")
        if type(items) is list and items and type(items[0]) is SharedDecision:
            return {"items": [_with_fragments(item) for item in items]}
    return content


def _with_fragments(decision: Any) -> Any:
    """`decision` with its subtasks, dag and rules as pre-rendered `orjson.Fragment`s, or as
    it is if it is not (or no longer) the concatenation of its outputs."""
    if type(decision) is not SharedDecision or decision.fired is None:
        return decision
    subtasks, dag, rules = decision.lists
    if (
        decision.get("subtasks") is not subtasks
        or decision.get("dag") is not dag
        or decision.get("rules") is not rules
        or len(rules) != len(decision.fired)
    ):
        return decision
    subtask_parts: list[bytes] = []
    edge_parts: list[bytes] = []
    rule_parts: list[bytes] = []
    for output in decision.fired:
        rendered = output.rendered[0]
        if rendered is None:
            rendered = output.rendered[0] = _output_json(output)
        if rendered[0]:
            subtask_parts.append(rendered[0])
        if rendered[1]:
            edge_parts.append(rendered[1])
        rule_parts.append(rendered[2])
    return {
        **decision,
        "subtasks": orjson.Fragment(b"[%b]" % b",".join(subtask_parts)),
        "dag": orjson.Fragment(b"[%b]" % b",".join(edge_parts)),
        "rules": orjson.Fragment(b"[%b]" % b",".join(rule_parts)),
    }


def _output_json(output: RuleOutput) -> tuple[bytes, bytes, bytes]:
    """What one output adds to the three lists, as JSON (comma-separated members)."""
    return (
        b",".join([orjson.dumps(template) for template in output.templates]),
        b",".join([orjson.dumps(edge) for edge in output.edges]),
        orjson.dumps(output.provenance),
    )


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
