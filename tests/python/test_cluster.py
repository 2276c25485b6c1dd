"""The official MCP Python SDK client through the shipped HAProxy config to three berth
replicas sharing a real Redis: one client session, in either era, spread over the cluster.

Redis and HAProxy are Debian's (`make test` installs them); every process listens on a free
loopback port and is stopped at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import subprocess
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from mcp import Client

from conftest import REPO, berth_server, free_port, wait_listening


@contextlib.contextmanager
def service(name: str, args: list[str], port: int) -> Iterator[None]:
    """Runs a Debian-packaged server `name` until the block ends."""
    binary = shutil.which(name) or f"/usr/sbin/{name}"
    if not Path(binary).is_file():
        pytest.fail(f"{name} is not installed (`make test` installs it)")
    process = subprocess.Popen([binary, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_listening(port, name, process)
        yield
    finally:
        process.terminate()
        process.wait(timeout=10)


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
def cluster(plugin_dir: Path, cache_dir: str) -> Iterator[tuple[str, list[str]]]:
    """HAProxy's /mcp URL and the three replicas' /mcp URLs."""
    redis_port, front, stats = free_port(), free_port(), free_port()
    redis_args = ["--bind", "127.0.0.1", "--port", str(redis_port), "--save", "", "--appendonly", "no"]
    with contextlib.ExitStack() as stack:
        stack.enter_context(service("redis-server", redis_args, redis_port))
        cluster = ("--redis", f"redis://127.0.0.1:{redis_port}")
        secret = {"BERTH_CLUSTER_SECRET": "a shared secret for the python cluster"}
        replicas = [
            stack.enter_context(berth_server(plugin_dir, cache_dir, *cluster, "--replica-id", f"r{n}", env=secret))
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
