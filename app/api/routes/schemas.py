"""Published JSON Schemas: `GET /schemas/policy.json` lets editors check and complete policies.

Public (no token): the schema describes the document format, nothing about stored policies.
"""

from __future__ import annotations

from functools import cache
from typing import Any, Final

from fastapi import APIRouter

from app.api.body import JSONResponse
from app.domain.document_model import PolicyDocumentModel

router = APIRouter(prefix="/schemas", tags=["schemas"])

# Where the request-body copy of the schema lives inside /openapi.json (its $refs point there).
_OPENAPI_BODY: Final = "#/paths/~1snapshots/post/requestBody/content/application~1json/schema"


@cache
def policy_schema(ref_base: str = "#") -> dict[str, Any]:
    """The policy document's JSON Schema (draft 2020-12), its `$defs` referenced from `ref_base`."""
    return PolicyDocumentModel.model_json_schema(ref_template=ref_base + "/$defs/{model}")


def policy_body_schema() -> dict[str, Any]:
    """The same schema, embedded as the OpenAPI request body of `POST /snapshots`."""
    body = dict(policy_schema(_OPENAPI_BODY))
    body.pop("$schema", None)  # a dialect is declared by the OpenAPI document, not a body
    return body


@router.get(
    "/policy.json",
    response_class=JSONResponse,
    summary="JSON Schema of policy documents (point an editor's YAML language server here)",
    responses={200: {"content": {"application/schema+json": {}}}},
)
async def policy_json_schema() -> JSONResponse:
    return JSONResponse(policy_schema(), media_type="application/schema+json")
