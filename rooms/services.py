"""What LiveDeck does with rooms and their live sessions.

Views, consumers, callbacks and tasks call these functions and nothing deeper. Vendor calls
go through a driver (`rooms.platforms`); every change to a room ends in one `room_broadcast`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import json
import logging
import random
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

import httpx
import redis
from asgiref.sync import async_to_sync
from channels import DEFAULT_CHANNEL_LAYER
from channels.layers import get_channel_layer
from channels_redis.pubsub import RedisPubSubChannelLayer
from channels_redis.utils import _consistent_hash, decode_hosts
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from config.celery import app as celery_app
from rooms import fragments
from rooms.models import OPEN_STATES, STATE_RANK, LiveSession, PlatformAccount, Room, ScriptParagraph
from rooms.platforms import call, driver_class, new_client
from rooms.platforms.base import AudienceEvent, Capability, Driver, LiveState, LiveStatus, PlatformError
from rooms.process import ProcessLoop, cache_lock, process_loop, shared_cache
from rooms.selectors import paragraph_playing, sessions_latest_by_room

log = logging.getLogger(__name__)

T = TypeVar("T")

STOPPED_FROM_LIVEDECK = "Stopped from LiveDeck."
CLOSED_AS_ORPHAN = "Closed as an orphan."


class ActionRefused(Exception):
    """A host's request that cannot be done now; the message says why, in words."""


def _enqueue(task: str, *args: Any, countdown: float = 0) -> None:
    """Queue a task once the current transaction commits, so it sees what was just written."""
    transaction.on_commit(
        lambda: celery_app.send_task(f"rooms.tasks.{task}", args=args, countdown=countdown or None)
    )


def _load(session_id: int) -> LiveSession:
    return LiveSession.objects.select_related("account", "room__script").get(pk=session_id)


def _load_show(session_id: int) -> LiveSession:
    """A session with all of its room's show: what a driver builds a vendor room from (it runs
    in an event loop, where a lazy query cannot run)."""
    return (
        LiveSession.objects.select_related("account", "room__script", "room__account")
        .prefetch_related("room__script__paragraphs", "room__script__layers", "room__rules")
        .get(pk=session_id)
    )


# Opening, starting and closing ---------------------------------------------------------


def session_open(*, room: Room, user: Any, auto_start: bool = True) -> LiveSession:
    """Open a new live session for `room`; the vendor is asked in a task."""
    with transaction.atomic():
        Room.objects.select_for_update().filter(pk=room.pk).first()
        if LiveSession.objects.filter(room=room).open().exists():
            raise ActionRefused("This room already has a live session open.")
        session = LiveSession.objects.create(
            room=room, account=room.account, state=LiveState.CREATING, auto_start=auto_start, started_by=user
        )
        _enqueue("session_create", session.pk)
    room_broadcast(room_id=room.pk)
    return session


def session_create(*, session_id: int) -> None:
    """Create the vendor's live instance for a session LiveDeck opened.

    Not retried: a create that timed out may still have created (and be billing) a session
    on the vendor, so it is marked failed and left for the orphan scan to find.
    """
    session = _load_show(session_id)
    if session.vendor_session_id or not session.is_open:
        return
    if session.room is None:
        session_fail(session_id=session_id, reason="The room was deleted before the live opened.")
        return
    room = session.room
    try:
        info = call(session.account, lambda driver: driver.open_session(room, session))
    except PlatformError as exc:
        reason = f"The platform did not open the live: {exc}"
        if not exc.permanent:
            reason += ". If it opened after all, it is listed under Orphans."
        session_fail(session_id=session_id, reason=reason)
        return
    # Vendors that send the heartbeats themselves (Guiji) are answered by the MQTT bridge.
    caps = _capabilities(session.account.kind)
    next_heartbeat = _next_heartbeat(timezone.now()) if Capability.HEARTBEAT in caps else None
    LiveSession.objects.filter(pk=session_id).update(
        vendor_session_id=info.vendor_session_id,
        session_token=info.session_token,
        next_heartbeat_at=next_heartbeat,
        vendor_data=info.vendor_data,
    )
    if Capability.VENDOR_HEARTBEAT in caps:
        bridge_wake()
    live_id = str(info.vendor_data.get("live_id", ""))
    if live_id and room.vendor_room_id != live_id:
        Room.objects.filter(pk=room.pk).update(vendor_room_id=live_id)
    session.vendor_session_id = info.vendor_session_id
    session.session_token = info.session_token
    session.next_heartbeat_at = next_heartbeat
    session.vendor_data = info.vendor_data
    session_apply_status(session=session, status=info.status)
    session.refresh_from_db()
    if session.stop_requested and session.is_open:
        _enqueue("session_close", session.pk)
    elif session.live_state is LiveState.CREATING:
        _enqueue("session_poll", session.pk, 1, countdown=settings.STATUS_POLL_SECONDS)


BRIDGE_CHANNEL = "livedeck:mqtt-bridge:wake"


