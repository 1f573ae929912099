"""The rooms services: session life cycle, callbacks, heartbeats and orphans.

Vendor traffic is answered at the byte level by an `httpx.MockTransport` standing in for
SoftSugar as its document describes it; Redis (channel layer, Celery broker) is real.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import queue
import re
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from celery.signals import before_task_publish
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connections
from django.utils import timezone

from rooms import fragments, services
from rooms.models import LiveSession, Room
from rooms.platforms.base import LiveState, LiveStatus, PlatformError, RtcInfo
from tests.factories import AccountFactory, RoomFactory, UserFactory
from tests.integration.helpers import wait_until

pytestmark = pytest.mark.django_db

VENDOR_ID = "8bfeb2bd58474547a87520643cc2d8df"

Answer = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


def ok(data: Any = None) -> httpx.Response:
    return httpx.Response(200, json={"code": 0, "message": "success", "data": data})


def refused(code: int, message: str) -> httpx.Response:
    return httpx.Response(200, json={"code": code, "message": message, "data": None})


def stat(status: int, **extra: Any) -> httpx.Response:
    return ok({"status": status, **extra})


class Vendor:
    """SoftSugar at the byte level: answers each endpoint (the last part of its path) with the
    next of its canned answers, the last one repeating, and keeps every request."""

    def __init__(self, answers: dict[str, Answer | list[Answer]]) -> None:
        self.answers = {name: list(a) if isinstance(a, list) else [a] for name, a in answers.items()}
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        endpoint = request.url.path.rsplit("/", 1)[-1]
        pending = self.answers.get(endpoint)
        if not pending:
            return httpx.Response(404, json={"code": 404, "message": f"no such endpoint {endpoint}"})
        answer = pending.pop(0) if len(pending) > 1 else pending[0]
        if isinstance(answer, Exception):
            raise answer
        if callable(answer) and not isinstance(answer, httpx.Response):
            return answer(request)
        return answer

    def sent(self, endpoint: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path.rsplit("/", 1)[-1] == endpoint]


@pytest.fixture
def vendor(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Vendor]:
    """Install a Vendor as the transport of every HTTP client LiveDeck makes."""

    def install(**answers: Answer | list[Answer]) -> Vendor:
        fake = Vendor(answers)

        def new_client(**kwargs: Any) -> httpx.AsyncClient:
            return httpx.AsyncClient(transport=httpx.MockTransport(fake))

        monkeypatch.setattr("rooms.platforms.new_client", new_client)
        monkeypatch.setattr("rooms.services.new_client", new_client)
        return fake

    return install


@pytest.fixture
def published() -> Iterator[list[tuple[str, tuple[Any, ...], Any]]]:
    """Every Celery task really published to the broker: (name, args, eta)."""
    sent: list[tuple[str, tuple[Any, ...], Any]] = []

    def record(sender: str, body: Any, headers: dict[str, Any], **kwargs: Any) -> None:
        sent.append((sender, tuple(body[0]), headers.get("eta")))

    before_task_publish.connect(record, weak=False)
    yield sent
    before_task_publish.disconnect(record)


class GroupListener:
    """Sits in a room's channel-layer group from a thread of its own, as a console would."""

    def __init__(self, group: str) -> None:
        self.group = group
        self.messages: queue.Queue[dict[str, Any]] = queue.Queue()
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._listen()), daemon=True)

    async def _listen(self) -> None:
        layer = get_channel_layer()
        assert layer is not None
        channel = await layer.new_channel()
        await layer.group_add(self.group, channel)
        # A probe through the group proves the subscription is live before the test acts.
        await layer.group_send(self.group, {"type": "probe"})
        # One receive at a time, never cancelled while listening: the Pub/Sub layer takes a
        # cancelled receive for a consumer leaving and unsubscribes its channel.
        receiving = asyncio.ensure_future(layer.receive(channel))
        try:
            while not self._stop.is_set():
                done, _ = await asyncio.wait({receiving}, timeout=0.05)
                if not done:
                    continue
                message = receiving.result()
                receiving = asyncio.ensure_future(layer.receive(channel))
                if message["type"] == "probe":
                    self._ready.set()
                else:
                    self.messages.put(message)
        finally:
            await layer.group_discard(self.group, channel)
            receiving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await receiving

    def __enter__(self) -> GroupListener:
        self._thread.start()
        assert self._ready.wait(10), "the channel layer never delivered the probe"
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        assert not self._thread.is_alive(), "the listener did not leave the group"

    def next(self, timeout: float = 5) -> dict[str, Any]:
        return self.messages.get(timeout=timeout)

    def nothing(self, wait: float = 0.5) -> bool:
        try:
            self.messages.get(timeout=wait)
        except queue.Empty:
            return True
        return False


def make_session(room: Room | None = None, **fields: Any) -> LiveSession:
    room = room or RoomFactory()
    values: dict[str, Any] = {"state": LiveState.CREATING, **fields}
    return LiveSession.objects.create(room=room, account=room.account, **values)


def status(state: LiveState, code: str = "", **extra: Any) -> LiveStatus:
    return LiveStatus(state=state, vendor_code=code, **extra)


def body_of(request: httpx.Request) -> dict[str, Any]:
    return dict(json.loads(request.content))


# session_apply_status -------------------------------------------------------------------


