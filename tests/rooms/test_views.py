"""Pages, console actions and the vendor callback endpoint, through Django's test client."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.forms.models import model_to_dict
from django.test import Client
from django.urls import reverse

from rooms import services
from rooms.models import LiveSession, PlatformAccount, Room, Script
from rooms.platforms.base import LiveState
from tests.factories import AccountFactory, RoomFactory, ScriptFactory, UserFactory

pytestmark = pytest.mark.django_db

VENDOR_ID = "8bfeb2bd58474547a87520643cc2d8df"


@pytest.fixture(autouse=True)
def fast_passwords(settings: Any) -> None:
    """Factories set a password per user; the default hasher would take most of the run."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def logged_in(*roles: str) -> tuple[Client, Any]:
    user = UserFactory(roles=list(roles))
    client = Client()
    client.force_login(user)
    return client, user


def make_session(room: Room, **fields: Any) -> LiveSession:
    values: dict[str, Any] = {"state": LiveState.CREATING, **fields}
    return LiveSession.objects.create(room=room, account=room.account, **values)


def action(client: Client, room: Room, name: str) -> Any:
    return client.post(reverse("room-action", args=[room.pk, name]))


# Login ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "name", "args"),
    [
        ("get", "room-list", []),
        ("get", "room-console", [1]),
        ("get", "room-edit", [1]),
        ("post", "room-action", [1, "start"]),
        ("get", "room-preview", [1]),
        ("post", "room-audience-token", [1]),
        ("get", "script-list", []),
        ("get", "script-create", []),
        ("get", "script-edit", [1]),
        ("get", "orphan-list", []),
        ("post", "orphan-close", []),
    ],
)
def test_every_page_and_action_asks_for_a_login_first(method: str, name: str, args: list[Any]) -> None:
    room = RoomFactory()
    make_session(room)
    url = reverse(name, args=args)

    response = getattr(Client(), method)(url)

    assert response.status_code == 302
    assert response["Location"].startswith(f"/login/?next={url}")
    assert LiveSession.objects.count() == 1  # nothing was done


# Who sees what --------------------------------------------------------------------------


def test_a_host_sees_only_the_rooms_granted_to_them() -> None:
    client, host = logged_in("host")
    mine = RoomFactory(name="Granted room", hosts=[host])
    RoomFactory(name="Someone else's room")

    response = client.get(reverse("room-list"))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Granted room" in html
    assert "Someone else&#x27;s room" not in html and "Someone else's room" not in html
    assert reverse("room-console", args=[mine.pk]) in html


def test_a_producer_sees_every_room_to_prepare_it_but_runs_none() -> None:
    client, _ = logged_in("producer")
    room = RoomFactory(name="Any room")

    response = client.get(reverse("room-list"))

    html = response.content.decode()
    assert "Any room" in html
    assert reverse("room-edit", args=[room.pk]) in html
    assert f'href="{reverse("room-console", args=[room.pk])}"' not in html


def test_the_room_list_fragment_is_served_to_htmx() -> None:
    client, host = logged_in("host")
    RoomFactory(name="Granted room", hosts=[host])

    response = client.get(reverse("room-list"), headers={"HX-Request": "true"})

    html = response.content.decode()
    assert 'id="rooms"' in html
    assert "Granted room" in html
    assert "<html" not in html


def test_a_host_opens_the_console_of_a_granted_room() -> None:
    client, host = logged_in("host")
    room = RoomFactory(name="Granted room", hosts=[host])

    response = client.get(reverse("room-console", args=[room.pk]))

    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="room-live"' in html
    assert f'ws-connect="/ws/rooms/{room.pk}/"' in html
    assert "Start live" in html