def bridge_wake() -> None:
    """Tell the MQTT bridge a session was just opened, so it subscribes its topic at once
    (before the vendor's first messages), not at its next scan."""
    try:
        _redis(settings.REDIS_URL).publish(BRIDGE_CHANNEL, b"scan")
    except redis.RedisError as exc:
        log.warning("could not wake the mqtt bridge (it scans on its own): %s", exc)


def session_poll(*, session_id: int, attempt: int) -> None:
    """Follow a session that is still being created, in case the vendor's callback never comes."""
    session = _load(session_id)
    if session.live_state is not LiveState.CREATING or not session.vendor_session_id:
        return
    try:
        status = call(session.account, lambda driver: driver.status(session))
    except PlatformError as exc:
        log.warning("status poll of session %s failed: %s", session_id, exc)
    else:
        session_apply_status(session=session, status=status)
        session.refresh_from_db()
    if session.live_state is LiveState.CREATING:
        if attempt >= settings.STATUS_POLL_LIMIT:
            session_fail(session_id=session_id, reason="The platform never finished creating the stream.")
        else:
            _enqueue("session_poll", session_id, attempt + 1, countdown=settings.STATUS_POLL_SECONDS)


def session_start(*, session_id: int) -> None:
    """Start streaming a READY session. Raises PlatformError when worth retrying."""
    session = _load(session_id)
    if session.live_state is not LiveState.READY or session.stop_requested:
        return
    try:
        call(session.account, lambda driver: driver.start(session))
    except PlatformError as exc:
        if not exc.permanent:
            raise
        # A start that succeeded but whose answer was lost is refused the second time:
        # the vendor's own status says whether we are live after all.
        status = call(session.account, lambda driver: driver.status(session))
        if not session_apply_status(session=session, status=status) or status.state is not LiveState.LIVE:
            session_note_error(session_id=session_id, message=f"Could not go live: {exc}")
        return
    session_apply_status(session=session, status=LiveStatus(state=LiveState.LIVE, vendor_code="2"))


def session_go_live(*, session: LiveSession) -> None:
    """A host asks a warmed-up (READY) session to start streaming."""
    if session.live_state is not LiveState.READY:
        raise ActionRefused("Only a ready stream can go live.")
    LiveSession.objects.filter(pk=session.pk).update(last_error="")
    _enqueue("session_start", session.pk)


def session_stop(*, session: LiveSession) -> None:
    """A host asks to stop a live: the vendor is told in a task."""
    if not session.is_open:
        raise ActionRefused("This live has already ended.")
    with transaction.atomic():
        LiveSession.objects.filter(pk=session.pk).update(
            stop_requested=True, stop_reason=STOPPED_FROM_LIVEDECK, last_error=""
        )
        if session.vendor_session_id:
            _enqueue("session_close", session.pk)
        # else: the create task closes it as soon as the vendor has answered.
    if session.room_id:
        room_broadcast(room_id=session.room_id)


def session_close(*, session_id: int) -> None:
    """Close the session on the vendor. Raises PlatformError when worth retrying."""
    session = _load(session_id)
    if not session.is_open or not session.vendor_session_id:
        return
    try:
        call(session.account, lambda driver: driver.close(session))
    except PlatformError as exc:
        if not exc.permanent:
            raise
        # Refused: most likely the vendor had already closed it. Take its word for the state.
        try:
            status = call(session.account, lambda driver: driver.status(session))
        except PlatformError:
            status = LiveStatus(
                state=LiveState.ENDED, vendor_code="", reason=f"Closed; the vendor said: {exc}"
            )
        if not status.state.is_open:
            session_apply_status(session=session, status=status)
            return
        session_note_error(session_id=session_id, message=f"Could not stop the live: {exc}")
        return
    session_apply_status(
        session=session,
        status=LiveStatus(
            state=LiveState.ENDED, vendor_code="5", reason=session.stop_reason or STOPPED_FROM_LIVEDECK
        ),
    )


def session_fail(*, session_id: int, reason: str) -> None:
    """Mark a session failed before or while it opened."""
    session = _load(session_id)
    session_apply_status(
        session=session, status=LiveStatus(state=LiveState.FAILED, vendor_code="", reason=reason)
    )


def session_note_error(*, session_id: int, message: str) -> None:
    """Show the host an action that failed, without changing the session's state."""
    LiveSession.objects.filter(pk=session_id).update(last_error=message[:500])
    room_id = LiveSession.objects.filter(pk=session_id).values_list("room_id", flat=True).first()
    if room_id:
        room_broadcast(room_id=room_id)


