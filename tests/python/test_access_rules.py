"""The official MCP Python SDK client with a restricted token: it lists and calls only what
berth's access rules grant, in both protocol eras."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError

from conftest import berth_server

RULES = """
[[auth.tokens]]
name = "docs"
token = "docs-token"

[[auth.tokens]]
name = "ops"
token = "ops-token"

[[access.rules]]
name = "docs: read-only text tools"
identities = ["docs"]
tools = ["hash", "text_stats"]
resources = ["textkit://help"]

[[access.rules]]
identities = ["ops"]
plugins = ["*"]

[audit]
file = "{audit}"
"""


@pytest.fixture(scope="module")
def ruled(plugin_dir: Path, cache_dir: str, tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("access")
    audit = folder / "audit.jsonl"
    config = folder / "berth.toml"
    config.write_text(RULES.replace("{audit}", str(audit)))
    with berth_server(plugin_dir, cache_dir, "--config", str(config)) as url:
        yield url, audit


def connect(url: str, token: str, mode: str) -> Client:
    http = create_mcp_http_client(headers={"Authorization": f"Bearer {token}"})
    return Client(streamable_http_client(url, http_client=http), mode=mode)


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
def test_a_restricted_token_lists_and_calls_only_what_the_rules_allow(ruled, mode: str) -> None:
    url, audit = ruled

    async def run() -> None:
        async with connect(url, "docs-token", mode) as client:
            tools = await client.list_tools()
            assert {tool.name for tool in tools.tools} == {"hash", "text_stats"}
            resources = await client.list_resources()
            assert [str(r.uri) for r in resources.resources] == ["textkit://help"]
            assert (await client.list_prompts()).prompts == []

            digest = await client.call_tool("hash", {"text": "abc"})
            assert not digest.is_error
            assert digest.content[0].text == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

            # A tool that exists but is not granted fails exactly as one that does not exist.
            # (The SDK may raise the JSON-RPC error or hand it back as an error result.)
            answers = []
            for name in ("echo", "no_such_tool"):
                try:
                    result = await client.call_tool(name, {"text": "x"})
                    answer = ("result", result.is_error, [c.text.replace(name, "NAME") for c in result.content])
                except MCPError as refused:
                    answer = ("error", refused.error.code, refused.error.message.replace(name, "NAME"))
                answers.append(answer)
            assert answers[0] == answers[1], answers
            assert "unknown tool: NAME" in str(answers[0]), answers

        async with connect(url, "ops-token", mode) as client:
            names = {tool.name for tool in (await client.list_tools()).tools}
            assert {"echo", "hash", "faulty_ok"} <= names
            assert not (await client.call_tool("echo", {"text": "x"})).is_error

    asyncio.run(run())
    # The trail is written by a thread of its own: wait (at most 10 s) for the calls' lines.
    wanted = {("hash", "ok"), ("echo", "refused_by_rule"), ("no_such_tool", "error")}
    deadline = time.monotonic() + 10
    while True:
        lines = [json.loads(line) for line in audit.read_text().splitlines()]
        docs = {(line["target"], line["outcome"]) for line in lines if line["identity"] == {"name": "docs"}}
        if wanted <= docs or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert wanted <= docs, docs
    assert all("docs-token" not in json.dumps(line) for line in lines)