def test_apply_status_moves_creating_to_ready_and_stamps_ready_at() -> None:
    session = make_session()
    now = timezone.now()

    changed = services.session_apply_status(session=session, status=status(LiveState.READY, "35"), now=now)

    session.refresh_from_db()
    assert changed is True
    assert session.state == LiveState.READY
    assert session.vendor_code == "35"
    assert session.ready_at == now
    assert session.live_at is None
    assert session.ended_at is None


def test_apply_status_twice_changes_nothing_the_second_time() -> None:
    session = make_session()
    first = timezone.now()
    services.session_apply_status(session=session, status=status(LiveState.READY, "35"), now=first)

    again = services.session_apply_status(
        session=session, status=status(LiveState.READY, "35"), now=first + timedelta(seconds=5)
    )

    session.refresh_from_db()
    assert again is False
    assert session.ready_at == first


def test_an_older_status_after_live_changes_nothing() -> None:
    session = make_session(state=LiveState.LIVE, vendor_code="2")

    for older in (status(LiveState.CREATING, "32"), status(LiveState.READY, "35")):
        assert services.session_apply_status(session=session, status=older) is False

    session.refresh_from_db()
    assert session.state == LiveState.LIVE
    assert session.vendor_code == "2"
    assert session.ready_at is None


@pytest.mark.parametrize(
    "terminal", [LiveState.ENDED, LiveState.DROPPED, LiveState.FAILED, LiveState.NO_CAPACITY]
)
def test_a_terminal_state_never_changes(terminal: LiveState) -> None:
    session = make_session(state=terminal, reason="first word")

    for later in LiveState:
        assert (
            services.session_apply_status(session=session, status=status(later, "x", reason="late")) is False
        )

    session.refresh_from_db()
    assert session.state == terminal
    assert session.reason == "first word"


def test_going_live_straight_from_creating_stamps_ready_and_live() -> None:
    session = make_session()
    now = timezone.now()

    services.session_apply_status(session=session, status=status(LiveState.LIVE, "2"), now=now)

    session.refresh_from_db()
    assert (session.state, session.ready_at, session.live_at) == (LiveState.LIVE, now, now)


def test_going_live_keeps_the_ready_time_already_recorded() -> None:
    ready_at = timezone.now() - timedelta(seconds=30)
    session = make_session(state=LiveState.READY, ready_at=ready_at)
    now = timezone.now()

    services.session_apply_status(session=session, status=status(LiveState.LIVE, "2"), now=now)

    session.refresh_from_db()
    assert session.ready_at == ready_at
    assert session.live_at == now


def test_ending_stamps_ended_at_keeps_the_reason_and_stops_heartbeats() -> None:
    session = make_session(state=LiveState.LIVE, next_heartbeat_at=timezone.now())
    now = timezone.now()

    services.session_apply_status(
        session=session, status=status(LiveState.DROPPED, "50", reason="Closed by the vendor"), now=now
    )

    session.refresh_from_db()
    assert session.state == LiveState.DROPPED
    assert session.ended_at == now
    assert session.reason == "Closed by the vendor"
    assert session.next_heartbeat_at is None
    assert session.is_open is False


def test_rtc_details_are_stored_once_and_never_replaced() -> None:
    session = make_session()
    first = RtcInfo(app_id="app-1", channel_id="channel-1", uid="1001", token="rtc-token-1")
    second = RtcInfo(app_id="app-2", channel_id="channel-2", uid="2002", token="rtc-token-2")

    services.session_apply_status(session=session, status=status(LiveState.READY, "35", rtc=first))
    services.session_apply_status(session=session, status=status(LiveState.LIVE, "2", rtc=second))

    session.refresh_from_db()
    assert session.state == LiveState.LIVE
    assert (session.rtc_app_id, session.rtc_channel_id, session.rtc_uid, session.rtc_token) == (
        "app-1",
        "channel-1",
        "1001",
        "rtc-token-1",
    )


def test_rtc_details_that_arrive_after_the_state_are_still_stored() -> None:
    session = make_session(state=LiveState.READY)
    rtc = RtcInfo(app_id="app-1", channel_id="channel-1", uid="1001", token="rtc-token-1")

    changed = services.session_apply_status(session=session, status=status(LiveState.READY, "35", rtc=rtc))

    session.refresh_from_db()
    assert changed is True
    assert session.rtc_channel_id == "channel-1"


def test_the_session_token_is_stored_once() -> None:
    session = make_session()

    services.session_apply_status(
        session=session, status=status(LiveState.READY, "35", session_token="mic-1")
    )
    services.session_apply_status(session=session, status=status(LiveState.LIVE, "2", session_token="mic-2"))

    session.refresh_from_db()
    assert session.session_token == "mic-1"


def test_ready_with_auto_start_queues_one_start_after_commit(
    django_capture_on_commit_callbacks: Any, published: list[Any]
) -> None:
    session = make_session(auto_start=True)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.session_apply_status(session=session, status=status(LiveState.READY, "35"))
    assert len(callbacks) == 1
    assert published == []

    callbacks[0]()
    assert published == [("rooms.tasks.session_start", (session.pk,), None)]


def test_ready_without_auto_start_waits_for_the_host(django_capture_on_commit_callbacks: Any) -> None:
    session = make_session(auto_start=False)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.session_apply_status(session=session, status=status(LiveState.READY, "35"))

    assert callbacks == []


def test_ready_after_a_stop_was_asked_does_not_start(django_capture_on_commit_callbacks: Any) -> None:
    session = make_session(auto_start=True, stop_requested=True)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.session_apply_status(session=session, status=status(LiveState.READY, "35"))

    assert callbacks == []


