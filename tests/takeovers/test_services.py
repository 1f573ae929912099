"""The takeovers services: composing, sending, progress from the vendor, the queue, cancels,
quick replies and Q&A.

The vendor is SoftSugar at the byte level: an `httpx.MockTransport` that keeps a queue of
trace ids and answers each takeover endpoint the way the vendor document describes it.
Celery is not running: a test that needs a task runs its service directly.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from django.utils import timezone

from rooms.models import LiveSession, Room
from rooms.platforms.base import LiveState, TakeoverState
from rooms.services import ActionRefused
from takeovers import services
from takeovers.models import QUEUE_LIMIT, Takeover, TakeoverEvent
from takeovers.services import Draft
from tests.factories import RoomFactory, ScriptFactory

pytestmark = pytest.mark.django_db

VENDOR_ID = "8bfeb2bd58474547a87520643cc2d8df"
TEXT = "Dear audience, here is a short news flash."
API = "/api/2dvh"


def ok(data: Any = None, message: str = "success") -> httpx.Response:
    return httpx.Response(200, json={"code": 0, "message": message, "data": data})


def refused(code: int, message: str) -> httpx.Response:
    return httpx.Response(200, json={"code": code, "message": message, "data": None})


class Vendor:
    """SoftSugar's takeover endpoints as its document describes them: a queue of trace ids, the
    playing one first; `refuse` swaps an endpoint's answer (by the last part of its path)."""

    def __init__(self) -> None:
        self.queue: list[str] = []
        self.requests: list[httpx.Request] = []
        self.traces: list[str] = []  # the trace ids the next takeovers get, else fresh ones
        self.queue_status = 34
        self.refuse: dict[str, httpx.Response] = {}
        self.qa: dict[str, str] = {}

    def _trace(self) -> str:
        return self.traces.pop(0) if self.traces else uuid.uuid4().hex

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        endpoint = request.url.path.rsplit("/", 1)[-1]
        if endpoint in self.refuse:
            return self.refuse[endpoint]
        body = json.loads(request.content) if request.content else {}
        if request.url.path == f"{API}/v2/material/live/channel/command":
            # Interruptible Live Takeover: everything queued or playing gives way.
            trace = self._trace()
            self.queue[:] = [trace]
            return ok({"isSuccess": True, "commandTraceId": trace})
        if endpoint == "queue":
            trace = self._trace()
            if self.queue_status == 34:
                priority = body.get("priority")
                at = priority if priority is not None and priority < len(self.queue) else len(self.queue)
                self.queue.insert(at, trace)
            return ok({"commandStatus": self.queue_status, "commandTraceId": trace})
        if endpoint == "reorder":
            self.queue.remove(body["commandTraceId"])
            self.queue.insert(min(body["priority"], len(self.queue)), body["commandTraceId"])
            return ok({"isSuccess": True})
        if endpoint == "cancel":
            ids = body["commandTraceId"]
            missing = [t for t in ids.split(";") if t not in self.queue] if ids != "-1" else []
            if missing:  # one it no longer holds fails the whole call, as the sandbox has it
                return ok({"isSuccess": False, "message": f"commandTraceId not found: {';'.join(missing)}"})
            self.queue[:] = [] if ids == "-1" else [t for t in self.queue if t not in ids.split(";")]
            return ok({"isSuccess": True, "commandFinishTime": "2024-09-25 15:07:44"})
        if endpoint == "list":
            return ok({"commandTraceIds": list(self.queue)})
        if endpoint == "quick":
            return ok({"isSuccess": True, "commandTraceId": self._trace()})
        if endpoint == "reply":
            return httpx.Response(200, json={"answer": self.qa.get(body["query"], ""), "error_message": ""})
        return httpx.Response(404, json={"code": 404, "message": f"no such endpoint {endpoint}"})

    def sent(self, endpoint: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path.rsplit("/", 1)[-1] == endpoint]

    def body(self, endpoint: str, index: int = -1) -> dict[str, Any]:
        return dict(json.loads(self.sent(endpoint)[index].content))


@pytest.fixture
def vendor(monkeypatch: pytest.MonkeyPatch) -> Vendor:
    """A Vendor as the transport of every HTTP client LiveDeck makes."""
    fake = Vendor()

    def new_client(**kwargs: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(fake))

    monkeypatch.setattr("rooms.platforms.new_client", new_client)
    return fake


@pytest.fixture
def tasks(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, tuple[Any, ...]]]]:
    """Celery tasks the services queue (name, args), instead of publishing them."""
    queued: list[tuple[str, tuple[Any, ...]]] = []

    def send_task(name: str, args: tuple[Any, ...] = (), **kwargs: Any) -> None:
        queued.append((name, tuple(args)))

    monkeypatch.setattr("takeovers.services.celery_app.send_task", send_task)
    yield queued


def live_session(room: Room | None = None, **fields: Any) -> LiveSession:
    room = room or RoomFactory()
    values: dict[str, Any] = {
        "state": LiveState.LIVE,
        "vendor_session_id": VENDOR_ID,
        "session_token": "mic-token",
        **fields,
    }
    return LiveSession.objects.create(room=room, account=room.account, **values)


