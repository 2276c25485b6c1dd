"""Traces end to end: the official MCP Python SDK with the OpenTelemetry SDK (which puts the
client's trace context in each request's `_meta`, SEP-414) calls berth over Streamable HTTP,
WebSocket and stdio in both eras; berth exports its spans over OTLP to a real receiver
(`otlp.py`, on `opentelemetry-proto`), and a plugin's outbound request reaches a loopback API.

The spans must continue the client's trace (its span as their parent), carry the MCP
semantic conventions' names and attributes, and the plugin's request must carry
`traceparent` and the client's baggage on to the API.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import mcp_types
import pytest
import websockets
from mcp import Client, StdioServerParameters
from mcp.shared.message import SessionMessage
from opentelemetry import baggage, context, trace
from opentelemetry.sdk.trace import ReadableSpan

from conftest import REPO, berth_binary, berth_server
from otlp import Receiver, Span, children, client_spans, grpc_receiver, header_recorder, http_receiver, one

CLIENT_SPANS = client_spans()


@pytest.fixture(scope="module")
def api() -> Iterator[tuple[int, list[dict[str, str]]]]:
    with header_recorder() as recorded:
        yield recorded


@pytest.fixture(scope="module")
def traced_plugins(api: tuple[int, list[dict[str, str]]]) -> Iterator[Path]:
    """echo and faulty, faulty granted the key-value store and the loopback API."""
    folder = Path(tempfile.mkdtemp(prefix="berth-py-traced-"))
    for name, source in [("echo", REPO / "plugins"), ("faulty", REPO / ".build" / "fixtures")]:
        if not (source / f"{name}.wasm").is_file():
            pytest.fail(f"{name}.wasm is not built: run `make fixtures`")
        shutil.copy(source / f"{name}.wasm", folder / f"{name}.wasm")
    (folder / "faulty.toml").write_text(f'[capabilities]\nhttp = ["127.0.0.1:{api[0]}"]\nkv = true\n')
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[str, Receiver]]:
    with http_receiver() as received:
        yield received


def otel_env(endpoint: str, **more: str) -> dict[str, str]:
    return {
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_SERVICE_NAME": "berth-under-test",
        "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment.name=pytest,team=tools%20team",
        **more,
    }


@pytest.fixture(scope="module")
def traced_url(traced_plugins: Path, cache_dir: str, receiver: tuple[str, Receiver]) -> Iterator[str]:
    """A berth exporting its traces to the module's receiver."""
    with berth_server(traced_plugins, cache_dir, env=otel_env(receiver[0])) as url:
        yield url


@contextlib.asynccontextmanager
async def websocket_transport(url: str) -> AsyncIterator[tuple[Any, Any]]:
    """The SDK's transport interface over berth's /ws (the SDK ships none for WebSocket)."""
    read_writer, read_stream = anyio.create_memory_object_stream[SessionMessage | Exception](16)
    write_stream, write_reader = anyio.create_memory_object_stream[SessionMessage](16)
    async with websockets.connect(url, subprotocols=["mcp"]) as ws:

        async def inbound() -> None:
            async with read_writer:
                async for frame in ws:
                    message = mcp_types.jsonrpc_message_adapter.validate_json(frame, by_name=False)
                    await read_writer.send(SessionMessage(message))

        async def outbound() -> None:
            async with write_reader:
                async for item in write_reader:
                    await ws.send(item.message.model_dump_json(by_alias=True, exclude_unset=True))

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(inbound)
            tasks.start_soon(outbound)
            try:
                yield read_stream, write_stream
            finally:
                tasks.cancel_scope.cancel()


async def agent_run(server: Any, mode: str, api_port: int) -> tuple[str, list[ReadableSpan]]:
    """An agent's turn under one client span: three tool calls (one reaching the API, one
    using the key-value store, one with arguments its schema refuses) and an unknown tool.
    Returns the trace id and the client's spans."""
    CLIENT_SPANS.clear()
    token = context.attach(baggage.set_baggage("tenant", "acme"))
    try:
        with trace.get_tracer("pytest").start_as_current_span("agent turn") as turn:
            async with Client(server, mode=mode) as client:
                fetched = await client.call_tool("faulty_fetch", {"url": f"http://127.0.0.1:{api_port}/v1/ping"})
                assert fetched.content[0].text == "200 pong", fetched
                counted = await client.call_tool("faulty_counter", {})
                assert not counted.is_error
                refused = await client.call_tool("echo", {"text": 5})
                assert refused.is_error
                with pytest.raises(Exception, match="unknown tool"):
                    await client.call_tool("no_such_tool", {})
    finally:
        context.detach(token)
    return format(turn.get_span_context().trace_id, "032x"), list(CLIENT_SPANS.get_finished_spans())