def test_a_host_gets_404_on_another_rooms_console_and_actions() -> None:
    client, _ = logged_in("host")
    room = RoomFactory()
    make_session(room, state=LiveState.LIVE, vendor_session_id=VENDOR_ID)

    assert client.get(reverse("room-console", args=[room.pk])).status_code == 404
    assert client.get(reverse("room-preview", args=[room.pk])).status_code == 404
    assert client.post(reverse("room-audience-token", args=[room.pk])).status_code == 404
    for name in ("start", "warm_up", "go_live", "stop"):
        assert action(client, room, name).status_code == 404

    session = LiveSession.objects.get(room=room)
    assert session.stop_requested is False
    assert LiveSession.objects.filter(room=room).count() == 1


def test_staff_run_every_room() -> None:
    client, _ = logged_in("staff")
    room = RoomFactory()

    assert client.get(reverse("room-console", args=[room.pk])).status_code == 200


# Console actions -------------------------------------------------------------------------


def test_start_opens_a_session_and_shows_it_on_the_consoles(monkeypatch: pytest.MonkeyPatch) -> None:
    pushed: list[int] = []
    monkeypatch.setattr(services, "rooms_broadcast", lambda *, room_ids: pushed.extend(room_ids))
    client, host = logged_in("host")
    room = RoomFactory(hosts=[host])

    response = action(client, room, "start")

    # No fragment in the answer: it could arrive after a newer push to the socket.
    assert (response.status_code, response.content) == (204, b"")
    assert pushed == [room.pk]
    session = LiveSession.objects.get(room=room)
    assert session.state == LiveState.CREATING
    assert session.started_by == host
    assert session.auto_start is True


def test_warm_up_opens_a_session_that_waits_for_the_host() -> None:
    client, host = logged_in("host")
    room = RoomFactory(hosts=[host])

    assert action(client, room, "warm_up").status_code == 204

    assert LiveSession.objects.get(room=room).auto_start is False


def test_starting_twice_is_refused_in_words() -> None:
    client, host = logged_in("host")
    room = RoomFactory(hosts=[host])
    action(client, room, "start")

    response = action(client, room, "start")

    assert response.status_code == 409
    assert response.content.decode() == "This room already has a live session open."
    assert LiveSession.objects.filter(room=room).count() == 1


@pytest.mark.parametrize("name", ["stop", "go_live"])
def test_stop_or_go_live_with_nothing_open_is_refused(name: str) -> None:
    client, host = logged_in("host")
    room = RoomFactory(hosts=[host])

    response = action(client, room, name)

    assert response.status_code == 409
    assert response.content.decode() == "There is no live to do that to."


def test_stop_after_the_live_ended_is_refused() -> None:
    client, host = logged_in("host")
    room = RoomFactory(hosts=[host])
    make_session(room, state=LiveState.ENDED)

    response = action(client, room, "stop")

    assert response.status_code == 409
    assert "already ended" in response.content.decode()


def test_go_live_on_a_stream_still_creating_is_refused() -> None:
    client, host = logged_in("host")
    room = RoomFactory(hosts=[host])
    make_session(room)

    response = action(client, room, "go_live")

    assert response.status_code == 409
    assert response.content.decode() == "Only a ready stream can go live."


def test_stop_asks_for_the_close() -> None:
    client, host = logged_in("host")
    room = RoomFactory(hosts=[host])
    session = make_session(room, state=LiveState.LIVE, vendor_session_id=VENDOR_ID)

    response = action(client, room, "stop")

    assert response.status_code == 204
    session.refresh_from_db()
    assert session.stop_requested is True


def test_an_unknown_action_does_nothing() -> None:
    client, host = logged_in("host")
    room = RoomFactory(hosts=[host])

    response = action(client, room, "explode")

    assert response.status_code == 409
    assert not LiveSession.objects.exists()


def test_actions_are_post_only() -> None:
    client, host = logged_in("host")
    room = RoomFactory(hosts=[host])

    assert client.get(reverse("room-action", args=[room.pk, "start"])).status_code == 405
    assert not LiveSession.objects.exists()


def test_preview_with_no_session_says_off_air() -> None:
    client, host = logged_in("host")
    room = RoomFactory(hosts=[host])

    response = client.get(reverse("room-preview", args=[room.pk]))

    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="preview"' in html
    assert "Off air" in html