def make_takeover(
    session: LiveSession, state: TakeoverState = TakeoverState.QUEUED, **fields: Any
) -> Takeover:
    values: dict[str, Any] = {"content": TEXT, "trace_id": uuid.uuid4().hex, "state": state, **fields}
    return Takeover.objects.create(session=session, **values)


def enqueue(session: LiveSession, **draft: Any) -> Takeover:
    return services.takeover_enqueue(session=session, draft=Draft(**{"content": TEXT, **draft}))


def refusal(call: Callable[[], Any]) -> str:
    with pytest.raises(ActionRefused) as caught:
        call()
    return str(caught.value)


def states(takeover: Takeover) -> list[str]:
    return list(TakeoverEvent.objects.filter(takeover=takeover).values_list("state", flat=True))


# takeover_enqueue -----------------------------------------------------------------------------


def test_enqueue_stores_a_pending_takeover_and_queues_its_send_after_commit(
    django_capture_on_commit_callbacks: Any, tasks: list[Any]
) -> None:
    session = live_session()

    with django_capture_on_commit_callbacks(execute=True):
        takeover = enqueue(session, content=f"  {TEXT}  ", position=2)

    takeover.refresh_from_db()
    assert (takeover.state, takeover.content, takeover.requested_position) == ("pending", TEXT, 2)
    assert takeover.interrupt is False
    assert states(takeover) == ["pending"]
    assert tasks == [("takeovers.tasks.takeover_send", (takeover.pk,))]


@pytest.mark.parametrize(
    "fields",
    [
        {"state": LiveState.ENDED},
        {"state": LiveState.CREATING, "vendor_session_id": ""},
        {"stop_requested": True},
    ],
    ids=["ended", "not-created-yet", "stopping"],
)
def test_enqueue_is_refused_when_the_room_is_not_live(fields: dict[str, Any]) -> None:
    session = live_session(**fields)

    assert refusal(lambda: enqueue(session)) == "The room is not live: start it before taking over."
    assert not Takeover.objects.exists()


@pytest.mark.parametrize("kind", [Takeover.Kind.TEXT, Takeover.Kind.SSML])
def test_enqueue_refuses_text_under_ten_characters_counting_without_spaces_around(kind: str) -> None:
    session = live_session()

    message = refusal(lambda: enqueue(session, kind=kind, content="   Hi there   "))

    assert message == "A takeover needs at least 10 characters of text; this has 8."


def test_enqueue_takes_text_of_exactly_ten_characters() -> None:
    assert enqueue(live_session(), content="0123456789").content == "0123456789"


def test_enqueue_refuses_audio_without_a_url() -> None:
    message = refusal(lambda: enqueue(live_session(), kind=Takeover.Kind.AUDIO, content=""))

    assert message == "Pick an audio material (or give an audio URL) to play."


def test_enqueue_takes_audio_without_text() -> None:
    takeover = enqueue(live_session(), kind=Takeover.Kind.AUDIO, content="", audio_url="https://x.test/a.mp3")

    assert takeover.summary == "a.mp3"


def test_enqueue_refuses_position_zero_because_one_is_right_after_the_playing_one() -> None:
    message = refusal(lambda: enqueue(live_session(), position=0))

    assert message == "Positions start at 1: the takeover after the one playing."


def test_enqueue_refuses_a_sixteenth_takeover_in_words() -> None:
    session = live_session()
    make_takeover(session, TakeoverState.PLAYING)
    for _ in range(QUEUE_LIMIT - 1):
        make_takeover(session, TakeoverState.QUEUED)

    message = refusal(lambda: enqueue(session))

    assert message == (
        "The queue already holds 15 takeovers, the platform's limit of 15. "
        "Cancel some, wait for them to play, or play this one now."
    )
    assert session.takeovers.count() == QUEUE_LIMIT


def test_the_limit_counts_only_takeovers_still_queued_or_playing() -> None:
    session = live_session()
    for _ in range(QUEUE_LIMIT - 1):
        make_takeover(session, TakeoverState.QUEUED)
    make_takeover(session, TakeoverState.DONE)
    make_takeover(session, TakeoverState.CANCELLED)

    assert enqueue(session).state == TakeoverState.PENDING


def test_the_limit_counts_takeovers_not_yet_sent_since_they_are_about_to_queue() -> None:
    session = live_session()
    for _ in range(QUEUE_LIMIT):
        make_takeover(session, TakeoverState.PENDING, trace_id="")

    assert "already holds 15 takeovers" in refusal(lambda: enqueue(session))


def test_an_interrupt_is_taken_past_the_queue_limit_since_it_clears_the_queue() -> None:
    session = live_session()
    for _ in range(QUEUE_LIMIT):
        make_takeover(session, TakeoverState.QUEUED)

    takeover = enqueue(session, interrupt=True)

    assert takeover.interrupt is True


# takeover_mark ----------------------------------------------------------------------------


