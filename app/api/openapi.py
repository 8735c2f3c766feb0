"""The OpenAPI document, told the truth in one place, and the docs UIs served from local files.

Routes declare what they do; this module adds what every route shares, so no route has to
repeat it: the one `Problem` schema (RFC 7807 with `errors[]`, as `app.api.errors` sends it) in
`application/problem+json` on each error status an operation can answer, and an example for
each request body. The statuses follow from what the framework knows about an operation:

- 401/403: it needs a bearer token (401 without a valid one; 403 for a write with an evaluator
  token, or for a non-loopback client when no tokens are configured);
- 404: it names a stored object (a path parameter, a `version`, or `NOT_FOUND_TOO`);
- 409: it writes, or loads a stored version (a duplicate, an ever-active delete, a refused
  promotion, a stored snapshot whose checksum no longer matches);
- 413: it takes a body (`PKG_MAX_BODY_BYTES`, `PKG_MAX_BATCH_ITEMS`);
- 422: it takes parameters or a body;
- 503: it needs the store or an active snapshot (everything but `ALWAYS_ANSWERS`).

Swagger UI and ReDoc load their JavaScript and CSS from the files the `fastapi-standalone-docs`
package ships, mounted under /docs and /redoc: the pages work on a network without internet.
"""

from __future__ import annotations

import copy
from http import HTTPStatus
from pathlib import Path
from typing import Any

import fastapi_standalone_docs  # type: ignore[import-untyped]  # ships assets, no py.typed
import yaml
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.staticfiles import StaticFiles
from starlette.requests import Request
from starlette.responses import HTMLResponse

from app.api.errors import PROBLEM_JSON
from app.api.schemas import FACTS_EXAMPLE, VERSION_EXAMPLE

ASSETS = Path(fastapi_standalone_docs.__file__).resolve().parent / "static"

ALWAYS_ANSWERS = {("get", "/health"), ("get", "/metrics"), ("get", "/schemas/policy.json")}
NOT_FOUND_TOO = {
    ("get", "/snapshots/active"),  # no active snapshot in the env
    ("post", "/validation/runs"),
    ("post", "/promotions"),
    ("post", "/promotions/rollback"),
    ("post", "/deployments"),
}
WRITES = {"post", "put", "patch", "delete"}

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 7807 problem details; `errors` lists each invalid field",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "example": "about:blank"},
        "title": {"type": "string", "example": "Unprocessable Content"},
        "status": {"type": "integer", "example": 422},
        "detail": {"type": "string", "example": "tags[0]: must be a string, not a number"},
        "instance": {"type": "string", "example": "/evaluate"},
        "errors": {
            "type": "array",
            "items": {"$ref": "#/components/schemas/ProblemFieldError"},
        },
    },
}
FIELD_ERROR_SCHEMA: dict[str, Any] = {
    "title": "ProblemFieldError",
    "type": "object",
    "required": ["loc", "msg"],
    "properties": {
        "loc": {"type": "string", "example": "rules[0].conditions[1].op"},
        "msg": {"type": "string", "example": "> makes no sense for a TAG"},
    },
}
WHY: dict[int, str] = {
    401: "No bearer token, or one that is not configured",
    403: "The route needs the admin role; or no tokens are configured and the client is "
    "not on loopback",
    404: "The named snapshot, run, deployment or version does not exist",
    409: "Conflicts with what is stored: a duplicate version, a snapshot that was active, a "
    "promotion refused by its validation, or a stored snapshot whose checksum no longer matches",
    413: "The body is larger than PKG_MAX_BODY_BYTES, or a batch has more than "
    "PKG_MAX_BATCH_ITEMS items",
    422: "Invalid input; `errors` names each field",
    503: "The service is starting, the database is unavailable, or no snapshot is active yet",
}

BODY_EXAMPLES: dict[str, Any] = {
    "BatchRequest": {"items": [FACTS_EXAMPLE, {"tags": ["maintenance"]}]},
    "FixturesRequest": {
        "fixtures": [
            {
                "name": "vip allergy goes to the chef",
                "input": {"tags": ["vip", "allergy_nuts"]},
                "expect": {"subtasks": [{"name": "check_allergen"}]},
            }
        ]
    },
    "ValidationRunRequest": {"version": VERSION_EXAMPLE},
    "PromotionRequest": {"version": VERSION_EXAMPLE, "reason": "new allergy flow"},
    "RollbackRequest": {"reason": "regression in the allergy flow"},
    "DeploymentRequest": {
        "version": VERSION_EXAMPLE,
        "target": "router",
        "region": "global",
        "percent": 10,
    },
    "DeploymentPatch": {"percent": 50},
    "HeartbeatRequest": {"device_type": "door", "version": VERSION_EXAMPLE, "region": "eu-1"},
}


