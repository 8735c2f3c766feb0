"""Tracing: with `OTEL_EXPORTER_OTLP_ENDPOINT` set, a real server exports spans over OTLP/HTTP
for /evaluate (engine, version, lane) and for activation; without it nothing is installed."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from bench.server import ROOT, ServerProcess, free_port


class Collector(ThreadingHTTPServer):
    spans: list[Any]


class _Receive(BaseHTTPRequestHandler):
    server: Collector

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        request = ExportTraceServiceRequest.FromString(body)
        for resource in request.resource_spans:
            for scope in resource.scope_spans:
                self.server.spans.extend(scope.spans)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[Collector]:
    server = Collector(("127.0.0.1", free_port()), _Receive)
    server.spans = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def attributes(span: Any) -> dict[str, Any]:
    return {kv.key: kv.value.string_value or kv.value.int_value for kv in span.attributes}


def test_spans_for_evaluate_and_activation_reach_the_otlp_endpoint(
    collector: Collector, tmp_path: Path
) -> None:
    host, port = collector.server_address[:2]
    server = ServerProcess(
        {
            "PKG_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'pkg.db'}",
            "PKG_SNAPSHOT_CACHE_DIR": str(tmp_path / "cache"),
            "PKG_SEED_FILE": str(ROOT / "examples" / "hotel_ops.yaml"),
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{host!s}:{port}",
            "OTEL_SERVICE_NAME": "pkg-under-test",
        },
        log_path=tmp_path / "server.log",
    ).start()
    try:
        response = httpx.post(
            server.url + "/evaluate",
            json={"tags": ["vip"]},
            headers={"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
        )
        assert response.status_code == 200
    finally:
        server.stop()  # shutdown flushes the exporter

    by_name = {span.name: span for span in collector.spans}
    evaluate = by_name["pkg.evaluate"]
    assert attributes(evaluate)["pkg.engine"] == "native"
    assert attributes(evaluate)["pkg.version"] == "hotel-ops@1.0.0"
    assert attributes(evaluate)["pkg.lane"] == "active"
    request = by_name["POST /evaluate"]  # FastAPI's server span, on the same provider
    assert evaluate.trace_id == request.trace_id
    assert request.trace_id.hex() == "0af7651916cd43dd8448eb211c80319c"  # the caller's trace
    assert evaluate.parent_span_id  # nested in the request, not a trace of its own
    assert attributes(by_name["pkg.activate"])["pkg.version"] == "hotel-ops@1.0.0"
