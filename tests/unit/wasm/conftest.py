"""Every engine these tests build without explicit limits gets a deadline no evaluation that
returns can miss, however loaded the machine (the service's default is 100 ms)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from app.adapters.opa_wasm import configure, current_limits


@pytest.fixture(autouse=True)
def generous_deadline() -> Iterator[None]:
    before = current_limits()
    configure(replace(before, eval_timeout_ms=10_000))
    yield
    configure(before)
