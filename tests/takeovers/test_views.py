"""The console's takeover endpoints through Django's test client, as a host would use them.

Celery does not run: the tests' transactions never commit, so the tasks the views queue are
never published; what the views stored is checked instead.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from django.test import Client
from django.urls import reverse

from rooms.models import LiveSession, Room
from rooms.platforms.base import LiveState, TakeoverState
from takeovers.models import Takeover
from tests.factories import RoomFactory, ScriptFactory, UserFactory
from tests.takeovers.test_services import TEXT, Vendor, live_session, make_takeover

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_passwords(settings: Any) -> None:
    """Factories set a password per user; the default hasher would take most of the run."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def host() -> Any:
    return UserFactory(roles=["host"])


@pytest.fixture
def client(host: Any) -> Client:
    client = Client()
    client.force_login(host)
    return client


@pytest.fixture
def room(host: Any) -> Room:
    return RoomFactory(hosts=[host])


@pytest.fixture
def session(room: Room) -> LiveSession:
    return live_session(room)


def post(client: Client, name: str, *args: Any, **data: Any) -> Any:
    return client.post(reverse(name, args=args), data=data)


def refused(response: Any, status: int) -> str:
    assert response.status_code == status
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    return str(response.content.decode())


def accepted(response: Any) -> None:
    """Taken: no fragment in the answer, the consoles are shown the queue through the socket."""
    assert response.status_code == 204, response.content
    assert response.content == b""


# Login and access -----------------------------------------------------------------------------


ENDPOINTS = [
    ("takeover-create", [1]),
    ("takeover-cancel-all", [1]),
    ("takeover-cancel", [1, 2]),
    ("takeover-move", [1, 2]),
    ("quick-reply", [1]),
    ("qa-ask", [1]),
]


@pytest.mark.parametrize(("name", "args"), ENDPOINTS)
def test_every_takeover_endpoint_asks_for_a_login_first(name: str, args: list[int]) -> None:
    url = reverse(name, args=args)

    response = Client().post(url, data={"kind": "text", "content": TEXT, "mode": "queue"})

    assert response.status_code == 302
    assert response["Location"].startswith(f"/login/?next={url}")


@pytest.mark.parametrize(("name", "args"), ENDPOINTS)
def test_every_takeover_endpoint_takes_posts_only(client: Client, name: str, args: list[int]) -> None:
    assert client.get(reverse(name, args=args)).status_code == 405


@pytest.mark.parametrize(("name", "extra"), [(name, args[1:]) for name, args in ENDPOINTS])
def test_a_host_not_granted_the_room_gets_404_and_nothing_changes(name: str, extra: list[int]) -> None:
    room = RoomFactory(live_type=Room.LiveType.INTERACTIVE, qa_library="qa-1")
    session = live_session(room)
    takeover = make_takeover(session)
    outsider = Client()
    outsider.force_login(UserFactory(roles=["host"]))
    args = [room.pk, *([takeover.pk] if extra else [])]
    data = {"kind": "text", "content": TEXT, "mode": "queue", "position": "1", "index": "0", "question": "Q?"}

    response = outsider.post(reverse(name, args=args), data=data)

    assert response.status_code == 404
    takeover.refresh_from_db()
    assert (takeover.cancel_requested_at, takeover.queue_position) == (None, None)
    assert session.takeovers.count() == 1


# Composing --------------------------------------------------------------------------------------


def test_a_valid_takeover_is_stored_and_accepted(
    client: Client, room: Room, session: LiveSession, host: Any
) -> None:
    response = post(client, "takeover-create", room.pk, kind="text", content=TEXT, mode="queue", position="2")

    accepted(response)
    takeover = Takeover.objects.get(session=session)
    assert (takeover.state, takeover.content, takeover.requested_position) == ("pending", TEXT, 2)
    assert (takeover.interrupt, takeover.created_by) == (False, host)


