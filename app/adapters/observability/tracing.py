"""OpenTelemetry set-up: spans exported over OTLP (HTTP/protobuf) when
`OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set; otherwise nothing
is installed and the API's no-op tracer stays in place (and `app.services.tracing` does not even
call it). The SDK and exporter are the optional `otel` extra: `pip install 'pkg-service[otel]'`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from opentelemetry import trace

from app.services import tracing
from app.services.logs import get_logger

log = get_logger("pkg.tracing")
ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
_provider: Any = None  # one per process: the API refuses to replace a global provider


def tracing_endpoint() -> str | None:
    for name in ENDPOINT_VARIABLES:
        if os.environ.get(name):
            return os.environ[name]
    return None


def configure_tracing(*, instance: str) -> Callable[[], None]:
    """Install the exporter if an endpoint is configured; returns what flushes it at shutdown."""
    global _provider
    endpoint = tracing_endpoint()
    if endpoint is None:
        tracing.disable()
        return _nothing
    if _provider is None:
        _provider = _build_provider(instance)
        if _provider is None:
            return _nothing
        trace.set_tracer_provider(_provider)
    tracing.enable()
    log.info("tracing_enabled", endpoint=endpoint)
    flush: Callable[[], None] = _provider.force_flush
    return flush


def _build_provider(instance: str) -> Any:
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:
        log.warning(
            "tracing_unavailable",
            error=str(exc),
            hint="install the otel extra: pip install 'pkg-service[otel]'",
        )
        return None
    resource = Resource.create(
        {
            "service.name": os.environ.get("OTEL_SERVICE_NAME", "pkg"),
            "service.instance.id": instance,
        }
    )
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


def _nothing() -> None:
    return None
