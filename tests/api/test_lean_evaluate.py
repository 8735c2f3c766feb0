"""The lean /evaluate handler answers exactly what the FastAPI routes answer: same status,
same headers that matter, byte-identical bodies (decision ids and timings aside)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import orjson
import pytest

from tests.api.conftest import ADMIN, READER, example, push_and_promote

DEMO = {"tags": ["vip", "allergy_nuts"], "signals": {"urgency": 0.9}, "context": {"room": "1"}}
TRICKY = {"context": {"note": ']]]}}\\"[[[{', "k[": ["\\\\", "{"]}}  # no deeper than it looks
VOLATILE = re.compile(rb'"(decision_id|duration_ms)":("[0-9a-f]{32}"|[0-9.e-]+)')
COMPARED_HEADERS = ("content-type", "content-length", "www-authenticate", "retry-after")


def _deep(depth: int) -> dict[str, Any]:
    facts: dict[str, Any] = {"leaf": 1}
    for _ in range(depth):
        facts = {"nested": facts}
    return facts


def _json(value: Any) -> bytes:
    return orjson.dumps(value)


async def _stream(body: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(body), 65536):
        yield body[start : start + 65536]


# (name, path, query, headers, body): every case is sent to both apps
Case = tuple[str, str, dict[str, str], dict[str, str], Any]
admin = {"Authorization": f"Bearer {ADMIN}"}
reader = {"Authorization": f"Bearer {READER}"}
CASES: list[Case] = [
    ("valid", "/evaluate", {}, reader, _json(DEMO)),
    ("valid, admin token", "/evaluate", {}, admin, _json(DEMO)),
    ("empty facts", "/evaluate", {}, reader, b"{}"),
    ("explain", "/evaluate", {"explain": "true"}, reader, _json(DEMO)),
    ("pinned version", "/evaluate", {"version": "hotel-ops@1.0.0"}, reader, _json(DEMO)),
    ("empty version means active", "/evaluate", {"version": ""}, reader, _json(DEMO)),
    ("canary params, no lane", "/evaluate", {"target": "router", "subject": "u1"}, reader, b"{}"),
    ("unknown query param", "/evaluate", {"nope": "1"}, reader, b"{}"),
    ("bad JSON", "/evaluate", {}, reader, b'{"tags": [vip'),
    ("empty body", "/evaluate", {}, reader, b""),
    ("not an object", "/evaluate", {}, reader, b"[1, 2]"),
    ("tags of the wrong type", "/evaluate", {}, reader, _json({"tags": [1]})),
    ("signals of the wrong type", "/evaluate", {}, reader, _json({"signals": {"x": "hi"}})),
    ("context not an object", "/evaluate", {}, reader, _json({"context": 3})),
    (
        "every bad field at once",
        "/evaluate",
        {},
        reader,
        _json({"tags": [1, "ok", {}], "signals": {"urgency": "high"}, "context": []}),
    ),
    ("too deep", "/evaluate", {}, reader, _json(_deep(40))),
    ("at the depth limit", "/evaluate", {}, reader, _json(_deep(31))),
    ("one over the depth limit", "/evaluate", {}, reader, _json(_deep(32))),
    ("shallow, many brackets", "/evaluate", {}, reader, _json({"items": [{"s": "[{"}] * 40})),
    ("too large", "/evaluate", {}, reader, b'{"pad": "' + b"x" * 300_000 + b'"}'),
    ("too large, streamed", "/evaluate", {}, reader, ("stream", b"[" + b"1," * 200_000 + b"1]")),
    ("unknown version", "/evaluate", {"version": "nope@0"}, reader, b"{}"),
    ("explain not a boolean", "/evaluate", {"explain": "maybe"}, reader, b"{}"),
    ("subject too long", "/evaluate", {"subject": "s" * 513}, reader, b"{}"),
    ("entrypoint on a native policy", "/evaluate", {"entrypoint": "pkg/x"}, reader, b"{}"),
    ("entrypoint too long", "/evaluate", {"entrypoint": "e" * 513}, reader, b"{}"),
    ("no token", "/evaluate", {}, {}, _json(DEMO)),
    ("wrong token", "/evaluate", {}, {"Authorization": "Bearer nope"}, _json(DEMO)),
    ("not a bearer token", "/evaluate", {}, {"Authorization": f"Basic {READER}"}, b"{}"),
    ("no token and bad JSON", "/evaluate", {}, {}, b"{"),
    ("batch", "/evaluate/batch", {}, reader, _json({"items": [DEMO, {}, {"tags": ["x"]}]})),
    ("batch pinned", "/evaluate/batch", {"version": "hotel-ops@1.0.0"}, reader, b'{"items":[{}]}'),
    ("batch bad JSON", "/evaluate/batch", {}, reader, b'{"items": ['),
    ("batch without items", "/evaluate/batch", {}, reader, b"{}"),
    ("batch of nothing", "/evaluate/batch", {}, reader, b'{"items": []}'),
    ("batch items not a list", "/evaluate/batch", {}, reader, b'{"items": 3}'),
    ("batch item not an object", "/evaluate/batch", {}, reader, b'{"items": [{}, 7]}'),
    ("batch item bad facts", "/evaluate/batch", {}, reader, _json({"items": [{}, {"tags": 1}]})),
    ("batch item too deep", "/evaluate/batch", {}, reader, _json({"items": [_deep(40)]})),
    ("batch over the item limit", "/evaluate/batch", {}, reader, _json({"items": [{}] * 101})),
    ("batch items at the limit", "/evaluate/batch", {}, reader, _json({"items": [_deep(31)] * 3})),
    ("batch item over the limit", "/evaluate/batch", {}, reader, _json({"items": [{}, _deep(32)]})),
    ("batch, brackets in strings", "/evaluate/batch", {}, reader, _json({"items": [TRICKY] * 60})),
    ("batch too long", "/evaluate/batch", {}, reader, _json({"items": [{}] * 101})),
    ("batch unknown version", "/evaluate/batch", {"version": "nope@0"}, reader, b'{"items":[{}]}'),
    ("batch subject too long", "/evaluate/batch", {"subject": "s" * 600}, reader, b"{}"),
    ("batch no token", "/evaluate/batch", {}, {}, b'{"items":[{}]}'),
    ("batch wrong token", "/evaluate/batch", {}, {"Authorization": "Bearer x"}, b"{}"),
    ("batch too large", "/evaluate/batch", {}, reader, b'{"items":["' + b"x" * 300_000 + b'"]}'),
]


async def _send(client: httpx.AsyncClient, case: Case) -> httpx.Response:
    _name, path, query, headers, body = case
    content = _stream(body[1]) if isinstance(body, tuple) else body
    merged = {"content-type": "application/json", **headers}
    request = client.build_request("POST", path, params=query, headers=merged, content=content)
    return await client.send(request)


@pytest.fixture
async def clients(app_factory: Callable[..., Any]) -> tuple[httpx.AsyncClient, httpx.AsyncClient]:
    lean: httpx.AsyncClient = await app_factory(lean_evaluate=True)
    await push_and_promote(lean, example("hotel_ops.yaml"))
    regular: httpx.AsyncClient = await app_factory(lean_evaluate=False)
    for client in (lean, regular):
        client.headers.pop("authorization")
    return lean, regular


@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
async def test_lean_route_answers_byte_for_byte_like_the_fastapi_route(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient], case: Case
) -> None:
    lean, regular = clients
    fast, reference = await _send(lean, case), await _send(regular, case)
    assert fast.status_code == reference.status_code, (fast.text, reference.text)
    for header in COMPARED_HEADERS:
        if header != "content-length" or fast.status_code != 200:  # timings vary in length
            assert fast.headers.get(header) == reference.headers.get(header), header
    assert VOLATILE.sub(rb"\1", fast.content) == VOLATILE.sub(rb"\1", reference.content)


async def test_the_corpus_covers_successes_and_every_kind_of_refusal(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    lean, _regular = clients
    statuses = {(await _send(lean, case)).status_code for case in CASES}
    assert statuses == {200, 401, 404, 413, 422}


async def test_openapi_still_documents_both_lean_routes(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    lean, _regular = clients
    schema = (await lean.get("/openapi.json")).json()
    for path, body_keys in (("/evaluate", {"type"}), ("/evaluate/batch", {"properties"})):
        operation = schema["paths"][path]["post"]
        body = operation["requestBody"]["content"]["application/json"]["schema"]
        assert body_keys <= set(body), path
        assert {"version", "target", "region", "subject"} <= {
            p["name"] for p in operation["parameters"] if p["in"] == "query"
        }
        assert {"200", "422"} <= set(operation["responses"])
    evaluate_params = schema["paths"]["/evaluate"]["post"]["parameters"]
    assert "explain" in {p["name"] for p in evaluate_params}


async def test_without_tokens_both_paths_refuse_a_remote_client_alike(
    app_factory: Callable[..., Any],
) -> None:
    answers = []
    for lean in (True, False):
        local: httpx.AsyncClient = await app_factory(
            lean_evaluate=lean, admin_tokens=[], evaluator_tokens=[]
        )
        app = local._transport.app  # type: ignore[attr-defined]  # the app under test
        remote = httpx.ASGITransport(app=app, client=("10.1.2.3", 4321))
        async with httpx.AsyncClient(transport=remote, base_url="http://pkg.test") as client:
            for path in ("/evaluate", "/evaluate/batch"):
                answers.append((lean, (await client.post(path, content=b"{}")).content))
    assert [body for lean, body in answers if lean] == [body for lean, body in answers if not lean]
    assert all(b'"status":403' in body for _lean, body in answers)
