"""Snapshots: create from a policy document, list, read, delete, simulate, fixtures."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from app.api.auth import AdminRole, ReaderRole
from app.api.body import JSONResponse, read_document, read_facts
from app.api.bundles import is_gzip, read_bundle_body, signature_header
from app.api.deps import GovernanceDep, SettingsDep
from app.api.routes.schemas import policy_body_schema
from app.api.schemas import (
    MAX_ID,
    FixtureModel,
    FixturesRequest,
    SimulateResponse,
    SnapshotResponse,
    SnapshotSummary,
)
from app.domain.bundle import BundleRequest
from app.domain.document import Fixture, document_from_snapshot, parse_policy_document
from app.services.governance import SnapshotView

router = APIRouter(prefix="/snapshots", tags=["snapshots"])

DOCUMENT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "A policy document (DESIGN.md §2) as JSON or YAML (optionally with a "
        "`PKG-Signature: <key id>:<base64>` header from `pkgctl sign`), or a PKG bundle",
        "content": {
            "application/json": {
                "schema": policy_body_schema(),
                "example": {
                    "version": "rules@1.4.0",
                    "env": "prod",
                    "engine": "native",
                    "subtask_types": {"escalate": {"default_params": {"level": "normal"}}},
                    "rules": [
                        {
                            "name": "high_priority_vip",
                            "priority": 10,
                            "conditions": [{"type": "TAG", "key": "vip", "op": "EXISTS"}],
                            "emissions": [
                                {"subtask_type": "escalate", "params": {"level": "high"}}
                            ],
                        }
                    ],
                    "fixtures": [
                        {
                            "name": "vip escalates",
                            "input": {"tags": ["vip"]},
                            "expect": {"subtasks": [{"name": "escalate"}]},
                        }
                    ],
                },
            },
            "application/yaml": {
                "schema": {"type": "string", "description": "the same document as YAML"}
            },
            "application/gzip": {
                "schema": {"type": "string", "format": "binary"},
                "description": "An OPA bundle (`opa build -t wasm`) or a PKG export bundle",
            },
        },
    }
}
BundleVersion = Annotated[
    str | None, Query(max_length=200, description="gzip bundle: the version (default: revision)")
]
BundleEnv = Annotated[str | None, Query(max_length=16, description="gzip bundle: the env")]
BundleEntrypoint = Annotated[
    str | None, Query(max_length=512, description="gzip bundle: default entrypoint")
]
BundleStrict = Annotated[
    bool, Query(description="gzip bundle: a builtin error fails the evaluation")
]


# what RFC 3986 lets a path segment carry as is (pchar); everything else is percent-encoded
PATH_SEGMENT_SAFE = "!$&'()*+,;=:@"


def snapshot_location(version: str) -> str:
    """The `Location` of a stored version: percent-encoded, so any version the document allows
    fits in an HTTP header (`日本語@1` → `/snapshots/%E6%97%A5%E6%9C%AC%E8%AA%9E@1`)."""
    return f"/snapshots/{quote(version, safe=PATH_SEGMENT_SAFE)}"


def _snapshot_body(view: SnapshotView) -> dict[str, Any]:
    snapshot, info = view.snapshot, view.summary
    return {
        "id": snapshot.id,
        "version": snapshot.version,
        "env": snapshot.env,
        "engine": snapshot.engine,
        "checksum": snapshot.checksum,
        "entrypoint": snapshot.entrypoint,
        "entrypoints": list(snapshot.entrypoints),
        "revision": snapshot.revision,
        "data_size": snapshot.data_size,
        "strict_builtin_errors": snapshot.strict_builtin_errors,
        "notes": snapshot.notes,
        "is_active": info.get("is_active", False),
        "created_at": info.get("created_at"),
        "activated_at": info.get("activated_at"),
        "rules_count": len(snapshot.rules),
        "checksum_scheme": snapshot.checksum_scheme,
        "signing_key_id": snapshot.signing_key_id,
        "document": document_from_snapshot(snapshot, view.fixtures),
    }


@router.post(
    "",
    status_code=201,
    response_model=SnapshotResponse,
    summary="Create a snapshot from a policy document (JSON or YAML) or a gzipped bundle",
    openapi_extra=DOCUMENT_BODY,
)
async def create_snapshot(
    request: Request,
    governance: GovernanceDep,
    _role: AdminRole,
    version: BundleVersion = None,
    env: BundleEnv = None,
    entrypoint: BundleEntrypoint = None,
    strict_builtin_errors: BundleStrict = False,
) -> Response:
    bundle = BundleRequest(version, env, entrypoint, strict_builtin_errors)
    if is_gzip(request):  # an OPA bundle, or a PKG export (`pkgctl export`)
        snapshot, fixtures = await governance.create_from_bundle(
            await read_bundle_body(request), bundle
        )
        headers = {"Location": snapshot_location(snapshot.version)}
    else:
        document = parse_policy_document(await read_document(request, bundle))
        # every header is built before the commit: nothing after it may fail unheard
        headers = {"Location": snapshot_location(document.version)}
        signature = signature_header(request)
        snapshot = await governance.create_snapshot(document, signature=signature)
        fixtures = list(document.fixtures)
    view = await governance.created_view(snapshot, fixtures)
    body = SnapshotResponse.model_validate(_snapshot_body(view)).model_dump(mode="json")
    return JSONResponse(body, status_code=201, headers=headers)


@router.get(
    "/{version}/bundle",
    summary="Export a snapshot as a PKG bundle (.tar.gz: document, fixtures, wasm, signature)",
    response_class=Response,
    responses={200: {"content": {"application/gzip": {}}}},
)
async def export_bundle(version: str, governance: GovernanceDep, _role: ReaderRole) -> Response:
    data = await governance.export_bundle(version)
    filename = "".join(c if c.isalnum() or c in "._-" else "_" for c in version)
    return Response(
        data,
        media_type="application/gzip",
        headers={"Content-Disposition": f'attachment; filename="{filename}.tar.gz"'},
    )


@router.get("", response_model=list[SnapshotSummary], summary="List snapshots, newest first")
async def list_snapshots(
    governance: GovernanceDep,
    _role: ReaderRole,
    env: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> list[dict[str, Any]]:
    return await governance.list_snapshots(env=env, limit=limit, offset=offset)


@router.get("/active", response_model=SnapshotResponse, summary="The active snapshot of an env")
async def active_snapshot(
    governance: GovernanceDep, settings: SettingsDep, _role: ReaderRole, env: str | None = None
) -> dict[str, Any]:
    return _snapshot_body(await governance.active_snapshot_view(env or settings.env))


@router.get("/{version}", response_model=SnapshotResponse, summary="A snapshot, with its rules")
async def read_snapshot(
    version: str, governance: GovernanceDep, _role: ReaderRole
) -> dict[str, Any]:
    return _snapshot_body(await governance.snapshot_view(version))


@router.delete("/{version}", status_code=204, summary="Delete a snapshot that was never active")
async def delete_snapshot(version: str, governance: GovernanceDep, _role: AdminRole) -> Response:
    await governance.delete_snapshot(version)
    return Response(status_code=204)


@router.post(
    "/{version}/simulate",
    response_model=SimulateResponse,
    summary="Dry-run facts on any stored version (never changes what is active)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
async def simulate(
    version: str, request: Request, governance: GovernanceDep, _role: ReaderRole
) -> Response:
    facts = await read_facts(request)
    return JSONResponse(await governance.simulate(version, facts))


@router.get("/{version}/fixtures", response_model=list[FixtureModel])
async def list_fixtures(
    version: str, governance: GovernanceDep, _role: ReaderRole
) -> list[dict[str, Any]]:
    return await governance.fixture_rows(await governance.snapshot(version))


@router.post("/{version}/fixtures", status_code=201, response_model=list[FixtureModel])
async def add_fixtures(
    version: str, body: FixturesRequest, governance: GovernanceDep, _role: AdminRole
) -> list[dict[str, Any]]:
    fixtures = [Fixture(f.name, f.input, f.expect) for f in body.fixtures]
    return await governance.add_fixtures(version, fixtures)