def test_preview_of_a_platform_that_does_not_answer_shows_the_problem() -> None:
    client, host = logged_in("host")
    room = RoomFactory(hosts=[host], account=AccountFactory(base_url="http://127.0.0.1:9"))
    make_session(room, state=LiveState.LIVE, vendor_session_id=VENDOR_ID)

    response = client.get(reverse("room-preview", args=[room.pk]))

    assert response.status_code == 200
    assert "The monitor is not answering: Could not reach SoftSugar" in response.content.decode()


def test_preview_is_only_offered_on_the_sandbox() -> None:
    client, host = logged_in("host")
    room = RoomFactory(hosts=[host], account=AccountFactory(sandbox=False))
    make_session(room, state=LiveState.LIVE, vendor_session_id=VENDOR_ID)

    response = client.get(reverse("room-preview", args=[room.pk]))

    assert "available on the sandbox platform" in response.content.decode()


def test_an_audience_token_needs_an_rtc_channel() -> None:
    client, host = logged_in("host")
    room = RoomFactory(hosts=[host])
    make_session(room, state=LiveState.LIVE, vendor_session_id=VENDOR_ID)

    response = client.post(reverse("room-audience-token", args=[room.pk]))

    assert response.status_code == 409
    assert response.content.decode() == "The stream has no RTC channel yet."


# Orphans ---------------------------------------------------------------------------------


def test_orphans_of_a_platform_that_cannot_be_reached_show_the_problem() -> None:
    client, host = logged_in("host")
    RoomFactory(hosts=[host], account=AccountFactory(name="Far away", base_url="http://127.0.0.1:9"))

    response = client.get(reverse("orphan-list"))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Could not ask Far away: Could not reach SoftSugar" in html
    assert "No orphans" in html


def test_a_host_is_only_asked_about_the_accounts_of_their_rooms() -> None:
    client, host = logged_in("host")
    RoomFactory(hosts=[host], account=AccountFactory(name="Mine", base_url="http://127.0.0.1:9"))
    RoomFactory(account=AccountFactory(name="Theirs", base_url="http://127.0.0.1:9"))

    html = client.get(reverse("orphan-list")).content.decode()

    assert "Could not ask Mine" in html
    assert "Theirs" not in html


@pytest.mark.parametrize(
    "data", [{}, {"account": "abc", "session": "x"}, {"account": "", "session": "x"}, {"account": "1"}]
)
def test_closing_an_orphan_with_bad_input_is_a_400_not_a_500(data: dict[str, str]) -> None:
    client, _ = logged_in("staff")
    AccountFactory()

    response = client.post(reverse("orphan-close"), data)

    assert response.status_code == 400
    assert response.content.decode() == "Pick an orphan session to close."


def test_closing_an_orphan_the_platform_cannot_reach_is_a_502_in_words() -> None:
    client, _ = logged_in("staff")
    account = AccountFactory(base_url="http://127.0.0.1:9")

    response = client.post(reverse("orphan-close"), {"account": account.pk, "session": VENDOR_ID})

    assert response.status_code == 502
    assert response.content.decode().startswith("The platform did not close it: Could not reach SoftSugar")


# Producer forms --------------------------------------------------------------------------


def script_data(script: Script, **overrides: Any) -> dict[str, Any]:
    data = {k: v for k, v in model_to_dict(script).items() if k != "id"}
    return data | formset_management("paragraphs") | formset_management("layers") | overrides


def formset_management(prefix: str, total: int = 0, initial: int = 0) -> dict[str, Any]:
    """What a browser sends for an inline formset's management form."""
    return {
        f"{prefix}-TOTAL_FORMS": total,
        f"{prefix}-INITIAL_FORMS": initial,
        f"{prefix}-MIN_NUM_FORMS": 0,
        f"{prefix}-MAX_NUM_FORMS": 1000,
    }


