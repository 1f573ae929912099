"""The Celery app. One beat entry fans heartbeats out to every session due one; another
syncs the platforms' catalogs every few hours."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("livedeck")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_finalize.connect
def schedule_heartbeats(sender: Celery, **kwargs: object) -> None:
    from django.conf import settings

    sender.add_periodic_task(
        settings.HEARTBEAT_SCAN_SECONDS,
        sender.signature("rooms.tasks.heartbeats_send_due"),
        name="heartbeats",
    )
    sender.add_periodic_task(
        settings.CATALOG_SYNC_SECONDS,
        sender.signature("materials.tasks.catalog_sync_all"),
        name="catalog-sync",
    )
