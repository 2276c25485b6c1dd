"""The official MCP Python SDK client through the shipped HAProxy config to three berth
replicas sharing a real Redis: one client session, in either era, spread over the cluster, and
a task (the Tasks extension of 2026-07-28) made on one replica and polled on all of them.

Redis and HAProxy are Debian's (`make test` installs them); every process listens on a free
loopback port and is stopped at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, Literal

import pytest
from mcp import Client
from mcp.client.extension import ClaimContext, ClientExtension, ResultClaim
from mcp_types import CallToolResult, Request, RequestParams, Result
from opentelemetry import trace
from pydantic import Field, TypeAdapter

from conftest import REPO, berth_server, free_port, service
from otlp import Receiver, client_spans, http_receiver, one


def haproxy_config(front: int, stats: int, replicas: list[int]) -> str:
    """deploy/haproxy.cfg as shipped, on this test's ports (and a maxconn any file limit fits)."""
    config = (REPO / "deploy" / "haproxy.cfg").read_text()
    swaps = [("maxconn 8000", "maxconn 400"), ("127.0.0.1:8080", f"127.0.0.1:{front}"), ("127.0.0.1:8404", f"127.0.0.1:{stats}")]
    swaps += [(f"127.0.0.1:808{n + 1}", f"127.0.0.1:{port}") for n, port in enumerate(replicas)]
    for old, new in swaps:
        assert old in config, f"deploy/haproxy.cfg no longer has {old!r}: update this test"
        config = config.replace(old, new)
    return config


def echo_calls(url: str) -> float:
    """How many echo calls the replica at `url` (its /mcp URL) has answered."""
    with urllib.request.urlopen(url.removesuffix("/mcp") + "/metrics", timeout=10) as response:
        text = response.read().decode()
    found = re.search(r'^berth_tool_calls_total\{plugin="echo",tool="echo",outcome="ok"\} (\S+)$', text, re.M)
    return float(found.group(1)) if found else 0.0


@pytest.fixture(scope="module")
def traces() -> Iterator[Receiver]:
    """The OTLP receiver the cluster's replicas export their traces to."""
    with http_receiver() as (_, receiver):
        yield receiver


@pytest.fixture(scope="module")
def cluster(plugin_dir: Path, cache_dir: str, traces: Receiver) -> Iterator[tuple[str, list[str]]]:
    """HAProxy's /mcp URL and the three replicas' /mcp URLs."""
    conformance = REPO / ".build" / "fixtures" / "conformance.wasm"
    if not conformance.is_file():
        pytest.fail("conformance.wasm is not built: run `make fixtures`")
    # The shared plugins plus the conformance plugin's task tools, in a folder of this module's own.
    plugins = Path(tempfile.mkdtemp(prefix="berth-py-cluster-plugins-"))
    for wasm in [*plugin_dir.glob("*.wasm"), conformance]:
        shutil.copy(wasm, plugins / wasm.name)
    redis_port, front, stats = free_port(), free_port(), free_port()
    redis_args = ["--bind", "127.0.0.1", "--port", str(redis_port), "--save", "", "--appendonly", "no"]
    with contextlib.ExitStack() as stack:
        stack.enter_context(service("redis-server", redis_args, redis_port))
        cluster = ("--redis", f"redis://127.0.0.1:{redis_port}")
        secret = {"BERTH_CLUSTER_SECRET": "a shared secret for the python cluster"}
        env = {**secret, "OTEL_EXPORTER_OTLP_ENDPOINT": traces.endpoint}
        replicas = [
            stack.enter_context(berth_server(plugins, cache_dir, *cluster, "--replica-id", f"r{n}", env=env))
            for n in (1, 2, 3)
        ]
        ports = [int(url.rsplit(":", 1)[1].removesuffix("/mcp")) for url in replicas]
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="berth-haproxy-")))
        (folder / "haproxy.cfg").write_text(haproxy_config(front, stats, ports))
        stack.enter_context(service("haproxy", ["-db", "-f", str(folder / "haproxy.cfg")], front))
        yield f"http://127.0.0.1:{front}/mcp", replicas


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
def test_one_client_session_is_served_by_every_replica(cluster: tuple[str, list[str]], mode: str) -> None:
    front, replicas = cluster
    before = [echo_calls(url) for url in replicas]

    async def run() -> str:
        async with Client(front, mode=mode) as client:
            names = {tool.name for tool in (await client.list_tools()).tools}
            assert {"echo", "hash"} <= names, names
            for n in range(9):
                echoed = await client.call_tool("echo", {"text": f"call {n}"})
                assert not echoed.is_error and echoed.content[0].text == f"call {n}", echoed
            digest = await client.read_resource("textkit://sha256/abc")
            assert digest.contents[0].text.startswith("ba7816bf"), digest
            return client.protocol_version

    version = asyncio.run(run())
    assert version == ("2025-11-25" if mode == "legacy" else "2026-07-28")
    served = [echo_calls(url) - was for url, was in zip(replicas, before)]
    assert sum(served) == 9, served
    # Round robin, no stickiness: the one session's calls reached every replica.
    assert all(n > 0 for n in served), served


