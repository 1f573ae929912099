"""The baseline of bench/heartbeats.py: heartbeats the naive way, one Celery task per session.

A worker started with `celery -A config worker -I bench.one_task_per_session` runs it. Each
task loads its one session, sends its heartbeat through the driver (`rooms.platforms.call`,
one client per call), records the outcome on the row and pushes the room's fragment, which
is what the batch path does for a whole batch at once.
"""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from rooms import services
from rooms.models import LiveSession
from rooms.platforms import call
from rooms.platforms.base import PlatformError


@shared_task(name="bench.one_task_per_session.heartbeat_one")
def heartbeat_one(session_id: int) -> None:
    session = LiveSession.objects.select_related("account").get(pk=session_id)
    error = ""
    try:
        call(session.account, lambda driver: driver.heartbeat(session))
    except PlatformError as exc:
        error = str(exc)[:500]
    if error:
        LiveSession.objects.filter(pk=session_id).update(
            last_heartbeat_at=timezone.now(),
            last_heartbeat_ok=False,
            last_heartbeat_error=error,
            heartbeat_failures=session.heartbeat_failures + 1,
        )
    else:
        LiveSession.objects.filter(pk=session_id).update(
            last_heartbeat_at=timezone.now(),
            last_heartbeat_ok=True,
            last_heartbeat_error="",
            heartbeat_failures=0,
            heartbeats_sent=session.heartbeats_sent + 1,
        )
    if session.room_id:
        services.room_broadcast(room_id=session.room_id)
