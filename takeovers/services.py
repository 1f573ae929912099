"""Takeovers and their queue: what the host makes the avatar say, in the vendor's order.

The vendor's queue is the truth. Every change (a send, a drag, a cancel) is followed by
reading the vendor's queue back, and every console is shown that order.

A host on air waits for a takeover to be said and for a cancel to silence the avatar, so on
those two paths the request only stores the row and queues the task, and the task calls the
vendor first: reading the queue back, writing the log and pushing the consoles come after.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from config.celery import app as celery_app
from rooms import fragments
from rooms.models import LiveSession, Room
from rooms.platforms import driver_class
from rooms.platforms.base import Overlay, PlatformError, TakeoverRequest, TakeoverState
from rooms.process import cache_lock, shared_cache
from rooms.services import ActionRefused, room_broadcast
from takeovers.models import ACTIVE_STATES, QUEUE_LIMIT, STAMPS, STATE_RANK, Takeover, TakeoverEvent
from takeovers.outbound import console_push, vendor_call

log = logging.getLogger(__name__)

MIN_TEXT = 10  # the vendor's minimum for a takeover's text
# Vendor callback codes (SoftSugar 34/36/37/39), microphone socket codes (20/19/18) and Guiji's
# playlist progress.
PROGRESS_CODES = {
    "34": TakeoverState.QUEUED,
    "36": TakeoverState.PLAYING,
    "37": TakeoverState.DONE,
    "39": TakeoverState.FAILED,
    "ws20": TakeoverState.QUEUED,
    "ws19": TakeoverState.PLAYING,
    "ws18": TakeoverState.DONE,
    # Guiji: a playlist item (the takeover's material) began or ended (MQTT SessionState).
    "gj-begin": TakeoverState.PLAYING,
    "gj-end": TakeoverState.DONE,
    # MetaStudio: an inserted reply finished playing (callback REPLY_COMMAND_FINISH).
    "REPLY_COMMAND_FINISH": TakeoverState.DONE,
}
EARLY_EVENT_SECONDS = 120


def _enqueue(task: str, *args: Any) -> None:
    transaction.on_commit(lambda: celery_app.send_task(f"takeovers.tasks.{task}", args=args))


def _load(takeover_id: int) -> Takeover:
    return Takeover.objects.select_related("session__account", "session__room").get(pk=takeover_id)


def _broadcast(session: LiveSession) -> None:
    """Show every console of the room its queue and log: the only part a takeover changes."""
    if not session.room_id:
        return
    if not session.is_open:
        # Not the room's current session, or no longer: the room shows whatever is current.
        room_broadcast(room_id=session.room_id)
        return
    room = Room.objects.select_related("account").get(pk=session.room_id)
    console_push(room.group_name, lambda: fragments.room_takeovers_html(room, session))


def _check_live(session: LiveSession) -> None:
    if not session.is_open or session.stop_requested or not session.vendor_session_id:
        raise ActionRefused("The room is not live: start it before taking over.")


# Sending ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Draft:
    """A takeover as the host composed it, before it is stored."""

    kind: str = Takeover.Kind.TEXT
    content: str = ""
    audio_url: str = ""
    foreground_url: str = ""
    background_url: str = ""
    quick_reply_index: int | None = None
    interrupt: bool = False
    position: int | None = None
    source: str = Takeover.Source.HOST


def takeover_enqueue(*, session: LiveSession, draft: Draft, user: Any = None) -> Takeover:
    """Store a takeover and send it to the vendor from a task. Raises ActionRefused, in words.
    Consoles are shown it by the task, once the vendor has it."""
    _check_live(session)
    content = draft.content.strip()
    if draft.kind in (Takeover.Kind.TEXT, Takeover.Kind.SSML) and len(content) < MIN_TEXT:
        raise ActionRefused(
            f"A takeover needs at least {MIN_TEXT} characters of text; this has {len(content)}."
        )
    if draft.kind == Takeover.Kind.AUDIO and not draft.audio_url:
        raise ActionRefused("Pick an audio material (or give an audio URL) to play.")
    if draft.position is not None and draft.position < 1:
        raise ActionRefused("Positions start at 1: the takeover after the one playing.")
    if not draft.interrupt and draft.kind != Takeover.Kind.QUICK_REPLY:
        # Unsent ones count too: they will be in the vendor's queue in a moment.
        waiting = session.takeovers.filter(state__in=[*ACTIVE_STATES, TakeoverState.PENDING]).count()
        if waiting >= QUEUE_LIMIT:
            raise ActionRefused(
                f"The queue already holds {waiting} takeovers, the platform's limit of {QUEUE_LIMIT}. "
                "Cancel some, wait for them to play, or play this one now."
            )
    with transaction.atomic():
        takeover = Takeover.objects.create(
            session=session,
            kind=draft.kind,
            content=content,
            audio_url=draft.audio_url,
            foreground_url=draft.foreground_url,
            background_url=draft.background_url,
            quick_reply_index=draft.quick_reply_index,
            interrupt=draft.interrupt,
            requested_position=draft.position,
            source=draft.source,
            created_by=user if getattr(user, "is_authenticated", False) else None,
        )
        TakeoverEvent.objects.create(takeover=takeover, state=TakeoverState.PENDING, at=takeover.created_at)
        _enqueue("takeover_send", takeover.pk)
    return takeover


SEND_LOCK_SECONDS = settings.VENDOR_CONNECT_TIMEOUT + settings.VENDOR_TIMEOUT + 5  # outlasts a call


def takeover_send(*, takeover_id: int) -> None:
    """Send a stored takeover to the vendor, and before it any the host sent earlier that are
    still waiting. A session's takeovers go out one at a time, in the order they were sent:
    their tasks run side by side in the worker pool, and "add to the queue" twice must queue
    them in the order the host pressed it, whichever task runs first."""
    session_id = (
        Takeover.objects.filter(pk=takeover_id, state=TakeoverState.PENDING)
        .values_list("session_id", flat=True)
        .first()
    )
    if session_id is None:
        return  # sent already, by this task before a redelivery or by a later one
    with cache_lock(f"takeover-send:{session_id}", hold=SEND_LOCK_SECONDS, wait=SEND_LOCK_SECONDS):
        waiting = (
            Takeover.objects.select_related("session__account", "session__room")
            .filter(session_id=session_id, state=TakeoverState.PENDING, pk__lte=takeover_id)
            .order_by("pk")
        )
        for each in waiting:
            _send_one(each)


def _send_one(takeover: Takeover) -> None:
    """Not retried: a takeover that timed out may have reached the vendor, and the avatar
    saying it twice is worse than the host resending it."""
    session = takeover.session
    try:
        if takeover.kind == Takeover.Kind.QUICK_REPLY:
            receipt = vendor_call(
                session.account, lambda d: d.quick_reply(session, takeover.quick_reply_index or 0)
            )
        else:
            item = _request(takeover)
            receipt = vendor_call(
                session.account,
                lambda d: d.takeover(
                    session, item, position=takeover.requested_position, interrupt=takeover.interrupt
                ),
            )
    except PlatformError as exc:
        reason = f"The platform did not take it: {exc}"
        if not exc.permanent:
            reason += ". It may not have been said; send it again if needed."
        takeover_mark(takeover=takeover, state=TakeoverState.FAILED, note=reason)
        _broadcast(session)
        return
    now = timezone.now()
    Takeover.objects.filter(pk=takeover.pk).update(trace_id=receipt.trace_id, sent_at=now)
    takeover.trace_id, takeover.sent_at = receipt.trace_id, now
    # Callbacks that overtook the vendor's answer were parked under the trace id; the vendor
    # had queued the takeover before any of them, so its answer's state is dated no later.
    cache = shared_cache()
    early = cache.get(_early_key(session.pk, receipt.trace_id), [])
    answered = min([now, *(at for _, _, at in early)])
    with transaction.atomic():  # one write to the database instead of one per change
        takeover_mark(takeover=takeover, state=TakeoverState.SENT, at=answered, note=receipt.message)
        if receipt.state is not TakeoverState.SENT:
            takeover_mark(takeover=takeover, state=receipt.state, code=receipt.vendor_code, at=answered)
        for code, note, at in early:
            takeover_mark(takeover=takeover, state=PROGRESS_CODES[code], code=code, note=note, at=at)
    cache.delete(_early_key(session.pk, receipt.trace_id))
    queue_sync(session=session)


def _request(takeover: Takeover) -> TakeoverRequest:
    foregrounds = (
        (Overlay(url=takeover.foreground_url, rect=(0, 0, 1080, 1920)),) if takeover.foreground_url else ()
    )
    background = Overlay(url=takeover.background_url) if takeover.background_url else None
    return TakeoverRequest(
        text=takeover.content if takeover.kind != Takeover.Kind.AUDIO else "",
        ssml=takeover.kind == Takeover.Kind.SSML,
        audio_url=takeover.audio_url,
        foregrounds=foregrounds,
        background=background,
    )


def takeover_mark(
    *, takeover: Takeover, state: TakeoverState, code: str = "", note: str = "", at: datetime | None = None
) -> bool:
    """Move a takeover forward to `state`, with the time; a late or repeated report changes nothing."""
    at = at or timezone.now()
    current = takeover.takeover_state
    if STATE_RANK[state] <= STATE_RANK[current]:
        return False
    changes: dict[str, Any] = {"state": state.value}
    if code:
        changes["vendor_code"] = code
    stamp = STAMPS.get(state)
    if stamp and getattr(takeover, stamp) is None:
        changes[stamp] = at
    if state is TakeoverState.FAILED and note:
        changes["failure_reason"] = note[:500]
    if not state.is_active:
        changes["queue_position"] = None
    if not Takeover.objects.filter(pk=takeover.pk, state=current.value).update(**changes):
        takeover.refresh_from_db()
        return takeover_mark(takeover=takeover, state=state, code=code, note=note, at=at)
    for name, value in changes.items():
        setattr(takeover, name, value)
    TakeoverEvent.objects.create(
        takeover=takeover, state=state.value, vendor_code=code, note=note[:500], at=at
    )
    return True


def takeovers_close(*, session: LiveSession, at: datetime | None = None) -> int:
    """The live ended: what was still waiting or playing will not be said (the vendor drops its
    queue with the session). Each is marked cancelled, with why, so the log tells the truth and
    nothing stays "queued" for ever. Returns how many."""
    left = list(session.takeovers.filter(state__in=[*ACTIVE_STATES, TakeoverState.PENDING]))
    at = at or timezone.now()
    with transaction.atomic():
        for takeover in left:
            playing = takeover.takeover_state is TakeoverState.PLAYING
            note = "cut off: the live ended" if playing else "not said: the live ended first"
            takeover_mark(takeover=takeover, state=TakeoverState.CANCELLED, note=note, at=at)
    return len(left)


# Progress from the vendor -----------------------------------------------------------------


def _early_key(session_id: int, trace_id: str) -> str:
    return f"takeover-early:{session_id}:{trace_id}"


def takeover_progress(*, session: LiveSession, trace_id: str, code: str, note: str = "") -> bool:
    """Apply a vendor's report on a takeover (callback 34/36/37/39, or mic socket 20/19/18)."""
    state = PROGRESS_CODES.get(code)
    if state is None or not trace_id:
        return False
    now = timezone.now()
    takeover = Takeover.objects.filter(session=session, trace_id=trace_id).first()
    if takeover is None:
        # The vendor's report overtook its own answer to the send: keep it for the sender.
        key, cache = _early_key(session.pk, trace_id), shared_cache()
        cache.set(key, [*cache.get(key, []), (code, note, now)], EARLY_EVENT_SECONDS)
        # The sender may have stored the trace id and read what was kept between our lookup and
        # our write: then nobody else will apply this report (applying it twice changes nothing).
        takeover = Takeover.objects.filter(session=session, trace_id=trace_id).first()
        if takeover is None:
            return False
    if takeover.cancel_requested_at and state is TakeoverState.DONE:
        state = TakeoverState.CANCELLED  # the vendor reports a cancelled one as completed
    changed = takeover_mark(takeover=takeover, state=state, code=code, note=note, at=now)
    if changed:
        _broadcast(session)
        if not state.is_active:
            # The ones behind it moved up: the worker reads the vendor's queue again (a callback
            # is answered at once, and vendor calls are the worker's).
            _enqueue("queue_refresh", session.pk)
    return changed


