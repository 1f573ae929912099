"""LiveDeck's takeover queue against the real sandbox, driven by a Hypothesis state machine.

Each example opens a live on the sandbox through the driver and then enqueues (at a position,
at the end, or as an interrupt), reorders, cancels one, several or all, and lets the avatar
play, all through LiveDeck's services over real sockets. Celery does not run: each service
that queues a task is followed by the task's body (`takeover_send`, run twice as a redelivered
task would be, `queue_reorder_on_vendor`, `takeover_cancel_on_vendor`).

How the vendor's progress comes back: the account is provisioned without a callback URL, so
the sandbox posts nothing, but it records every callback it would have sent (the `callbacks`
of `GET /_sandbox/softsugar/sessions/{id}`). After each step the test delivers the takeover
callbacks it has not delivered yet, in the sandbox's order, to `rooms.services.callback_receive`,
which is what LiveDeck's callback view calls; then `queue_sync`. Playback is fast (a sentence
lasts 0.05 s), so the sandbox moves on between reads: the comparison is made on a still
snapshot, one where the sandbox's queue, played log and callbacks did not change around the
delivery and the sync.

Hypothesis must be able to draw a sequence of steps again, so nothing it draws depends on the
sandbox: rules draw choices with fixed bounds (an index taken modulo the takeovers there are),
and preconditions read `planned`, a count the steps themselves keep. The sandbox's pace still
varies from run to run, so a failure may be reported as Flaky when shrinking replays it; the
assertion in the report is the finding. Console broadcasts are switched off (nobody listens;
test_views renders the queue) as they would take a third of the run.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from config.celery import app as celery_app
from rooms.models import LiveSession, PlatformAccount, Room
from rooms.platforms import call
from rooms.platforms.base import LiveState, TakeoverState
from rooms.services import ActionRefused, callback_receive
from takeovers import services
from takeovers.models import QUEUE_LIMIT, Takeover
from takeovers.services import Draft
from tests.factories import RoomFactory

FAST = {"create_delay": 0, "speech_seconds_per_char": 0.002, "min_sentence_seconds": 0.05}
# 4 to 12 sentences: a takeover plays for 0.2 to 0.6 s, long enough to be moved or cancelled.
SENTENCES = st.integers(min_value=4, max_value=12)
DEFAULT_SPEECH = {"speech_seconds_per_char": 0.2, "min_sentence_seconds": 1.0}


def text_of(sentences: int, number: int) -> str:
    """Each sentence is spoken for the 0.05 s minimum, so a takeover lasts 0.05 s per sentence."""
    return " ".join([f"Takeover number {number}.", *["More words here."] * (sentences - 1)])


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["commandTraceId"] for item in items]


class Sandbox:
    """The sandbox's inspection of one session, over its control endpoint."""

    def __init__(self, control: httpx.Client, vendor_session_id: str) -> None:
        self.control = control
        self.path = f"/_sandbox/softsugar/sessions/{vendor_session_id}"

    def state(self) -> dict[str, Any]:
        response = self.control.get(self.path)
        response.raise_for_status()
        return dict(response.json())


