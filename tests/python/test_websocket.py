"""berth's WebSocket transport (/ws) driven by the Python `websockets` client."""

from __future__ import annotations

import asyncio
import json

import websockets

META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientCapabilities": {},
    "io.modelcontextprotocol/clientInfo": {"name": "pytest-websockets", "version": "0"},
}


def ws_url(server_url: str) -> str:
    return server_url.replace("http://", "ws://", 1).removesuffix("/mcp") + "/ws"


def call(request_id, tool: str, arguments: dict) -> str:
    return json.dumps(
        {
            "jsonrpc": "2.0",
            "id": request_id,
            "method": "tools/call",
            "params": {"name": tool, "arguments": arguments, "_meta": META},
        }
    )


async def replies(ws, count: int) -> dict:
    """The next `count` replies (messages with an id), by id."""
    answered = {}
    while len(answered) < count:
        message = json.loads(await asyncio.wait_for(ws.recv(), timeout=20))
        if "id" in message:
            answered[message["id"]] = message
    return answered


def test_many_calls_in_flight_on_one_socket(server_url: str) -> None:
    async def scenario() -> dict:
        async with websockets.connect(ws_url(server_url), subprotocols=["mcp"]) as ws:
            assert ws.subprotocol == "mcp"
            for n in range(50):
                await ws.send(call(n, "echo", {"text": f"message {n}"}))
            return await replies(ws, 50)

    answered = asyncio.run(scenario())
    assert sorted(answered) == list(range(50))
    for n, reply in answered.items():
        assert reply["result"]["content"][0]["text"] == f"message {n}"


def test_legacy_session_on_a_socket(server_url: str) -> None:
    async def scenario() -> tuple[dict, dict]:
        async with websockets.connect(ws_url(server_url)) as ws:
            await ws.send(
                json.dumps(
                    {
                        "jsonrpc": "2.0",
                        "id": "init",
                        "method": "initialize",
                        "params": {
                            "protocolVersion": "2025-06-18",
                            "capabilities": {},
                            "clientInfo": {"name": "pytest", "version": "0"},
                        },
                    }
                )
            )
            init = (await replies(ws, 1))["init"]
            await ws.send(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            await ws.send(json.dumps({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}))
            return init, (await replies(ws, 1))[2]

    init, listed = asyncio.run(scenario())
    assert init["result"]["protocolVersion"] == "2025-06-18"
    names = {tool["name"] for tool in listed["result"]["tools"]}
    assert {"echo", "hash", "faulty_ok"} <= names


def test_a_trapping_call_fails_alone(server_url: str) -> None:
    async def scenario() -> dict:
        async with websockets.connect(ws_url(server_url)) as ws:
            await ws.send(call("trap", "faulty_trap", {}))
            await ws.send(call("ok", "faulty_ok", {}))
            return await replies(ws, 2)

    answered = asyncio.run(scenario())
    assert answered["trap"]["result"]["isError"] is True
    assert answered["ok"]["result"]["content"][0]["text"] == "ok"


def test_malformed_frames_get_errors_and_the_socket_stays_open(server_url: str) -> None:
    async def scenario() -> list:
        async with websockets.connect(ws_url(server_url)) as ws:
            await ws.send("{not json")
            parse = json.loads(await ws.recv())
            await ws.send(b"\x00\x01binary")
            binary = json.loads(await ws.recv())
            await ws.send(call(1, "echo", {"text": "after"}))
            after = (await replies(ws, 1))[1]
            return [parse, binary, after]

    parse, binary, after = asyncio.run(scenario())
    assert parse["error"]["code"] == -32700
    assert binary["error"]["code"] == -32600
    assert after["result"]["content"][0]["text"] == "after"