# The queue --------------------------------------------------------------------------------


def queue_sync(*, session: LiveSession, show: bool = True) -> list[str]:
    """Read the vendor's queue and follow it: positions take its order, and takeovers it no
    longer holds are no longer waiting. Consoles are shown the result; with `show` False only
    when reading it changed something."""
    try:
        order = vendor_call(session.account, lambda d: d.queue(session))
    except PlatformError as exc:
        log.warning("queue of session %s not read: %s", session.pk, exc)
        if show:
            _broadcast(session)
        return []
    if _queue_follow(session, order) or show:
        _broadcast(session)
    return order


def _queue_follow(session: LiveSession, order: list[str]) -> bool:
    """Store the vendor's `order` on the session's takeovers; returns whether anything changed."""
    positions = {trace_id: index for index, trace_id in enumerate(order, start=1)}
    holds_playing = driver_class(session.account.kind).queue_holds_playing
    changed = False
    for takeover in session.takeovers.active().exclude(trace_id=""):
        position = positions.get(takeover.trace_id)
        if position is None and takeover.takeover_state is TakeoverState.QUEUED:
            # Gone from the vendor's queue without a report: it played while we were not told, or
            # (where the queue leaves out the one playing) it is playing now.
            # (Not so a QUEUEING one: 33 is still downloading and joins the queue only at 34.)
            state = TakeoverState.DONE if holds_playing else TakeoverState.PLAYING
            takeover_mark(takeover=takeover, state=state, note="left the vendor's queue")
            changed = True
        elif position != takeover.queue_position:
            Takeover.objects.filter(pk=takeover.pk).update(queue_position=position)
            changed = True
    return changed