def error_statuses(method: str, path: str, operation: dict[str, Any]) -> list[int]:
    """The error statuses an operation can answer (see the module docstring)."""
    key = (method, path)
    takes_body = "requestBody" in operation
    parameters = operation.get("parameters", [])
    statuses: set[int] = set()
    if operation.get("security"):
        statuses |= {401, 403}
    names_a_version = any(p.get("name") == "version" for p in parameters)
    if "{" in path or names_a_version or key in NOT_FOUND_TOO:
        statuses.add(404)
    if (method in WRITES and operation.get("security")) or names_a_version:
        statuses.add(409)
    if takes_body:
        statuses.add(413)
    if takes_body or parameters:
        statuses.add(422)
    if key not in ALWAYS_ANSWERS:
        statuses.add(503)
    return sorted(statuses)


def _problem_response(status: int) -> dict[str, Any]:
    phrase = HTTPStatus(status).phrase
    return {
        "description": f"{phrase}: {WHY.get(status, phrase)}",
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def _example_from_schema(schema: dict[str, Any], components: dict[str, Any]) -> Any:
    """A body example built from a schema's own `examples`/defaults (routes added later get one
    without a line here)."""
    if "$ref" in schema:
        return _example_from_schema(
            components.get(schema["$ref"].rsplit("/", 1)[1], {}), components
        )
    if schema.get("examples"):
        return schema["examples"][0]
    if "default" in schema and schema["default"] is not None:
        return schema["default"]
    options = schema.get("anyOf") or schema.get("oneOf")
    if options:
        return _example_from_schema(options[0], components)
    kind = schema.get("type")
    if kind == "object":
        properties = schema.get("properties", {})
        return {name: _example_from_schema(sub, components) for name, sub in properties.items()}
    if kind == "array":
        return [_example_from_schema(schema.get("items", {}), components)]
    return {"string": "text", "integer": 1, "number": 0.5, "boolean": True}.get(kind or "")


def _add_body_example(operation: dict[str, Any], components: dict[str, Any]) -> None:
    content = operation.get("requestBody", {}).get("content", {})
    body = content.get("application/json")
    if body is None:
        return
    if "example" not in body and "examples" not in body:
        schema = body.get("schema", {})
        name = schema.get("$ref", "").rsplit("/", 1)[-1]
        if name in BODY_EXAMPLES:
            body["example"] = copy.deepcopy(BODY_EXAMPLES[name])
        elif schema == {"type": "object"}:  # a raw-facts body (simulate)
            body["example"] = copy.deepcopy(FACTS_EXAMPLE)
        else:
            body["example"] = _example_from_schema(schema, components)
    for yaml_type in (t for t in content if "yaml" in t):  # the same body, as YAML text
        if "example" not in content[yaml_type] and "example" in body:
            content[yaml_type]["example"] = yaml.safe_dump(body["example"], sort_keys=False)


def truthful_openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document with the shared error responses and body examples added."""
    document = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    components = document.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = PROBLEM_SCHEMA
    components["ProblemFieldError"] = FIELD_ERROR_SCHEMA
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            statuses = error_statuses(method, path, operation)
            for status in statuses:
                responses[str(status)] = _problem_response(status)
            operation["responses"] = dict(sorted(responses.items()))
            _add_body_example(operation, components)
    # FastAPI's own 422 model is replaced everywhere: drop it if nothing refers to it
    text = str(document["paths"])
    for name in ("HTTPValidationError", "ValidationError"):
        if f"/{name}'" not in text:
            components.pop(name, None)
    return document


def install_openapi(app: FastAPI) -> None:
    """Serve the truthful document at /openapi.json and the docs UIs from local assets.

    `create_app` builds the app with `docs_url=None, redoc_url=None` and calls this."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = truthful_openapi(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented override hook
    app.mount("/docs/assets", StaticFiles(directory=ASSETS / "swagger"), name="swagger-assets")
    app.mount("/redoc/assets", StaticFiles(directory=ASSETS / "redoc"), name="redoc-assets")
    app.mount("/docs/favicon", StaticFiles(directory=ASSETS / "fastapi"), name="docs-favicon")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}/openapi.json",
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}/docs/assets/swagger-ui-bundle.js",
            swagger_css_url=f"{root}/docs/assets/swagger-ui.css",
            swagger_favicon_url=f"{root}/docs/favicon/favicon.png",
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}/openapi.json",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}/redoc/assets/redoc.standalone.js",
            redoc_favicon_url=f"{root}/docs/favicon/favicon.png",
            with_google_fonts=False,
        )
