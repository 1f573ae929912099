"""Takeover tasks: each takes ids and calls one service; none resends what already went out."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from celery.signals import worker_process_init

from rooms.process import keep_loaded_for_life
from takeovers import outbound, services

log = logging.getLogger(__name__)


@worker_process_init.connect
def _warm(**kwargs: Any) -> None:
    """A pool process gets its loop, client, drivers and templates before its first takeover,
    not during; then what it has loaded is kept out of the collector's full passes."""
    try:
        outbound.warm()
    except Exception:  # the first call makes them then; a pool process must still start
        log.exception("takeover calls not warmed up")
    keep_loaded_for_life()


@shared_task
def takeover_send(takeover_id: int) -> None:
    services.takeover_send(takeover_id=takeover_id)


@shared_task
def queue_reorder(takeover_id: int, position: int) -> None:
    services.queue_reorder_on_vendor(takeover_id=takeover_id, position=position)


@shared_task
def takeover_cancel(session_id: int, takeover_ids: list[int] | None) -> None:
    services.takeover_cancel_on_vendor(session_id=session_id, takeover_ids=takeover_ids)


@shared_task
def queue_refresh(session_id: int) -> None:
    services.queue_refresh(session_id=session_id)
