"""The console's forms: login and logout, validation, promotion and rollback (each behind a
confirmation page that shows what will change), and the playground.

A change goes through the API's own route functions with the API's request models, so the
console is held to exactly what `POST /promotions` and `POST /promotions/rollback` enforce:
the admin role, a passed validation unless forced, the guards. Every form is CSRF-checked."""

from __future__ import annotations

from typing import Annotated, Any, Final

import orjson
from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from app.api.auth import Caller
from app.api.deps import GovernanceDep, GuardedPromotionsDep, ManagerDep, SettingsDep
from app.api.routes.governance import promote as api_promote
from app.api.routes.governance import rollback as api_rollback
from app.api.routes.governance import run_validation as api_validate
from app.api.schemas import PromotionRequest, RollbackRequest, ValidationRunRequest
from app.api.ui.access import AdminDep, ReaderDep, session_of
from app.api.ui.forms import Form, read_form
from app.api.ui.render import ConsoleRoute, pages_of, status_of
from app.api.ui.rule_diff import diff_snapshots
from app.api.ui.session import login_needed, token_names_someone
from app.api.ui.views import rollback_target
from app.domain.document import ENVIRONMENTS
from app.domain.errors import FactsError, NotFoundError
from app.domain.facts import validate_facts
from app.services.governance import Governance

router = APIRouter(prefix="/ui", route_class=ConsoleRoute, include_in_schema=False)
Text = Annotated[str | None, Query(max_length=200)]
GUARD_FIELDS: Final = (
    "max_divergence", "min_shadow_decisions", "watch_s", "max_error_rate", "min_decisions",
)  # fmt: skip
EXAMPLE_FACTS: Final = '{\n  "tags": ["vip"],\n  "signals": {"urgency": 0.9},\n  "context": {}\n}'


async def checked_form(request: Request) -> Form:
    form = await read_form(request)
    pages_of(request).keeper.check_csrf(request, session_of(request), form.get("csrf"))
    return form


def safe_next(target: str | None) -> str:
    if not target or not target.startswith("/ui") or "\\" in target:
        return "/ui/"
    return target


def see_other(url: str) -> Response:
    return RedirectResponse(url, 303)


# ---------------------------------------------------------------------------- session
@router.get("/login")
async def login_page(request: Request, next: Text = None) -> Response:  # the form's name
    return pages_of(request).render(
        request, "login.html", page=None, who=None, next=safe_next(next),
        needed=login_needed(request), error=None,
    )  # fmt: skip


@router.post("/login")
async def login(request: Request) -> Response:
    form = await checked_form(request)
    target = safe_next(form.get("next"))
    token = form.text("token")
    caller = token_names_someone(request, token) if token else None
    if caller is None:
        return pages_of(request).render(
            request, "login.html", status=401, page=None, who=None, next=target,
            needed=login_needed(request), error="That token names nobody on this server.",
        )  # fmt: skip
    keeper = pages_of(request).keeper
    response = see_other(target)
    keeper.write(response, keeper.new(token), request)  # a new session id: no fixation
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    await checked_form(request)
    response = see_other("/ui/login")
    pages_of(request).keeper.clear(response)
    return response


# ---------------------------------------------------------------------------- validation
@router.post("/validate")
async def validate(request: Request, caller: AdminDep, governance: GovernanceDep) -> Response:
    form = await checked_form(request)
    version = form.text("version")
    if version is None:
        raise HTTPException(422, "version: name the snapshot to validate")
    await api_validate(ValidationRunRequest(version=version), governance, caller)
    return see_other(safe_next(form.get("next")))


# ---------------------------------------------------------------------------- promotion
async def _promote_context(
    governance: Governance, caller: Caller, version: str, env: str
) -> dict[str, Any]:
    target = await governance.snapshot(version)
    try:
        active = (await governance.active_snapshot_view(env)).snapshot
    except NotFoundError:
        active = None
    runs = await governance.validation_runs(version=version, limit=1)
    return {
        "page": "promotions",
        "who": caller,
        "env": env,
        "target": target,
        "active": active,
        "diff": diff_snapshots(active, target) if active is not None else None,
        "run": runs[0] if runs else None,
        "error": None,
        "values": {},
    }


@router.get("/promote")
async def promote_confirm(
    request: Request,
    caller: ReaderDep,
    governance: GovernanceDep,
    settings: SettingsDep,
    version: Text = None,
    env: Text = None,
) -> Response:
    if not version:
        raise NotFoundError("name the snapshot to promote: /ui/promote?version=...")
    env = env if env in ENVIRONMENTS else settings.env
    context = await _promote_context(governance, caller, version, env)
    return pages_of(request).render(request, "promote.html", **context)


