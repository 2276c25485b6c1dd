"""A real OTLP trace receiver for the tests, built on the `opentelemetry-proto` package: it
takes OTLP/HTTP (protobuf) and OTLP/gRPC exports the way a collector does and keeps every span,
and a loopback "API" that records the headers of the requests a plugin sends it.

Everything listens on a free loopback port and stops when its block ends.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

_CLIENT_SPANS: InMemorySpanExporter | None = None


def client_spans() -> InMemorySpanExporter:
    """The test client's OpenTelemetry SDK (a process has one), its spans kept in memory to
    compare with berth's; the MCP SDK traces its requests through it once it is installed."""
    global _CLIENT_SPANS
    if _CLIENT_SPANS is None:
        _CLIENT_SPANS = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(_CLIENT_SPANS))
        trace.set_tracer_provider(provider)
    return _CLIENT_SPANS


KINDS = {0: "unspecified", 1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}


@dataclass(frozen=True)
class Span:
    """One span as received, ids in lowercase hex."""

    trace_id: str
    span_id: str
    parent_id: str
    name: str
    kind: str
    attributes: dict[str, Any]
    resource: dict[str, Any]
    error: bool

    @property
    def replica(self) -> str:
        return str(self.resource.get("service.instance.id", ""))


def _value(value: AnyValue) -> Any:
    which = value.WhichOneof("value")
    return getattr(value, which) if which else None


def _spans(request: trace_service_pb2.ExportTraceServiceRequest) -> list[Span]:
    spans = []
    for resource_spans in request.resource_spans:
        resource = {kv.key: _value(kv.value) for kv in resource_spans.resource.attributes}
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append(
                    Span(
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_id=span.parent_span_id.hex(),
                        name=span.name,
                        kind=KINDS.get(span.kind, str(span.kind)),
                        attributes={kv.key: _value(kv.value) for kv in span.attributes},
                        resource=resource,
                        # STATUS_CODE_ERROR
                        error=span.status.code == 2,
                    )
                )
    return spans


@dataclass
class Receiver:
    """The spans exported to one receiver so far, and where exporters send them."""

    endpoint: str = ""
    spans: list[Span] = field(default_factory=list)
    requests: int = 0
    _changed: threading.Condition = field(default_factory=threading.Condition)

    def add(self, request: trace_service_pb2.ExportTraceServiceRequest) -> None:
        with self._changed:
            self.requests += 1
            self.spans.extend(_spans(request))
            self._changed.notify_all()

    def wait_for(self, what: str, found: Callable[[list[Span]], bool], seconds: float = 20) -> list[Span]:
        """Every span so far, once `found` holds of them; fails naming `what` after `seconds`."""
        deadline = time.monotonic() + seconds
        with self._changed:
            while not found(self.spans):
                left = deadline - time.monotonic()
                assert left > 0, f"no {what} within {seconds} s; got {[(s.name, s.replica) for s in self.spans]}"
                self._changed.wait(left)
            return list(self.spans)

    def trace(self, trace_id: str, until: Callable[[list[Span]], bool], seconds: float = 20) -> list[Span]:
        """The spans of trace `trace_id`, once `until` holds of them."""
        in_trace = lambda spans: [s for s in spans if s.trace_id == trace_id]  # noqa: E731
        return in_trace(self.wait_for(f"spans of trace {trace_id}", lambda spans: until(in_trace(spans)), seconds))


@contextlib.contextmanager
def http_receiver() -> Iterator[tuple[str, Receiver]]:
    """An OTLP/HTTP receiver: its endpoint (`http://127.0.0.1:port`, the exporter adds
    `/v1/traces`) and what it received."""
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (the standard library's name)
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            if self.path != "/v1/traces" or self.headers.get("content-type") != "application/x-protobuf":
                self.send_response(404)
                self.end_headers()
                return
            request = trace_service_pb2.ExportTraceServiceRequest()
            request.ParseFromString(body)
            receiver.add(request)
            answer = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    receiver.endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield receiver.endpoint, receiver
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def grpc_receiver() -> Iterator[tuple[str, Receiver]]:
    """An OTLP/gRPC receiver: its endpoint and what it received."""
    receiver = Receiver()

    class Service(trace_service_pb2_grpc.TraceServiceServicer):
        def Export(self, request: Any, context: Any) -> Any:  # noqa: N802 (the service's name)
            receiver.add(request)
            return trace_service_pb2.ExportTraceServiceResponse()

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Service(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    receiver.endpoint = f"http://127.0.0.1:{port}"
    try:
        yield receiver.endpoint, receiver
    finally:
        server.stop(grace=None)


@contextlib.contextmanager
def header_recorder() -> Iterator[tuple[int, list[dict[str, str]]]]:
    """A loopback API answering `200 pong` to every GET: its port and each request's headers
    (names in lowercase)."""
    seen: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
            seen.append({name.lower(): value for name, value in self.headers.items()})
            self.send_response(200)
            self.send_header("content-length", "4")
            self.end_headers()
            self.wfile.write(b"pong")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1], seen
    finally:
        server.shutdown()
        server.server_close()


def children(spans: list[Span], parent: Span) -> list[Span]:
    """The spans whose parent is `parent`."""
    return [s for s in spans if s.parent_id == parent.span_id and s.trace_id == parent.trace_id]


def one(spans: list[Span], name: str, **attributes: Any) -> Span:
    """The one span named `name` with `attributes`; fails naming what there was otherwise."""
    found = [s for s in spans if s.name == name and all(s.attributes.get(k) == v for k, v in attributes.items())]
    assert len(found) == 1, f"expected one span {name!r} {attributes}, found {len(found)} in {[s.name for s in spans]}"
    return found[0]