class CreatedTask(Result):
    """The 2026-07-28 Tasks extension's `CreateTaskResult`: a `tools/call` answered with a task."""

    result_type: Literal["task"] = Field(alias="resultType")
    task_id: str = Field(alias="taskId")
    status: str
    poll_interval_ms: int = Field(default=200, alias="pollIntervalMs")


class TaskParams(RequestParams):
    task_id: str = Field(alias="taskId")


class GetTask(Request[TaskParams, Literal["tasks/get"]]):
    method: Literal["tasks/get"] = "tasks/get"
    name_param: ClassVar[str | None] = "taskId"


class Tasks(ClientExtension):
    """A client of the Tasks extension: a tool call answered with a task is polled with
    `tasks/get` until it ends, and its result is the call's."""

    identifier = "io.modelcontextprotocol/tasks"

    def __init__(self) -> None:
        self.polls = 0

    def claims(self) -> list[ResultClaim[Any]]:
        return [ResultClaim(result_type="task", model=CreatedTask, resolve=self.resolve)]

    async def resolve(self, created: CreatedTask, ctx: ClaimContext) -> CallToolResult:
        while True:
            request = GetTask(params=TaskParams(taskId=created.task_id))
            task = await ctx.session.send_request(request, TypeAdapter(dict[str, Any]))
            self.polls += 1
            if task["status"] == "completed":
                return CallToolResult.model_validate(task["result"])
            assert task["status"] == "working", task
            await asyncio.sleep(created.poll_interval_ms / 1000)


def test_a_task_made_on_one_replica_is_polled_through_all_of_them(cluster: tuple[str, list[str]]) -> None:
    front, _ = cluster
    tasks = Tasks()

    async def run() -> CallToolResult:
        async with Client(front, mode="2026-07-28", extensions=[tasks]) as client:
            return await client.call_tool("slow_compute", {"seconds": 2, "label": "spread"})

    result = asyncio.run(run())
    assert not result.is_error and result.content[0].text == "computed spread in 2 s", result
    # Round robin over three replicas: the polls landed on every one of them, and a poll that
    # reached a replica without the task would have failed the call (HTTP 400).
    assert tasks.polls >= 3, tasks.polls


# The legacy era's own requests are what this exercises; the SDK warns they are gone in 2026-07-28.
@pytest.mark.filterwarnings("ignore:resources/subscribe is removed")
def test_a_legacy_session_spread_over_the_cluster_is_one_trace(
    cluster: tuple[str, list[str]], traces: Receiver
) -> None:
    front, _ = cluster
    client_spans()

    async def run() -> str:
        with trace.get_tracer("pytest").start_as_current_span("agent turn") as turn:
            async with Client(front, mode="legacy") as client:
                # A change to the session's record: saved to Redis, relayed to the other replicas.
                await client.subscribe_resource("textkit://help")
                for n in range(6):
                    echoed = await client.call_tool("echo", {"text": f"traced {n}"})
                    assert not echoed.is_error, echoed
        return format(turn.get_span_context().trace_id, "032x")

    trace_id = asyncio.run(run())
    relayed = lambda spans: [s for s in spans if s.kind == "consumer"]  # noqa: E731
    spans = traces.trace(
        trace_id,
        lambda spans: sum(s.name == "tools/call echo" for s in spans) == 6 and len(relayed(spans)) >= 2,
    )
    # Round robin: the one session's requests were served by every replica, in one trace.
    assert {s.replica for s in spans if s.kind == "server"} == {"r1", "r2", "r3"}
    opened = one(spans, "initialize")
    elsewhere = {s.replica for s in spans if s.name == "tools/call echo"} - {opened.replica}
    assert elsewhere, "calls answered by replicas other than the one that opened the session"
    # Redis round trips are client spans of the requests that made them.
    redis = [s for s in spans if s.attributes.get("db.system.name") == "redis"]
    servers = {s.span_id for s in spans if s.kind == "server"}
    assert redis and all(s.kind == "client" and s.parent_id in servers for s in redis), redis
    assert {"EVAL", "SET"} <= {s.attributes["db.operation.name"] for s in redis}, "admission and the subscription's save"
    # The subscription: sent by the replica that took it, applied by the two others.
    subscribed = one(spans, "resources/subscribe textkit://help")
    sent = [s for s in spans if s.kind == "producer"]
    assert sent and all(s.replica == subscribed.replica for s in sent)
    applied = relayed(spans)
    assert {s.replica for s in applied} == {"r1", "r2", "r3"} - {subscribed.replica}
    assert all(s.parent_id in {p.span_id for p in sent} for s in applied), "each relay continues the trace"
