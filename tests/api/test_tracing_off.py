"""Without an OTLP endpoint nothing is installed: the API's no-op tracer stays in place and
the decision path does not touch OpenTelemetry at all."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from app.services import tracing
from tests.api.conftest import example, push_and_promote


async def test_without_an_endpoint_no_tracer_provider_is_installed(
    app_factory: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    api = await app_factory()
    await push_and_promote(api, example("hotel_ops.yaml"))

    assert (await api.post("/evaluate", json={"tags": ["vip"]})).status_code == 200

    assert tracing.enabled() is False
    assert not isinstance(trace.get_tracer_provider(), TracerProvider)
