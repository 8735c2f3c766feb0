"""OpenTelemetry spans for decisions and activations, through the API's global tracer.

Until `enable()` is called (the composition root does when `OTEL_EXPORTER_OTLP_ENDPOINT` is set)
nothing here does more than test one boolean: no span object is made, no context is touched.
Spans are recorded after the fact with the start time the caller measured, so the hot path
needs no `with` block around the work. The request's server span (and the `traceparent` of the
caller) is FastAPI's own OpenTelemetry support, which turns on with the same global provider;
these spans nest under it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from opentelemetry import trace

_enabled = False


def enable() -> None:
    global _enabled
    _enabled = True


def disable() -> None:
    global _enabled
    _enabled = False


def enabled() -> bool:
    return _enabled


def record_span(
    name: str, *, duration_s: float, attributes: Mapping[str, Any], error: str | None = None
) -> None:
    """A span that ended now and lasted `duration_s`, child of the current context's span."""
    if not _enabled:
        return
    end_ns = time.time_ns()
    span = trace.get_tracer("pkg").start_span(
        name,
        start_time=end_ns - int(duration_s * 1e9),
        attributes={k: v for k, v in attributes.items() if v is not None},
    )
    if error is not None:
        span.set_status(trace.Status(trace.StatusCode.ERROR, error))
    span.end(end_time=end_ns)