def queue_machine(account: PlatformAccount, room: Room, control: httpx.Client) -> type[RuleBasedStateMachine]:
    """The state machine class for one account and room (Hypothesis builds one per example)."""

    class TakeoverQueue(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            session = LiveSession.objects.create(room=room, account=account, state=LiveState.CREATING)
            info = call(account, lambda d: d.open_session(room, session))
            assert info.status.state is LiveState.READY  # create_delay 0
            session.vendor_session_id = info.vendor_session_id
            session.session_token = info.session_token
            call(account, lambda d: d.start(session))
            session.state = LiveState.LIVE
            session.save()
            self.session = session
            self.sandbox = Sandbox(control, session.vendor_session_id)
            self.delivered: set[tuple[str, int]] = set()
            self.cancelled_at: dict[str, float] = {}  # trace id -> when the vendor confirmed
            self.numbers = iter(range(1, 1_000))
            # How many takeovers the steps so far would leave queued if nothing played by itself:
            # preconditions read this, never the sandbox, so that a sequence of steps drawn
            # once can be drawn again (the sandbox's own pace must not steer Hypothesis).
            self.planned = 0

        def teardown(self) -> None:
            call(account, lambda d: d.close(self.session))

        # What LiveDeck shows ---------------------------------------------------------------------

        def active(self) -> list[Takeover]:
            return list(self.session.takeovers.active().in_queue_order())

        def has_active(self) -> bool:
            return self.session.takeovers.active().exists()

        def planned_one(self) -> bool:
            return self.planned >= 1

        def planned_two(self) -> bool:
            return self.planned >= 2

        # Rules ----------------------------------------------------------------------------------

        def _enqueue(self, sentences: int, *, position: int | None = None, interrupt: bool = False) -> None:
            draft = Draft(
                content=text_of(sentences, next(self.numbers)), position=position, interrupt=interrupt
            )
            try:
                takeover = services.takeover_enqueue(session=self.session, draft=draft)
            except ActionRefused as exc:
                assert self.session.takeovers.active().count() >= QUEUE_LIMIT, exc
                return
            services.takeover_send(takeover_id=takeover.pk)
            services.takeover_send(takeover_id=takeover.pk)  # a redelivered task sends nothing
            takeover.refresh_from_db()
            assert takeover.trace_id, takeover.failure_reason
            assert takeover.state != TakeoverState.FAILED, takeover.failure_reason

        @rule(sentences=SENTENCES)
        def enqueue_at_the_end(self, sentences: int) -> None:
            self.planned = min(self.planned + 1, QUEUE_LIMIT)
            self._enqueue(sentences)

        @rule(sentences=SENTENCES, position=st.integers(min_value=1, max_value=8))
        def enqueue_at_a_position(self, sentences: int, position: int) -> None:
            self.planned = min(self.planned + 1, QUEUE_LIMIT)
            self._enqueue(sentences, position=position)

        @precondition(planned_two)  # an interrupt clears the queue: telling only on a queue
        @rule(sentences=SENTENCES)
        def interrupt(self, sentences: int) -> None:
            self.planned = 1
            self._enqueue(sentences, interrupt=True)

        # Choices are drawn with fixed bounds and applied to the takeovers there are at that
        # moment, which the sandbox's pace decides.

        @precondition(planned_two)
        @rule(pick=st.integers(min_value=0, max_value=99), position=st.integers(min_value=1, max_value=8))
        def reorder(self, pick: int, position: int) -> None:
            active = self.active()
            if len(active) < 2:
                return
            takeover, position = active[pick % len(active)], min(position, len(active))
            before = ids(self.sandbox.state()["queue"])

            services.queue_reorder(session=self.session, takeover=takeover, position=position)
            services.queue_reorder_on_vendor(takeover_id=takeover.pk, position=position)

            after = ids(self.sandbox.state()["queue"])
            if set(after) == set(before) and takeover.trace_id in before[1:]:
                # Nothing played meanwhile: position p puts it right after p items, the one
                # playing being the first (the console and the vendor count alike).
                expected = [t for t in before if t != takeover.trace_id]
                expected.insert(min(position, len(expected)), takeover.trace_id)
                assert after == expected

        def _cancel(self, chosen: list[Takeover] | None) -> None:
            services.takeover_cancel(session=self.session, takeovers=chosen)
            services.takeover_cancel_on_vendor(
                session_id=self.session.pk, takeover_ids=None if chosen is None else [t.pk for t in chosen]
            )
            confirmed = time.time()
            cancelled = Takeover.objects.filter(session=self.session, state=TakeoverState.CANCELLED)
            for takeover in cancelled:
                self.cancelled_at.setdefault(takeover.trace_id, confirmed)

        @precondition(planned_one)
        @rule(pick=st.integers(min_value=0, max_value=99))
        def cancel_one(self, pick: int) -> None:
            self.planned -= 1
            active = self.active()
            if active:
                self._cancel([active[pick % len(active)]])

        @precondition(planned_two)
        @rule(picks=st.lists(st.integers(min_value=0, max_value=99), min_size=2, max_size=5))
        def cancel_several(self, picks: list[int]) -> None:
            self.planned -= 2
            active = self.active()
            chosen = (
                {active[pick % len(active)].pk: active[pick % len(active)] for pick in picks}
                if active
                else {}
            )
            if len(chosen) >= 2:
                self._cancel(list(chosen.values()))

        @precondition(planned_two)
        @rule()
        def cancel_all(self) -> None:
            self.planned = 0
            if not self.has_active():
                with pytest.raises(ActionRefused):
                    services.takeover_cancel(session=self.session, takeovers=None)
                return
            self._cancel(None)

        @precondition(planned_one)
        @rule()
        def play(self) -> None:
            self.planned -= 1
            queue = self.sandbox.state()["queue"]
            if not queue:
                return
            head = queue[0]["commandTraceId"]
            deadline = time.monotonic() + 5
            while head not in ids(self.sandbox.state()["played"]):
                assert time.monotonic() < deadline, f"{head} never finished playing"
                time.sleep(0.02)

        # Invariants --------------------------------------------------------------------------

        def settle(self) -> dict[str, Any]:
            """Deliver the sandbox's takeover callbacks and sync, until a still snapshot."""
            for _ in range(100):
                before = self.sandbox.state()
                for payload in before["callbacks"]:
                    key = (payload.get("commandTraceId", ""), payload["status"])
                    if key[0] and key not in self.delivered:
                        callback_receive(account=account, body=json.dumps(payload).encode())
                        self.delivered.add(key)
                services.queue_sync(session=self.session)
                after = self.sandbox.state()
                still = all(after[part] == before[part] for part in ("queue", "played", "callbacks"))
                if still:
                    return after
                time.sleep(0.01)
            raise AssertionError("the sandbox never held still long enough to compare")

        @invariant()
        def livedeck_shows_the_vendors_queue_and_nothing_plays_twice(self) -> None:
            vendor = self.settle()
            queue, played = ids(vendor["queue"]), ids(vendor["played"])
            active = self.active()

            # The queue every console shows is the vendor's, in its order.
            assert [t.trace_id for t in active] == queue
            assert [t.queue_position for t in active] == list(range(1, len(queue) + 1))

            # Every takeover was sent exactly once, and the vendor plays each once.
            sent = list(self.session.takeovers.exclude(trace_id="").values_list("trace_id", flat=True))
            assert len(sent) == len(set(sent))
            assert sorted(queue + played) == sorted(sent)
            assert not set(queue) & set(played)

            # What the vendor finished is no longer shown as waiting or playing.
            outcomes = {item["commandTraceId"]: item for item in vendor["played"]}
            for takeover in self.session.takeovers.exclude(trace_id=""):
                if takeover.trace_id in outcomes:
                    assert not takeover.is_active
                    if outcomes[takeover.trace_id]["outcome"] == "failed":
                        assert takeover.state == TakeoverState.FAILED

            # A takeover LiveDeck cancelled never starts after the vendor confirmed the cancel.
            for trace_id, confirmed in self.cancelled_at.items():
                assert trace_id not in queue
                started = outcomes[trace_id]["startedAt"] if trace_id in outcomes else None
                assert started is None or started <= confirmed, f"{trace_id} started after its cancel"

    return TakeoverQueue


@pytest.fixture
def fast_sandbox(sandbox_control: httpx.Client) -> Iterator[httpx.Client]:
    sandbox_control.put("/_sandbox/config", json=FAST).raise_for_status()
    yield sandbox_control
    sandbox_control.put("/_sandbox/config", json=DEFAULT_SPEECH)


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_the_takeover_queue_follows_the_vendor_through_any_sequence_of_host_actions(
    sandbox_url: str, fast_sandbox: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Celery is not running: tasks are run by the machine itself, never published.
    monkeypatch.setattr(celery_app, "send_task", lambda *args, **kwargs: None)
    # No console listens: rendering one for each of the hundreds of changes is not this test's.
    monkeypatch.setattr("takeovers.services._broadcast", lambda session: None)
    token = secrets.token_urlsafe(16)
    fast_sandbox.put(
        f"/_sandbox/softsugar/accounts/{token}", json={"callbackUrl": "", "maxSessions": 100}
    ).raise_for_status()
    account = PlatformAccount.objects.create(
        name=f"Sandbox SoftSugar {secrets.token_hex(3)}",
        kind=PlatformAccount.Kind.SOFTSUGAR,
        base_url=sandbox_url,
        sandbox=True,
        credentials={"token": token},
    )
    room = Room.objects.select_related("account", "script").get(pk=RoomFactory(account=account).pk)

    run_state_machine_as_test(
        queue_machine(account, room, fast_sandbox),
        settings=settings(
            max_examples=25,
            stateful_step_count=20,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