@router.post("/promote")
async def promote(
    request: Request,
    caller: AdminDep,
    governance: GovernanceDep,
    guarded: GuardedPromotionsDep,
    settings: SettingsDep,
) -> Response:
    form = await checked_form(request)
    env = form.text("env") or settings.env
    guard = {name: form.text(name) for name in GUARD_FIELDS if form.text(name)}
    fields: dict[str, Any] = {"version": form.text("version"), "env": env}
    fields["actor"] = form.text("on_behalf_of")
    fields |= {"reason": form.text("reason"), "force": form.flag("force"), "guard": guard or None}
    try:
        body = PromotionRequest.model_validate(fields)
        promotion = await api_promote(body, governance, guarded, caller)
    except ValidationError as exc:
        raise _as_http(exc) from exc
    except Exception as exc:
        status = status_of(exc)
        if status not in (409, 422):
            raise
        # refused (never validated, a guard, a signature): the same page, saying why
        context = await _promote_context(governance, caller, str(fields["version"]), env)
        context |= {"error": str(exc), "values": dict(form)}
        return pages_of(request).render(request, "promote.html", status=status, **context)
    return see_other(f"/ui/promotions?env={env}&done={promotion['id']}")


def _as_http(exc: ValidationError) -> HTTPException:
    detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
    return HTTPException(422, detail)


# ---------------------------------------------------------------------------- rollback
@router.get("/rollback")
async def rollback_confirm(
    request: Request,
    caller: ReaderDep,
    governance: GovernanceDep,
    settings: SettingsDep,
    env: Text = None,
) -> Response:
    env = env if env in ENVIRONMENTS else settings.env
    return pages_of(request).render(
        request, "rollback.html", **await _rollback_context(governance, caller, env)
    )


async def _rollback_context(governance: Governance, caller: Caller, env: str) -> dict[str, Any]:
    try:
        active = (await governance.active_snapshot_view(env)).snapshot
    except NotFoundError:
        active = None
    found = await rollback_target(governance, env)
    target = await governance.snapshot(found[0]) if found else None
    return {
        "page": "promotions",
        "who": caller,
        "env": env,
        "active": active,
        "target": target,
        "undoes": found[1] if found else None,
        "diff": diff_snapshots(active, target) if active and target else None,
        "error": None,
    }


@router.post("/rollback")
async def rollback(
    request: Request, caller: AdminDep, governance: GovernanceDep, settings: SettingsDep
) -> Response:
    form = await checked_form(request)
    env = form.text("env") or settings.env
    found = await rollback_target(governance, env)
    if found is None or found[0] != form.text("expected"):
        context = await _rollback_context(governance, caller, env)
        context["error"] = "The audit trail changed since this page was shown: review it again."
        return pages_of(request).render(request, "rollback.html", status=409, **context)
    fields = {"env": env, "actor": form.text("on_behalf_of"), "reason": form.text("reason")}
    try:
        promotion = await api_rollback(RollbackRequest.model_validate(fields), governance, caller)
    except ValidationError as exc:
        raise _as_http(exc) from exc
    return see_other(f"/ui/promotions?env={env}&done={promotion['id']}")


# ---------------------------------------------------------------------------- playground
def _facts_problem(text: str, *, max_depth: int) -> tuple[dict[str, Any] | None, str | None]:
    """(facts, None) when `text` is facts /evaluate would take, else (None, what is wrong)."""
    try:
        facts = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        return None, f"not valid JSON: {exc}"
    try:
        validate_facts(facts, max_depth=max_depth)
    except FactsError as exc:
        return None, f"{exc.loc}: {exc.msg}"
    return facts, None


async def _versions(governance: Governance) -> list[str]:
    return [row["version"] for row in await governance.list_snapshots(limit=500)]


@router.get("/playground")
async def playground(
    request: Request,
    caller: ReaderDep,
    governance: GovernanceDep,
    manager: ManagerDep,
    version: Text = None,
) -> Response:
    return pages_of(request).render(
        request, "playground.html", page="playground", who=caller,
        versions=await _versions(governance), version=version or manager.active_version or "",
        facts=EXAMPLE_FACTS, problem=None, result=None, trace=None,
    )  # fmt: skip


@router.post("/playground/check")
async def playground_check(request: Request, _caller: ReaderDep, settings: SettingsDep) -> Response:
    form = await checked_form(request)
    _facts, problem = _facts_problem(form.get("facts", ""), max_depth=settings.max_facts_depth)
    return pages_of(request).render(request, "_facts_check.html", problem=problem)


@router.post("/playground")
async def playground_run(
    request: Request, caller: ReaderDep, governance: GovernanceDep, settings: SettingsDep
) -> Response:
    form = await checked_form(request)
    text, version = form.get("facts", ""), form.text("version") or ""
    facts, problem = _facts_problem(text, max_depth=settings.max_facts_depth)
    result = trace = None
    if facts is not None:
        evaluator = await governance.load_evaluator(version)  # any stored version: a dry run
        result = evaluator.evaluate(facts, max_facts_depth=settings.max_facts_depth)
        trace = evaluator.explain(facts)
    return pages_of(request).render(
        request, "playground.html", status=422 if problem else 200, page="playground",
        who=caller, versions=await _versions(governance), version=version, facts=text,
        problem=problem, result=result, trace=trace,
    )  # fmt: skip