def test_mark_moves_forward_stamping_each_state_once_and_logging_an_event() -> None:
    takeover = make_takeover(live_session(), TakeoverState.PENDING, trace_id="", queue_position=None)
    t0 = timezone.now()
    times = {state: t0 + timedelta(seconds=i) for i, state in enumerate(TakeoverState)}

    for state in (TakeoverState.SENT, TakeoverState.QUEUEING, TakeoverState.QUEUED, TakeoverState.PLAYING):
        assert services.takeover_mark(takeover=takeover, state=state, code="c", at=times[state])
    Takeover.objects.filter(pk=takeover.pk).update(queue_position=1)
    takeover.refresh_from_db()
    assert services.takeover_mark(takeover=takeover, state=TakeoverState.DONE, code="37", at=times["done"])

    takeover.refresh_from_db()
    assert takeover.state == "done"
    assert takeover.vendor_code == "37"
    assert takeover.sent_at == times["sent"]
    assert takeover.queued_at == times["queueing"]  # QUEUED keeps the first stamp
    assert takeover.playing_at == times["playing"]
    assert takeover.done_at == times["done"]
    assert takeover.queue_position is None
    assert states(takeover) == ["sent", "queueing", "queued", "playing", "done"]


@pytest.mark.parametrize(
    ("current", "late"),
    [
        (TakeoverState.PLAYING, TakeoverState.QUEUED),
        (TakeoverState.PLAYING, TakeoverState.PLAYING),
        (TakeoverState.DONE, TakeoverState.PLAYING),
        (TakeoverState.CANCELLED, TakeoverState.DONE),
        (TakeoverState.DONE, TakeoverState.FAILED),
    ],
)
def test_mark_ignores_a_late_or_repeated_report(current: TakeoverState, late: TakeoverState) -> None:
    takeover = make_takeover(live_session(), current)

    assert services.takeover_mark(takeover=takeover, state=late) is False

    takeover.refresh_from_db()
    assert takeover.state == current
    assert states(takeover) == []


def test_mark_from_a_stale_copy_rereads_the_row_before_deciding() -> None:
    takeover = make_takeover(live_session(), TakeoverState.QUEUED)
    stale = Takeover.objects.get(pk=takeover.pk)
    services.takeover_mark(takeover=takeover, state=TakeoverState.DONE)

    assert services.takeover_mark(takeover=stale, state=TakeoverState.PLAYING) is False
    assert Takeover.objects.get(pk=takeover.pk).state == "done"


def test_mark_failed_keeps_the_reason() -> None:
    takeover = make_takeover(live_session(), TakeoverState.PLAYING)

    services.takeover_mark(takeover=takeover, state=TakeoverState.FAILED, code="39", note="TTS failed")

    takeover.refresh_from_db()
    assert (takeover.state, takeover.failure_reason, takeover.vendor_code) == ("failed", "TTS failed", "39")


# takeover_send (vendor at the byte level) -----------------------------------------------------


def test_send_queues_on_the_vendor_at_the_requested_position_and_shows_the_vendors_order(
    vendor: Vendor,
) -> None:
    session = live_session()
    vendor.queue[:] = ["playing", "next"]
    vendor.traces = ["trace-new"]
    takeover = enqueue(session, position=1)

    services.takeover_send(takeover_id=takeover.pk)

    assert vendor.body("queue") == {
        "sessionId": VENDOR_ID,
        "priority": 1,
        "param": json.dumps({"tts_query": {"content": TEXT, "ssml": False}}, separators=(",", ":")),
    }
    assert len(vendor.sent("list")) == 1
    takeover.refresh_from_db()
    assert (takeover.trace_id, takeover.state, takeover.vendor_code) == ("trace-new", "queued", "34")
    assert takeover.queue_position == 2
    assert takeover.sent_at is not None and takeover.queued_at == takeover.sent_at
    assert states(takeover) == ["pending", "sent", "queued"]


def test_send_of_an_interrupt_uses_the_v2_command_and_waits_for_the_vendors_report(vendor: Vendor) -> None:
    session = live_session()
    takeover = enqueue(session, interrupt=True, background_url="https://x.test/bg.png")

    services.takeover_send(takeover_id=takeover.pk)

    assert [r.url.path for r in vendor.requests] == [
        f"{API}/v2/material/live/channel/command",
        f"{API}/v1/material/live/channel/command/queue/list",
    ]
    param = json.loads(vendor.body("command")["param"])
    assert param["backgrounds"] == {
        "url": "https://x.test/bg.png",
        "rect": [0, 0, 1080, 1920],
        "start": 0,
        "duration": -1,
    }
    takeover.refresh_from_db()
    assert (takeover.state, takeover.queue_position) == ("sent", 1)


def test_send_of_audio_sends_the_audio_and_no_text(vendor: Vendor) -> None:
    takeover = enqueue(live_session(), kind=Takeover.Kind.AUDIO, content="", audio_url="https://x.test/a.mp3")

    services.takeover_send(takeover_id=takeover.pk)

    assert json.loads(vendor.body("queue")["param"]) == {"audio": "https://x.test/a.mp3"}


def test_send_that_the_vendor_answers_33_stays_queueing_until_it_joins_the_queue(vendor: Vendor) -> None:
    session = live_session()
    vendor.queue_status = 33
    takeover = enqueue(session)

    services.takeover_send(takeover_id=takeover.pk)

    # Not in the vendor's queue list yet, and that does not mean it played.
    takeover.refresh_from_db()
    assert (takeover.state, takeover.vendor_code) == ("queueing", "33")
    vendor.queue.append(takeover.trace_id)
    assert services.takeover_progress(session=session, trace_id=takeover.trace_id, code="34")
    takeover.refresh_from_db()
    assert takeover.state == "queued"