def queue_refresh(*, session_id: int) -> None:
    """Read a session's queue from the vendor again (a takeover ended) and show what moved."""
    session = LiveSession.objects.select_related("account").get(pk=session_id)
    if session.is_open and session.vendor_session_id:
        queue_sync(session=session, show=False)


def queue_reorder(*, session: LiveSession, takeover: Takeover, position: int) -> None:
    """A host dragged a takeover to `position` (1 plays right after the one playing)."""
    _check_live(session)
    if not takeover.is_active or not takeover.trace_id:
        raise ActionRefused("Only a takeover waiting in the queue can be moved.")
    if position < 1:
        raise ActionRefused("The takeover playing now cannot be moved.")
    Takeover.objects.filter(pk=takeover.pk).update(queue_position=position)
    _enqueue("queue_reorder", takeover.pk, position)


def queue_reorder_on_vendor(*, takeover_id: int, position: int) -> None:
    """Apply a drag on the vendor, then show every console the vendor's true order."""
    takeover = _load(takeover_id)
    session = takeover.session
    if takeover.is_active and takeover.trace_id:
        try:
            vendor_call(session.account, lambda d: d.reorder(session, takeover.trace_id, position))
        except PlatformError as exc:
            log.info("reorder of takeover %s refused: %s", takeover_id, exc)
    queue_sync(session=session)