def room_data(room: Room, **overrides: Any) -> dict[str, Any]:
    fields = [
        "name",
        "description",
        "script",
        "live_type",
        "resolution_width",
        "resolution_height",
        "bitrate",
    ]
    fields += ["external_rtc", "rtc_app_id", "rtc_token", "rtc_uid", "rtc_channel_id"]
    data = {k: v for k, v in model_to_dict(room, fields=fields).items()}
    return data | overrides


def test_a_producer_saves_a_script() -> None:
    client, _ = logged_in("producer")
    script = ScriptFactory()

    response = client.post(reverse("script-edit", args=[script.pk]), script_data(script, voice_pitch="12.5"))

    assert response.status_code == 302
    assert response["Location"] == reverse("script-list")
    script.refresh_from_db()
    assert script.voice_pitch == 12.5


def test_a_producer_creates_a_script() -> None:
    client, _ = logged_in("producer")
    template = ScriptFactory.build(name="Brand new")

    response = client.post(reverse("script-create"), script_data(template))

    assert response.status_code == 302
    assert Script.objects.filter(name="Brand new").exists()


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("voice_pitch", "61", "less than or equal to 60"),
        ("voice_pitch", "-61", "greater than or equal to -60"),
        ("voice_speed", "3", "less than or equal to 2"),
        ("voice_speed", "0.4", "greater than or equal to 0.5"),
        ("voice_volume", "0", "greater than or equal to 1"),
        ("voice_volume", "401", "less than or equal to 400"),
        ("opening_text", "123456789", "this has 9"),
        ("opening_text", "   short   ", "this has 5"),
        ("anchor_scale", "nan", "Enter a number"),
        ("voice_pitch", "loud", "Enter a number"),
        ("anchor_package_url", "not a url at all", "Enter a valid URL"),
        ("background_url", "", "Give the background"),
    ],
)
def test_a_script_with_a_bad_value_shows_the_error_and_saves_nothing(
    field: str, value: str, error: str
) -> None:
    client, _ = logged_in("producer")
    script = ScriptFactory()
    before = model_to_dict(script)

    response = client.post(reverse("script-edit", args=[script.pk]), script_data(script, **{field: value}))

    assert response.status_code == 200
    html = response.content.decode()
    assert "nothing was saved yet" in html
    assert error in html
    script.refresh_from_db()
    assert model_to_dict(script) == before


def test_a_producer_saves_a_room() -> None:
    client, _ = logged_in("producer")
    room = RoomFactory()

    response = client.post(
        reverse("room-edit", args=[room.pk]),
        room_data(
            room,
            resolution_width=1920,
            resolution_height=1080,
            external_rtc="on",
            rtc_app_id="app",
            rtc_token="token",
            rtc_uid="4294967295",
            rtc_channel_id="channel",
        ),
    )

    assert response.status_code == 302
    room.refresh_from_db()
    assert (room.resolution_width, room.resolution_height, room.rtc_uid) == (1920, 1080, "4294967295")


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"resolution_width": "1920", "resolution_height": "1920"}, "at most 1080p"),
        ({"resolution_width": "9"}, "greater than or equal to 10"),
        ({"resolution_width": "wide"}, "Enter a whole number"),
        ({"resolution_width": "99999999999999999999999"}, "less than or equal to 1920"),
        ({"bitrate": "7.5"}, "less than or equal to 7"),
        ({"bitrate": "0"}, "greater than or equal to 0.1"),
        ({"external_rtc": "on"}, "Required when the room uses your own Agora app"),
        (
            {
                "external_rtc": "on",
                "rtc_app_id": "a",
                "rtc_token": "t",
                "rtc_channel_id": "c",
                "rtc_uid": "abc",
            },
            "no larger than 4294967295",
        ),
        (
            {
                "external_rtc": "on",
                "rtc_app_id": "a",
                "rtc_token": "t",
                "rtc_channel_id": "c",
                "rtc_uid": "4294967296",
            },
            "no larger than 4294967295",
        ),
        (
            {
                "external_rtc": "on",
                "rtc_app_id": "a",
                "rtc_token": "t",
                "rtc_channel_id": "c",
                "rtc_uid": "²",
            },
            "no larger than 4294967295",
        ),
        ({"script": "999999"}, "Select a valid choice"),
        ({"live_type": "radio"}, "Select a valid choice"),
    ],
)
def test_a_room_with_a_bad_value_shows_the_error_and_saves_nothing(
    overrides: dict[str, str], error: str
) -> None:
    client, _ = logged_in("producer")
    room = RoomFactory()
    before = model_to_dict(room, exclude=["hosts"])

    response = client.post(reverse("room-edit", args=[room.pk]), room_data(room, **overrides))

    assert response.status_code == 200
    html = response.content.decode()
    assert "nothing was saved yet" in html
    assert error in html
    room.refresh_from_db()
    assert model_to_dict(room, exclude=["hosts"]) == before


