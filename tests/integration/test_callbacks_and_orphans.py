"""Sessions settle by the vendor's callbacks or, without them, by polling; sessions the vendor
closes show as dropped; sessions no room runs are found and closed as orphans."""

from __future__ import annotations

from contextlib import closing
from typing import Any

import httpx
import pytest

from rooms.models import LiveSession
from tests.conftest import provision_softsugar
from tests.factories import RoomFactory, UserFactory
from tests.integration.conftest import open_session
from tests.integration.helpers import (
    CREATE_PATH,
    ConsoleSocket,
    csrf_post,
    live_script,
    login,
    room_action,
    sandbox_session,
    wait_until,
)

pytestmark = [pytest.mark.integration]

STAT_PATH = "/api/2dvh/v1/material/live/channel/stat"


def _session_with_vendor_id(room: Any) -> LiveSession:
    return wait_until(
        lambda: LiveSession.objects.filter(room=room).exclude(vendor_session_id="").first(),
        timeout=15,
        what="the vendor's session id",
    )


def test_callback_moves_a_warming_session_from_creating_to_ready(
    room: Any, web: httpx.Client, console: ConsoleSocket, sandbox_control: httpx.Client
) -> None:
    sandbox_control.put("/_sandbox/config", json={"create_delay": 3.0}).raise_for_status()

    assert room_action(web, room.pk, "warm_up").status_code == 204
    session = _session_with_vendor_id(room)
    # From here on every vendor call fails, so the status poll cannot settle the session:
    # only the sandbox's callback (which faults do not touch) can.
    sandbox_control.put("/_sandbox/faults", json={"error_rate": 1.0}).raise_for_status()
    session.refresh_from_db()
    assert session.state == "creating"

    console.wait_for_state("ready", timeout=15)
    assert "creating" in console.states[: console.states.index("ready")]
    session.refresh_from_db()
    assert (session.state, session.vendor_code) == ("ready", "35")
    assert session.rtc_channel_id, "the READY callback's RTC details were not recorded"
    sent = sandbox_session(sandbox_control, session.vendor_session_id)["callbacks"]
    assert [callback["status"] for callback in sent] == [35]


def test_status_poll_settles_a_session_when_no_callback_arrives(
    softsugar_account: Any,
    live_stack: Any,
    room: Any,
    web: httpx.Client,
    console: ConsoleSocket,
    sandbox_control: httpx.Client,
) -> None:
    # Port 9 (discard) refuses connections: every callback of this account is lost.
    nowhere = "http://127.0.0.1:9/callbacks-go-nowhere/"
    provision_softsugar(live_stack.sandbox_url, softsugar_account.credential("token"), nowhere)
    sandbox_control.put("/_sandbox/config", json={"create_delay": 1.5}).raise_for_status()

    assert room_action(web, room.pk, "start").status_code == 204

    console.wait_for_state("live", timeout=20)
    session = open_session(room)
    assert session.state == "live"
    assert session.ready_at is not None and session.live_at is not None
    assert sandbox_session(sandbox_control, session.vendor_session_id)["status"] == 2


def test_session_killed_by_the_vendor_shows_dropped_with_the_reason(
    room: Any, web: httpx.Client, console: ConsoleSocket, sandbox_control: httpx.Client
) -> None:
    sandbox_control.put("/_sandbox/config", json={"create_delay": 0.3}).raise_for_status()
    assert room_action(web, room.pk, "start").status_code == 204
    console.wait_for_state("live", timeout=20)
    session = open_session(room)

    killed = sandbox_control.post(
        f"/_sandbox/softsugar/sessions/{session.vendor_session_id}/kill", json={"reason": "studio fire drill"}
    )
    killed.raise_for_status()

    html = console.wait_for_state("dropped", timeout=15)
    assert "studio fire drill" in html
    session.refresh_from_db()
    assert (session.state, session.vendor_code) == ("dropped", "50")
    assert "studio fire drill" in session.reason
    assert session.ended_at is not None and session.next_heartbeat_at is None


def _orphan_ids(client: httpx.Client) -> str:
    answer = client.get("/orphans/", headers={"HX-Request": "true"})
    assert answer.status_code == 200, answer.text
    return answer.text


def test_session_opened_elsewhere_is_listed_as_an_orphan_until_closed(
    softsugar_account: Any, live_stack: Any, sandbox_control: httpx.Client
) -> None:
    staff = UserFactory(roles=["staff"])
    token = softsugar_account.credential("token")
    created = sandbox_control.post(
        CREATE_PATH, json={"param": live_script()}, headers={"Authorization": f"Bearer {token}"}
    )
    created.raise_for_status()
    assert created.json()["code"] == 0, created.text
    vendor_id = created.json()["data"]["sessionId"]

    with closing(login(live_stack.web_urls[0], staff.username)) as web:
        listed = _orphan_ids(web)
        assert vendor_id in listed
        assert "LiveDeck has no record of it" in listed

        closed = csrf_post(web, "/orphans/close/", {"account": softsugar_account.pk, "session": vendor_id})
        assert closed.status_code == 200, closed.text
        assert vendor_id not in closed.text
        assert "No orphans" in closed.text

    assert sandbox_session(sandbox_control, vendor_id)["status"] == 5


def test_session_of_a_deleted_room_is_listed_as_an_orphan_until_closed(
    softsugar_account: Any, live_stack: Any, sandbox_control: httpx.Client
) -> None:
    staff = UserFactory(roles=["staff"])
    room = RoomFactory(account=softsugar_account)
    sandbox_control.put("/_sandbox/config", json={"create_delay": 0.3}).raise_for_status()

    with closing(login(live_stack.web_urls[0], staff.username)) as web:
        assert room_action(web, room.pk, "start").status_code == 204
        session = wait_until(
            lambda: LiveSession.objects.filter(room=room, state="live").first(), timeout=20, what="LIVE"
        )
        assert session.vendor_session_id not in _orphan_ids(web), "a running room's live is no orphan"

        room.delete()
        listed = _orphan_ids(web)
        assert session.vendor_session_id in listed
        assert "Its room was deleted" in listed

        closed = csrf_post(
            web, "/orphans/close/", {"account": softsugar_account.pk, "session": session.vendor_session_id}
        )
        assert closed.status_code == 200, closed.text
        assert session.vendor_session_id not in closed.text

    session.refresh_from_db()
    assert session.room_id is None
    assert (session.state, session.reason) == ("ended", "Closed as an orphan.")
    assert sandbox_session(sandbox_control, session.vendor_session_id)["status"] == 5