def takeover_cancel(*, session: LiveSession, takeovers: list[Takeover] | None) -> int:
    """Cancel these takeovers, or every active one when None. Returns how many were asked.
    Consoles are shown it by the task, once the vendor has cancelled."""
    _check_live(session)
    active = session.takeovers.active()
    chosen = list(
        (active if takeovers is None else active.filter(pk__in=[t.pk for t in takeovers])).values_list(
            "pk", flat=True
        )
    )
    if not chosen:
        raise ActionRefused("Nothing is queued or playing to cancel.")
    Takeover.objects.filter(pk__in=chosen, cancel_requested_at=None).update(
        cancel_requested_at=timezone.now()
    )
    _enqueue("takeover_cancel", session.pk, None if takeovers is None else chosen)
    return len(chosen)


def takeover_cancel_on_vendor(*, session_id: int, takeover_ids: list[int] | None) -> None:
    """Cancel on the vendor (one call: ids joined, or all), then mark what it cancelled and read
    its queue back. The cancel goes first, so the avatar stops before anything else is done."""
    if takeover_ids is None:
        session = LiveSession.objects.select_related("account").get(pk=session_id)
        chosen = list(session.takeovers.active())
    else:
        # One read for the takeovers and their session: the host is waiting for silence.
        chosen = list(
            Takeover.objects.active()
            .filter(session_id=session_id, pk__in=takeover_ids)
            .select_related("session__account")
        )
        if not chosen:
            return  # all of them ended meanwhile
        session = chosen[0].session
    try:
        cancelled = _cancel(session, chosen, everything=takeover_ids is None)
    except PlatformError as exc:
        Takeover.objects.filter(pk__in=[t.pk for t in chosen]).update(cancel_requested_at=None)
        for takeover in chosen:
            TakeoverEvent.objects.create(
                takeover=takeover, state=takeover.state, note=f"cancel refused: {exc}"
            )
        _broadcast(session)
        return
    if not cancelled:  # nothing to cancel any more: the vendor's queue was read and followed
        _broadcast(session)
        return
    now = timezone.now()
    with transaction.atomic():
        marked = [
            takeover_mark(takeover=t, state=TakeoverState.CANCELLED, note="cancelled by the host", at=now)
            for t in cancelled
        ]
    if any(marked):
        _broadcast(session)
    queue_sync(session=session, show=False)


