"""Push-to-talk: the mic relay (`ws/rooms/<id>/mic/`) against real sandbox sessions.

Unit tests drive the relay in-process with channels' WebsocketCommunicator; the vendor side is
the sandbox over real sockets (or a small websockets server that stalls or drops). The last
tests go through the live stack's daphne with a logged-in host.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from contextlib import closing
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import websockets
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from rooms.models import LiveSession
from rooms.platforms.base import LiveState, TakeoverState
from takeovers import routing
from takeovers.models import Takeover
from takeovers.services import takeover_send
from tests.conftest import provision_softsugar
from tests.factories import AccountFactory, RoomFactory, UserFactory
from tests.integration.helpers import live_script, login, wait_until

pytestmark = [pytest.mark.django_db(transaction=True)]

FRAME = b"\x01\x00" * 320  # 20 ms of 16 kHz mono s16
EOF = json.dumps({"code": 99, "message": "eof"})
CREATE = "/api/2dvh/v2/material/live/channel/create"
CHANNEL = "/api/2dvh/v1/material/live/channel"
LONG = "This takeover is long enough to keep playing for a while."


# A live sandbox session, and the room it belongs to ------------------------------------------


class Live:
    """A SoftSugar sandbox session, created and started through the vendor's endpoints, with its
    LiveDeck room, LIVE session row and host."""

    def __init__(self, sandbox: httpx.Client, *, base_url: str | None = None, token_ok: bool = True) -> None:
        self.sandbox = sandbox
        self.token = secrets.token_urlsafe(16)
        provision_softsugar(str(sandbox.base_url), self.token, "")
        self.auth = {"Authorization": f"Bearer {self.token}"}
        created = sandbox.post(CREATE, json={"param": live_script()}, headers=self.auth).json()
        assert created["code"] == 0, created
        self.vendor_id = created["data"]["sessionId"]
        wait_until(
            lambda: self.call("start", sessionId=self.vendor_id)["code"] == 0, timeout=10, what="start"
        )
        self.account = AccountFactory(
            kind="softsugar", base_url=base_url or str(sandbox.base_url), credentials={"token": self.token}
        )
        self.host = UserFactory(roles=["host"])
        self.room = RoomFactory(account=self.account, hosts=[self.host])
        self.session = LiveSession.objects.create(
            room=self.room,
            account=self.account,
            state=LiveState.LIVE,
            vendor_session_id=self.vendor_id,
            session_token=created["data"]["sessionToken"] if token_ok else "not-the-token",
        )

    def call(self, path: str, **body: Any) -> dict[str, Any]:
        return dict(self.sandbox.post(f"{CHANNEL}/{path}", json=body, headers=self.auth).json())

    def queue(self, text: str = LONG) -> str:
        param = json.dumps({"tts_query": {"content": text, "ssml": False}})
        answer = self.call("command/queue", sessionId=self.vendor_id, param=param)
        assert answer["code"] == 0, answer
        return str(answer["data"]["commandTraceId"])

    def mic(self) -> dict[str, Any]:
        return dict(self.sandbox.get(f"/_sandbox/softsugar/sessions/{self.vendor_id}").json()["mic"])


@pytest.fixture
def live(transactional_db: None, sandbox_control: httpx.Client) -> Live:
    sandbox_control.put("/_sandbox/config", json={"create_delay": 0.05}).raise_for_status()
    return Live(sandbox_control)


def communicator(live: Live, user: Any = None) -> WebsocketCommunicator:
    app = URLRouter(routing.websocket_urlpatterns)
    talk = WebsocketCommunicator(app, f"/ws/rooms/{live.room.pk}/mic/")
    talk.scope["user"] = user or live.host
    return talk


async def said(talk: WebsocketCommunicator, timeout: float = 10) -> dict[str, Any]:
    return dict(json.loads(await talk.receive_from(timeout=timeout)))


async def until(talk: WebsocketCommunicator, state: str, timeout: float = 10) -> list[dict[str, Any]]:
    """Everything said up to and including the first message in `state`."""
    heard = []
    deadline = time.monotonic() + timeout
    while not heard or heard[-1]["state"] != state:
        heard.append(await said(talk, timeout=max(0.1, deadline - time.monotonic())))
    return heard


async def closed_with(talk: WebsocketCommunicator, timeout: float = 5) -> int:
    output = await talk.receive_output(timeout=timeout)
    while output["type"] != "websocket.close":
        output = await talk.receive_output(timeout=timeout)
    return int(output.get("code", 1000))


# Refusals at connect -------------------------------------------------------------------------


def test_a_host_who_does_not_run_the_room_is_told_why_and_closed(live: Live) -> None:
    async def scenario() -> tuple[dict[str, Any], int]:
        talk = communicator(live, user=UserFactory(roles=["host"]))
        connected, _ = await talk.connect()
        assert connected
        return await said(talk), await closed_with(talk)

    message, code = asyncio.run(scenario())
    assert message["state"] == "error" and "do not run this room" in message["words"]
    assert code == 4403
    assert live.mic()["connections"] == 0


def test_a_room_that_is_not_live_is_refused_in_words(live: Live) -> None:
    LiveSession.objects.filter(pk=live.session.pk).update(state=LiveState.ENDED)

    async def scenario() -> tuple[dict[str, Any], int]:
        talk = communicator(live)
        await talk.connect()
        return await said(talk), await closed_with(talk)

    message, code = asyncio.run(scenario())
    assert message == {
        "code": None,
        "state": "error",
        "words": "The room is not live: start it before talking.",
    }
    assert code == 4409


def test_a_wrong_session_token_is_reported_as_the_vendors_code_1(sandbox_control: httpx.Client) -> None:
    live = Live(sandbox_control, token_ok=False)

    async def scenario() -> tuple[list[dict[str, Any]], int]:
        talk = communicator(live)
        await talk.connect()
        return await until(talk, "error"), await closed_with(talk)

    heard, code = asyncio.run(scenario())
    assert heard[-1]["code"] == 1 and "token" in heard[-1]["words"]
    assert code == 4422


# Talking -------------------------------------------------------------------------------------


def test_frames_reach_the_vendor_after_begin_and_eof_ends_the_utterance(live: Live) -> None:
    async def scenario() -> list[dict[str, Any]]:
        talk = communicator(live)
        await talk.connect()
        heard = await until(talk, "talking")
        for _ in range(50):  # 1 s
            await talk.send_to(bytes_data=FRAME)
        await talk.send_to(text_data=EOF)
        await asyncio.sleep(0.3)
        await talk.disconnect()
        return heard

    heard = asyncio.run(scenario())
    assert heard[0]["state"] == "connecting"
    assert heard[-1] == {"code": 2, "state": "talking", "words": "On air: the avatar speaks with your voice."}
    mic = wait_until(lambda: (m := live.mic())["openSockets"] == 0 and m, timeout=5, what="the socket closed")
    assert mic["frames"] == 50 and mic["bytes"] == 32_000 and mic["seconds"] == pytest.approx(1.0)
    assert mic["utterances"] == 1 and mic["refusedFrames"] == 0 and mic["connections"] == 1


def test_frames_sent_before_the_vendor_is_ready_are_held_then_delivered_in_order(live: Live) -> None:
    async def scenario() -> None:
        talk = communicator(live)
        await talk.connect()
        for _ in range(25):  # before "talking": the relay holds them
            await talk.send_to(bytes_data=FRAME)
        await talk.send_to(text_data=EOF)
        await until(talk, "talking")
        await asyncio.sleep(0.3)
        await talk.disconnect()

    asyncio.run(scenario())
    mic = wait_until(lambda: (m := live.mic())["openSockets"] == 0 and m, timeout=5, what="the socket closed")
    assert mic["frames"] == 25 and mic["seconds"] == pytest.approx(0.5) and mic["utterances"] == 1


def test_frames_that_are_not_pcm_of_the_right_shape_are_refused_with_a_reason(live: Live) -> None:
    async def scenario() -> list[str]:
        talk = communicator(live)
        await talk.connect()
        await until(talk, "talking")
        reasons = []
        for bad in (FRAME + b"\x00", b"", b"\x00" * 3202):
            await talk.send_input({"type": "websocket.receive", "bytes": bad})  # send_to refuses b""
            message = await said(talk)
            assert message["state"] == "refused"
            reasons.append(message["words"])
        await talk.send_to(text_data="hello")
        reasons.append((await said(talk))["words"])
        await talk.send_to(bytes_data=FRAME)  # the socket is still open for good frames
        await talk.send_to(text_data=EOF)
        await asyncio.sleep(0.3)
        await talk.disconnect()
        return reasons

    reasons = asyncio.run(scenario())
    assert "641 bytes is not a whole number of 16-bit samples" in reasons[0]
    assert "the frame is empty" in reasons[1]
    assert "3202 bytes is more than 3200" in reasons[2]
    assert "Only binary PCM frames" in reasons[3]
    mic = wait_until(lambda: (m := live.mic())["openSockets"] == 0 and m, timeout=5, what="the socket closed")
    assert mic["frames"] == 1 and mic["refusedFrames"] == 0  # nothing malformed went upstream


def test_queued_takeovers_are_cancelled_before_the_microphone_opens(live: Live) -> None:
    trace_id = live.queue()
    takeover = Takeover.objects.create(
        session=live.session, content=LONG, trace_id=trace_id, state=TakeoverState.QUEUED
    )

    async def scenario() -> list[dict[str, Any]]:
        talk = communicator(live)
        await talk.connect()
        heard = await until(talk, "talking")
        await talk.disconnect()
        return heard

    heard = asyncio.run(scenario())
    assert all(m["state"] != "error" for m in heard)  # no code 7
    assert live.call("command/queue/list", sessionId=live.vendor_id)["data"]["commandTraceIds"] in ([], None)
    takeover.refresh_from_db()
    assert takeover.state == TakeoverState.CANCELLED
    assert takeover.events.last().note == "cancelled for the microphone"


def test_takeovers_queued_while_talking_are_followed_through_codes_20_and_19(live: Live) -> None:
    async def scenario() -> tuple[str, list[dict[str, Any]]]:
        talk = communicator(live)
        await talk.connect()
        await until(talk, "talking")
        # Sent the way the console sends it: the vendor's codes may overtake its answer, and
        # the sender applies the ones that did.
        takeover = await asyncio.to_thread(Takeover.objects.create, session=live.session, content=LONG)
        await asyncio.to_thread(takeover_send, takeover_id=takeover.pk)
        await asyncio.to_thread(takeover.refresh_from_db)
        trace_id = takeover.trace_id
        heard = [await said(talk), await said(talk)]
        await asyncio.sleep(0.5)  # the database write runs beside the relay
        await talk.disconnect()
        return trace_id, heard

    trace_id, heard = asyncio.run(scenario())
    assert [m["code"] for m in heard] == [20, 19]
    assert heard[0]["words"] == "A takeover was queued (code 20)."
    takeover = wait_until(
        lambda: Takeover.objects.filter(trace_id=trace_id, state=TakeoverState.PLAYING).first(),
        timeout=5,
        what="the takeover marked playing",
    )
    assert takeover.vendor_code == "ws19"


# The vendor side failing -----------------------------------------------------------------------


def test_a_dropped_vendor_socket_is_reported_within_2_s(live: Live, sandbox_control: httpx.Client) -> None:
    async def scenario() -> tuple[float, dict[str, Any], int]:
        talk = communicator(live)
        await talk.connect()
        await until(talk, "talking")
        await talk.send_to(bytes_data=FRAME)
        began = time.monotonic()
        await asyncio.to_thread(sandbox_control.put, "/_sandbox/faults", json={"drop_websockets": True})
        message = await said(talk, timeout=5)
        return time.monotonic() - began, message, await closed_with(talk)

    took, message, code = asyncio.run(scenario())
    assert message["state"] == "error" and "closed the microphone (close code 4011)" in message["words"]
    assert took < 2.0 and code == 4502


class StallingVendor:
    """A microphone endpoint that answers begin with 2, then stops reading (and so answering pings)."""

    def __init__(self) -> None:
        self.url = ""
        self.stall = asyncio.Event()

    async def handler(self, ws: Any) -> None:
        async for message in ws:
            if isinstance(message, str) and '"begin"' in message:
                await ws.send(json.dumps({"code": 2, "message": "Server ready to receive"}))
                await self.stall.wait()
                ws.transport.pause_reading()
                await asyncio.sleep(30)


def test_a_stalled_vendor_socket_is_reported_within_2_s(sandbox_control: httpx.Client) -> None:
    vendor = StallingVendor()

    async def scenario(live: Live) -> tuple[float, dict[str, Any]]:
        talk = communicator(live)
        await talk.connect()
        heard = await until(talk, "talking")
        assert any("Could not cancel" in m["words"] for m in heard)  # this vendor has no HTTP API
        await talk.send_to(bytes_data=FRAME)
        vendor.stall.set()
        began = time.monotonic()
        message = await said(talk, timeout=5)
        took = time.monotonic() - began
        await closed_with(talk)
        return took, message

    async def main() -> tuple[float, dict[str, Any]]:
        async with websockets.serve(vendor.handler, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            live = await asyncio.to_thread(Live, sandbox_control, base_url=f"http://127.0.0.1:{port}")
            return await scenario(live)

    took, message = asyncio.run(main())
    assert message["state"] == "error" and "stopped answering" in message["words"]
    assert took < 2.0


# Through daphne ------------------------------------------------------------------------------


@pytest.mark.integration
def test_a_host_talks_through_daphne_and_the_sandbox_counts_the_audio(
    live_stack: Any, softsugar_account: Any, sandbox_control: httpx.Client
) -> None:
    sandbox_control.put("/_sandbox/config", json={"create_delay": 0.05}).raise_for_status()
    host = UserFactory(roles=["host"])
    room = RoomFactory(account=softsugar_account, hosts=[host])
    web = live_stack.web_urls[0]
    with closing(login(web, host.username)) as client:
        from tests.integration.helpers import room_action

        assert room_action(client, room.pk, "start").status_code < 400
        session = wait_until(
            lambda: LiveSession.objects.filter(room=room, state=LiveState.LIVE).first(),
            timeout=20,
            what="the live",
        )
        cookie = client.cookies["sessionid"]
    netloc = urlsplit(web).netloc

    async def talk(origin: str) -> list[dict[str, Any]]:
        heard: list[dict[str, Any]] = []
        async with websockets.connect(
            f"ws://{netloc}/ws/rooms/{room.pk}/mic/",
            origin=origin,  # type: ignore[arg-type]
            additional_headers={"Cookie": f"sessionid={cookie}"},
        ) as ws:
            while not heard or heard[-1]["state"] not in ("talking", "error"):
                heard.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
            for _ in range(100):  # 2 s, paced like a microphone
                await ws.send(FRAME)
                await asyncio.sleep(0.02)
            await ws.send(EOF)
        return heard

    heard = asyncio.run(talk(web))
    assert heard[-1]["code"] == 2, heard
    vendor = wait_until(
        lambda: (
            (
                m := sandbox_control.get(f"/_sandbox/softsugar/sessions/{session.vendor_session_id}").json()[
                    "mic"
                ]
            )["openSockets"]
            == 0
            and m
        ),
        timeout=5,
        what="the vendor socket closed",
    )
    assert vendor["seconds"] == pytest.approx(2.0) and vendor["utterances"] == 1

    # Another site's page cannot open the host's microphone with the host's cookie.
    with pytest.raises(websockets.InvalidStatus):
        asyncio.run(talk("http://evil.example"))
