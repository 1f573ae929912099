"""What a Celery pool process does for takeovers besides running the tasks: warming up, keeping
its database connection and its cache client between tasks."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from celery.fixups.django import DjangoWorkerFixup
from django.db import connection

from config.celery import app
from takeovers import outbound, tasks


@pytest.fixture
def unfrozen() -> Iterator[None]:
    yield
    gc.unfreeze()


def test_a_pool_process_freezes_what_it_loaded_once_warm(monkeypatch: Any, unfrozen: None) -> None:
    warmed = []
    monkeypatch.setattr(outbound, "warm", lambda: warmed.append(True))
    gc.unfreeze()

    tasks._warm()

    assert warmed == [True]
    assert gc.get_freeze_count() > 0


def test_a_pool_process_still_starts_and_freezes_when_warming_fails(monkeypatch: Any, unfrozen: None) -> None:
    def broken() -> None:
        raise RuntimeError("no sandbox")

    monkeypatch.setattr(outbound, "warm", broken)
    gc.unfreeze()

    tasks._warm()

    assert gc.get_freeze_count() > 0


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "sqlite", reason="kept for SQLite only (config/settings.py)")
def test_a_pool_process_keeps_its_sqlite_connection_from_one_task_to_the_next() -> None:
    fixup = DjangoWorkerFixup(app)
    task = SimpleNamespace(request=SimpleNamespace(is_eager=False))
    connection.ensure_connection()
    kept = connection.connection

    for _ in range(10):  # what Celery does around each task
        fixup.on_task_prerun(sender=task)
        fixup.on_task_postrun(sender=task)

    assert fixup.db_reuse_max == 100
    assert connection.connection is kept


def test_the_cache_client_is_one_per_process_not_one_per_thread() -> None:
    seen = []
    threads = [threading.Thread(target=lambda: seen.append(outbound.shared_cache())) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len({id(cache) for cache in seen}) == 1
    assert seen[0] is outbound.shared_cache()


def test_the_cache_client_follows_a_change_of_caches(settings: Any) -> None:
    before = outbound.shared_cache()

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

    assert outbound.shared_cache() is not before
    assert type(outbound.shared_cache()).__name__ == "LocMemCache"