def session_apply_status(
    *, session: LiveSession, status: LiveStatus, broadcast: bool = True, now: Any = None
) -> bool:
    """Record a state the vendor reported. States only move forward, so a repeated or late
    report changes nothing; returns whether anything changed."""
    now = now or timezone.now()
    current = session.live_state
    changes: dict[str, Any] = {}
    if STATE_RANK[status.state] > STATE_RANK[current]:
        # The vendor's close report can overtake the answer to our close call: say why we closed.
        reason = status.reason or ("" if status.state.is_open else session.stop_reason)
        changes.update(state=status.state.value, vendor_code=status.vendor_code, reason=reason)
        stamp = {LiveState.READY: "ready_at", LiveState.LIVE: "live_at"}.get(status.state, "ended_at")
        changes[stamp] = now
        if status.state is LiveState.LIVE and session.ready_at is None:
            changes["ready_at"] = now
        if not status.state.is_open:
            changes["next_heartbeat_at"] = None
    if status.rtc and status.rtc.channel_id and not session.rtc_channel_id:
        changes.update(
            rtc_app_id=status.rtc.app_id,
            rtc_channel_id=status.rtc.channel_id,
            rtc_uid=status.rtc.uid,
            rtc_token=status.rtc.token,
        )
    if status.session_token and not session.session_token:
        changes["session_token"] = status.session_token
    if not changes:
        return False
    # Compare-and-set on the state, so two reports racing cannot move it backwards.
    updated = LiveSession.objects.filter(pk=session.pk, state=current.value).update(**changes)
    if not updated:
        session.refresh_from_db()
        return session_apply_status(session=session, status=status, broadcast=broadcast, now=now)
    for name, value in changes.items():
        setattr(session, name, value)
    if "state" in changes and not status.state.is_open:
        from takeovers.services import takeovers_close  # takeovers build on rooms, not the reverse

        takeovers_close(session=session, at=now)
    if (
        changes.get("state") == LiveState.READY
        and session.auto_start
        and not session.stop_requested
        and Capability.SEPARATE_START in _capabilities(session.account.kind)
    ):
        _enqueue("session_start", session.pk)
    if broadcast and session.room_id:
        room_broadcast(room_id=session.room_id)
    return True


# Callbacks ------------------------------------------------------------------------------


def callback_receive(*, account: PlatformAccount, body: bytes) -> bool:
    """Apply a vendor's status callback. Idempotent; returns whether it changed anything.
    Raises PlatformError when the body is not a callback of the account's vendor."""
    event = driver_class(account.kind).parse_callback(body)
    session = LiveSession.objects.filter(account=account, vendor_session_id=event.vendor_session_id).first()
    if session is None and event.user_data.startswith("livedeck-session-"):
        # The callback can overtake the create call's answer: userData names our row.
        pk = event.user_data.removeprefix("livedeck-session-")
        # isascii(): isdigit() alone passes "²", which int() cannot read.
        row = int(pk) if pk.isascii() and pk.isdigit() else 0
        session = LiveSession.objects.filter(account=account, pk=row).first()
        if session and not session.vendor_session_id:
            LiveSession.objects.filter(pk=session.pk).update(vendor_session_id=event.vendor_session_id)
            session.vendor_session_id = event.vendor_session_id
    if session is None:
        log.info("callback for unknown session %s on %s", event.vendor_session_id, account)
        return False
    if event.status is None:
        from takeovers.services import takeover_progress  # takeovers build on rooms, not the reverse

        return takeover_progress(
            session=session, trace_id=event.command_trace_id, code=event.command_code, note=event.detail
        )
    return session_apply_status(session=session, status=event.status)


# Vendor-side data and the stage ---------------------------------------------------------


def session_vendor_note(
    *, session_id: int, changes: dict[str, Any], broadcast: bool = True, within: str = ""
) -> None:
    """Merge what the vendor told about a session (play addresses, what plays now, the stage)
    into its `vendor_data`, or into its map `within` (one RTMP link's state among the others),
    read and written under the row's lock so two reports at once both count; and show it."""
    with transaction.atomic():
        session = LiveSession.objects.select_for_update().filter(pk=session_id).first()
        if session is None:
            return
        if within:
            changes = {within: {**session.vendor_data.get(within, {}), **changes}}
        merged = {**session.vendor_data, **changes}
        if merged == session.vendor_data:
            return
        LiveSession.objects.filter(pk=session_id).update(vendor_data=merged)
    if broadcast and session.room_id:
        room_broadcast(room_id=session.room_id)


# What each stage change needs from the platform.
STAGE_ACTIONS = {
    "background": Capability.BACKGROUND,
    "anchor": Capability.ANCHOR_SWITCH,
    "push_on": Capability.PUSH_STREAMS,
    "push_off": Capability.PUSH_STREAMS,
    "layout": Capability.ANCHOR_LAYOUT,
    "output": Capability.OUTPUT_REFRESH,
    "layer": Capability.SHOW_LAYER,
    "exit": Capability.EXIT_CONFIG,
    "rules": Capability.RULES_REWRITE,
    "paragraphs": Capability.SCRIPT_REWRITE,
}


def stage_change(*, session: LiveSession, action: str, params: dict[str, Any]) -> None:
    """A host changes the stage during a live (background, anchor, push targets, the avatar's
    place); the platform is told in a task."""
    if not session.is_open or session.stop_requested or not session.vendor_session_id:
        raise ActionRefused("The stage can change only while a live is open.")
    if STAGE_ACTIONS[action] not in _capabilities(session.account.kind):
        raise ActionRefused(f"{session.account.get_kind_display()} cannot do that during a live.")
    LiveSession.objects.filter(pk=session.pk).update(last_error="")
    _enqueue("stage_apply", session.pk, action, params)


