"""Celery tasks for the platform catalogs: each takes ids, calls one service, and is safe to run twice.

Vendor errors worth retrying (timeouts, 5xx) are retried here with backoff, as rooms/tasks.py does.
"""

from __future__ import annotations

import logging

from celery import Task, shared_task

from materials import services
from rooms.platforms.base import PlatformError

log = logging.getLogger(__name__)

MAX_RETRIES = 5


@shared_task(bind=True, max_retries=MAX_RETRIES)
def catalog_sync_task(self: Task, account_id: int) -> None:
    """Fetch and store one account's catalog; a refusal (bad credentials, no driver) is not retried."""
    try:
        services.catalog_sync(account_id=account_id)
    except PlatformError as exc:
        if exc.permanent or self.request.retries >= MAX_RETRIES:
            log.warning("catalog sync of account %s failed: %s", account_id, exc)
            why = "The platform refused" if exc.permanent else f"No answer after {MAX_RETRIES + 1} tries"
            services.catalog_sync_note_error(account_id=account_id, message=f"{why}: {exc}")
            return
        raise self.retry(exc=exc, countdown=min(2**self.request.retries, 30)) from exc


@shared_task
def catalog_sync_all() -> int:
    """The beat entry: a sync of every account whose platform has a catalog."""
    return services.catalog_sync_request_all()