def test_play_now_stores_an_interrupt_without_a_position(
    client: Client, room: Room, session: LiveSession
) -> None:
    accepted(post(client, "takeover-create", room.pk, kind="ssml", content=TEXT, mode="now", position="3"))

    takeover = Takeover.objects.get(session=session)
    assert (takeover.kind, takeover.interrupt, takeover.requested_position) == ("ssml", True, None)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kind": "audio", "mode": "queue"}, "Pick an audio material or give an audio URL."),
        ({"kind": "text", "content": TEXT, "mode": "queue", "position": "0"}, "Position: "),
        ({"kind": "text", "content": TEXT, "mode": "later"}, "Mode: "),
        ({"kind": "video", "content": TEXT, "mode": "queue"}, "Kind: "),
        ({"kind": "audio", "audio_url": "not a url", "mode": "queue"}, "Audio url: "),
    ],
    ids=["audio-without-url", "position-zero", "unknown-mode", "unknown-kind", "bad-audio-url"],
)
def test_an_invalid_takeover_is_a_400_with_the_reason_in_words(
    client: Client, room: Room, session: LiveSession, data: dict[str, str], message: str
) -> None:
    text = refused(post(client, "takeover-create", room.pk, **data), 400)

    assert text.startswith(message)
    assert not Takeover.objects.exists()


def test_text_too_short_is_refused_with_the_services_words(
    client: Client, room: Room, session: LiveSession
) -> None:
    text = refused(
        post(client, "takeover-create", room.pk, kind="text", content="Too short", mode="queue"), 409
    )

    assert text == "A takeover needs at least 10 characters of text; this has 9."


def test_taking_over_a_room_that_is_not_live_is_a_409(client: Client, room: Room) -> None:
    live_session(room, state=LiveState.ENDED)

    text = refused(post(client, "takeover-create", room.pk, kind="text", content=TEXT, mode="queue"), 409)

    assert text == "The room is not live: start it before taking over."
    assert not Takeover.objects.exists()


def test_taking_over_a_room_that_never_ran_is_a_409(client: Client, room: Room) -> None:
    text = refused(post(client, "takeover-create", room.pk, kind="text", content=TEXT, mode="queue"), 409)

    assert "not live" in text


def test_a_full_queue_is_refused_in_words(client: Client, room: Room, session: LiveSession) -> None:
    for _ in range(15):
        make_takeover(session)

    text = refused(post(client, "takeover-create", room.pk, kind="text", content=TEXT, mode="queue"), 409)

    assert text.startswith("The queue already holds 15 takeovers")


# Cancelling and moving ----------------------------------------------------------------------------


def test_cancelling_one_marks_only_it(client: Client, room: Room, session: LiveSession) -> None:
    chosen, other = make_takeover(session), make_takeover(session)

    accepted(post(client, "takeover-cancel", room.pk, chosen.pk))

    chosen.refresh_from_db()
    other.refresh_from_db()
    assert chosen.cancel_requested_at is not None
    assert other.cancel_requested_at is None


def test_a_cancel_reads_its_takeover_once_before_queueing_the_task(
    client: Client, room: Room, session: LiveSession, django_assert_num_queries: Any
) -> None:
    chosen = make_takeover(session)
    client.get("/")  # the login's session is read on every request: not this view's doing

    # Session and user (middleware), roles, the live session, the takeover, the active ones and
    # the update. A host waits for silence.
    with django_assert_num_queries(7):
        accepted(post(client, "takeover-cancel", room.pk, chosen.pk))


def test_cancelling_all_marks_every_active_one(client: Client, room: Room, session: LiveSession) -> None:
    make_takeover(session, TakeoverState.PLAYING), make_takeover(session)
    done = make_takeover(session, TakeoverState.DONE)

    accepted(post(client, "takeover-cancel-all", room.pk))

    assert session.takeovers.active().filter(cancel_requested_at=None).count() == 0
    done.refresh_from_db()
    assert done.cancel_requested_at is None


def test_cancelling_with_nothing_queued_is_a_409(client: Client, room: Room, session: LiveSession) -> None:
    assert (
        refused(post(client, "takeover-cancel-all", room.pk), 409)
        == "Nothing is queued or playing to cancel."
    )


def test_cancelling_a_takeover_of_another_live_is_refused(
    client: Client, room: Room, session: LiveSession
) -> None:
    foreign = make_takeover(live_session())

    assert (
        refused(post(client, "takeover-cancel", room.pk, foreign.pk), 409)
        == "That takeover is not in this live."
    )
    foreign.refresh_from_db()
    assert foreign.cancel_requested_at is None