def client_span(spans: list[ReadableSpan], name: str) -> str:
    """The span id of the client's span `name`."""
    found = [s for s in spans if s.name == name]
    assert len(found) == 1, f"client spans: {[s.name for s in spans]}"
    return format(found[0].get_span_context().span_id, "032x")[-16:]


def check_trace(
    received: list[Span], client: list[ReadableSpan], api_seen: list[dict[str, str]], transport: str, era: str
) -> None:
    """The spans of one agent turn, as berth sent them."""
    fetch = one(received, "tools/call faulty_fetch")
    assert fetch.kind == "server"
    assert fetch.parent_id == client_span(client, "MCP send tools/call faulty_fetch"), "the client's span is the parent"
    attributes = fetch.attributes
    assert attributes["mcp.method.name"] == "tools/call"
    assert attributes["gen_ai.tool.name"] == "faulty_fetch"
    assert attributes["gen_ai.operation.name"] == "execute_tool"
    assert attributes["mcp.protocol.version"] == ("2025-11-25" if era == "legacy" else "2026-07-28")
    assert attributes["network.transport"] == ("pipe" if transport == "stdio" else "tcp")
    if transport != "stdio":
        assert attributes["network.protocol.name"] == transport
    assert re.fullmatch(r"\d+", attributes["jsonrpc.request.id"])
    if era == "legacy" and transport == "http":
        assert re.fullmatch(r"[0-9a-f]{32}", attributes["mcp.session.id"])
    if era != "legacy":
        assert "mcp.session.id" not in attributes, "2026-07-28 has no sessions"
    assert "error.type" not in attributes and not fetch.error
    resource = fetch.resource
    assert resource["service.name"] == "berth-under-test"
    assert resource["service.version"] and resource["service.instance.id"]
    assert resource["deployment.environment.name"] == "pytest" and resource["team"] == "tools team"

    # Where the time went: the instance, the wasm call and, inside it, the request to the API.
    lease = one(children(received, fetch), "lease instance")
    assert lease.attributes["berth.instance"] in ("fresh", "spare", "warm")
    wasm = one(children(received, fetch), "wasm call")
    get = one(children(received, wasm), "GET")
    assert get.kind == "client"
    assert get.attributes["http.response.status_code"] == 200
    assert get.attributes["url.full"].endswith("/v1/ping")
    sent = api_seen[-4:]
    carried = [h for h in sent if h.get("traceparent", "").split("-")[2:3] == [get.span_id]]
    assert carried, f"the API got no traceparent naming berth's GET span: {sent}"
    assert carried[0]["traceparent"].split("-")[1] == fetch.trace_id
    assert carried[0].get("baggage") == "tenant=acme", "the client's baggage passes through"

    counter = one(received, "tools/call faulty_counter")
    kv = [s.name for s in children(received, one(children(received, counter), "wasm call"))]
    assert kv == ["kv get", "kv set"] or sorted(kv) == ["kv get", "kv set"], kv

    refused = one(received, "tools/call echo")
    assert refused.attributes["error.type"] == "tool_error" and refused.error
    assert [s.name for s in children(received, refused)] == ["validate arguments"]
    unknown = one(received, "tools/call no_such_tool")
    assert unknown.attributes["error.type"] == "-32602" and unknown.error
    assert "gen_ai.tool.name" in unknown.attributes


def settled(trace_id: str) -> Any:
    """Whether a turn's spans have all arrived (the last call's span ends last)."""
    return lambda spans: any(s.name == "tools/call no_such_tool" for s in spans) and any(
        s.name == "GET" for s in spans
    )


@pytest.mark.parametrize("era", ["legacy", "2026-07-28"])
def test_streamable_http_calls_continue_the_clients_trace(
    traced_url: str, receiver: tuple[str, Receiver], api: tuple[int, list], era: str
) -> None:
    trace_id, client = asyncio.run(agent_run(traced_url, era, api[0]))
    received = receiver[1].trace(trace_id, settled(trace_id))
    check_trace(received, client, api[1], "http", era)


@pytest.mark.parametrize("era", ["legacy", "2026-07-28"])
def test_websocket_calls_continue_the_clients_trace(
    traced_url: str, receiver: tuple[str, Receiver], api: tuple[int, list], era: str
) -> None:
    ws_url = traced_url.replace("http://", "ws://", 1).removesuffix("/mcp") + "/ws"
    trace_id, client = asyncio.run(agent_run(websocket_transport(ws_url), era, api[0]))
    received = receiver[1].trace(trace_id, settled(trace_id))
    check_trace(received, client, api[1], "websocket", era)