def stage_apply(*, session_id: int, action: str, params: dict[str, Any]) -> None:
    """Make the stage change on the platform and record it. Raises PlatformError when worth
    retrying; a refusal is shown to the host."""
    from rooms.platforms.base import AnchorLayout

    session = _load_show(session_id)
    if not session.is_open:
        return
    stage = dict(session.vendor_data.get("stage", {}))
    try:
        if action in SHOW_ACTIONS:
            stage.update(_show_apply(session, action, params))
        elif action == "background":
            call(session.account, lambda d: d.set_background(session, params["url"]))
            stage["background"] = params["url"]
        elif action == "anchor":
            call(session.account, lambda d: d.switch_anchor(session, params["scene_code"]))
            stage["scene"] = params["scene_code"]
            stage["scene_name"] = params.get("scene_name", "")
        elif action in ("push_on", "push_off"):
            on = action == "push_on"
            call(session.account, lambda d: d.push_streams(session, params["urls"], on=on))
            pushing = [url for url in stage.get("pushing", []) if url not in params["urls"]]
            stage["pushing"] = pushing + params["urls"] if on else pushing
        elif action == "layout":
            layout = AnchorLayout(**params)
            call(session.account, lambda d: d.anchor_layout(session, layout))
            stage["layout"] = params
    except PlatformError as exc:
        if not exc.permanent:
            raise
        session_note_error(session_id=session_id, message=f"The platform refused the change: {exc}")
        return
    session_vendor_note(session_id=session_id, changes={"stage": stage})


# Heartbeats the vendor sends (Guiji, answered by the MQTT bridge) -------------------------


def heartbeats_received(*, beats: dict[int, tuple[int, Any]]) -> None:
    """Record heartbeats the bridge answered: per session, how many and when the last came."""
    rooms: list[int] = []
    for session_id, (count, last) in beats.items():
        updated = LiveSession.objects.filter(pk=session_id, state__in=OPEN_STATES).update(
            last_heartbeat_at=last,
            heartbeats_sent=F("heartbeats_sent") + count,
            heartbeat_failures=0,
            last_heartbeat_ok=True,
            last_heartbeat_error="",
        )
        if updated:
            rooms.extend(LiveSession.objects.filter(pk=session_id).values_list("room_id", flat=True))
    rooms_broadcast(room_ids=sorted({pk for pk in rooms if pk}))


