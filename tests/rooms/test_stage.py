"""The stage during a Guiji live (background, anchor, push targets, the avatar's place), and the
heartbeats the MQTT bridge records: the views' checks and the services, without a vendor."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from materials.models import Anchor, AnchorScene
from rooms import services
from rooms.models import LiveSession, Room
from rooms.platforms.base import LiveState
from tests.factories import AccountFactory, RoomFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple[Any, ...]]]:
    """The tasks queued (name, args), instead of sending them to a broker."""
    queued: list[tuple[str, tuple[Any, ...]]] = []
    monkeypatch.setattr(
        services.celery_app, "send_task", lambda name, args=(), **kwargs: queued.append((name, tuple(args)))
    )
    return queued


@pytest.fixture
def room() -> Room:
    account = AccountFactory(kind="guiji", credentials={"app_id": "a", "app_secret": "b"})
    anchor = Anchor.objects.create(account=account, code="R1", name="Andy")
    first = AnchorScene.objects.create(anchor=anchor, code="s1", name="standing")
    second = AnchorScene.objects.create(anchor=anchor, code="s2", name="at the desk")
    room = RoomFactory(account=account, anchor_scene=first)
    room.switch_scenes.add(second)
    return room


@pytest.fixture
def host(room: Room) -> Client:
    user = UserFactory(roles=["host"])
    room.hosts.add(user)
    client = Client()
    client.force_login(user)
    return client


def live(room: Room, **fields: Any) -> LiveSession:
    values: dict[str, Any] = {"state": LiveState.LIVE, "vendor_session_id": "abc", **fields}
    return LiveSession.objects.create(room=room, account=room.account, **values)


def stage(client: Client, room: Room, action: str, data: dict[str, Any]) -> Any:
    return client.post(reverse("room-stage", args=[room.pk, action]), data)


def test_a_stage_change_is_queued_for_the_worker_and_answered_at_once(
    host: Client, room: Room, django_capture_on_commit_callbacks: Any, sent: list[Any]
) -> None:
    session = live(room)
    second = room.switch_scenes.get()

    with django_capture_on_commit_callbacks(execute=True):
        answer = stage(host, room, "anchor", {"scene": second.pk})

    assert answer.status_code == 204
    assert sent == [
        (
            "rooms.tasks.stage_apply",
            (session.pk, "anchor", {"scene_code": "s2", "scene_name": "Andy · at the desk"}),
        )
    ]


@pytest.mark.parametrize(
    ("action", "data", "words"),
    [
        ("background", {"url": "not a url"}, "Enter a valid URL"),
        ("push_on", {"urls": "http://example.com/live"}, "is not an rtmp:// or rtmps:// URL"),
        ("push_on", {"urls": "  "}, "required"),
        ("layout", {"x": 0, "y": 0, "width": 0, "height": 10, "alpha": 1}, "greater than or equal to 1"),
        ("layout", {"x": 0, "y": 0, "width": 10, "height": 10, "alpha": 2}, "less than or equal to 1"),
    ],
)
def test_bad_stage_input_is_refused_with_a_reason_and_nothing_is_queued(
    host: Client,
    room: Room,
    action: str,
    data: dict[str, Any],
    words: str,
    django_capture_on_commit_callbacks: Any,
    sent: list[Any],
) -> None:
    live(room)

    with django_capture_on_commit_callbacks(execute=True):
        answer = stage(host, room, action, data)

    assert answer.status_code == 400
    assert words in answer.content.decode()
    assert sent == []


def test_an_anchor_scene_of_another_room_cannot_be_switched_to(host: Client, room: Room) -> None:
    live(room)
    stranger = AnchorScene.objects.create(anchor=Anchor.objects.get(), code="s3", name="elsewhere")

    answer = stage(host, room, "anchor", {"scene": stranger.pk})

    assert answer.status_code == 400
    assert "Pick one of the room's anchor scenes" in answer.content.decode()


def test_the_stage_cannot_change_without_an_open_live(host: Client, room: Room) -> None:
    live(room, state=LiveState.ENDED)

    answer = stage(host, room, "background", {"url": "https://example.com/bg.png"})

    assert answer.status_code == 409
    assert "only while a live is open" in answer.content.decode()


def test_an_unknown_stage_change_is_not_found(host: Client, room: Room) -> None:
    live(room)
    assert stage(host, room, "explode", {}).status_code == 404


def test_a_host_of_another_room_cannot_change_this_stage(room: Room) -> None:
    live(room)
    client = Client()
    client.force_login(UserFactory(roles=["host"]))
    assert stage(client, room, "background", {"url": "https://example.com/bg.png"}).status_code == 404


def test_a_vendor_without_a_stage_refuses_the_change_in_words() -> None:
    room = RoomFactory()  # a SoftSugar room
    session = live(room)

    with pytest.raises(services.ActionRefused, match="cannot do that during a live"):
        services.stage_change(session=session, action="background", params={"url": "https://x.test/a.png"})


# Heartbeats the bridge answered ---------------------------------------------------------------


def test_answered_heartbeats_are_counted_and_clear_a_warning(room: Room) -> None:
    session = live(room, heartbeats_sent=3, last_heartbeat_ok=False, heartbeat_failures=2)
    at = timezone.now()

    services.heartbeats_received(beats={session.pk: (4, at)})

    session.refresh_from_db()
    assert (session.heartbeats_sent, session.heartbeat_failures, session.last_heartbeat_ok) == (7, 0, True)
    assert session.last_heartbeat_at == at


def test_a_session_whose_platform_fell_silent_is_flagged_at_risk(room: Room) -> None:
    silent = live(room, last_heartbeat_at=timezone.now() - timedelta(seconds=40))
    fresh = live(RoomFactory(account=room.account), last_heartbeat_at=timezone.now())

    flagged = services.heartbeats_flag_silent(session_ids=[silent.pk, fresh.pk], silent_after=15, interval=5)

    assert flagged == [silent.pk]
    silent.refresh_from_db()
    assert silent.last_heartbeat_ok is False
    assert silent.heartbeat_failures == 8
    assert "No heartbeat from the platform for 40 s" in silent.last_heartbeat_error
    assert silent.at_risk
    # Flagging again with nothing new changes nothing.
    assert services.heartbeats_flag_silent(session_ids=[silent.pk], silent_after=15, interval=5) == []