def test_compare_and_set_does_not_move_a_row_that_went_further_underneath() -> None:
    session = make_session()  # this copy still says CREATING
    live_at = timezone.now() - timedelta(seconds=10)
    LiveSession.objects.filter(pk=session.pk).update(state=LiveState.LIVE, vendor_code="2", live_at=live_at)

    changed = services.session_apply_status(session=session, status=status(LiveState.READY, "35"))

    assert changed is False
    assert session.state == LiveState.LIVE  # the copy was refreshed, not the row overwritten
    row = LiveSession.objects.get(pk=session.pk)
    assert (row.state, row.vendor_code, row.ready_at, row.live_at) == (LiveState.LIVE, "2", None, live_at)


def test_compare_and_set_applies_a_report_on_top_of_what_changed_underneath() -> None:
    session = make_session()  # this copy still says CREATING
    LiveSession.objects.filter(pk=session.pk).update(state=LiveState.READY, vendor_code="35")

    changed = services.session_apply_status(session=session, status=status(LiveState.ENDED, "5"))

    row = LiveSession.objects.get(pk=session.pk)
    assert changed is True
    assert row.state == LiveState.ENDED
    assert row.ended_at is not None


def test_a_change_is_broadcast_to_the_room_and_no_change_is_not() -> None:
    session = make_session()

    with GroupListener(session.room.group_name) as console:
        services.session_apply_status(session=session, status=status(LiveState.READY, "35"))
        message = console.next()
        services.session_apply_status(session=session, status=status(LiveState.READY, "35"))
        quiet = console.nothing()

    assert message["type"] == "room.state"
    assert 'id="room-live"' in message["html"]
    assert 'data-state="ready"' in message["html"]
    assert quiet


# session_open / session_stop / session_go_live ------------------------------------------


def test_open_creates_a_creating_session_and_queues_its_creation(
    django_capture_on_commit_callbacks: Any, published: list[Any]
) -> None:
    room = RoomFactory()
    host = UserFactory(roles=["host"])

    with django_capture_on_commit_callbacks(execute=True):
        session = services.session_open(room=room, user=host, auto_start=False)

    session.refresh_from_db()
    assert session.state == LiveState.CREATING
    assert session.room == room
    assert session.account == room.account
    assert session.started_by == host
    assert session.auto_start is False
    assert published == [("rooms.tasks.session_create", (session.pk,), None)]


def test_open_refuses_a_second_open_session_for_the_same_room() -> None:
    room = RoomFactory()
    services.session_open(room=room, user=None)

    with pytest.raises(services.ActionRefused, match="already has a live session open"):
        services.session_open(room=room, user=None)

    assert LiveSession.objects.filter(room=room).count() == 1


def test_open_is_allowed_again_once_the_last_live_ended() -> None:
    room = RoomFactory()
    make_session(room, state=LiveState.ENDED)

    session = services.session_open(room=room, user=None)

    assert session.state == LiveState.CREATING
    assert LiveSession.objects.filter(room=room).count() == 2


def test_stop_on_an_ended_session_is_refused() -> None:
    session = make_session(state=LiveState.ENDED)

    with pytest.raises(services.ActionRefused, match="already ended"):
        services.session_stop(session=session)


def test_stop_marks_the_request_and_queues_the_close(
    django_capture_on_commit_callbacks: Any, published: list[Any]
) -> None:
    session = make_session(state=LiveState.LIVE, vendor_session_id=VENDOR_ID, last_error="old error")

    with django_capture_on_commit_callbacks(execute=True):
        services.session_stop(session=session)

    session.refresh_from_db()
    assert session.stop_requested is True
    assert session.last_error == ""
    assert published == [("rooms.tasks.session_close", (session.pk,), None)]


def test_stop_before_the_vendor_answered_leaves_the_close_to_the_create_task(
    django_capture_on_commit_callbacks: Any,
) -> None:
    session = make_session()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.session_stop(session=session)

    session.refresh_from_db()
    assert session.stop_requested is True
    assert callbacks == []


def test_go_live_is_refused_unless_the_stream_is_ready() -> None:
    for state in (LiveState.CREATING, LiveState.LIVE, LiveState.ENDED):
        with pytest.raises(services.ActionRefused, match="Only a ready stream"):
            services.session_go_live(session=make_session(state=state))


def test_go_live_on_a_ready_stream_queues_the_start(
    django_capture_on_commit_callbacks: Any, published: list[Any]
) -> None:
    session = make_session(state=LiveState.READY, auto_start=False, last_error="old")

    with django_capture_on_commit_callbacks(execute=True):
        services.session_go_live(session=session)

    session.refresh_from_db()
    assert session.last_error == ""
    assert published == [("rooms.tasks.session_start", (session.pk,), None)]


# session_create -------------------------------------------------------------------------


def create_answer(status_code: int, **extra: Any) -> httpx.Response:
    return ok({"sessionId": VENDOR_ID, "sessionToken": "mic-token", "status": status_code, **extra})


