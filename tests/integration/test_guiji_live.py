"""A Guiji live end to end over real sockets: daphne, the Celery worker, the MQTT bridge, mosquitto
and the sandbox's Guiji platform. The bridge answers the platform's heartbeats; killing and
restarting it during a live loses nothing, because the heartbeats resume within the platform's
threshold."""

from __future__ import annotations

import signal
import time
from typing import Any

import httpx
import pytest

from rooms.models import LiveSession
from takeovers.models import Takeover
from tests.integration.helpers import csrf_post, login, room_action, wait_until

pytestmark = pytest.mark.usefixtures("transactional_db")


def _vendor(control: httpx.Client, session: LiveSession) -> dict[str, Any]:
    answer = control.get(f"/_sandbox/guiji/sessions/{session.vendor_session_id}")
    answer.raise_for_status()
    return dict(answer.json())


def _live(room: Any) -> LiveSession:
    def live() -> LiveSession | None:
        session = LiveSession.objects.filter(room=room).order_by("-created_at").first()
        return session if session and session.state == "live" else None

    try:
        return wait_until(live, timeout=30, what="the Guiji live to be LIVE")
    except AssertionError:
        last = LiveSession.objects.filter(room=room).order_by("-created_at").first()
        raise AssertionError(f"not LIVE: {last and (last.state, last.reason, last.last_error)}") from None


@pytest.fixture
def web(live_stack: Any, guiji_host: Any) -> Any:
    client = login(live_stack.web_urls[0], guiji_host.username)
    yield client
    client.close()


def test_a_guiji_live_opens_streams_and_stops(
    live_stack: Any, guiji_room: Any, web: httpx.Client, guiji_control: httpx.Client
) -> None:
    assert room_action(web, guiji_room.pk, "start").status_code == 204
    session = _live(guiji_room)

    assert session.vendor_code == "StreamPlay"
    assert set(session.vendor_data["playaddr"]) == {"rtmp", "rtsp", "http-flv"}
    guiji_room.refresh_from_db()
    assert guiji_room.vendor_room_id == str(session.vendor_data["live_id"])
    vendor = _vendor(guiji_control, session)
    assert vendor["state"] == "streaming"
    assert vendor["anchor"]["udCode"] == guiji_room.anchor_scene.code
    # The console page shows where to pull the stream.
    page = web.get(f"/rooms/{guiji_room.pk}/").text
    assert session.vendor_data["playaddr"]["rtmp"]["wan"] in page

    assert room_action(web, guiji_room.pk, "stop").status_code == 204
    wait_until(
        lambda: LiveSession.objects.get(pk=session.pk).state == "ended", timeout=20, what="the live to end"
    )
    assert _vendor(guiji_control, session)["state"] == "destroyed"


def test_the_bridge_restarts_during_a_live_and_the_live_survives(
    live_stack: Any, guiji_room: Any, web: httpx.Client, guiji_control: httpx.Client
) -> None:
    room_action(web, guiji_room.pk, "start")
    session = _live(guiji_room)
    wait_until(
        lambda: _vendor(guiji_control, session)["heartbeats"]["answered"] >= 2,
        timeout=15,
        what="the bridge answering heartbeats",
    )
    threshold = guiji_control.get("/_sandbox/config").json()["guiji_heartbeat_threshold"]

    bridge = live_stack.bridge
    bridge.send_signal(signal.SIGKILL)
    bridge.wait(timeout=10)
    down_at = time.time()
    answered_before = _vendor(guiji_control, session)["heartbeats"]["answered"]
    time.sleep(2.5)  # heartbeats go unanswered meanwhile
    live_stack.start_bridge()
    wait_until(
        lambda: _vendor(guiji_control, session)["heartbeats"]["lastAnswerAt"] > down_at + 2.5,
        timeout=threshold,
        what="heartbeats answered again after the restart",
    )
    time.sleep(2)

    vendor = _vendor(guiji_control, session)
    assert vendor["state"] == "streaming", vendor["cause"]
    assert vendor["heartbeats"]["answered"] > answered_before
    assert vendor["heartbeats"]["maxGap"] < threshold
    session.refresh_from_db()
    assert session.state == "live"
    wait_until(
        lambda: LiveSession.objects.get(pk=session.pk).last_heartbeat_ok,
        timeout=10,
        what="LiveDeck to record the heartbeats again",
    )
    room_action(web, guiji_room.pk, "stop")
    wait_until(lambda: LiveSession.objects.get(pk=session.pk).state == "ended", timeout=20, what="the end")


def test_a_session_the_platform_destroys_is_dropped_with_its_cause(
    live_stack: Any, guiji_room: Any, web: httpx.Client, guiji_control: httpx.Client
) -> None:
    room_action(web, guiji_room.pk, "start")
    session = _live(guiji_room)

    guiji_control.post(
        f"/_sandbox/guiji/sessions/{session.vendor_session_id}/kill", json={"cause": "render node lost"}
    ).raise_for_status()

    dropped = wait_until(
        lambda: LiveSession.objects.filter(pk=session.pk, state="dropped").first(),
        timeout=15,
        what="the session to be dropped",
    )
    assert dropped.vendor_code == "Destroy"
    assert "render node lost" in dropped.reason


def test_a_typed_takeover_joins_the_playlist_and_plays_through(
    live_stack: Any, guiji_room: Any, web: httpx.Client, guiji_control: httpx.Client
) -> None:
    room_action(web, guiji_room.pk, "start")
    session = _live(guiji_room)

    text = "Flash sale: the blue jacket is half price for ten minutes."
    answer = csrf_post(
        web, f"/rooms/{guiji_room.pk}/takeovers/", {"kind": "text", "content": text, "mode": "now"}
    )
    assert answer.status_code == 204, answer.text

    takeover = wait_until(
        lambda: Takeover.objects.filter(session=session, state="done").first(), timeout=30, what="it to play"
    )
    assert takeover.content == text
    assert takeover.playing_at and takeover.done_at and takeover.playing_at <= takeover.done_at
    played = [
        item for item in _vendor(guiji_control, session)["played"] if str(item["pcmId"]) == takeover.trace_id
    ]
    assert played and played[0]["type"] == "insertlist"
    room_action(web, guiji_room.pk, "stop")