@pytest.mark.parametrize("era", ["legacy", "2026-07-28"])
def test_stdio_calls_continue_the_clients_trace(
    traced_plugins: Path, cache_dir: str, api: tuple[int, list], era: str
) -> None:
    # stdio has no headers: `_meta` is the only way the trace can reach the server (SEP-414).
    # The spans go over gRPC here, the other protocol the standard variables name.
    with grpc_receiver() as (endpoint, received_by):
        env = {**os.environ, "BERTH_LOG": "warn", **otel_env(endpoint, OTEL_EXPORTER_OTLP_PROTOCOL="grpc")}
        params = StdioServerParameters(
            command=berth_binary(),
            args=["stdio", "--plugins", str(traced_plugins), "--cache-dir", cache_dir],
            env=env,
        )
        trace_id, client = asyncio.run(agent_run(params, era, api[0]))
        # berth flushes its spans as it exits, which it does when stdin closes.
        received = received_by.trace(trace_id, settled(trace_id))
    check_trace(received, client, api[1], "stdio", era)


def post(url: str, body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    """One 2026-07-28 POST; the JSON answer."""
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={
            "content-type": "application/json",
            "accept": "application/json, text/event-stream",
            "mcp-protocol-version": "2026-07-28",
            "mcp-method": body["method"],
            **({"mcp-name": body["params"]["name"]} if "name" in body.get("params", {}) else {}),
            **headers,
        },
    )
    with urllib.request.urlopen(request, timeout=20) as response:
        return json.loads(response.read())


def echo(text: str, meta: dict[str, str]) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {
            "name": "echo",
            "arguments": {"text": text},
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {},
                "io.modelcontextprotocol/clientInfo": {"name": "pytest-raw", "version": "0"},
                **meta,
            },
        },
    }


HEADER = "00-11111111111111111111111111111111-2222222222222222-01"
META = "00-33333333333333333333333333333333-4444444444444444-01"


def test_headers_parent_a_call_without_meta_and_meta_wins_over_them(
    traced_url: str, receiver: tuple[str, Receiver]
) -> None:
    answer = post(traced_url, echo("by header", {}), {"traceparent": HEADER})
    assert answer["result"]["content"][0]["text"] == "by header"
    by_header = receiver[1].trace("1" * 32, lambda spans: any(s.name == "tools/call echo" for s in spans))
    assert one(by_header, "tools/call echo").parent_id == "2" * 16

    post(traced_url, echo("by meta", {"traceparent": META}), {"traceparent": HEADER.replace("2222", "5555")})
    by_meta = receiver[1].trace("3" * 32, lambda spans: any(s.name == "tools/call echo" for s in spans))
    assert one(by_meta, "tools/call echo").parent_id == "4" * 16


def test_an_invalid_traceparent_is_ignored_and_the_call_answers(
    traced_url: str, receiver: tuple[str, Receiver]
) -> None:
    text = "invalid context"
    answer = post(traced_url, echo(text, {"traceparent": "00-not-a-trace-01", "tracestate": "\x00"}), {"traceparent": "zz"})
    assert answer["result"]["content"][0]["text"] == text
    # Its span starts a trace of its own (no parent), still exported.
    spans = receiver[1].wait_for(
        "the span of a call with an invalid traceparent",
        lambda spans: any(s.name == "tools/call echo" and s.parent_id == "" for s in spans),
    )
    assert all(s.trace_id not in ("0" * 32,) for s in spans)


def metric(url: str, series: str) -> float:
    with urllib.request.urlopen(url.removesuffix("/mcp") + "/metrics", timeout=10) as response:
        text = response.read().decode()
    found = re.search(rf"^{re.escape(series)} (\S+)$", text, re.M)
    assert found, f"/metrics has no {series}"
    return float(found.group(1))


def metric_reaching(url: str, series: str, at_least: float, seconds: float = 10) -> float:
    """Reads a series until it reaches a value: the exporter counts a batch only once the
    collector has answered, which can be after the receiver has already seen its spans."""
    deadline = time.monotonic() + seconds
    value = metric(url, series)
    while value < at_least and time.monotonic() < deadline:
        time.sleep(0.05)
        value = metric(url, series)
    return value


def fetch(url: str, meta: dict[str, str]) -> dict[str, Any]:
    body = echo("", meta)
    body["params"] = {**body["params"], "name": "faulty_fetch", "arguments": {"url": url}}
    return body