def test_create_sends_the_rooms_script_and_our_user_data(vendor: Callable[..., Vendor]) -> None:
    fake = vendor(create=create_answer(32))
    session = make_session()

    services.session_create(session_id=session.pk)

    assert len(fake.requests) == 1
    request = fake.requests[0]
    assert request.method == "POST"
    assert request.url.path == "/api/2dvh/v2/material/live/channel/create"
    assert request.headers["Authorization"] == f"Bearer {session.account.credential('token')}"
    sent = body_of(request)
    assert sent["userData"] == f"livedeck-session-{session.pk}"
    script = json.loads(sent["param"])
    assert script["sceneList"][0]["tts_query"]["content"] == session.room.script.opening_text
    assert script["resolution"] == [1080, 1920]


def test_create_answered_35_stores_the_session_and_queues_the_start(
    vendor: Callable[..., Vendor], django_capture_on_commit_callbacks: Any, published: list[Any]
) -> None:
    vendor(
        create=create_answer(
            35, rtcAppId="app-1", rtcChannelId="channel-1", rtcUid="1001", rtcToken="rtc-token-1"
        )
    )
    session = make_session(auto_start=True)
    before = timezone.now()

    with django_capture_on_commit_callbacks(execute=True):
        services.session_create(session_id=session.pk)

    session.refresh_from_db()
    assert session.state == LiveState.READY
    assert session.vendor_code == "35"
    assert session.vendor_session_id == VENDOR_ID
    assert session.session_token == "mic-token"
    assert session.rtc_channel_id == "channel-1"
    assert before < session.next_heartbeat_at <= before + timedelta(seconds=settings.HEARTBEAT_INTERVAL + 1)
    assert published == [("rooms.tasks.session_start", (session.pk,), None)]


def test_create_answered_32_stays_creating_and_polls_later(
    vendor: Callable[..., Vendor], django_capture_on_commit_callbacks: Any, published: list[Any]
) -> None:
    vendor(create=create_answer(32))
    session = make_session()

    with django_capture_on_commit_callbacks(execute=True):
        services.session_create(session_id=session.pk)

    session.refresh_from_db()
    assert session.state == LiveState.CREATING
    assert session.vendor_session_id == VENDOR_ID
    assert len(published) == 1
    name, args, eta = published[0]
    assert (name, args) == ("rooms.tasks.session_poll", (session.pk, 1))
    assert eta is not None  # polled after STATUS_POLL_SECONDS, not at once


def test_create_when_the_vendor_refuses_fails_with_its_reason(vendor: Callable[..., Vendor]) -> None:
    vendor(create=refused(1002, "Insufficient account balance"))
    session = make_session()

    services.session_create(session_id=session.pk)

    session.refresh_from_db()
    assert session.state == LiveState.FAILED
    assert session.reason == "The platform did not open the live: Insufficient account balance (1002)"
    assert session.vendor_session_id == ""
    assert session.ended_at is not None


def test_create_that_times_out_fails_and_points_at_orphans(vendor: Callable[..., Vendor]) -> None:
    vendor(create=httpx.ReadTimeout("slow"))
    session = make_session()

    services.session_create(session_id=session.pk)

    session.refresh_from_db()
    assert session.state == LiveState.FAILED
    assert "did not answer in time" in session.reason
    assert "Orphans" in session.reason


def test_create_answered_no_capacity_records_it_in_words(vendor: Callable[..., Vendor]) -> None:
    vendor(create=create_answer(97))
    session = make_session()

    services.session_create(session_id=session.pk)

    session.refresh_from_db()
    assert session.state == LiveState.NO_CAPACITY
    assert session.reason == "The platform has no free channel"


def test_create_after_a_stop_was_asked_closes_at_once(
    vendor: Callable[..., Vendor], django_capture_on_commit_callbacks: Any, published: list[Any]
) -> None:
    vendor(create=create_answer(35))
    session = make_session(auto_start=True, stop_requested=True)

    with django_capture_on_commit_callbacks(execute=True):
        services.session_create(session_id=session.pk)

    assert published == [("rooms.tasks.session_close", (session.pk,), None)]


def test_create_runs_once_even_if_the_task_runs_twice(vendor: Callable[..., Vendor]) -> None:
    fake = vendor(create=create_answer(32))
    session = make_session()

    services.session_create(session_id=session.pk)
    services.session_create(session_id=session.pk)

    assert len(fake.requests) == 1


def test_create_for_a_deleted_room_fails_without_calling_the_vendor(vendor: Callable[..., Vendor]) -> None:
    fake = vendor(create=create_answer(35))
    session = make_session()
    LiveSession.objects.filter(pk=session.pk).update(room=None)

    services.session_create(session_id=session.pk)

    session.refresh_from_db()
    assert session.state == LiveState.FAILED
    assert "deleted" in session.reason
    assert fake.requests == []


# session_poll / session_start -----------------------------------------------------------


def test_poll_applies_the_vendors_status(vendor: Callable[..., Vendor]) -> None:
    fake = vendor(stat=stat(35, rtcAppId="a", rtcChannelId="c", rtcUid="1", rtcToken="t"))
    session = make_session(vendor_session_id=VENDOR_ID, auto_start=False)

    services.session_poll(session_id=session.pk, attempt=1)

    session.refresh_from_db()
    assert session.state == LiveState.READY
    assert str(fake.requests[0].url).endswith(f"/channel/stat?sessionId={VENDOR_ID}")


def test_poll_gives_up_after_the_limit(vendor: Callable[..., Vendor], settings: Any) -> None:
    settings.STATUS_POLL_LIMIT = 3
    vendor(stat=stat(32))
    session = make_session(vendor_session_id=VENDOR_ID)

    services.session_poll(session_id=session.pk, attempt=3)

    session.refresh_from_db()
    assert session.state == LiveState.FAILED
    assert session.reason == "The platform never finished creating the stream."


