"""The shipped dashboard and alert rules against a real Prometheus (Debian's package): two
berth replicas on a real Redis, tracing to a real OTLP receiver, scraped every second under a
short load of successful calls, tool errors, legacy sessions that open and close, and requests
over a client's quota. Every panel query of deploy/grafana/berth.json must return data, and
every rule of deploy/prometheus/alerts.yml must evaluate without error.

Each process listens on a free loopback port and is stopped at the end; the load is bounded
in calls and seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import shutil
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from conftest import REPO, berth_server, free_port, service
from otlp import http_receiver

# What Grafana's $__rate_interval stands for at this scrape interval (four scrapes and more).
RATE_INTERVAL = "20s"


def prometheus_config(targets: list[str], rules: Path) -> str:
    """deploy/prometheus/prometheus.yml as shipped, scraping this test's replicas every second."""
    config = (REPO / "deploy" / "prometheus" / "prometheus.yml").read_text()
    shipped = '["127.0.0.1:8081", "127.0.0.1:8082", "127.0.0.1:8083"]'
    swaps = [("scrape_interval: 15s", "scrape_interval: 1s"), ("evaluation_interval: 15s", "evaluation_interval: 1s"),
             (shipped, json.dumps(targets)), ("- alerts.yml", f"- {rules}")]
    for old, new in swaps:
        assert old in config, f"deploy/prometheus/prometheus.yml no longer has {old!r}: update this test"
        config = config.replace(old, new)
    return config


def query(prometheus: str, expr: str) -> list[dict[str, Any]]:
    """An instant query's result vector."""
    url = f"{prometheus}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=10) as response:
        answer = json.loads(response.read())
    assert answer["status"] == "success", answer
    return answer["data"]["result"]


def get(prometheus: str, path: str) -> Any:
    with urllib.request.urlopen(f"{prometheus}{path}", timeout=10) as response:
        return json.loads(response.read())["data"]


def panel_queries() -> list[tuple[str, str]]:
    """(panel title, PromQL) of every query of the shipped dashboard."""
    dashboard = json.loads((REPO / "deploy" / "grafana" / "berth.json").read_text())
    found = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            found.append((panel["title"], target["expr"].replace("$__rate_interval", RATE_INTERVAL)))
    assert len(found) >= 18, "the dashboard lost panels"
    return found


@pytest.fixture(scope="module")
def fleet(plugin_dir: Path, cache_dir: str) -> Iterator[tuple[str, list[str]]]:
    """Prometheus's URL and the two replicas' /mcp URLs."""
    redis_port, prometheus_port = free_port(), free_port()
    redis_args = ["--bind", "127.0.0.1", "--port", str(redis_port), "--save", "", "--appendonly", "no"]
    folder = Path(tempfile.mkdtemp(prefix="berth-py-dashboard-"))
    # A tight per-client call quota, so the load meets it and the refusals show.
    (folder / "berth.toml").write_text("[quota]\nrequests_per_sec = 200\nburst = 20\n")
    with contextlib.ExitStack() as stack:
        stack.callback(shutil.rmtree, folder, True)
        endpoint, _ = stack.enter_context(http_receiver())
        stack.enter_context(service("redis-server", redis_args, redis_port))
        env = {"BERTH_CLUSTER_SECRET": "a secret for the dashboard test", "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint}
        replicas = [
            stack.enter_context(
                berth_server(plugin_dir, cache_dir, "--config", str(folder / "berth.toml"),
                             "--redis", f"redis://127.0.0.1:{redis_port}", "--replica-id", f"r{n}", env=env)
            )
            for n in (1, 2)
        ]
        targets = [url.removeprefix("http://").removesuffix("/mcp") for url in replicas]
        shutil.copy(REPO / "deploy" / "prometheus" / "alerts.yml", folder / "alerts.yml")
        (folder / "prometheus.yml").write_text(prometheus_config(targets, folder / "alerts.yml"))
        args = [f"--config.file={folder / 'prometheus.yml'}", f"--storage.tsdb.path={folder / 'data'}",
                f"--web.listen-address=127.0.0.1:{prometheus_port}"]
        stack.enter_context(service("prometheus", args, prometheus_port))
        prometheus = f"http://127.0.0.1:{prometheus_port}"
        # Prometheus listens before its storage is open and answers 503 until then.
        until("Prometheus ready", lambda: ready(prometheus), seconds=60)
        yield prometheus, replicas


def ready(prometheus: str) -> bool:
    """Whether Prometheus answers /-/ready with 200 (503 while it starts)."""
    try:
        with urllib.request.urlopen(f"{prometheus}/-/ready", timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError):
        return False


def post(url: str, body: dict[str, Any]) -> int:
    """One 2026-07-28 POST; its HTTP status."""
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"content-type": "application/json", "accept": "application/json, text/event-stream",
                 "mcp-protocol-version": "2026-07-28", "mcp-method": body["method"], "mcp-name": body["params"]["name"]},
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as refused:
        return refused.code


