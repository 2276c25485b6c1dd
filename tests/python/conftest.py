"""Fixtures: a real `berth serve` on an ephemeral loopback port, with real plugins."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PLUGINS = ["echo", "textkit", "faulty"]


def berth_binary() -> str:
    binary = os.environ.get("BERTH_BIN")
    if not binary or not Path(binary).is_file():
        pytest.fail("set BERTH_BIN to the built berth binary (run `make test-python`)")
    return binary


@pytest.fixture(scope="session")
def plugin_dir() -> Path:
    """A folder with the bundled plugins and the test-only `faulty` plugin."""
    folder = Path(tempfile.mkdtemp(prefix="berth-py-plugins-"))
    for name in PLUGINS:
        for source in (REPO / "plugins", REPO / ".build" / "fixtures"):
            candidate = source / f"{name}.wasm"
            if candidate.is_file():
                shutil.copy(candidate, folder / f"{name}.wasm")
                break
        else:
            pytest.fail(f"{name}.wasm is not built: run `make fixtures`")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port: int, name: str, process: subprocess.Popen, seconds: float = 15) -> None:
    """Waits until something accepts connections on `port`; fails if `process` exits first."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if process.poll() is not None:
                pytest.fail(f"{name} exited before listening (code {process.returncode})")
            assert time.monotonic() < deadline, f"{name} did not listen on {port}"
            time.sleep(0.05)


@pytest.fixture(scope="session")
def cache_dir() -> str:
    return str(Path(tempfile.gettempdir()) / "berth-test-cache")


@contextlib.contextmanager
def berth_server(plugin_dir: Path, cache_dir: str, *extra: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """Runs `berth serve --listen 127.0.0.1:0` (with `extra` arguments and `env` variables
    added) and yields its /mcp URL."""
    process = subprocess.Popen(
        [berth_binary(), "serve", "--plugins", str(plugin_dir), "--cache-dir", cache_dir, "--listen", "127.0.0.1:0", *extra],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "BERTH_LOG": "warn", **(env or {})},
    )
    assert process.stdout is not None
    url = None
    for line in process.stdout:
        if line.startswith("berth listening on "):
            url = line.removeprefix("berth listening on ").strip()
            break
    if url is None:
        process.kill()
        pytest.fail(f"berth serve exited before listening (code {process.wait()})")
    # Keep draining stdout so the server never blocks writing to it.
    threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()
    try:
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def server_url(plugin_dir: Path, cache_dir: str) -> Iterator[str]:
    """A berth server with default settings, shared by the session's tests."""
    with berth_server(plugin_dir, cache_dir) as url:
        yield url


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