def test_start_takes_a_ready_session_live(vendor: Callable[..., Vendor]) -> None:
    fake = vendor(start=ok(True))
    session = make_session(state=LiveState.READY, vendor_session_id=VENDOR_ID)

    services.session_start(session_id=session.pk)

    session.refresh_from_db()
    assert session.state == LiveState.LIVE
    assert session.live_at is not None
    assert fake.requests[0].content == f'{{"sessionId":"{VENDOR_ID}"}}'.encode()


def test_a_refused_start_whose_stat_says_live_is_live_after_all(vendor: Callable[..., Vendor]) -> None:
    vendor(start=refused(1001, "already started"), stat=stat(2))
    session = make_session(state=LiveState.READY, vendor_session_id=VENDOR_ID)

    services.session_start(session_id=session.pk)

    session.refresh_from_db()
    assert session.state == LiveState.LIVE
    assert session.last_error == ""


def test_a_refused_start_that_is_not_live_tells_the_host(vendor: Callable[..., Vendor]) -> None:
    vendor(start=refused(1001, "stream not ready"), stat=stat(35))
    session = make_session(state=LiveState.READY, vendor_session_id=VENDOR_ID)

    services.session_start(session_id=session.pk)

    session.refresh_from_db()
    assert session.state == LiveState.READY
    assert session.last_error == "Could not go live: stream not ready (1001)"


def test_a_start_that_fails_for_now_is_raised_for_the_task_to_retry(vendor: Callable[..., Vendor]) -> None:
    vendor(start=httpx.Response(503))
    session = make_session(state=LiveState.READY, vendor_session_id=VENDOR_ID)

    with pytest.raises(PlatformError) as raised:
        services.session_start(session_id=session.pk)

    assert raised.value.permanent is False
    session.refresh_from_db()
    assert session.state == LiveState.READY


# session_close --------------------------------------------------------------------------


def test_close_ends_the_session(vendor: Callable[..., Vendor]) -> None:
    fake = vendor(close=ok(True))
    session = make_session(state=LiveState.LIVE, vendor_session_id=VENDOR_ID, stop_requested=True)

    services.session_close(session_id=session.pk)

    session.refresh_from_db()
    assert session.state == LiveState.ENDED
    assert session.vendor_code == "5"
    assert session.reason == "Stopped from LiveDeck."
    request = fake.requests[0]
    assert request.url.path == "/api/2dvh/v1/material/live/channel/close"
    assert request.content == f'{{"sessionId":"{VENDOR_ID}"}}'.encode()


def test_close_refused_but_stat_says_closed_takes_the_vendors_word(vendor: Callable[..., Vendor]) -> None:
    fake = vendor(close=refused(1001, "session is closed"), stat=stat(5))
    session = make_session(state=LiveState.LIVE, vendor_session_id=VENDOR_ID)

    services.session_close(session_id=session.pk)

    session.refresh_from_db()
    assert session.state == LiveState.ENDED
    assert session.vendor_code == "5"
    assert session.last_error == ""
    assert [r.url.path.rsplit("/", 1)[-1] for r in fake.requests] == ["close", "stat"]


def test_close_refused_while_the_vendor_still_runs_it_tells_the_host(vendor: Callable[..., Vendor]) -> None:
    vendor(close=refused(1003, "operation not allowed"), stat=stat(2))
    session = make_session(state=LiveState.LIVE, vendor_session_id=VENDOR_ID)

    services.session_close(session_id=session.pk)

    session.refresh_from_db()
    assert session.state == LiveState.LIVE
    assert session.last_error == "Could not stop the live: operation not allowed (1003)"


def test_close_that_fails_for_now_is_raised_for_the_task_to_retry(vendor: Callable[..., Vendor]) -> None:
    vendor(close=httpx.ConnectError("refused"))
    session = make_session(state=LiveState.LIVE, vendor_session_id=VENDOR_ID)

    with pytest.raises(PlatformError):
        services.session_close(session_id=session.pk)

    session.refresh_from_db()
    assert session.state == LiveState.LIVE


# callback_receive -----------------------------------------------------------------------


def test_a_takeover_callback_does_not_touch_the_session_state() -> None:
    session = make_session(state=LiveState.LIVE, vendor_session_id=VENDOR_ID)
    body = json.dumps({"sessionId": VENDOR_ID, "status": 36, "commandTraceId": "trace-1"}).encode()

    assert services.callback_receive(account=session.account, body=body) is False

    session.refresh_from_db()
    assert session.state == LiveState.LIVE


@pytest.mark.parametrize("why", [services.STOPPED_FROM_LIVEDECK, services.CLOSED_AS_ORPHAN])
def test_a_close_report_that_overtakes_our_close_call_keeps_why_we_closed(why: str) -> None:
    session = make_session(
        state=LiveState.LIVE, vendor_session_id=VENDOR_ID, stop_requested=True, stop_reason=why
    )
    body = json.dumps({"sessionId": VENDOR_ID, "status": 5}).encode()

    assert services.callback_receive(account=session.account, body=body) is True

    session.refresh_from_db()
    assert (session.state, session.vendor_code, session.reason) == (LiveState.ENDED, "5", why)