def call(tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    meta = {"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/clientInfo": {"name": "dashboard-load", "version": "0"}}
    return {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool, "arguments": arguments, "_meta": meta}}


async def load(replicas: list[str], seconds: float) -> dict[int, int]:
    """Calls for `seconds`: echo, tool errors, legacy sessions that open and close, and a burst
    past the quota. The HTTP statuses seen, counted."""
    statuses: dict[int, int] = {}
    deadline = time.monotonic() + seconds

    async def stateless(url: str) -> None:
        while time.monotonic() < deadline:
            for body in (call("echo", {"text": "load"}), call("echo", {"text": 5}), call("faulty_trap", {})):
                status = await asyncio.to_thread(post, url, body)
                statuses[status] = statuses.get(status, 0) + 1

    async def sessions(url: str) -> None:
        for _ in range(40):
            if time.monotonic() >= deadline:
                return
            # The burst and the stateless calls share this client's quota (one source, loopback),
            # so a session may be refused too: that refusal is the quota working, not a failure.
            try:
                async with Client(url, mode="legacy") as client:
                    await client.call_tool("echo", {"text": "in a session"})
                    await asyncio.sleep(0.2)
            except BaseException as refused:  # anyio wraps the refusal in an ExceptionGroup
                if "over quota" not in repr(refused):
                    raise
                statuses[429] = statuses.get(429, 0) + 1
                await asyncio.sleep(0.2)

    async def burst(url: str) -> None:
        # Past the per-client quota at once: refusals (429) to count.
        bodies = [call("echo", {"text": "burst"}) for _ in range(60)]
        for status in await asyncio.gather(*(asyncio.to_thread(post, url, body) for body in bodies)):
            statuses[status] = statuses.get(status, 0) + 1

    await asyncio.gather(*(stateless(url) for url in replicas), *(sessions(url) for url in replicas), burst(replicas[0]))
    return statuses


def until(what: str, check: Any, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"{what} within {seconds} s"
        time.sleep(0.5)


def test_every_dashboard_panel_has_data_and_every_rule_evaluates(fleet: tuple[str, list[str]]) -> None:
    prometheus, replicas = fleet
    until("Prometheus scraping both replicas", lambda: len(query(prometheus, 'up{job="berth"} == 1')) == 2)
    statuses = asyncio.run(load(replicas, seconds=8))
    assert statuses.get(200, 0) > 50 and statuses.get(429, 0) > 0, statuses
    time.sleep(3)  # a few more scrapes after the load

    empty = []
    for title, expr in panel_queries():
        values = [float(sample["value"][1]) for sample in query(prometheus, expr)]
        if not any(not math.isnan(v) for v in values):
            empty.append(f"{title}: {expr} -> {values}")
    assert not empty, "panels with no data:\n" + "\n".join(empty)

    # Both replicas answered Redis's health, per replica.
    assert {s["metric"]["replica"] for s in query(prometheus, 'berth_redis_up{job="berth"} == 1')} == {"r1", "r2"}
    # Every rule evaluated against the real series without an error.
    until("every rule group evaluated", lambda: all(
        rule.get("lastEvaluation", "").startswith("20") for group in get(prometheus, "/api/v1/rules")["groups"]
        for rule in group["rules"]
    ))
    rules = [rule for group in get(prometheus, "/api/v1/rules")["groups"] for rule in group["rules"]]
    assert len(rules) == 19
    broken = [(rule["name"], rule.get("lastError")) for rule in rules if rule["health"] != "ok"]
    assert not broken, broken
    # The recording rules see the load: a ratio of failed requests (tool errors and traps here).
    assert query(prometheus, "berth:availability_errors:ratio_rate5m > 0"), "the availability ratio sees the failures"
