"""The client configurations in README.md, run as written.

Each JSON snippet under "Use it from Claude Desktop, VS Code, Cursor" is parsed;
every stdio server in it is started with its own `command` and `args` (only the
plugins folder swapped for the test's, and `berth` found on PATH as it would be
after `make install`), and the official Python SDK lists and calls a tool
through it. HTTP entries must point at berth's `/mcp` endpoint. The Inspector
command line is checked the same way. A snippet that drifts from what berth
accepts fails here, not on a user's desktop.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

from conftest import REPO, berth_binary

SECTION = "## Use it from Claude Desktop, VS Code, Cursor"
PLUGINS_PLACEHOLDER = "/home/you/.local/share/berth/plugins"


def section() -> str:
    readme = (REPO / "README.md").read_text()
    start = readme.index(SECTION)
    end = readme.index("\n## ", start + len(SECTION))
    return readme[start:end]


def snippets(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", section(), re.S)


def servers() -> list[tuple[str, dict]]:
    """Every server entry of every JSON snippet, named `snippet#/name`."""
    found = []
    for index, text in enumerate(snippets("json")):
        config = json.loads(text)
        entries = config.get("mcpServers") or config.get("servers")
        assert entries, f"snippet {index} has neither mcpServers nor servers"
        found += [(f"{index}/{name}", entry) for name, entry in entries.items()]
    return found


def test_every_client_has_a_snippet() -> None:
    names = {name.split("/")[1] for name, _ in servers()}
    assert names == {"berth", "berth-http"}
    assert len(snippets("json")) == 3, "Claude Desktop, VS Code and Cursor"


@pytest.mark.parametrize("name,entry", [s for s in servers() if "command" in s[1]], ids=lambda v: v if isinstance(v, str) else "")
def test_stdio_snippet_runs_as_written(name: str, entry: dict, plugin_dir: Path, cache_dir: str) -> None:
    assert entry.get("type", "stdio") == "stdio", name
    assert entry["command"] == "berth", f"{name}: the snippets assume berth on PATH"
    args = [str(plugin_dir) if arg == PLUGINS_PLACEHOLDER else arg for arg in entry["args"]]
    assert str(plugin_dir) in args, f"{name}: no plugins folder in {entry['args']}"
    run_stdio(entry["command"], args, cache_dir)


def test_inspector_command_runs_berth_as_written(plugin_dir: Path, cache_dir: str) -> None:
    (line,) = [line for line in "".join(snippets("sh")).splitlines() if "inspector" in line]
    words = shlex.split(line)
    assert words[:2] == ["npx", "@modelcontextprotocol/inspector"], line
    command, *args = words[2:]
    run_stdio(command, [str(plugin_dir) if arg == PLUGINS_PLACEHOLDER else arg for arg in args], cache_dir)


@pytest.mark.parametrize("name,entry", [s for s in servers() if "url" in s[1]], ids=lambda v: v if isinstance(v, str) else "")
def test_http_snippet_points_at_the_mcp_endpoint(name: str, entry: dict, server_url: str) -> None:
    # The snippet names the default address of `berth serve`; the running test server has its own port.
    assert entry["url"] == "http://127.0.0.1:8080/mcp", name
    assert entry.get("type", "http") == "http", name
    assert server_url.endswith("/mcp")

    async def run() -> list[str]:
        async with Client(server_url) as client:
            echoed = await client.call_tool("echo", {"text": name})
            return [c.text for c in echoed.content]

    assert asyncio.run(run()) == [name]


def run_stdio(command: str, args: list[str], cache_dir: str) -> None:
    """Starts `command args` the way a desktop client does (berth on PATH) and calls `echo`."""
    path = os.pathsep.join([str(Path(berth_binary()).parent), os.environ.get("PATH", "")])
    # The snippets name no --cache-dir: berth's default cache folder ($XDG_CACHE_HOME/berth)
    # is pointed at the tests' cache instead of the user's.
    params = StdioServerParameters(
        command=command, args=args, env={"PATH": path, "BERTH_LOG": "warn", "XDG_CACHE_HOME": cache_dir}
    )

    async def run() -> tuple[set[str], list[str]]:
        async with Client(params) as client:
            tools = await client.list_tools()
            echoed = await client.call_tool("echo", {"text": "from a desktop client"})
            return {t.name for t in tools.tools}, [c.text for c in echoed.content]

    names, echoed = asyncio.run(run())
    assert "echo" in names and "hash" in names
    assert echoed == ["from a desktop client"]