def test_send_twice_sends_once(vendor: Vendor) -> None:
    takeover = enqueue(live_session())

    services.takeover_send(takeover_id=takeover.pk)
    services.takeover_send(takeover_id=takeover.pk)

    assert len(vendor.sent("queue")) == 1


def test_send_of_a_later_takeover_first_sends_the_ones_sent_before_it_in_order(vendor: Vendor) -> None:
    # Two "add to queue" presses become two tasks that the worker pool may run in either order.
    session = live_session()
    vendor.traces = ["trace-first", "trace-second"]
    first = enqueue(session, content="The first of two queued takeovers.")
    second = enqueue(session, content="The second of two queued takeovers.")

    services.takeover_send(takeover_id=second.pk)
    services.takeover_send(takeover_id=first.pk)

    sent = [json.loads(vendor.body("queue", i)["param"])["tts_query"]["content"] for i in (0, 1)]
    assert len(vendor.sent("queue")) == 2
    assert sent == ["The first of two queued takeovers.", "The second of two queued takeovers."]
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.trace_id, second.trace_id) == ("trace-first", "trace-second")


def test_send_the_vendor_refuses_fails_with_its_reason(vendor: Vendor) -> None:
    vendor.refuse["queue"] = refused(409, "session is not ready or live (status 5)")
    takeover = enqueue(live_session())

    services.takeover_send(takeover_id=takeover.pk)

    takeover.refresh_from_db()
    assert takeover.state == "failed"
    assert (
        takeover.failure_reason
        == "The platform did not take it: session is not ready or live (status 5) (409)"
    )
    assert takeover.trace_id == ""


def test_send_that_may_have_reached_the_vendor_says_so_and_is_not_retried(vendor: Vendor) -> None:
    vendor.refuse["queue"] = httpx.Response(502, text="Bad gateway")
    takeover = enqueue(live_session())

    services.takeover_send(takeover_id=takeover.pk)
    services.takeover_send(takeover_id=takeover.pk)

    takeover.refresh_from_db()
    assert takeover.state == "failed"
    assert takeover.failure_reason.endswith("It may not have been said; send it again if needed.")
    assert len(vendor.sent("queue")) == 1


# takeover_progress ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "state"),
    [
        ("34", "queued"),
        ("36", "playing"),
        ("37", "done"),
        ("39", "failed"),
        ("ws20", "queued"),
        ("ws19", "playing"),
        ("ws18", "done"),
    ],
)
def test_progress_applies_vendor_callbacks_and_mic_socket_codes(
    vendor: Vendor, code: str, state: str
) -> None:
    session = live_session()
    takeover = make_takeover(session, TakeoverState.SENT)

    assert (
        services.takeover_progress(session=session, trace_id=takeover.trace_id, code=code, note="n") is True
    )

    takeover.refresh_from_db()
    assert (takeover.state, takeover.vendor_code) == (state, code)
    event = TakeoverEvent.objects.get(takeover=takeover)
    assert (event.state, event.vendor_code, event.note) == (state, code, "n")


def test_progress_keeps_the_reason_of_a_takeover_exception(vendor: Vendor) -> None:
    session = live_session()
    takeover = make_takeover(session, TakeoverState.PLAYING)

    services.takeover_progress(session=session, trace_id=takeover.trace_id, code="39", note="TTS failed")

    takeover.refresh_from_db()
    assert (takeover.state, takeover.failure_reason) == ("failed", "TTS failed")


