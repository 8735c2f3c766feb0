"""`app.domain` stays pure: importing all of it loads no framework, driver or metrics library."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import app.domain

FORBIDDEN = (
    "fastapi",
    "starlette",
    "sqlalchemy",
    "redis",
    "wasmtime",
    "prometheus_client",
    "pydantic_settings",  # pydantic itself is allowed: the policy-document models are domain
)

PROBE = """
import importlib, json, pkgutil, sys
import app.domain
for module in pkgutil.iter_modules(app.domain.__path__):
    importlib.import_module(f"app.domain.{module.name}")
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


def test_importing_every_domain_module_loads_no_framework() -> None:
    root = Path(app.domain.__file__).parents[2]
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=root, capture_output=True, text=True, check=True
    )
    loaded = set(json.loads(result.stdout.strip().splitlines()[-1]))
    assert loaded.isdisjoint(FORBIDDEN), sorted(loaded & set(FORBIDDEN))
