"""Plugins scaffolded by `berth new --lang python|js|ts|c`, built with componentize-py, jco
(and tsc for TypeScript), or clang and wit-bindgen for C, served by a real berth and called
through the official MCP Python SDK client."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from mcp import Client

from conftest import berth_binary


def serve_and_greet(plugins: Path, cache_dir: str, tool: str) -> None:
    """Serves `plugins` with a real berth and calls greeting `tool` through the MCP client."""
    server = subprocess.Popen(
        [berth_binary(), "serve", "--plugins", str(plugins), "--cache-dir", cache_dir, "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "BERTH_LOG": "warn"},
    )
    try:
        assert server.stdout is not None
        url = None
        for line in server.stdout:
            if line.startswith("berth listening on "):
                url = line.removeprefix("berth listening on ").strip()
                break
        assert url, "berth serve did not start"
        threading.Thread(target=lambda: [None for _ in server.stdout], daemon=True).start()

        async def run() -> list[str]:
            async with Client(url, mode="2026-07-28") as client:
                tools = await client.list_tools()
                assert [t.name for t in tools.tools] == [tool]
                # The template lists its tool as able to run as a task (and then answers at once).
                assert tools.tools[0].execution is not None and tools.tools[0].execution.task_support == "optional"
                answers = []
                for who in ("Ada", "Grace"):
                    result = await client.call_tool(tool, {"name": who})
                    assert not result.is_error
                    answers.append(result.content[0].text)
                # Checked by berth against the template's schema: a tool error the model can read.
                wrong = await client.call_tool(tool, {"name": 42})
                assert wrong.is_error
                assert wrong.content[0].text.endswith("\n/name: expected string, got integer"), wrong.content[0].text
                return answers

        assert asyncio.run(run()) == ["Hello, Ada!", "Hello, Grace!"]
    finally:
        server.terminate()
        server.wait(timeout=10)


def scaffold(work: Path, name: str, lang: str) -> Path:
    project = work / name
    subprocess.run([berth_binary(), "new", name, "--lang", lang, "--dir", str(project)], check=True)
    return project


def install(project: Path, name: str, work: Path) -> Path:
    plugins = work / "plugins"
    plugins.mkdir()
    shutil.copy(project / f"{name}.wasm", plugins)
    if (project / f"{name}.toml").is_file():  # the C template needs no sidecar
        shutil.copy(project / f"{name}.toml", plugins)
    return plugins


def path_with(directory: Path) -> dict[str, str]:
    """The environment with `directory` first on PATH."""
    return {**os.environ, "PATH": f"{directory}{os.pathsep}{os.environ.get('PATH', '')}"}


def test_python_template_builds_and_serves(cache_dir: str) -> None:
    work = Path(tempfile.mkdtemp(prefix="berth-py-template-"))
    try:
        project = scaffold(work, "py-greeter", "python")
        # componentize-py is installed in the same venv as this test.
        subprocess.run([str(project / "build.sh")], check=True, env=path_with(Path(sys.executable).parent))
        serve_and_greet(install(project, "py-greeter", work), cache_dir, "py_greeter_greet")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_js_template_builds_and_serves(cache_dir: str) -> None:
    work = Path(tempfile.mkdtemp(prefix="berth-js-template-"))
    try:
        project = scaffold(work, "js-greeter", "js")
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"], cwd=project, check=True)
        subprocess.run(["npm", "run", "build"], cwd=project, check=True)
        serve_and_greet(install(project, "js-greeter", work), cache_dir, "js_greeter_greet")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_ts_template_builds_and_serves(cache_dir: str) -> None:
    work = Path(tempfile.mkdtemp(prefix="berth-ts-template-"))
    try:
        project = scaffold(work, "ts-greeter", "ts")
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"], cwd=project, check=True)
        subprocess.run(["npm", "run", "build"], cwd=project, check=True)
        assert (project / "types" / "interfaces" / "berth-plugin-tools.d.ts").is_file(), "types generated from wit/"
        serve_and_greet(install(project, "ts-greeter", work), cache_dir, "ts_greeter_greet")

        # The generated types are enforced: a result the contract does not allow stops the build.
        source = project / "app.ts"
        source.write_text(source.read_text().replace("tag: 'complete',", "tag: 'finished',"))
        broken = subprocess.run(["npm", "run", "build"], cwd=project, capture_output=True, text=True)
        assert broken.returncode != 0
        assert "'\"finished\"' is not assignable" in broken.stdout + broken.stderr, broken.stdout + broken.stderr
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_c_template_builds_and_serves(cache_dir: str) -> None:
    work = Path(tempfile.mkdtemp(prefix="berth-c-template-"))
    try:
        project = scaffold(work, "c-greeter", "c")
        # `make c-toolchain` puts wit-bindgen in .build/tools; clang and wasi-libc are Debian's.
        tools = Path(__file__).resolve().parents[2] / ".build" / "tools" / "bin"
        subprocess.run(["make"], cwd=project, check=True, env=path_with(tools))
        assert (project / "gen" / "task_tools_plugin.h").is_file(), "bindings generated from wit/"
        serve_and_greet(install(project, "c-greeter", work), cache_dir, "c_greeter_greet")
    finally:
        shutil.rmtree(work, ignore_errors=True)