def test_progress_to_an_end_has_the_worker_read_the_vendors_queue_again(
    vendor: Vendor, tasks: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    session = live_session()
    done, waiting = make_takeover(session, TakeoverState.PLAYING), make_takeover(session)
    vendor.queue[:] = [waiting.trace_id]

    with django_capture_on_commit_callbacks(execute=True):
        services.takeover_progress(session=session, trace_id=done.trace_id, code="37")

    # A callback is answered without a vendor call: the read is queued for the worker.
    assert vendor.requests == []
    assert tasks == [("takeovers.tasks.queue_refresh", (session.pk,))]
    services.queue_refresh(session_id=session.pk)
    assert len(vendor.sent("list")) == 1
    waiting.refresh_from_db()
    assert waiting.queue_position == 1


@pytest.mark.parametrize(("trace_id", "code"), [("", "36"), ("known", "35"), ("known", "33")])
def test_progress_ignores_reports_without_trace_or_of_unknown_codes(trace_id: str, code: str) -> None:
    session = live_session()
    takeover = make_takeover(session, TakeoverState.SENT, trace_id="known")

    assert services.takeover_progress(session=session, trace_id=trace_id, code=code) is False

    takeover.refresh_from_db()
    assert takeover.state == "sent"


def test_progress_of_another_sessions_trace_does_not_touch_this_one(vendor: Vendor) -> None:
    session, other = live_session(), live_session()
    takeover = make_takeover(session, TakeoverState.QUEUED)

    assert services.takeover_progress(session=other, trace_id=takeover.trace_id, code="37") is False

    takeover.refresh_from_db()
    assert takeover.state == "queued"


@pytest.mark.parametrize(
    ("early", "state"),
    [(["36"], "playing"), (["34", "36", "37"], "done"), (["39"], "failed")],
)
def test_a_report_that_overtakes_the_send_answer_is_applied_once_the_trace_id_is_known(
    vendor: Vendor, early: list[str], state: str
) -> None:
    session = live_session()
    trace = uuid.uuid4().hex
    takeover = enqueue(session)
    for code in early:
        assert services.takeover_progress(session=session, trace_id=trace, code=code) is False
    vendor.traces = [trace]

    services.takeover_send(takeover_id=takeover.pk)

    takeover.refresh_from_db()
    assert (takeover.trace_id, takeover.state) == (trace, state)
    codes = list(TakeoverEvent.objects.filter(takeover=takeover).values_list("vendor_code", flat=True))
    assert all(codes.count(code) == 1 for code in early)
    # Applied once: the parked reports are gone once the sender took them.
    assert services.takeover_progress(session=session, trace_id=trace, code="34") is False
    assert states(takeover).count(state) == 1


def test_a_playing_report_that_overtakes_the_send_answer_never_makes_a_negative_latency(
    vendor: Vendor,
) -> None:
    session = live_session()
    trace = uuid.uuid4().hex
    takeover = enqueue(session)
    services.takeover_progress(session=session, trace_id=trace, code="36")
    vendor.traces = [trace]

    services.takeover_send(takeover_id=takeover.pk)

    takeover.refresh_from_db()
    assert takeover.queued_at is not None and takeover.playing_at is not None
    assert takeover.queued_at <= takeover.playing_at
    assert all(span.total_seconds() >= 0 for span in takeover.latencies().values())


def test_a_parked_report_for_another_session_is_not_applied(vendor: Vendor) -> None:
    session, other = live_session(), live_session()
    trace = uuid.uuid4().hex
    services.takeover_progress(session=other, trace_id=trace, code="37")
    vendor.traces = [trace]
    takeover = enqueue(session)

    services.takeover_send(takeover_id=takeover.pk)

    takeover.refresh_from_db()
    assert takeover.state == "queued"


# Cancelling -----------------------------------------------------------------------------------


def test_cancel_marks_the_request_and_queues_one_vendor_call(
    django_capture_on_commit_callbacks: Any, tasks: list[Any]
) -> None:
    session = live_session()
    chosen, other = make_takeover(session), make_takeover(session)

    with django_capture_on_commit_callbacks(execute=True):
        asked = services.takeover_cancel(session=session, takeovers=[chosen])

    assert asked == 1
    chosen.refresh_from_db()
    other.refresh_from_db()
    assert chosen.cancel_requested_at is not None
    assert other.cancel_requested_at is None
    assert tasks == [("takeovers.tasks.takeover_cancel", (session.pk, [chosen.pk]))]


def test_cancel_all_queues_a_cancel_of_everything(
    django_capture_on_commit_callbacks: Any, tasks: list[Any]
) -> None:
    session = live_session()
    make_takeover(session, TakeoverState.PLAYING), make_takeover(session)

    with django_capture_on_commit_callbacks(execute=True):
        assert services.takeover_cancel(session=session, takeovers=None) == 2

    assert tasks == [("takeovers.tasks.takeover_cancel", (session.pk, None))]


def test_cancel_with_nothing_active_is_refused() -> None:
    session = live_session()
    done = make_takeover(session, TakeoverState.DONE)

    assert refusal(lambda: services.takeover_cancel(session=session, takeovers=[done])) == (
        "Nothing is queued or playing to cancel."
    )
    assert refusal(lambda: services.takeover_cancel(session=session, takeovers=None)) == (
        "Nothing is queued or playing to cancel."
    )


def test_cancel_on_vendor_sends_the_chosen_trace_ids_in_one_call_and_marks_them_cancelled(
    vendor: Vendor,
) -> None:
    session = live_session()
    a, b, c = (make_takeover(session) for _ in range(3))
    vendor.queue[:] = [a.trace_id, b.trace_id, c.trace_id]
    services.takeover_cancel(session=session, takeovers=[a, c])

    services.takeover_cancel_on_vendor(session_id=session.pk, takeover_ids=[a.pk, c.pk])

    assert vendor.body("cancel") == {"sessionId": VENDOR_ID, "commandTraceId": f"{a.trace_id};{c.trace_id}"}
    for takeover in (a, c):
        takeover.refresh_from_db()
        assert takeover.state == "cancelled"
        assert takeover.done_at is not None
        assert TakeoverEvent.objects.filter(takeover=takeover, note="cancelled by the host").exists()
    b.refresh_from_db()
    assert (b.state, b.queue_position) == ("queued", 1)


def test_cancel_all_on_vendor_sends_minus_one(vendor: Vendor) -> None:
    session = live_session()
    playing, queued = make_takeover(session, TakeoverState.PLAYING), make_takeover(session)
    vendor.queue[:] = [playing.trace_id, queued.trace_id]

    services.takeover_cancel_on_vendor(session_id=session.pk, takeover_ids=None)

    assert vendor.body("cancel")["commandTraceId"] == "-1"
    assert set(session.takeovers.values_list("state", flat=True)) == {"cancelled"}


def test_a_completion_report_after_the_cancel_keeps_it_cancelled(vendor: Vendor) -> None:
    session = live_session()
    takeover = make_takeover(session, TakeoverState.PLAYING)
    vendor.queue.append(takeover.trace_id)
    services.takeover_cancel(session=session, takeovers=[takeover])
    services.takeover_cancel_on_vendor(session_id=session.pk, takeover_ids=[takeover.pk])

    # The vendor reports a cancelled takeover as completed (37).
    assert services.takeover_progress(session=session, trace_id=takeover.trace_id, code="37") is False

    takeover.refresh_from_db()
    assert takeover.state == "cancelled"


def test_a_completion_report_that_overtakes_the_cancel_call_counts_as_cancelled(vendor: Vendor) -> None:
    session = live_session()
    takeover = make_takeover(session, TakeoverState.PLAYING)
    services.takeover_cancel(session=session, takeovers=[takeover])

    services.takeover_progress(session=session, trace_id=takeover.trace_id, code="37")

    takeover.refresh_from_db()
    assert takeover.state == "cancelled"
    assert "cancel to silence" in takeover.latencies()


def test_a_cancel_the_vendor_refuses_is_undone_and_logged(vendor: Vendor) -> None:
    vendor.refuse["cancel"] = ok({"isSuccess": False, "message": "commandTraceId not found: x"})
    session = live_session()
    takeover = make_takeover(session)
    vendor.queue.append(takeover.trace_id)  # still in the vendor's queue, so the cancel is asked
    services.takeover_cancel(session=session, takeovers=[takeover])

    services.takeover_cancel_on_vendor(session_id=session.pk, takeover_ids=[takeover.pk])

    takeover.refresh_from_db()
    assert (takeover.state, takeover.cancel_requested_at) == ("queued", None)
    event = TakeoverEvent.objects.get(takeover=takeover)
    assert event.note == "cancel refused: commandTraceId not found: x (cancel)"


def test_a_cancel_goes_to_the_vendor_before_anything_else(vendor: Vendor) -> None:
    session = live_session()
    takeover = make_takeover(session, TakeoverState.PLAYING)
    vendor.queue.append(takeover.trace_id)
    services.takeover_cancel(session=session, takeovers=[takeover])

    services.takeover_cancel_on_vendor(session_id=session.pk, takeover_ids=[takeover.pk])

    # The queue is read back after the cancel, to follow it; never before.
    endpoints = [r.url.path.rsplit("/", 1)[-1] for r in vendor.requests]
    assert endpoints == ["cancel", "list"]
    takeover.refresh_from_db()
    assert takeover.state == "cancelled"


def test_a_cancel_refused_for_a_takeover_that_just_finished_is_asked_again_for_the_ones_still_held(
    vendor: Vendor,
) -> None:
    session = live_session()
    finished, waiting = make_takeover(session), make_takeover(session)
    vendor.queue.append(waiting.trace_id)  # the other one played out meanwhile
    services.takeover_cancel(session=session, takeovers=[finished, waiting])

    services.takeover_cancel_on_vendor(session_id=session.pk, takeover_ids=[finished.pk, waiting.pk])

    cancels = [json.loads(r.content) for r in vendor.requests if r.url.path.endswith("/cancel")]
    assert [c["commandTraceId"] for c in cancels] == [
        f"{finished.trace_id};{waiting.trace_id}",
        waiting.trace_id,
    ]
    finished.refresh_from_db()
    waiting.refresh_from_db()
    assert (finished.state, waiting.state) == ("done", "cancelled")
    assert not TakeoverEvent.objects.filter(note__startswith="cancel refused").exists()


def test_a_cancel_of_only_takeovers_that_just_finished_asks_nothing_more(vendor: Vendor) -> None:
    session = live_session()
    finished = make_takeover(session)
    services.takeover_cancel(session=session, takeovers=[finished])

    services.takeover_cancel_on_vendor(session_id=session.pk, takeover_ids=[finished.pk])

    endpoints = [r.url.path.rsplit("/", 1)[-1] for r in vendor.requests]
    assert endpoints == ["cancel", "list"]
    finished.refresh_from_db()
    assert finished.state == "done"


# Latencies ------------------------------------------------------------------------------------


def test_latencies_read_click_to_queued_queued_to_playing_and_cancel_to_silence() -> None:
    t0 = timezone.now()
    takeover = Takeover(
        state=TakeoverState.CANCELLED,
        created_at=t0,
        queued_at=t0 + timedelta(milliseconds=250),
        playing_at=t0 + timedelta(milliseconds=1750),
        cancel_requested_at=t0 + timedelta(seconds=3),
        done_at=t0 + timedelta(seconds=3, milliseconds=400),
    )

    assert takeover.latencies() == {
        "click to queued": timedelta(milliseconds=250),
        "queued to playing": timedelta(milliseconds=1500),
        "cancel to silence": timedelta(milliseconds=400),
    }
    assert takeover.latency_words() == [
        "click to queued 250 ms",
        "queued to playing 1.5 s",
        "cancel to silence 400 ms",
    ]


def test_an_interrupt_has_click_to_playing_and_a_finished_one_no_cancel_latency() -> None:
    t0 = timezone.now()
    takeover = Takeover(
        state=TakeoverState.DONE,
        created_at=t0,
        playing_at=t0 + timedelta(milliseconds=80),
        cancel_requested_at=t0 + timedelta(seconds=1),
        done_at=t0 + timedelta(seconds=2),
    )

    assert takeover.latency_words() == ["click to playing 80 ms"]


def test_a_takeover_not_sent_yet_has_no_latencies() -> None:
    assert Takeover(created_at=timezone.now()).latency_words() == []


# queue_sync -----------------------------------------------------------------------------------


def test_queue_sync_gives_positions_in_the_vendors_order(vendor: Vendor) -> None:
    session = live_session()
    a, b, c = (make_takeover(session) for _ in range(3))
    pending = Takeover.objects.create(session=session, content=TEXT)
    vendor.queue[:] = [c.trace_id, a.trace_id, b.trace_id]

    assert services.queue_sync(session=session) == [c.trace_id, a.trace_id, b.trace_id]

    positions = dict(session.takeovers.values_list("pk", "queue_position"))
    assert positions == {c.pk: 1, a.pk: 2, b.pk: 3, pending.pk: None}
    ordered = list(session.takeovers.active().in_queue_order().values_list("trace_id", flat=True))
    assert ordered == vendor.queue


def test_a_queued_takeover_gone_from_the_vendors_queue_is_done(vendor: Vendor) -> None:
    session = live_session()
    gone, kept = make_takeover(session, queue_position=1), make_takeover(session, queue_position=2)
    vendor.queue[:] = [kept.trace_id]

    services.queue_sync(session=session)

    gone.refresh_from_db()
    kept.refresh_from_db()
    assert (gone.state, gone.queue_position) == ("done", None)
    assert TakeoverEvent.objects.get(takeover=gone).note == "left the vendor's queue"
    assert (kept.state, kept.queue_position) == ("queued", 1)


def test_a_playing_or_preparing_takeover_missing_from_the_queue_waits_for_its_report(vendor: Vendor) -> None:
    session = live_session()
    playing = make_takeover(session, TakeoverState.PLAYING, queue_position=1)
    preparing = make_takeover(session, TakeoverState.QUEUEING)

    services.queue_sync(session=session)

    playing.refresh_from_db()
    preparing.refresh_from_db()
    assert (playing.state, playing.queue_position) == ("playing", None)
    assert preparing.state == "queueing"


def test_queue_sync_that_cannot_read_the_queue_changes_nothing(vendor: Vendor) -> None:
    vendor.refuse["list"] = httpx.Response(503)
    session = live_session()
    takeover = make_takeover(session, queue_position=4)

    assert services.queue_sync(session=session) == []

    takeover.refresh_from_db()
    assert (takeover.state, takeover.queue_position) == ("queued", 4)


def test_reorder_on_vendor_moves_it_and_reads_the_order_back(vendor: Vendor) -> None:
    session = live_session()
    a, b, c = (make_takeover(session) for _ in range(3))
    vendor.queue[:] = [a.trace_id, b.trace_id, c.trace_id]

    services.queue_reorder(session=session, takeover=c, position=1)
    services.queue_reorder_on_vendor(takeover_id=c.pk, position=1)

    assert vendor.body("reorder") == {"sessionId": VENDOR_ID, "commandTraceId": c.trace_id, "priority": 1}
    assert dict(session.takeovers.values_list("trace_id", "queue_position")) == {
        a.trace_id: 1,
        c.trace_id: 2,
        b.trace_id: 3,
    }


def test_reorder_refuses_finished_takeovers_and_position_zero() -> None:
    session = live_session()
    done, queued = make_takeover(session, TakeoverState.DONE), make_takeover(session)

    assert refusal(lambda: services.queue_reorder(session=session, takeover=done, position=1)) == (
        "Only a takeover waiting in the queue can be moved."
    )
    assert refusal(lambda: services.queue_reorder(session=session, takeover=queued, position=0)) == (
        "The takeover playing now cannot be moved."
    )


# Quick replies ----------------------------------------------------------------------------------


def interactive_room(**fields: Any) -> Room:
    script = ScriptFactory(quick_replies="Hello there!\nOne moment please.\nThanks for asking!")
    return RoomFactory(live_type=Room.LiveType.INTERACTIVE, script=script, **fields)


def test_a_quick_reply_is_stored_with_its_text_and_sent_to_the_handoff(vendor: Vendor) -> None:
    session = live_session(interactive_room())

    takeover = services.quick_reply_fire(session=session, index=1)
    services.takeover_send(takeover_id=takeover.pk)

    assert (takeover.kind, takeover.quick_reply_index, takeover.content) == (
        "quick_reply",
        1,
        "One moment please.",
    )
    assert json.loads(vendor.body("quick")["param"]) == {"quick_response": True, "order": 1}
    takeover.refresh_from_db()
    assert takeover.state == "playing"


def test_a_random_quick_reply_is_index_minus_one(vendor: Vendor) -> None:
    session = live_session(interactive_room())

    takeover = services.quick_reply_fire(session=session, index=-1)
    services.takeover_send(takeover_id=takeover.pk)

    assert (takeover.content, takeover.summary) == ("", "Quick reply any")
    assert json.loads(vendor.body("quick")["param"]) == {"quick_response": True, "order": -1}


def test_quick_replies_are_for_interactive_rooms_only() -> None:
    session = live_session(RoomFactory(live_type=Room.LiveType.LIVE))

    assert refusal(lambda: services.quick_reply_fire(session=session, index=0)) == (
        "Quick replies are for interactive rooms."
    )


@pytest.mark.parametrize("index", [3, -2, 99])
def test_a_quick_reply_outside_the_script_is_refused(index: int) -> None:
    session = live_session(interactive_room())

    assert refusal(lambda: services.quick_reply_fire(session=session, index=index)) == (
        "That quick reply is not in the room's script."
    )


def test_quick_replies_play_one_at_a_time() -> None:
    session = live_session(interactive_room())
    make_takeover(session, TakeoverState.PLAYING, kind=Takeover.Kind.QUICK_REPLY, quick_reply_index=0)

    assert refusal(lambda: services.quick_reply_fire(session=session, index=1)) == (
        "A quick reply is already playing; the platform plays one at a time."
    )


def test_a_finished_quick_reply_does_not_block_the_next_one() -> None:
    session = live_session(interactive_room())
    make_takeover(session, TakeoverState.DONE, kind=Takeover.Kind.QUICK_REPLY, quick_reply_index=0)

    assert services.quick_reply_fire(session=session, index=2).content == "Thanks for asking!"


# Q&A ------------------------------------------------------------------------------------------


def test_qa_asks_the_rooms_library_and_returns_its_answer(vendor: Vendor) -> None:
    session = live_session(RoomFactory(qa_library="qa-lib-7"))
    vendor.qa["Where is the studio?"] = "On the third floor."

    assert services.qa_ask(session=session, question="  Where is the studio?  ") == "On the third floor."
    body = vendor.body("reply")
    assert (body["appId"], body["query"], body["language"]) == ("qa-lib-7", "Where is the studio?", "zh")


def test_qa_without_a_match_is_none(vendor: Vendor) -> None:
    session = live_session(RoomFactory(qa_library="qa-lib-7"))

    assert services.qa_ask(session=session, question="Anything else?") is None


def test_qa_without_a_library_is_refused_in_words(vendor: Vendor) -> None:
    session = live_session(RoomFactory(qa_library=""))

    assert refusal(lambda: services.qa_ask(session=session, question="Where?")) == (
        "This room has no Q&A library: a producer sets it in the room's settings."
    )
    assert vendor.requests == []


def test_qa_needs_a_question_and_a_live_room(vendor: Vendor) -> None:
    room = RoomFactory(qa_library="qa-lib-7")

    assert refusal(lambda: services.qa_ask(session=live_session(room), question="   ")) == (
        "Type the audience's question first."
    )
    assert "not live" in refusal(
        lambda: services.qa_ask(session=live_session(room, state=LiveState.ENDED), question="Where?")
    )


def test_qa_library_errors_are_refused_with_the_vendors_words(vendor: Vendor) -> None:
    vendor.refuse["reply"] = httpx.Response(
        200, json={"answer": "", "error_message": "Q&A library not found"}
    )
    session = live_session(RoomFactory(qa_library="qa-lib-7"))

    message = refusal(lambda: services.qa_ask(session=session, question="Where?"))

    assert message.startswith("The Q&A library did not answer: ")
    assert "Q&A library not found" in message


# The live ends ----------------------------------------------------------------------------------


def test_when_the_live_ends_what_was_waiting_or_playing_is_marked_cancelled_with_why() -> None:
    from rooms.platforms.base import LiveStatus
    from rooms.services import session_apply_status

    session = live_session()
    playing = make_takeover(session, TakeoverState.PLAYING)
    queued = make_takeover(session, TakeoverState.QUEUED)
    pending = make_takeover(session, TakeoverState.PENDING, trace_id="")
    done = make_takeover(session, TakeoverState.DONE)

    assert session_apply_status(
        session=session, status=LiveStatus(state=LiveState.ENDED, vendor_code="5", reason="Stopped.")
    )

    for takeover in (playing, queued, pending, done):
        takeover.refresh_from_db()
    assert [t.state for t in (playing, queued, pending, done)] == [
        "cancelled",
        "cancelled",
        "cancelled",
        "done",
    ]
    assert playing.done_at == session.ended_at and playing.queue_position is None
    notes = {t.pk: TakeoverEvent.objects.filter(takeover=t).last().note for t in (playing, queued, pending)}  # type: ignore[union-attr]
    assert notes == {
        playing.pk: "cut off: the live ended",
        queued.pk: "not said: the live ended first",
        pending.pk: "not said: the live ended first",
    }
    # A repeated report of the end changes nothing more.
    assert services.takeovers_close(session=session) == 0
