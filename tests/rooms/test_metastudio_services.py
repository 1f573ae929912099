"""The show during a MetaStudio live: rewriting paragraphs the avatar has not reached, and
audience events refused where the platform cannot take them."""

from __future__ import annotations

from typing import Any

import pytest

from rooms import services
from rooms.models import LiveSession
from rooms.platforms.base import AudienceEvent
from tests.factories import MetaStudioRoomFactory, RoomFactory, ScriptParagraphFactory

pytestmark = pytest.mark.django_db


def live_session(room: Any, **vendor_data: Any) -> LiveSession:
    return LiveSession.objects.create(
        room=room, account=room.account, state="live", vendor_session_id="job-1", vendor_data=vendor_data
    )


@pytest.fixture
def room() -> Any:
    room = MetaStudioRoomFactory()
    for _ in range(3):
        ScriptParagraphFactory(script=room.script)
    return room


def test_a_paragraph_not_yet_reached_is_rewritten_and_sent(
    room: Any, django_capture_on_commit_callbacks: Any
) -> None:
    session = live_session(room, paragraph={"sequence_no": "1"})
    third = room.script.paragraphs.all()[2]

    with django_capture_on_commit_callbacks() as sent:
        services.paragraph_rewrite(
            session=session, paragraph_id=third.pk, title="New", text="New words here."
        )

    third.refresh_from_db()
    assert (third.title, third.text) == ("New", "New words here.")
    assert len(sent) == 1  # the stage task that tells the platform


@pytest.mark.parametrize("index", [0, 1])
def test_a_paragraph_already_reached_this_round_is_refused_and_kept(room: Any, index: int) -> None:
    session = live_session(room, paragraph={"sequence_no": "1"})
    paragraph = room.script.paragraphs.all()[index]

    with pytest.raises(services.ActionRefused, match="already reached"):
        services.paragraph_rewrite(session=session, paragraph_id=paragraph.pk, title="", text="Too late.")

    paragraph.refresh_from_db()
    assert paragraph.text != "Too late."


def test_a_paragraph_of_another_script_is_refused(room: Any) -> None:
    session = live_session(room)
    stranger = ScriptParagraphFactory()

    with pytest.raises(services.ActionRefused, match="not in this room's script"):
        services.paragraph_rewrite(session=session, paragraph_id=stranger.pk, title="", text="Hello there.")


def test_a_platform_that_matches_no_rules_takes_no_audience_events() -> None:
    session = live_session(RoomFactory())

    with pytest.raises(services.ActionRefused, match="does not take audience events"):
        services.audience_report(session=session, events=[AudienceEvent(kind="comment", text="hi")])


def test_audience_events_need_an_open_live(room: Any) -> None:
    session = live_session(room)
    session.state = "ended"

    with pytest.raises(services.ActionRefused, match="only while a live is open"):
        services.audience_report(session=session, events=[AudienceEvent(kind="like")])


def test_deleting_the_platforms_room_waits_for_the_live_to_stop(room: Any) -> None:
    room.vendor_room_id = "vendor-room-1"
    room.save()
    live_session(room)

    with pytest.raises(services.ActionRefused, match="Stop its live first"):
        services.vendor_room_delete(room=room)


def test_a_platform_without_rooms_of_its_own_has_none_to_delete() -> None:
    with pytest.raises(services.ActionRefused, match="keeps no room of its own"):
        services.vendor_room_delete(room=RoomFactory())
