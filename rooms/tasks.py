"""Celery tasks: each takes ids, calls one service, and is safe to run twice.

Vendor errors worth retrying (timeouts, 5xx) are retried here, with backoff, and nowhere else.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from celery import Task, shared_task

from rooms import services
from rooms.platforms.base import PlatformError

log = logging.getLogger(__name__)

MAX_RETRIES = 5


def _retrying(task: Task, work: Callable[[], None], *, give_up: Callable[[PlatformError], None]) -> None:
    try:
        work()
    except PlatformError as exc:
        if task.request.retries >= MAX_RETRIES:
            give_up(exc)
            return
        raise task.retry(exc=exc, countdown=min(2**task.request.retries, 30)) from exc


@shared_task
def heartbeats_send_due() -> dict[str, Any]:
    """The one beat entry: a heartbeat to every live session due one."""
    report = services.heartbeats_send_due()
    if report.sent:
        log.info("heartbeats: %s sent, %s failed, %s closed in %.2fs", *vars(report).values())
    return vars(report)


@shared_task
def session_create(session_id: int) -> None:
    services.session_create(session_id=session_id)


@shared_task
def session_poll(session_id: int, attempt: int) -> None:
    services.session_poll(session_id=session_id, attempt=attempt)


@shared_task(bind=True, max_retries=MAX_RETRIES)
def session_start(self: Task, session_id: int) -> None:
    _retrying(
        self,
        lambda: services.session_start(session_id=session_id),
        give_up=lambda exc: services.session_note_error(
            session_id=session_id, message=f"Could not go live: {exc}"
        ),
    )


@shared_task(bind=True, max_retries=MAX_RETRIES)
def session_close(self: Task, session_id: int) -> None:
    _retrying(
        self,
        lambda: services.session_close(session_id=session_id),
        give_up=lambda exc: services.session_note_error(
            session_id=session_id, message=f"Could not stop the live, it may still be billing: {exc}"
        ),
    )


@shared_task(bind=True, max_retries=MAX_RETRIES)
def stage_apply(self: Task, session_id: int, action: str, params: dict[str, Any]) -> None:
    _retrying(
        self,
        lambda: services.stage_apply(session_id=session_id, action=action, params=params),
        give_up=lambda exc: services.session_note_error(
            session_id=session_id, message=f"The platform did not make the change: {exc}"
        ),
    )


@shared_task
def audience_flush(session_id: int) -> int:
    """Send a session's queued audience events to its platform, in batches."""
    return services.audience_flush(session_id=session_id)
