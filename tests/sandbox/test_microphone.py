"""The SoftSugar microphone WebSocket on the sandbox."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from .conftest import Vendor, wait_until

MIC = "/api/live-takeover-cc/v1/material/live/channel/command/microphone"
LONG = "This takeover is long enough to keep playing for a while."
BEGIN = json.dumps({"code": 0, "message": "begin"})
EOF_MESSAGE = json.dumps({"code": 99, "message": "eof"})


def mic_url(sandbox_url: str, session_id: str, token: str, client_type: str = "BROWSER") -> str:
    base = sandbox_url.replace("http://", "ws://")
    authorization = quote(f"Bearer {token}")
    return f"{base}{MIC}?clientType={client_type}&sessionId={session_id}&Authorization={authorization}"


async def receive(ws: ClientConnection) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout=5))  # type: ignore[no-any-return]


async def refused_with(url: str) -> int:
    async with websockets.connect(url) as ws:
        code = (await receive(ws))["code"]
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(ws.recv(), timeout=5)
        return int(code)


def open_session(vendor: Vendor) -> tuple[str, str]:
    data = vendor.create()["data"]
    vendor.channel("start", sessionId=data["sessionId"])
    return data["sessionId"], data["sessionToken"]


def test_a_wrong_token_gets_code_1_and_is_closed(sandbox_url: str, vendor: Vendor) -> None:
    session_id, _ = open_session(vendor)
    assert asyncio.run(refused_with(mic_url(sandbox_url, session_id, "wrong"))) == 1
    assert asyncio.run(refused_with(mic_url(sandbox_url, session_id, vendor.token))) == 1


def test_no_live_session_gets_code_6(sandbox_url: str, control: httpx.Client, vendor: Vendor) -> None:
    assert asyncio.run(refused_with(mic_url(sandbox_url, "nope", "x"))) == 6
    control.put("/_sandbox/config", json={"create_delay": 5})
    data = vendor.create()["data"]
    assert asyncio.run(refused_with(mic_url(sandbox_url, data["sessionId"], data["sessionToken"]))) == 6


def test_voice_is_counted_between_begin_and_eof(sandbox_url: str, vendor: Vendor) -> None:
    session_id, token = open_session(vendor)

    async def talk() -> list[int]:
        codes = []
        async with websockets.connect(mic_url(sandbox_url, session_id, token)) as ws:
            await ws.send(b"\x00\x00")  # before begin: refused
            codes.append((await receive(ws))["code"])
            await ws.send(BEGIN)
            codes.append((await receive(ws))["code"])
            for _ in range(10):
                await ws.send(b"\x01\x00" * 1600)  # 0.1 s of 16 kHz s16
            await ws.send(b"\x01\x00\x02")  # odd length: refused, not counted
            codes.append((await receive(ws))["code"])
            await ws.send(EOF_MESSAGE)
            await ws.send(BEGIN)  # a second utterance; its answer proves the eof was handled
            codes.append((await receive(ws))["code"])
            await ws.send(b"\x00\x00" * 16000)
            await ws.send(EOF_MESSAGE)
            await ws.send(json.dumps({"code": 42}))
            codes.append((await receive(ws))["code"])
        return codes

    assert asyncio.run(talk()) == [5, 2, 5, 2, 5]
    mic = vendor.inspect(session_id)["mic"]
    assert mic["frames"] == 11 and mic["bytes"] == 32000 + 32000
    assert mic["seconds"] == pytest.approx(2.0)
    assert mic["utterances"] == 2 and mic["refusedFrames"] == 2 and mic["connections"] == 1
    wait_until(lambda: vendor.inspect(session_id)["mic"]["openSockets"] == 0)


def test_begin_conflicts_with_http_takeovers_until_they_are_cancelled(
    sandbox_url: str, control: httpx.Client, vendor: Vendor
) -> None:
    control.put("/_sandbox/config", json={"speech_seconds_per_char": 0.2})
    session_id, token = open_session(vendor)

    async def talk() -> list[dict[str, Any]]:
        async with websockets.connect(mic_url(sandbox_url, session_id, token)) as ws:
            trace_id = await asyncio.to_thread(vendor.queue, session_id, LONG)
            messages = [await receive(ws), await receive(ws)]  # 20 queued, 19 started
            await ws.send(BEGIN)
            messages.append(await receive(ws))
            await asyncio.to_thread(
                vendor.channel, "command/cancel", sessionId=session_id, commandTraceId="-1"
            )
            messages.append(await receive(ws))  # 18 cancelled
            await ws.send(BEGIN)
            messages.append(await receive(ws))
            assert all(m["data"]["commandTraceId"] == trace_id for m in messages[:2])
        return messages

    messages = asyncio.run(talk())
    assert [m["code"] for m in messages] == [20, 19, 7, 18, 2]
    assert set(messages[0]["data"]) == {"sessionId", "commandTraceId", "timestamp"}


def test_closing_the_session_tells_the_microphone_to_stop(sandbox_url: str, vendor: Vendor) -> None:
    session_id, token = open_session(vendor)

    async def talk() -> int:
        async with websockets.connect(mic_url(sandbox_url, session_id, token)) as ws:
            await ws.send(BEGIN)
            await receive(ws)
            await asyncio.to_thread(vendor.channel, "close", sessionId=session_id)
            code = (await receive(ws))["code"]
            with pytest.raises(websockets.ConnectionClosed):
                await asyncio.wait_for(ws.recv(), timeout=5)
            return int(code)

    assert asyncio.run(talk()) == 4


def test_drop_websockets_fault_closes_sockets_abruptly(
    sandbox_url: str, control: httpx.Client, vendor: Vendor
) -> None:
    session_id, token = open_session(vendor)

    async def talk() -> int | None:
        async with websockets.connect(mic_url(sandbox_url, session_id, token)) as ws:
            await ws.send(BEGIN)
            await receive(ws)
            await asyncio.to_thread(control.put, "/_sandbox/faults", json={"drop_websockets": True})
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), timeout=5)
            return closed.value.rcvd.code if closed.value.rcvd else None

    assert asyncio.run(talk()) == 4011

    async def reconnect() -> None:
        async with websockets.connect(mic_url(sandbox_url, session_id, token)) as ws:
            with pytest.raises(websockets.ConnectionClosed):
                await asyncio.wait_for(ws.recv(), timeout=5)

    asyncio.run(reconnect())


def test_expired_token_fault_refuses_the_microphone(
    sandbox_url: str, control: httpx.Client, vendor: Vendor
) -> None:
    session_id, token = open_session(vendor)
    control.put("/_sandbox/faults", json={"expired_token": True})
    assert asyncio.run(refused_with(mic_url(sandbox_url, session_id, token))) == 1


def test_client_type_must_be_browser(sandbox_url: str, vendor: Vendor) -> None:
    session_id, token = open_session(vendor)
    assert asyncio.run(refused_with(mic_url(sandbox_url, session_id, token, client_type="APP"))) == 5
