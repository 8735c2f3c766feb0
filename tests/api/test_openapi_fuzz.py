"""A bounded schemathesis run against a real server's `/openapi.json`: no input it can think
of makes the service answer 5xx (every bad request is a 4xx problem+json), and every status it
sees is one the document promises for that route, with a body that is the `Problem` schema."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.server import ROOT, ServerProcess

TOKEN = "fuzz-admin-token"
READER = "fuzz-reader-token"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}
EXAMPLES_PER_OPERATION = 15
# pydantic's own names for its validators and its phrasing: never in a problem a person reads
PYDANTIC_MARKERS = re.compile(
    r"function-(after|before|wrap|plain)\[|Input should be|list\[dict\[|dict\[str,|union_tag"
    r"|json-or-python\[|is-instance\[|Field required|Extra inputs are not permitted|Value error,"
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    tmp: Path = tmp_path_factory.mktemp("fuzz")
    process = ServerProcess(
        {
            "PKG_DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'pkg.db'}",
            "PKG_SNAPSHOT_CACHE_DIR": str(tmp / "cache"),
            "PKG_SEED_FILE": str(ROOT / "examples" / "hotel_ops.yaml"),
            "PKG_ADMIN_TOKENS": TOKEN,
            "PKG_EVALUATOR_TOKENS": READER,
            "PKG_LOG_LEVEL": "WARNING",
        },
        log_path=tmp / "server.log",
    )
    process.start()
    yield process
    process.stop()
    log = (tmp / "server.log").read_text(errors="replace")
    assert "Traceback" not in log, log[-4000:]


Seen = list[tuple[str, str, int]]


def fuzz(operation: Any, url: str, failures: list[str], seen: Seen) -> Callable[[], None]:
    """A hypothesis test drawing requests for one operation; problems land in `failures`."""

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        derandomize=True,  # the same requests every run: CI is reproducible (widen locally)
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def exercise(data: st.DataObject) -> None:
        case = data.draw(operation.as_strategy())
        response = case.call(base_url=url, headers=HEADERS, timeout=10)
        where = f"{case.method} {case.formatted_path} -> {response.status_code}"
        seen.append((operation.method.lower(), operation.path, response.status_code))
        if response.status_code >= 500:
            failures.append(f"{where}: {response.text[:300]}")
        elif response.status_code >= 400 and response.status_code != 405:
            kind = (response.headers.get("content-type") or [""])[0]  # header -> values
            if not kind.startswith("application/problem+json"):
                failures.append(f"{where}: not problem+json ({kind})")
            elif marker := PYDANTIC_MARKERS.search(response.text):
                failures.append(f"{where}: pydantic's {marker.group()!r} in {response.text[:300]}")

    return exercise


@pytest.fixture(scope="module")
def document(server: ServerProcess) -> dict[str, Any]:
    body: dict[str, Any] = httpx.get(f"{server.url}/openapi.json", timeout=10).json()
    return body


def documented(document: dict[str, Any], method: str, path: str) -> set[int]:
    return {int(s) for s in document["paths"][path][method]["responses"]}


def test_no_request_makes_the_server_fail(server: ServerProcess, document: dict[str, Any]) -> None:
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json", headers=HEADERS)
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]  # Ok|Err; .ok() on each is the point
    assert len(operations) >= 20  # every route of the API is in the document
    failures: list[str] = []
    seen: Seen = []
    for operation in operations:
        fuzz(operation, server.url, failures, seen)()
    assert failures == []
    undocumented = sorted(
        {(m, p, s) for m, p, s in seen if s != 405 and s not in documented(document, m, p)}
    )
    assert undocumented == []
    assert {s for _, _, s in seen} >= {200, 404, 422}  # the run reached past validation


def _concrete(path: str) -> str:
    return path.replace("{version}", "hotel-ops@1.0.0").replace("{", "").replace("}", "")


def test_auth_failures_are_documented_problems(
    server: ServerProcess, document: dict[str, Any]
) -> None:
    """Every secured route answers 401 without a token and says so; every write answers 403 to
    an evaluator token and says so. The bodies are the documented `Problem`."""
    problem_schema = document["components"]["schemas"]["Problem"]
    checked = 0
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if not operation.get("security"):
                continue
            url = server.url + _concrete(path)
            anonymous = httpx.request(method, url, json={}, timeout=10)
            assert anonymous.status_code == 401, (method, path, anonymous.text)
            assert 401 in documented(document, method, path), (method, path)
            assert anonymous.headers["content-type"] == "application/problem+json"
            jsonschema.validate(anonymous.json(), problem_schema)
            reader = httpx.request(
                method, url, json={}, headers={"Authorization": f"Bearer {READER}"}, timeout=10
            )
            assert reader.status_code in documented(document, method, path), (method, path)
            checked += 1
    assert checked >= 20


def test_a_validation_error_matches_the_problem_schema(
    server: ServerProcess, document: dict[str, Any]
) -> None:
    response = httpx.post(f"{server.url}/evaluate", json={"tags": [1]}, headers=HEADERS)
    assert response.status_code == 422
    body = response.json()
    jsonschema.validate(
        body, document["components"]["schemas"]["Problem"] | {"components": document["components"]}
    )
    assert body["errors"] == [{"loc": "tags[0]", "msg": body["errors"][0]["msg"]}]
    responses = document["paths"]["/evaluate"]["post"]["responses"]
    assert list(responses["422"]["content"]) == ["application/problem+json"]
    assert "HTTPValidationError" not in str(document)


def test_every_request_body_has_an_example(document: dict[str, Any]) -> None:
    bodies = 0
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {})
            for media_type, body in content.items():
                if body.get("schema", {}).get("format") == "binary":
                    continue  # a .tar.gz bundle: no example to write down
                bodies += 1
                assert "example" in body, (method, path, media_type)
    assert bodies >= 10


def test_the_docs_pages_load_everything_from_the_server(server: ServerProcess) -> None:
    for page, asset in (
        ("/docs", "/docs/assets/swagger-ui-bundle.js"),
        ("/redoc", "/redoc/assets/redoc.standalone.js"),
    ):
        html = httpx.get(server.url + page, timeout=10)
        assert html.status_code == 200, page
        assert asset in html.text
        sources = re.findall(r'(?:src|href)="([^"]+)"', html.text)
        assert sources and all(s.startswith("/") for s in sources), sources
        script = httpx.get(server.url + asset, timeout=10)
        assert script.status_code == 200 and len(script.content) > 100_000
