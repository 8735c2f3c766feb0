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


def start_server_span(method: str, path: str, headers: Iterable[tuple[bytes, bytes]]) -> Any:
    """For requests FastAPI does not see (the lean /evaluate): a server span continuing the
    caller's `traceparent`, made current so the decision span nests under it."""
    if not _enabled:
        return None
    carrier = {k.decode("latin-1"): v.decode("latin-1") for k, v in headers}
    parent = propagate.extract(carrier)
    span = trace.get_tracer("pkg").start_span(
        f"{method} {path}",
        context=parent,
        kind=trace.SpanKind.SERVER,
        attributes={"http.request.method": method, "http.route": path},
    )
    return span, otel_context.attach(trace.set_span_in_context(span, parent))


def end_server_span(handle: Any, *, status: int) -> None:
    if handle is None:
        return
    span, token = handle
    span.set_attribute("http.response.status_code", status)
    if status >= 500:
        span.set_status(trace.Status(trace.StatusCode.ERROR))
    span.end()
    otel_context.detach(token)