def heartbeats_flag_silent(*, session_ids: list[int], silent_after: float, interval: float) -> list[int]:
    """Flag open sessions whose vendor stopped sending heartbeats: at risk, with the reason.
    Returns the sessions flagged now."""
    now = timezone.now()
    flagged: list[int] = []
    rooms: set[int] = set()
    for session in LiveSession.objects.filter(pk__in=session_ids, state__in=OPEN_STATES):
        since = session.last_heartbeat_at or session.ready_at or session.created_at
        silent = (now - since).total_seconds()
        if silent < silent_after:
            continue
        missed = max(1, int(silent // interval))
        if not session.last_heartbeat_ok and session.heartbeat_failures == missed:
            continue
        LiveSession.objects.filter(pk=session.pk).update(
            last_heartbeat_ok=False,
            heartbeat_failures=missed,
            last_heartbeat_error=f"No heartbeat from the platform for {silent:.0f} s",
        )
        flagged.append(session.pk)
        if session.room_id:
            rooms.add(session.room_id)
    rooms_broadcast(room_ids=sorted(rooms))
    return flagged


# Heartbeats -----------------------------------------------------------------------------


@dataclass(frozen=True)
class HeartbeatReport:
    sent: int
    failed: int
    closed: int
    seconds: float


@dataclass
class _Outcome:
    session: LiveSession
    error: PlatformError | None = None
    status: LiveStatus | None = None


def _next_heartbeat(now: Any) -> Any:
    # Due a little early, never late: the beat's scan period and the jitter come off the
    # interval, so the gap the vendor sees never exceeds the interval.
    early = settings.HEARTBEAT_SCAN_SECONDS + random.uniform(0, settings.HEARTBEAT_JITTER)
    return now + timedelta(seconds=max(settings.HEARTBEAT_INTERVAL - early, 1.0))


def _retry_after(failures: int) -> timedelta:
    return timedelta(seconds=min(2.0 * 2 ** (failures - 1), settings.HEARTBEAT_INTERVAL / 4))


def heartbeats_send_due(*, limit: int | None = None) -> HeartbeatReport:
    """Send a heartbeat to every open session that is due one, concurrently, in one batch."""
    started = time.monotonic()
    now = timezone.now()
    with transaction.atomic():
        due = list(
            LiveSession.objects.select_for_update(skip_locked=True)
            .select_related("account")
            .filter(state__in=OPEN_STATES, next_heartbeat_at__lte=now)
            .exclude(vendor_session_id="")
            .order_by("next_heartbeat_at")[: limit or settings.HEARTBEAT_BATCH]
        )
        # Claim them, so a second beat running alongside does not send them again.
        for session in due:
            session.next_heartbeat_at = _next_heartbeat(now)
        LiveSession.objects.bulk_update(due, ["next_heartbeat_at"], batch_size=500)
    if not due:
        return HeartbeatReport(0, 0, 0, time.monotonic() - started)
    heartbeats = _loop()
    outcomes = heartbeats.run(_send_heartbeats(heartbeats, due))
    closed = _record_heartbeats(outcomes)
    failed = sum(1 for outcome in outcomes if outcome.error)
    return HeartbeatReport(len(outcomes), failed, closed, time.monotonic() - started)


# httpcore's pool does work quadratic in its connection count on every request it starts or
# ends, and checks each idle connection's socket each time (encode/httpcore#1035): 200
# connections in one pool cost ~12 ms of CPU per heartbeat. Many small pools carry the same
# concurrency; with connections kept between batches, 1,000 heartbeats cost 0.8 s of CPU in
# pools of 2, 1.0 s in pools of 3, 1.3 s in pools of 5 and 1.75 s in pools of 10.
POOL_CONNECTIONS = 2


class _HeartbeatLoop(ProcessLoop):
    """The loop heartbeat batches run on (`rooms.process`), and the HTTP pools they go out
    through, kept between batches.

    A batch on pools of its own opened a connection per concurrent heartbeat (200) at once, every
    scan: a TLS handshake each with a real vendor, and a burst that overflowed the sandbox's
    listen queue, where a dropped connect is retried after 1 s and the whole batch waits for it.
    """

    thread_name = "heartbeats"

    def __init__(self) -> None:
        super().__init__()
        self.pools: list[tuple[httpx.AsyncClient, asyncio.Semaphore]] = []
        self.made_by: tuple[Any, ...] = ()

    async def current_pools(self) -> list[tuple[httpx.AsyncClient, asyncio.Semaphore]]:
        # Runs on the loop's thread only. `new_client` is looked up as it is now: tests swap it
        # for a fake vendor.
        concurrency = settings.HEARTBEAT_CONCURRENCY
        if self.made_by != (new_client, concurrency):
            for client, _ in self.pools:
                await client.aclose()
            count = -(-concurrency // POOL_CONNECTIONS)
            size = -(-concurrency // count)
            # Idle between two batches of this process, which may be a few scans apart.
            idle = settings.HEARTBEAT_INTERVAL
            self.pools = [
                (new_client(max_connections=size, keepalive_expiry=idle), asyncio.Semaphore(size))
                for _ in range(count)
            ]
            self.made_by = (new_client, concurrency)
        return self.pools


def _loop() -> _HeartbeatLoop:
    return process_loop(_HeartbeatLoop)


async def _send_heartbeats(heartbeats: _HeartbeatLoop, sessions: list[LiveSession]) -> list[_Outcome]:
    pools = await heartbeats.current_pools()
    drivers: dict[tuple[int, int], Driver] = {}
    for index, session in enumerate(sessions):
        key = (session.account_id, index % len(pools))
        if key not in drivers:
            drivers[key] = driver_class(session.account.kind)(session.account, pools[key[1]][0])

    async def beat(index: int, session: LiveSession) -> _Outcome:
        pool = index % len(pools)
        driver = drivers[session.account_id, pool]
        async with pools[pool][1]:
            try:
                return _Outcome(session, status=await driver.heartbeat(session))
            except PlatformError as exc:
                if not exc.permanent:
                    return _Outcome(session, error=exc)
                # Refused outright: the vendor probably closed the session. Ask why.
                try:
                    return _Outcome(session, error=exc, status=await driver.status(session))
                except PlatformError as unknown:
                    return _Outcome(session, error=exc, status=_forgotten(unknown))

    return list(await asyncio.gather(*(beat(index, session) for index, session in enumerate(sessions))))


# Refusals that say the account is wrong, not the session: the session may still be billing.
ACCOUNT_REFUSED = {"401", "403"}


def _forgotten(error: PlatformError) -> LiveStatus | None:
    """The state of a session the vendor refuses to report on: dropped, when the vendor
    answers but no longer knows it (as after a sandbox restart); unknown otherwise."""
    if not error.permanent or error.code in ACCOUNT_REFUSED:
        return None
    return LiveStatus(
        state=LiveState.DROPPED,
        vendor_code=error.code,
        reason=f"The platform no longer knows this session: {error}",
    )


def _record_heartbeats(outcomes: list[_Outcome]) -> int:
    now = timezone.now()
    rooms: set[int] = set()
    closed = 0
    answered: list[int] = []
    failed: list[LiveSession] = []
    for outcome in outcomes:
        session = outcome.session
        session.last_heartbeat_at = now
        if outcome.error is None:
            session.heartbeats_sent += 1
            session.heartbeat_failures = 0
            session.last_heartbeat_ok = True
            session.last_heartbeat_error = ""
            answered.append(session.pk)
        else:
            session.heartbeat_failures += 1
            session.last_heartbeat_ok = False
            session.last_heartbeat_error = str(outcome.error)[:500]
            session.next_heartbeat_at = now + _retry_after(session.heartbeat_failures)
            failed.append(session)
        if session.room_id:
            rooms.add(session.room_id)
    # Every session that answered gets the same change: one UPDATE per 500, where bulk_update
    # would build a CASE per row and field (~3 ms of CPU per session).
    for start in range(0, len(answered), 500):
        LiveSession.objects.filter(pk__in=answered[start : start + 500]).update(
            last_heartbeat_at=now,
            heartbeats_sent=F("heartbeats_sent") + 1,
            heartbeat_failures=0,
            last_heartbeat_ok=True,
            last_heartbeat_error="",
        )
    LiveSession.objects.bulk_update(
        failed,
        [
            "last_heartbeat_at",
            "heartbeat_failures",
            "last_heartbeat_ok",
            "last_heartbeat_error",
            "next_heartbeat_at",
        ],
        batch_size=500,
    )
    for outcome in outcomes:
        if outcome.status and session_apply_status(
            session=outcome.session, status=outcome.status, broadcast=False
        ):
            closed += not outcome.session.is_open
    rooms_broadcast(room_ids=sorted(rooms))
    return closed


# Orphans --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Orphan:
    account: PlatformAccount
    vendor_session_id: str
    vendor_state: LiveState
    why: str


def orphans_find(*, accounts: list[PlatformAccount]) -> tuple[list[Orphan], list[str]]:
    """Sessions the vendor still runs (and bills) that no LiveDeck room is running.
    Returns them and, per account that could not be asked, why."""
    orphans: list[Orphan] = []
    problems: list[str] = []
    for account in accounts:
        if Capability.RUNNING_LIST not in _capabilities(account.kind):
            continue
        try:
            running = call(account, lambda driver: driver.running())
        except PlatformError as exc:
            problems.append(f"{account.name}: {exc}")
            continue
        known = {
            s.vendor_session_id: s
            for s in LiveSession.objects.filter(
                account=account, vendor_session_id__in=[r.vendor_session_id for r in running]
            )
        }
        for entry in running:
            session = known.get(entry.vendor_session_id)
            if session is None:
                why = "LiveDeck has no record of it (opened elsewhere, or before a restart)."
            elif session.room_id is None:
                why = "Its room was deleted while it was open."
            elif not session.is_open:
                why = f"LiveDeck marked it {session.get_state_display().lower()}, but it is still running."
            else:
                continue
            orphans.append(Orphan(account, entry.vendor_session_id, entry.status.state, why))
    return orphans, problems


def _capabilities(kind: str) -> frozenset[Capability]:
    try:
        return driver_class(kind).base_capabilities
    except PlatformError:
        return frozenset()  # no driver for this vendor yet: nothing to ask it


def orphan_close(*, account: PlatformAccount, vendor_session_id: str) -> None:
    """Close a session the vendor runs for no room, so it stops billing."""
    session = LiveSession.objects.filter(account=account, vendor_session_id=vendor_session_id).first()
    target = session or LiveSession(
        account=account, vendor_session_id=vendor_session_id, state=LiveState.LIVE
    )
    if session and session.is_open:
        # Recorded before the call: the vendor's close report may arrive before its answer.
        session.stop_requested, session.stop_reason = True, CLOSED_AS_ORPHAN
        LiveSession.objects.filter(pk=session.pk).update(stop_requested=True, stop_reason=CLOSED_AS_ORPHAN)
    call(account, lambda driver: driver.close(target))
    if session and session.is_open:
        session_apply_status(
            session=session,
            status=LiveStatus(state=LiveState.ENDED, vendor_code="5", reason=CLOSED_AS_ORPHAN),
        )


# Real time ------------------------------------------------------------------------------


def room_broadcast(*, room_id: int) -> None:
    """Push the room's live state to every console open on it."""
    rooms_broadcast(room_ids=[room_id])


def rooms_broadcast(*, room_ids: list[int]) -> None:
    """Push each room's live state to its consoles: rendered once per room, sent in one loop.
    A room no console watches is skipped; a console reads the state when it connects."""
    watched = _watched(room_ids)
    if not watched:
        return
    with contextlib.ExitStack() as held:
        for pk in sorted(watched):  # one order for every holder of several, so none waits on another
            held.enter_context(console_lock(Room(pk=pk).group_name))
        rooms = Room.objects.select_related("account").in_bulk(watched)
        sessions = sessions_latest_by_room(list(rooms.values()))
        messages = {
            room.group_name: fragments.room_live_html(room, sessions.get(pk)) for pk, room in rooms.items()
        }
        async_to_sync(_group_send_all)(messages)


CONSOLE_LOCK_SECONDS = 5  # held for one read, render and send; expires if its holder dies


def console_lock(group: str) -> contextlib.AbstractContextManager[bool]:
    """Held by whoever pushes to a room's consoles, from reading the state to sending it.

    Every change is pushed after it is committed, so with the reads and sends of a room taken
    one at a time the last fragment a console gets shows the latest state: a push that read the
    room before a change (a heartbeat batch rendering "live" while a host stopped it) is sent
    before the push that shows the change, never after it."""
    return cache_lock(f"console-push:{group}", hold=CONSOLE_LOCK_SECONDS, wait=2)


async def _group_send_all(messages: dict[str, str]) -> None:
    layer = get_channel_layer()
    assert layer is not None
    await asyncio.gather(
        *(layer.group_send(group, {"type": "room.state", "html": html}) for group, html in messages.items())
    )


def _watched(room_ids: list[int]) -> list[int]:
    """The rooms with a console open on them, in any web process.

    With the Pub/Sub channel layer a room's group is a Redis channel that each web process with
    a console on the room subscribes to, so PUBSUB NUMSUB counts whom a group_send would reach.
    Rendering the fragment was most of a heartbeat's CPU (~2 ms of 3.5, bench/heartbeats.py),
    and most rooms are watched by nobody. Nothing is missed by skipping them: RoomConsumer joins
    the group before it reads the state, so a console that joins after the count reads a state
    at least as new as the one not pushed.
    """
    layer = get_channel_layer()
    if not room_ids or not isinstance(layer, RedisPubSubChannelLayer):
        return room_ids  # a layer that cannot say who listens: push to every room
    config = cast(dict[str, Any], settings.CHANNEL_LAYERS[DEFAULT_CHANNEL_LAYER]["CONFIG"])
    hosts = decode_hosts(config.get("hosts"))
    # Named as channels_redis's Pub/Sub layer names a group's channel and picks its shard.
    prefix = config.get("prefix", "asgi")
    rooms = {f"{prefix}__group__{Room(pk=pk).group_name}": pk for pk in room_ids}
    shards: dict[int, list[str]] = {}
    for channel in rooms:
        shards.setdefault(_consistent_hash(channel, len(hosts)), []).append(channel)
    watched: list[int] = []
    for shard, channels in shards.items():
        counts = cast(list[tuple[bytes, int]], _redis(hosts[shard]["address"]).pubsub_numsub(*channels))
        watched += [rooms[channel.decode()] for channel, count in counts if count]
    return watched


@functools.cache
def _redis(url: str) -> redis.Redis:
    """One client (and connection pool) per Redis URL for the whole process."""
    return redis.Redis.from_url(url)


# MetaStudio: the show during a live, its signed callbacks, the audience it is told about --


SHOW_ACTIONS = {"output", "layer", "exit", "rules", "paragraphs"}


def _show_apply(session: LiveSession, action: str, params: dict[str, Any]) -> dict[str, Any]:
    """One change to the show during a live (MetaStudio commands); returns what the stage records."""
    from rooms.platforms.base import Paragraph, ShownLayer

    room = session.room
    assert room is not None
    if action == "output":
        call(session.account, lambda d: d.refresh_output(session, params["url"], params["stream_key"]))
        return {"output": params["url"]}
    if action == "layer":
        layer = ShownLayer(**params)
        call(session.account, lambda d: d.show_layer(session, layer))
        return {"layer": params}
    if action == "exit":
        call(session.account, lambda d: d.reset_exit(session, **params))
        return {"exit": params}
    if action == "rules":
        call(session.account, lambda d: d.rewrite_rules(session, room))
        return {"rules": len(room.rules.all())}
    paragraphs = [
        Paragraph(sequence_no=number, title=paragraph.title, text=paragraph.text)
        for number, paragraph in enumerate(room.script.paragraphs.all())
    ]
    call(session.account, lambda d: d.rewrite_script(session, paragraphs))
    return {"paragraphs": timezone.now().isoformat()}


def paragraph_rewrite(*, session: LiveSession, paragraph_id: int, title: str, text: str) -> None:
    """Rewrite a paragraph the avatar has not reached yet in this round of the live: saved to
    the script, and the platform's unplayed paragraphs are replaced in a task."""
    if not session.is_open or session.stop_requested or not session.vendor_session_id:
        raise ActionRefused("Paragraphs can be rewritten only while a live is open.")
    if Capability.SCRIPT_REWRITE not in _capabilities(session.account.kind):
        raise ActionRefused(f"{session.account.get_kind_display()} cannot rewrite the script during a live.")
    assert session.room is not None
    order = list(session.room.script.paragraphs.values_list("pk", flat=True))
    if paragraph_id not in order:
        raise ActionRefused("That paragraph is not in this room's script.")
    playing = paragraph_playing(session)
    if playing is not None and order.index(paragraph_id) <= playing:
        raise ActionRefused("The avatar has already reached that paragraph in this round; pick a later one.")
    with transaction.atomic():
        ScriptParagraph.objects.filter(pk=paragraph_id).update(title=title, text=text)
        LiveSession.objects.filter(pk=session.pk).update(last_error="")
        _enqueue("stage_apply", session.pk, "paragraphs", {})


@dataclass(frozen=True)
class SignedCallback:
    """A callback request as its signature check needs it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


def metastudio_callback_receive(*, account: PlatformAccount, request: SignedCallback) -> bool:
    """Check a MetaStudio event callback the way its room has them signed, then apply it.
    Raises CallbackRefused when it is not MetaStudio's (nothing is stored), PlatformError when
    the body is not an event; returns whether anything changed."""
    from rooms.platforms.metastudio_callbacks import AuthType, CacheReplayStore, verify_callback

    event = driver_class(account.kind).parse_callback(request.body)
    session = (
        LiveSession.objects.select_related("room")
        .filter(account=account, vendor_session_id=event.vendor_session_id)
        .first()
    )
    if session is not None and session.room is not None:
        auth = AuthType(session.vendor_data.get("callback_auth") or session.room.callback_auth)
    elif "hwSecret" in request.query:
        auth = AuthType.MSS_A
    else:
        # A job LiveDeck does not know: checked as strictly as the callback allows, then ignored.
        named = {name.lower() for name in request.headers}
        auth = AuthType.MSS_A_HEAD if "x-hw-mss-secret" in named else AuthType.NONE
    verify_callback(
        auth_type=auth,
        method=request.method,
        path=request.path,
        query=request.query,
        headers=request.headers,
        body=request.body,
        key=account.credential("callback_secret"),
        now=time.time(),
        replay_store=CacheReplayStore(shared_cache()),
        window=settings.METASTUDIO_CALLBACK_WINDOW,
        host=urlsplit(settings.SITE_URL).netloc,
    )
    if session is None:
        log.info("metastudio callback for unknown job %s on %s", event.vendor_session_id, account)
        return False
    if event.kind == "paragraph":
        session_vendor_note(session_id=session.pk, changes={"paragraph": event.data})
        return True
    if event.kind == "rtmp":
        url, state = event.data.get("output_url", ""), event.data.get("state", "")
        session_vendor_note(session_id=session.pk, changes={url: state}, within="rtmp")
        return True
    from takeovers.services import takeover_progress

    return takeover_progress(session=session, trace_id=event.command_trace_id, code=event.command_code)


def vendor_room_delete(*, room: Room) -> None:
    """Delete the room LiveDeck created on the platform (MetaStudio keeps it between lives); the
    next live creates a new one."""
    if Capability.VENDOR_ROOMS not in _capabilities(room.account.kind):
        raise ActionRefused(f"{room.account.get_kind_display()} keeps no room of its own.")
    if not room.vendor_room_id:
        raise ActionRefused("LiveDeck has not created a room on the platform for it.")
    if LiveSession.objects.filter(room=room).open().exists():
        raise ActionRefused("Stop its live first.")
    vendor_room_id = room.vendor_room_id
    call(room.account, lambda driver: driver.delete_room(vendor_room_id))
    Room.objects.filter(pk=room.pk).update(vendor_room_id="")


# Audience events, reported to platforms that match the interaction rules themselves.
EVENTS_KEY = "livedeck:audience:{session_id}"
EVENTS_FLUSH_KEY = "livedeck:audience:{session_id}:flush"
EVENTS_BATCH = 100


def audience_report(*, session: LiveSession, events: list[AudienceEvent]) -> None:
    """Queue audience events for the platform: a task sends them in batches, at most one batch
    per EVENTS_BATCH_SECONDS per session, so a burst of comments costs a few vendor calls."""
    if not session.is_open or not session.vendor_session_id:
        raise ActionRefused("Audience events go to the platform only while a live is open.")
    if Capability.EVENT_REPORT not in _capabilities(session.account.kind):
        raise ActionRefused(f"{session.account.get_kind_display()} does not take audience events.")
    key = EVENTS_KEY.format(session_id=session.pk)
    client = _redis(settings.REDIS_URL)
    client.rpush(key, *(json.dumps(dataclasses.asdict(event)) for event in events))
    client.expire(key, 3600)
    # The first event of a batch schedules its flush; later ones ride along.
    if client.set(EVENTS_FLUSH_KEY.format(session_id=session.pk), 1, nx=True, ex=60):
        _enqueue("audience_flush", session.pk, countdown=settings.EVENTS_BATCH_SECONDS)


async def _report(driver: Driver, *, session: LiveSession, batch: list[AudienceEvent]) -> None:
    await driver.report_events(session, batch)


def audience_flush(*, session_id: int) -> int:
    """Send the session's queued audience events to the platform, in batches; returns how many."""
    client = _redis(settings.REDIS_URL)
    key = EVENTS_KEY.format(session_id=session_id)
    client.delete(EVENTS_FLUSH_KEY.format(session_id=session_id))
    session = _load(session_id)
    sent = 0
    while raw := client.lpop(key, EVENTS_BATCH):
        if not session.is_open:
            client.delete(key)
            break
        batch = [AudienceEvent(**json.loads(item)) for item in raw]  # type: ignore[union-attr]
        try:
            call(session.account, functools.partial(_report, session=session, batch=batch))
        except PlatformError as exc:
            log.warning("audience events of session %s not reported: %s", session_id, exc)
            session_note_error(session_id=session_id, message=f"The platform refused audience events: {exc}")
            break
        sent += len(batch)
    return sent
