"""The official MCP Python SDK client against a real berth, in every connection mode."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

from conftest import berth_binary

MODES = ["legacy", "2026-07-28", "auto"]


async def exercise(client: Client) -> None:
    tools = await client.list_tools()
    names = {tool.name for tool in tools.tools}
    assert {"echo", "hash", "json_query", "faulty_ok"} <= names

    echoed = await client.call_tool("echo", {"text": "hello from python"})
    assert not echoed.is_error
    assert [c.text for c in echoed.content] == ["hello from python"]

    help_text = await client.read_resource("textkit://help")
    assert "json_query" in help_text.contents[0].text

    digest = await client.read_resource("textkit://sha256/abc")
    assert digest.contents[0].text == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

    prompt = await client.get_prompt("explain_regex", {"pattern": "x+y"})
    assert prompt.messages[0].role == "user"
    assert "x+y" in prompt.messages[0].content.text

    # Bad arguments are a tool error the model can read (SEP-1303), not a protocol error.
    wrong = await client.call_tool("echo", {"text": 5})
    assert wrong.is_error
    assert wrong.content[0].text.endswith("\n/text: expected string, got integer"), wrong.content[0].text

    trapped = await client.call_tool("faulty_trap", {})
    assert trapped.is_error
    after = await client.call_tool("faulty_ok", {})
    assert not after.is_error and after.content[0].text == "ok"


@pytest.mark.parametrize("mode", MODES)
def test_streamable_http(server_url: str, mode: str) -> None:
    async def run() -> str:
        async with Client(server_url, mode=mode) as client:
            await exercise(client)
            return client.protocol_version

    version = asyncio.run(run())
    assert version == ("2025-11-25" if mode == "legacy" else "2026-07-28")


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
def test_stdio(plugin_dir: Path, cache_dir: str, mode: str) -> None:
    params = StdioServerParameters(
        command=berth_binary(),
        args=["stdio", "--plugins", str(plugin_dir), "--cache-dir", cache_dir],
        env={"BERTH_LOG": "warn"},
    )

    async def run() -> str:
        async with Client(params, mode=mode) as client:
            await exercise(client)
            return client.protocol_version

    version = asyncio.run(run())
    assert version == ("2025-11-25" if mode == "legacy" else "2026-07-28")