def test_moving_a_takeover_stores_its_new_place(client: Client, room: Room, session: LiveSession) -> None:
    make_takeover(session, queue_position=1)
    moved = make_takeover(session, queue_position=3)

    accepted(post(client, "takeover-move", room.pk, moved.pk, position="1"))

    moved.refresh_from_db()
    assert moved.queue_position == 1


@pytest.mark.parametrize("position", ["", "abc", "1.5"])
def test_moving_to_a_position_that_is_not_a_number_is_a_400(
    client: Client, room: Room, session: LiveSession, position: str
) -> None:
    moved = make_takeover(session, queue_position=2)

    text = refused(post(client, "takeover-move", room.pk, moved.pk, position=position), 400)

    assert text == "Say where to move it: a position from 1."


def test_moving_before_the_playing_one_is_refused(client: Client, room: Room, session: LiveSession) -> None:
    moved = make_takeover(session, queue_position=2)

    assert refused(post(client, "takeover-move", room.pk, moved.pk, position="0"), 409) == (
        "The takeover playing now cannot be moved."
    )


def test_moving_a_finished_or_foreign_takeover_is_refused(
    client: Client, room: Room, session: LiveSession
) -> None:
    done = make_takeover(session, TakeoverState.DONE)
    foreign = make_takeover(live_session())

    assert "Only a takeover waiting" in refused(
        post(client, "takeover-move", room.pk, done.pk, position="1"), 409
    )
    assert refused(post(client, "takeover-move", room.pk, foreign.pk, position="1"), 409) == (
        "That takeover is not in this live."
    )


# Quick replies and Q&A ----------------------------------------------------------------------------


@pytest.fixture
def interactive(host: Any) -> Room:
    script = ScriptFactory(quick_replies="Hello there!\nOne moment please.")
    return RoomFactory(hosts=[host], live_type=Room.LiveType.INTERACTIVE, script=script)


def test_a_quick_reply_is_stored_and_the_queue_comes_back(client: Client, interactive: Room) -> None:
    session = live_session(interactive)

    accepted(post(client, "quick-reply", interactive.pk, index="1"))

    takeover = Takeover.objects.get(session=session)
    assert (takeover.kind, takeover.quick_reply_index, takeover.content) == (
        "quick_reply",
        1,
        "One moment please.",
    )


@pytest.mark.parametrize(
    ("index", "status", "message"), [("", 400, "Pick a quick reply."), ("7", 409, "That quick")]
)
def test_a_quick_reply_that_is_not_in_the_script_is_refused(
    client: Client, interactive: Room, index: str, status: int, message: str
) -> None:
    live_session(interactive)

    assert refused(post(client, "quick-reply", interactive.pk, index=index), status).startswith(message)
    assert not Takeover.objects.exists()


def test_quick_replies_in_a_standard_room_are_refused(
    client: Client, room: Room, session: LiveSession
) -> None:
    assert (
        refused(post(client, "quick-reply", room.pk, index="0"), 409)
        == "Quick replies are for interactive rooms."
    )


def test_qa_shows_the_answer_with_buttons_to_play_it(
    client: Client, host: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = Vendor()
    fake.qa["Where is the studio?"] = "On the third floor."
    monkeypatch.setattr(
        "rooms.platforms.new_client", lambda **kwargs: httpx.AsyncClient(transport=httpx.MockTransport(fake))
    )
    room = RoomFactory(hosts=[host], qa_library="qa-lib-7")
    live_session(room)

    response = post(client, "qa-ask", room.pk, question="Where is the studio?")

    assert response.status_code == 200
    html = response.content.decode()
    assert '<blockquote class="answer">On the third floor.</blockquote>' in html
    assert 'name="source" value="qa"' in html


def test_qa_in_a_room_without_a_library_is_refused_in_words(
    client: Client, room: Room, session: LiveSession
) -> None:
    assert refused(post(client, "qa-ask", room.pk, question="Where?"), 409) == (
        "This room has no Q&A library: a producer sets it in the room's settings."
    )