def test_a_producer_opens_the_script_list_and_forms() -> None:
    client, _ = logged_in("producer")
    room = RoomFactory()

    assert client.get(reverse("script-list")).status_code == 200
    assert client.get(reverse("script-create")).status_code == 200
    assert client.get(reverse("script-edit", args=[room.script_id])).status_code == 200
    assert client.get(reverse("room-edit", args=[room.pk])).status_code == 200


def test_a_host_cannot_edit_scripts_or_rooms() -> None:
    client, host = logged_in("host")
    room = RoomFactory(hosts=[host])
    script = room.script
    name = script.name

    assert client.get(reverse("script-list")).status_code == 403
    assert client.get(reverse("script-create")).status_code == 403
    assert (
        client.post(reverse("script-edit", args=[script.pk]), script_data(script, name="X")).status_code
        == 403
    )
    assert client.post(reverse("room-edit", args=[room.pk]), room_data(room, name="X")).status_code == 403
    script.refresh_from_db()
    room.refresh_from_db()
    assert script.name == name
    assert room.name != "X"


# Vendor callbacks ------------------------------------------------------------------------


def post_callback(account: PlatformAccount, payload: Any, client: Client | None = None) -> Any:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return (client or Client()).post(account.callback_path(), body, content_type="application/json")


def test_a_callback_to_an_unknown_key_is_404() -> None:
    account = AccountFactory()

    response = Client().post(
        reverse("callback", kwargs={"kind": "softsugar", "key": "not-the-key"}),
        b'{"sessionId":"x","status":35}',
        content_type="application/json",
    )

    assert response.status_code == 404
    assert response.json() == {"error": "unknown callback address"}
    assert account.callback_key != "not-the-key"


def test_a_callback_to_the_right_key_under_the_wrong_kind_is_404() -> None:
    account = AccountFactory()

    response = Client().post(
        reverse("callback", kwargs={"kind": "guiji", "key": account.callback_key}),
        b'{"sessionId":"x","status":35}',
        content_type="application/json",
    )

    assert response.status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"\xff\xfe",
        b"[]",
        b'{"status": 35}',
        b'{"sessionId": "", "status": 35}',
        b'{"sessionId": "x", "status": 33}',
        b'{"sessionId": "x", "status": "ready"}',
        b'{"sessionId": "x", "status": 36}',
    ],
)
def test_a_malformed_callback_is_400_with_a_json_error(body: bytes) -> None:
    account = AccountFactory()

    response = post_callback(account, body)

    assert response.status_code == 400
    assert "error" in response.json()


def test_an_oversize_callback_is_413() -> None:
    account = AccountFactory()
    session = make_session(RoomFactory(account=account), vendor_session_id=VENDOR_ID)

    response = post_callback(account, {"sessionId": VENDOR_ID, "status": 35, "taskResult": "x" * 70_000})

    assert response.status_code == 413
    assert response.json() == {"error": "body too large"}
    session.refresh_from_db()
    assert session.state == LiveState.CREATING


