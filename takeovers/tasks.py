"""Takeover tasks: each takes ids and calls one service; none resends what already went out."""

from __future__ import annotations

from celery import shared_task

from takeovers import services


@shared_task
def takeover_send(takeover_id: int) -> None:
    services.takeover_send(takeover_id=takeover_id)


@shared_task
def queue_reorder(takeover_id: int, position: int) -> None:
    services.queue_reorder_on_vendor(takeover_id=takeover_id, position=position)


@shared_task
def takeover_cancel(session_id: int, takeover_ids: list[int] | None) -> None:
    services.takeover_cancel_on_vendor(session_id=session_id, takeover_ids=takeover_ids)
