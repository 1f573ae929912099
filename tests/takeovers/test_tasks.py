"""What a Celery pool process does for takeovers besides running the tasks: warming up, keeping
its database connection and its cache client between tasks."""

from __future__ import annotations

import gc
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
