"""A full server makes room by evicting the least recently used idle session;
the official client whose session went gets the 404 answer and starts over."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from mcp import Client, MCPError

from conftest import berth_server


def test_an_evicted_client_reads_the_404_and_initializes_again(
    plugin_dir: Path, cache_dir: str, tmp_path: Path
) -> None:
    config = tmp_path / "berth.toml"
    config.write_text("[http]\nmax_sessions = 2\n")

    async def run(url: str) -> None:
        async with Client(url, mode="legacy") as first:
            assert (await first.call_tool("echo", {"text": "one"})).content[0].text == "one"
            async with Client(url, mode="legacy") as second:
                assert (await second.call_tool("echo", {"text": "two"})).content[0].text == "two"
                # The store is full; a third client's initialize evicts the least
                # recently used idle session: the first one.
                async with Client(url, mode="legacy") as third:
                    assert (await third.call_tool("echo", {"text": "three"})).content[0].text == "three"
                    with pytest.raises(MCPError) as gone:
                        await first.call_tool("echo", {"text": "again"})
                    assert "send initialize to start a new one" in str(gone.value)
                    assert (await second.call_tool("echo", {"text": "still"})).content[0].text == "still"
        # As the spec asks of a client that got 404: a new session.
        async with Client(url, mode="legacy") as again:
            assert (await again.call_tool("echo", {"text": "back"})).content[0].text == "back"

    with berth_server(plugin_dir, cache_dir, "--config", str(config)) as url:
        asyncio.run(run(url))
