"""OpenTelemetry spans for decisions and activations, through the API's global tracer.

Until `enable()` is called (the composition root does when `OTEL_EXPORTER_OTLP_ENDPOINT` is set)
nothing here does more than test one boolean: no span object is made, no context is touched.
Spans are recorded after the fact with the start time the caller measured, so the hot path
needs no `with` block around the work.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace

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


def start_request(method: str, headers: Iterable[tuple[bytes, bytes]]) -> Any:
    """A server span for one request, parented by its `traceparent` header, made current so
    the decision and activation spans nest under it. Returns None when tracing is off."""
    if not _enabled:
        return None
    carrier = {k.decode("latin-1"): v.decode("latin-1") for k, v in headers}
    parent = propagate.extract(carrier)
    span = trace.get_tracer("pkg").start_span(
        method, context=parent, kind=trace.SpanKind.SERVER, attributes={"http.method": method}
    )
    token = otel_context.attach(trace.set_span_in_context(span, parent))
    return span, token


def end_request(handle: Any, *, method: str, route: str, status: int) -> None:
    if handle is None:
        return
    span, token = handle
    span.update_name(f"{method} {route}")
    span.set_attribute("http.route", route)
    span.set_attribute("http.status_code", status)
    if status >= 500:
        span.set_status(trace.Status(trace.StatusCode.ERROR))
    span.end()
    otel_context.detach(token)
