"""Property (issue 16): whatever document or version is posted to `POST /snapshots`, as JSON or
YAML, a real server answers (no dropped connection), never with a 5xx, and a non-2xx answer
leaves nothing stored."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.server import ServerProcess

TOKEN = "property-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TYPES = ("TAG", "SIGNAL", "FACT", "VALUE", "NUMBER")
OPS = ("=", "!=", ">=", "<=", ">", "<", "IN", "EXISTS", "MATCHES", "~=")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    tmp: Path = tmp_path_factory.mktemp("properties")
    process = ServerProcess(
        {
            "PKG_DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'pkg.db'}",
            "PKG_SNAPSHOT_CACHE_DIR": str(tmp / "cache"),
            "PKG_ADMIN_TOKENS": TOKEN,
            "PKG_LOG_LEVEL": "WARNING",
        },
        log_path=tmp / "server.log",
    )
    process.start(wait_ready=False)
    process.wait(path="/health")  # no policy yet, so not "ready": alive is enough
    yield process
    process.stop()
    log = (tmp / "server.log").read_text(errors="replace")
    assert "Traceback" not in log, log[-4000:]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
conditions = st.fixed_dictionaries(
    {"type": st.sampled_from(TYPES), "op": st.sampled_from(OPS)},
    optional={
        "key": st.one_of(st.text(max_size=6), st.sampled_from(["vip", "a.b", "x2"])),
        "value": json_values,
    },
)
rules = st.fixed_dictionaries(
    {"name": st.text(min_size=1, max_size=6)},
    optional={
        "priority": st.integers(min_value=-(2**40), max_value=2**40),
        "disabled": json_values,
        "metadata": json_values,
        "conditions": st.lists(conditions, max_size=3),
        "emissions": st.lists(
            st.fixed_dictionaries(
                {"subtask_type": st.sampled_from(["escalate", "nope"])},
                optional={
                    "name": st.text(max_size=4),
                    "relationship": st.sampled_from(["EMITS", "ORDERS", "GATE", "X"]),
                    "params": json_values,
                },
            ),
            max_size=3,
        ),
    },
)
documents = st.fixed_dictionaries(
    {"version": st.text(max_size=12) | json_values},
    optional={
        "env": st.sampled_from(["prod", "dev", "moon"]),
        "engine": st.sampled_from(["native", "wasm", "lisp"]),
        "subtask_types": st.just({"escalate": {"default_params": {"level": "normal"}}})
        | json_values,
        "rules": st.lists(rules, max_size=3) | json_values,
        "fixtures": json_values,
        "wasm": json_values,
        "extra": json_values,
    },
)


# Mostly-valid documents (most are stored) with random versions: unicode, spaces, control chars.
plausible_conditions = st.one_of(
    st.builds(lambda k: {"type": "TAG", "key": k, "op": "EXISTS"}, st.sampled_from(["vip", "x"])),
    st.builds(
        lambda op, v: {"type": "SIGNAL", "key": "x2", "op": op, "value": v},
        st.sampled_from([">=", "<", "=", "!="]),
        st.floats(allow_nan=False, allow_infinity=False)
        | st.integers(-1000, 1000)
        | st.text(max_size=3),
    ),
    st.builds(
        lambda op, v: {"type": "FACT", "key": "context.domain", "op": op, "value": v},
        st.sampled_from(["=", "IN", "MATCHES", ">"]),
        json_values,
    ),
)
plausible = st.builds(
    lambda version, conds, priority: {
        "version": version,
        "subtask_types": {"escalate": {"default_params": {"level": "normal"}}},
        "rules": [
            {
                "name": "r",
                "priority": priority,
                "conditions": conds,
                "emissions": [{"subtask_type": "escalate"}],
            }
        ],
    },
    st.text(st.characters(categories=["L", "N", "P", "S"]), min_size=1, max_size=40)
    | st.text(max_size=40),
    st.lists(plausible_conditions, max_size=3),
    st.integers(-(2**33), 2**33),
)


def encode(document: dict[str, Any], as_yaml: bool) -> tuple[bytes, str]:
    if as_yaml:
        return yaml.safe_dump(document, allow_unicode=True).encode(), "application/yaml"
    return json.dumps(document).encode(), "application/json"


def test_random_documents_never_fail_the_server_nor_half_store(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=20) as client:

        def stored() -> int:
            listing = client.get("/snapshots", params={"limit": 500})
            assert listing.status_code == 200, listing.text
            return len(listing.json())

        @settings(
            max_examples=150,
            deadline=None,
            database=None,
            derandomize=True,  # the same documents every run
            suppress_health_check=list(HealthCheck),
        )
        @given(document=plausible | documents, as_yaml=st.booleans())
        def post(document: dict[str, Any], as_yaml: bool) -> None:
            before = stored()
            content, kind = encode(document, as_yaml)
            response = client.post("/snapshots", content=content, headers={"Content-Type": kind})
            assert response.status_code < 500, response.text
            if response.status_code >= 300:
                assert response.headers["content-type"] == "application/problem+json"
                assert stored() == before, response.text
            else:
                assert stored() == before + 1

        post()