def test_a_close_nobody_asked_for_has_no_reason_of_ours() -> None:
    session = make_session(state=LiveState.LIVE, vendor_session_id=VENDOR_ID)
    body = json.dumps({"sessionId": VENDOR_ID, "status": 5}).encode()

    assert services.callback_receive(account=session.account, body=body) is True

    session.refresh_from_db()
    assert (session.state, session.reason) == (LiveState.ENDED, "")


def test_a_vendors_own_reason_wins_over_ours() -> None:
    session = make_session(
        state=LiveState.LIVE,
        vendor_session_id=VENDOR_ID,
        stop_requested=True,
        stop_reason=services.STOPPED_FROM_LIVEDECK,
    )
    body = json.dumps({"sessionId": VENDOR_ID, "status": 50}).encode()

    services.callback_receive(account=session.account, body=body)

    session.refresh_from_db()
    assert session.reason == "Closed by the vendor: heartbeat lost or link broken"


def test_a_callback_of_another_account_is_not_applied() -> None:
    session = make_session(vendor_session_id=VENDOR_ID)
    other = AccountFactory()
    body = json.dumps({"sessionId": VENDOR_ID, "status": 35}).encode()

    assert services.callback_receive(account=other, body=body) is False

    session.refresh_from_db()
    assert session.state == LiveState.CREATING


# heartbeats_send_due --------------------------------------------------------------------


def due_session(**fields: Any) -> LiveSession:
    values: dict[str, Any] = {
        "state": LiveState.LIVE,
        "vendor_session_id": f"vendor-{LiveSession.objects.count()}",
        "next_heartbeat_at": timezone.now() - timedelta(seconds=1),
        **fields,
    }
    return make_session(**values)


def test_heartbeats_go_only_to_due_open_sessions_the_vendor_knows(vendor: Callable[..., Vendor]) -> None:
    fake = vendor(heartbeat=ok())
    due = due_session(vendor_session_id="due-live")
    due_ready = due_session(state=LiveState.READY, vendor_session_id="due-ready")
    due_session(vendor_session_id="later", next_heartbeat_at=timezone.now() + timedelta(seconds=30))
    due_session(vendor_session_id="ended", state=LiveState.ENDED)
    due_session(vendor_session_id="", state=LiveState.CREATING)
    due_session(vendor_session_id="unscheduled", next_heartbeat_at=None)

    report = services.heartbeats_send_due()

    sent = sorted(body_of(r)["sessionId"] for r in fake.requests)
    assert sent == ["due-live", "due-ready"]
    assert (report.sent, report.failed, report.closed) == (2, 0, 0)
    assert all(r.url.path == "/api/2dvh/v1/material/live/channel/heartbeat" for r in fake.requests)
    for session in (due, due_ready):
        session.refresh_from_db()
        assert session.heartbeats_sent == 1


def test_heartbeats_claim_sessions_for_at_most_one_interval(vendor: Callable[..., Vendor]) -> None:
    vendor(heartbeat=ok())
    session = due_session()
    before = timezone.now()

    services.heartbeats_send_due()

    session.refresh_from_db()
    assert session.last_heartbeat_at is not None
    assert (
        before < session.next_heartbeat_at <= timezone.now() + timedelta(seconds=settings.HEARTBEAT_INTERVAL)
    )
    # Claimed: a second beat right after sends nothing.
    assert services.heartbeats_send_due().sent == 0


def test_heartbeats_respect_the_batch_limit(vendor: Callable[..., Vendor]) -> None:
    fake = vendor(heartbeat=ok())
    for _ in range(3):
        due_session()

    report = services.heartbeats_send_due(limit=2)

    assert report.sent == 2
    assert len(fake.requests) == 2


def test_a_failed_heartbeat_is_counted_and_retried_soon(vendor: Callable[..., Vendor]) -> None:
    vendor(heartbeat=httpx.Response(503))
    session = due_session()
    before = timezone.now()

    report = services.heartbeats_send_due()

    session.refresh_from_db()
    assert (report.sent, report.failed) == (1, 1)
    assert session.heartbeat_failures == 1
    assert session.last_heartbeat_ok is False
    assert "server error" in session.last_heartbeat_error
    assert session.heartbeats_sent == 0
    assert session.state == LiveState.LIVE
    assert session.at_risk is False
    # Retried within seconds, not after a whole interval.
    assert session.next_heartbeat_at <= before + timedelta(seconds=settings.HEARTBEAT_INTERVAL / 4 + 1)


def test_a_session_is_at_risk_after_enough_failures_in_a_row(vendor: Callable[..., Vendor]) -> None:
    vendor(heartbeat=httpx.ReadTimeout("slow"))
    session = due_session()

    for _ in range(settings.HEARTBEAT_RISK_AFTER):
        assert session.at_risk is False
        LiveSession.objects.filter(pk=session.pk).update(
            next_heartbeat_at=timezone.now() - timedelta(seconds=1)
        )
        services.heartbeats_send_due()
        session.refresh_from_db()

    assert session.heartbeat_failures == settings.HEARTBEAT_RISK_AFTER
    assert session.at_risk is True


def test_a_successful_heartbeat_resets_the_failures(vendor: Callable[..., Vendor]) -> None:
    vendor(heartbeat=ok())
    session = due_session(
        heartbeat_failures=5, last_heartbeat_ok=False, last_heartbeat_error="timeout", heartbeats_sent=7
    )
    assert session.at_risk is True

    services.heartbeats_send_due()

    session.refresh_from_db()
    assert session.heartbeat_failures == 0
    assert session.last_heartbeat_ok is True
    assert session.last_heartbeat_error == ""
    assert session.heartbeats_sent == 8
    assert session.at_risk is False