def _cancel(session: LiveSession, chosen: list[Takeover], *, everything: bool) -> list[Takeover]:
    """Ask the vendor to cancel `chosen` (or everything); returns the ones it cancelled.

    The vendor refuses the whole call when one of the ids has just finished: then its queue is
    read (and followed) and it is asked again for the ones it still holds."""
    if everything:
        vendor_call(session.account, lambda d: d.cancel(session, None))
        return chosen
    sent = [t for t in chosen if t.trace_id]
    if not sent:
        return []
    try:
        vendor_call(session.account, lambda d: d.cancel(session, [t.trace_id for t in sent]))
        return sent
    except PlatformError as exc:
        refused = exc
    try:
        order = vendor_call(session.account, lambda d: d.queue(session))
    except PlatformError:
        raise refused from None
    _queue_follow(session, order)
    # A QUEUEING one is still downloading: the vendor holds it, though not in its queue yet.
    held = [t for t in sent if t.trace_id in order or t.takeover_state is TakeoverState.QUEUEING]
    if len(held) == len(sent):
        raise refused
    if held:
        vendor_call(session.account, lambda d: d.cancel(session, [t.trace_id for t in held]))
    return held


# Quick replies and Q&A ----------------------------------------------------------------------


def quick_reply_fire(*, session: LiveSession, index: int, user: Any = None) -> Takeover:
    """Fire the script's quick reply `index` (interactive rooms)."""
    room = session.room
    if room is None or room.live_type != "interactive":
        raise ActionRefused("Quick replies are for interactive rooms.")
    replies = room.script.quick_reply_list()
    if not -1 <= index < len(replies):
        raise ActionRefused("That quick reply is not in the room's script.")
    if session.takeovers.filter(kind=Takeover.Kind.QUICK_REPLY).active().exists():
        raise ActionRefused("A quick reply is already playing; the platform plays one at a time.")
    draft = Draft(
        kind=Takeover.Kind.QUICK_REPLY, content=replies[index] if index >= 0 else "", quick_reply_index=index
    )
    return takeover_enqueue(session=session, draft=draft, user=user)


def qa_ask(*, session: LiveSession, question: str) -> str | None:
    """Ask the room's Q&A library; the host decides whether to play the answer."""
    _check_live(session)
    question = question.strip()
    if not question:
        raise ActionRefused("Type the audience's question first.")
    room = session.room
    if room is None or not room.qa_library:
        raise ActionRefused("This room has no Q&A library: a producer sets it in the room's settings.")
    library = room.qa_library
    try:
        return vendor_call(session.account, lambda d: d.ask(session, question, library=library))
    except PlatformError as exc:
        raise ActionRefused(f"The Q&A library did not answer: {exc}") from exc