def test_a_callback_35_makes_the_session_ready_once() -> None:
    account = AccountFactory()
    session = make_session(RoomFactory(account=account), vendor_session_id=VENDOR_ID)
    payload = {
        "sessionId": VENDOR_ID,
        "status": 35,
        "rtcAppId": "app-1",
        "rtcChannelId": "channel-1",
        "rtcUid": "1001",
        "rtcToken": "rtc-token",
    }

    first = post_callback(account, payload)
    second = post_callback(account, payload)

    assert first.status_code == 200
    assert first.json() == {"ok": True, "changed": True}
    assert second.json() == {"ok": True, "changed": False}
    session.refresh_from_db()
    assert session.state == LiveState.READY
    assert session.rtc_channel_id == "channel-1"


def test_a_callback_needs_no_csrf_token() -> None:
    account = AccountFactory()
    make_session(RoomFactory(account=account), vendor_session_id=VENDOR_ID)

    response = post_callback(
        account, {"sessionId": VENDOR_ID, "status": 35}, Client(enforce_csrf_checks=True)
    )

    assert response.status_code == 200
    assert response.json()["changed"] is True


def test_an_older_callback_after_live_changes_nothing() -> None:
    account = AccountFactory()
    session = make_session(RoomFactory(account=account), vendor_session_id=VENDOR_ID, state=LiveState.LIVE)

    response = post_callback(account, {"sessionId": VENDOR_ID, "status": 35})

    assert response.json() == {"ok": True, "changed": False}
    session.refresh_from_db()
    assert session.state == LiveState.LIVE


def test_a_callback_50_drops_a_live_session_with_the_vendors_words() -> None:
    account = AccountFactory()
    session = make_session(RoomFactory(account=account), vendor_session_id=VENDOR_ID, state=LiveState.LIVE)

    post_callback(account, {"sessionId": VENDOR_ID, "status": 50, "taskResult": "no heartbeat for 180s"})

    session.refresh_from_db()
    assert session.state == LiveState.DROPPED
    assert session.reason == "Closed by the vendor: heartbeat lost or link broken: no heartbeat for 180s"


def test_user_data_matches_a_callback_that_overtakes_the_create_answer() -> None:
    account = AccountFactory()
    session = make_session(RoomFactory(account=account))

    response = post_callback(account, {"sessionId": VENDOR_ID, "status": 35, "userData": session.user_data()})

    assert response.json() == {"ok": True, "changed": True}
    session.refresh_from_db()
    assert session.vendor_session_id == VENDOR_ID
    assert session.state == LiveState.READY


@pytest.mark.parametrize(
    "user_data", ["livedeck-session-", "livedeck-session-²", "livedeck-session-99999999999999999999999"]
)
def test_user_data_that_names_no_row_is_ignored(user_data: str) -> None:
    account = AccountFactory()

    response = post_callback(account, {"sessionId": VENDOR_ID, "status": 35, "userData": user_data})

    assert response.status_code == 200
    assert response.json() == {"ok": True, "changed": False}


def test_user_data_cannot_reach_a_session_of_another_account() -> None:
    account = AccountFactory()
    theirs = make_session(RoomFactory())

    response = post_callback(account, {"sessionId": VENDOR_ID, "status": 35, "userData": theirs.user_data()})

    assert response.json()["changed"] is False
    theirs.refresh_from_db()
    assert (theirs.vendor_session_id, theirs.state) == ("", LiveState.CREATING)


def test_a_callback_for_an_unknown_session_is_accepted_and_ignored() -> None:
    account = AccountFactory()

    response = post_callback(account, {"sessionId": "never-heard-of-it", "status": 5})

    assert response.status_code == 200
    assert response.json() == {"ok": True, "changed": False}


def test_a_callback_must_be_a_post() -> None:
    account = AccountFactory()

    response = Client().get(account.callback_path())

    assert response.status_code == 405