def test_a_refused_heartbeat_then_stat_50_marks_the_session_dropped(vendor: Callable[..., Vendor]) -> None:
    fake = vendor(heartbeat=refused(1001, "session not exist"), stat=stat(50))
    session = due_session(vendor_session_id=VENDOR_ID)

    report = services.heartbeats_send_due()

    session.refresh_from_db()
    assert session.state == LiveState.DROPPED
    assert session.vendor_code == "50"
    assert session.reason == "Closed by the vendor: heartbeat lost or link broken"
    assert session.next_heartbeat_at is None
    assert session.ended_at is not None
    assert (report.failed, report.closed) == (1, 1)
    assert [r.url.path.rsplit("/", 1)[-1] for r in fake.requests] == ["heartbeat", "stat"]
    assert fake.requests[1].url.params["sessionId"] == VENDOR_ID


def test_a_session_the_vendor_no_longer_knows_is_marked_dropped_with_the_reason(
    vendor: Callable[..., Vendor],
) -> None:
    vendor(heartbeat=refused(404, "session not found"), stat=refused(404, "session not found"))
    session = due_session(vendor_session_id=VENDOR_ID)

    report = services.heartbeats_send_due()

    session.refresh_from_db()
    assert session.state == LiveState.DROPPED
    assert session.reason.startswith("The platform no longer knows this session: session not found")
    assert report.closed == 1


def test_a_refused_token_never_drops_a_session_that_may_still_be_billing(
    vendor: Callable[..., Vendor],
) -> None:
    vendor(heartbeat=httpx.Response(401), stat=httpx.Response(401))
    session = due_session()

    services.heartbeats_send_due()

    session.refresh_from_db()
    assert session.state == LiveState.LIVE
    assert session.heartbeat_failures == 1


def test_a_refused_heartbeat_of_a_session_still_live_only_counts_a_failure(
    vendor: Callable[..., Vendor],
) -> None:
    vendor(heartbeat=refused(1001, "busy"), stat=stat(2))
    session = due_session()

    report = services.heartbeats_send_due()

    session.refresh_from_db()
    assert session.state == LiveState.LIVE
    assert session.heartbeat_failures == 1
    assert report.closed == 0


def test_one_failing_session_does_not_stop_the_others(vendor: Callable[..., Vendor]) -> None:
    def heartbeat(request: httpx.Request) -> httpx.Response:
        if body_of(request)["sessionId"] == "bad":
            return httpx.Response(500)
        return ok()

    vendor(heartbeat=heartbeat)
    good, bad = due_session(vendor_session_id="good"), due_session(vendor_session_id="bad")

    report = services.heartbeats_send_due()

    good.refresh_from_db()
    bad.refresh_from_db()
    assert (report.sent, report.failed) == (2, 1)
    assert (good.heartbeats_sent, good.heartbeat_failures) == (1, 0)
    assert (bad.heartbeats_sent, bad.heartbeat_failures) == (0, 1)


def test_no_session_due_sends_nothing(vendor: Callable[..., Vendor]) -> None:
    fake = vendor(heartbeat=ok())

    assert services.heartbeats_send_due().sent == 0
    assert fake.requests == []


def test_heartbeat_batches_of_a_process_share_its_http_clients(
    vendor: Callable[..., Vendor], monkeypatch: pytest.MonkeyPatch
) -> None:
    vendor(heartbeat=ok())
    made: list[httpx.AsyncClient] = []
    make = services.new_client

    def counted(**kwargs: Any) -> httpx.AsyncClient:
        made.append(make(**kwargs))
        return made[-1]

    monkeypatch.setattr("rooms.services.new_client", counted)
    due_session()
    services.heartbeats_send_due()
    after_first = len(made)
    LiveSession.objects.update(next_heartbeat_at=timezone.now() - timedelta(seconds=1))

    assert services.heartbeats_send_due().sent == 1
    assert after_first > 0
    assert len(made) == after_first


def test_a_forked_process_gets_a_heartbeat_loop_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    parent = services._loop()
    monkeypatch.setattr("rooms.process.os.getpid", lambda: parent.pid + 1)

    child = services._loop()

    assert child is not parent
    assert child.loop is not parent.loop


# Pushes to consoles: only rooms a console watches are rendered ----------------------------


SENT = re.compile(r'<dd class="heartbeats-sent">(\d+)</dd>')


