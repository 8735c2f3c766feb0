"""A bounded schemathesis run against a real server's `/openapi.json`: no input it can think
of makes the service answer 5xx (every bad request is a 4xx problem+json)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.server import ROOT, ServerProcess

TOKEN = "fuzz-admin-token"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}
EXAMPLES_PER_OPERATION = 15


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    tmp: Path = tmp_path_factory.mktemp("fuzz")
    process = ServerProcess(
        {
            "PKG_DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'pkg.db'}",
            "PKG_SNAPSHOT_CACHE_DIR": str(tmp / "cache"),
            "PKG_SEED_FILE": str(ROOT / "examples" / "hotel_ops.yaml"),
            "PKG_ADMIN_TOKENS": TOKEN,
            "PKG_LOG_LEVEL": "WARNING",
        },
        log_path=tmp / "server.log",
    )
    process.start()
    yield process
    process.stop()
    log = (tmp / "server.log").read_text(errors="replace")
    assert "Traceback" not in log, log[-4000:]


def fuzz(operation: Any, url: str, failures: list[str]) -> Callable[[], None]:
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
        if response.status_code >= 500:
            failures.append(f"{where}: {response.text[:300]}")
        elif response.status_code >= 400 and response.status_code != 405:
            kind = (response.headers.get("content-type") or [""])[0]  # header -> values
            if not kind.startswith("application/problem+json"):
                failures.append(f"{where}: not problem+json ({kind})")

    return exercise


def test_no_request_makes_the_server_fail(server: ServerProcess) -> None:
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json", headers=HEADERS)
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]  # Ok|Err; .ok() on each is the point
    assert len(operations) >= 20  # every route of the API is in the document
    failures: list[str] = []
    for operation in operations:
        fuzz(operation, server.url, failures)()
    assert failures == []