def test_parent_based_sampling_follows_the_callers_decision(
    traced_plugins: Path, cache_dir: str, receiver: tuple[str, Receiver], api: tuple[int, list]
) -> None:
    # Sampling nothing of its own, berth still records a call whose caller sampled it.
    env = otel_env(receiver[0], OTEL_TRACES_SAMPLER="parentbased_traceidratio", OTEL_TRACES_SAMPLER_ARG="0")
    target = f"http://127.0.0.1:{api[0]}/sampling"
    with berth_server(traced_plugins, cache_dir, env=env) as url:
        post(url, fetch(target, {}), {})
        sampled = "00-66666666666666666666666666666666-7777777777777777-01"
        post(url, echo("sampled parent", {"traceparent": sampled}), {})
        unsampled = "00-88888888888888888888888888888888-9999999999999999-00"
        post(url, fetch(target, {"traceparent": unsampled}), {})
        receiver[1].trace("6" * 32, lambda spans: any(s.name == "tools/call echo" for s in spans))
        exported = metric_reaching(url, 'berth_trace_spans_total{fate="exported"}', 2)
    ids = {s.trace_id for s in receiver[1].spans}
    assert "8" * 32 not in ids, "a caller's unsampled decision is kept"
    assert exported >= 2  # the call and its argument check
    # What a left-out call sends on says "not sampled", so the API does not start a trace of its
    # own: the caller's trace for the unsampled parent, a new one for the unsampled root.
    root, child = [h["traceparent"].split("-") for h in api[1][-2:]]
    assert child[1] == "8" * 32 and child[3] == "00", child
    assert root[1] != "8" * 32 and root[3] == "00", root


def test_an_unreachable_collector_costs_the_calls_nothing_and_drops_are_counted(
    traced_plugins: Path, cache_dir: str
) -> None:
    import socket

    # A collector that takes the connection and never answers: once the exporter's first batch
    # (up to 512 spans, gathered for up to a second) waits on it, the queue of 4 spans fills
    # and the rest are dropped, whatever the calls' speed. (A refused connection fails so fast
    # that the exporter could keep up.) The calls go on until a drop is counted, at most 2,000.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        env = otel_env(f"http://127.0.0.1:{silent.getsockname()[1]}")
        with berth_server(traced_plugins, cache_dir, "--config", str(queue_config(4)), env=env) as url:
            dropped, slowest = 0.0, 0.0
            for n in range(2000):
                started = time.monotonic()
                answer = post(url, echo(f"call {n}", {"traceparent": META}), {})
                slowest = max(slowest, time.monotonic() - started)
                assert answer["result"]["content"][0]["text"] == f"call {n}"
                if n % 50 == 49:
                    dropped = metric(url, 'berth_trace_spans_total{fate="dropped"}')
                    if dropped > 0:
                        break
    assert dropped > 0, "spans beyond the queue are dropped and counted"
    assert slowest < 2, f"no call waits on the collector (slowest {slowest:.3f} s)"


def queue_config(queue: int) -> Path:
    config = Path(tempfile.mkdtemp(prefix="berth-py-otel-")) / "berth.toml"
    config.write_text(f"[telemetry]\nqueue = {queue}\n")
    return config


def test_json_log_lines_name_the_trace(traced_plugins: Path, cache_dir: str, receiver: tuple[str, Receiver]) -> None:
    binary = berth_binary()
    env = {**os.environ, **otel_env(receiver[0]), "BERTH_LOG": "info"}
    process = subprocess.Popen(
        [binary, "serve", "--plugins", str(traced_plugins), "--cache-dir", cache_dir, "--listen", "127.0.0.1:0",
         "--log-format", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdout is not None and process.stderr is not None
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(process.stderr), daemon=True).start()
    try:
        url = ""
        for line in process.stdout:
            if line.startswith("berth listening on "):
                url = line.removeprefix("berth listening on ").strip()
                break
        assert url, "berth did not start"
        threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()
        body = echo("", {"traceparent": META})
        body["params"] = {**body["params"], "name": "faulty_print", "arguments": {}}
        post(url, body, {})
    finally:
        process.terminate()
        process.wait(timeout=10)
    entries = [json.loads(line) for line in lines if line.startswith("{")]
    printed = [entry for entry in entries if entry.get("fields", {}).get("stream") in ("stdout", "stderr")]
    assert printed, f"no plugin output logged: {lines[-5:]}"
    assert all(entry.get("trace_id") == "3" * 32 for entry in printed), printed
    assert all(re.fullmatch(r"[0-9a-f]{16}", entry.get("span_id", "")) for entry in printed), printed