@pytest.fixture
def rendered(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The rooms whose console fragment is rendered, in order."""
    rooms: list[int] = []
    render = fragments.room_live_html

    def recording(room: Room, session: LiveSession | None) -> str:
        rooms.append(room.pk)
        return render(room, session)

    monkeypatch.setattr("rooms.fragments.room_live_html", recording)
    return rooms


def test_heartbeats_push_the_rooms_a_console_watches_and_render_no_other(
    vendor: Callable[..., Vendor], rendered: list[int]
) -> None:
    vendor(heartbeat=ok())
    watched, unwatched = due_session(), due_session()

    with GroupListener(watched.room.group_name) as console:
        report = services.heartbeats_send_due()
        pushed = console.next(timeout=1)

    assert report.sent == 2
    assert rendered == [watched.room_id]
    assert SENT.findall(pushed["html"]) == ["1"]
    unwatched.refresh_from_db()
    assert unwatched.heartbeats_sent == 1


def test_a_room_is_rendered_while_a_console_watches_it_and_not_after(rendered: list[int]) -> None:
    room = make_session().room

    services.room_broadcast(room_id=room.pk)
    with GroupListener(room.group_name) as console:
        services.room_broadcast(room_id=room.pk)
        pushed = console.next(timeout=1)
    wait_until(lambda: not services._watched([room.pk]), what="the console leaving the group")
    services.room_broadcast(room_id=room.pk)

    assert rendered == [room.pk]
    assert 'id="room-live"' in pushed["html"]


def test_with_a_layer_that_cannot_count_listeners_every_room_is_rendered(
    settings: Any, rendered: list[int]
) -> None:
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    rooms = [make_session().room_id for _ in range(2)]

    services.rooms_broadcast(room_ids=rooms)

    assert sorted(rendered) == sorted(rooms)


# Orphans --------------------------------------------------------------------------------


def test_orphans_are_the_running_sessions_no_open_room_owns(vendor: Callable[..., Vendor]) -> None:
    account = AccountFactory()
    room = RoomFactory(account=account)
    make_session(room, state=LiveState.LIVE, vendor_session_id="ours")
    make_session(room, state=LiveState.ENDED, vendor_session_id="marked-ended")
    deleted = make_session(room, state=LiveState.LIVE, vendor_session_id="room-deleted")
    LiveSession.objects.filter(pk=deleted.pk).update(room=None)
    running = [
        {"sessionId": "ours", "status": 2},
        {"sessionId": "marked-ended", "status": 2},
        {"sessionId": "room-deleted", "status": 35},
        {"sessionId": "stranger", "status": 32},
    ]
    vendor(list=ok(running))

    orphans, problems = services.orphans_find(accounts=[account])

    assert problems == []
    found = {o.vendor_session_id: (o.vendor_state, o.why) for o in orphans}
    assert set(found) == {"marked-ended", "room-deleted", "stranger"}
    assert found["stranger"][0] == LiveState.CREATING
    assert "no record" in found["stranger"][1]
    assert "deleted" in found["room-deleted"][1]
    assert "marked it ended" in found["marked-ended"][1]


def test_orphans_of_an_account_that_cannot_be_asked_are_a_problem_in_words() -> None:
    account = AccountFactory(name="Dead line", base_url="http://127.0.0.1:9")

    orphans, problems = services.orphans_find(accounts=[account])

    assert orphans == []
    assert len(problems) == 1
    assert problems[0].startswith("Dead line: Could not reach SoftSugar")


def test_closing_an_orphan_closes_it_on_the_vendor_and_ends_our_row(vendor: Callable[..., Vendor]) -> None:
    fake = vendor(close=ok(True))
    session = make_session(state=LiveState.LIVE, vendor_session_id=VENDOR_ID)
    LiveSession.objects.filter(pk=session.pk).update(room=None)

    services.orphan_close(account=session.account, vendor_session_id=VENDOR_ID)

    session.refresh_from_db()
    assert session.state == LiveState.ENDED
    assert (session.reason, session.stop_reason) == ("Closed as an orphan.", "Closed as an orphan.")
    assert body_of(fake.requests[0]) == {"sessionId": VENDOR_ID}


def test_heartbeats_claim_sessions_before_sending_so_a_second_beat_skips_them(
    vendor: Callable[..., Vendor],
) -> None:
    due_session()
    seen: list[int] = []
    # The vendor answers from the event loop's thread; let it look through this test's
    # connection (the test thread waits meanwhile), as a second beat would look at the table.
    test_connection = connections["default"]

    def heartbeat(request: httpx.Request) -> httpx.Response:
        now = test_connection.ops.adapt_datetimefield_value(timezone.now())
        with test_connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM rooms_livesession WHERE next_heartbeat_at <= %s", [now])
            seen.append(cursor.fetchone()[0])
        return ok()

    vendor(heartbeat=heartbeat)
    test_connection.inc_thread_sharing()
    try:
        assert services.heartbeats_send_due().sent == 1
    finally:
        test_connection.dec_thread_sharing()

    assert seen == [0]


def test_a_heartbeat_batch_broadcasts_each_room_once_even_when_a_session_drops(
    vendor: Callable[..., Vendor],
) -> None:
    vendor(heartbeat=refused(1001, "session not exist"), stat=stat(50))
    session = due_session()

    with GroupListener(session.room.group_name) as console:
        services.heartbeats_send_due()
        message = console.next()
        quiet = console.nothing()

    assert 'data-state="dropped"' in message["html"]
    assert quiet


def test_a_vendor_note_within_a_map_keeps_what_the_map_already_held() -> None:
    room = RoomFactory()
    session = LiveSession.objects.create(
        room=room, account=room.account, state=LiveState.LIVE, vendor_data={"rtmp": {"rtmp://a": "connected"}}
    )
    stale = LiveSession.objects.get(pk=session.pk)  # as a second callback read it, before the first wrote

    services.session_vendor_note(session_id=session.pk, changes={"rtmp://b": "broken"}, within="rtmp")
    services.session_vendor_note(session_id=stale.pk, changes={"rtmp://a": "reconnecting"}, within="rtmp")

    session.refresh_from_db()
    assert session.vendor_data == {"rtmp": {"rtmp://a": "reconnecting", "rtmp://b": "broken"}}
