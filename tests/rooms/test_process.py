"""What a process shares between its threads and with other processes: the cache lock that puts
pushes to a room's consoles, and a session's takeover sends, one at a time; what a server process
loads for its whole life."""

from __future__ import annotations

import gc
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.template import engines
from django.template.autoreload import reset_loaders

from rooms.process import cache_lock, keep_loaded_for_life, shared_cache


def _key() -> str:
    return f"test-lock:{uuid.uuid4().hex}"


def test_a_held_lock_keeps_a_second_holder_waiting_until_it_is_let_go() -> None:
    key, order = _key(), []
    first = cache_lock(key, hold=5, wait=2)
    assert first.__enter__()

    def second() -> None:
        with cache_lock(key, hold=5, wait=5) as got:
            order.append(("second", got))

    waiter = threading.Thread(target=second)
    waiter.start()
    waiter.join(timeout=0.3)
    assert waiter.is_alive() and order == []
    order.append(("first done", True))
    first.__exit__(None, None, None)
    waiter.join(timeout=5)

    assert order == [("first done", True), ("second", True)]
    assert shared_cache().get(key) is None  # let go by the second too


def test_a_lock_not_let_go_in_time_is_gone_without_it() -> None:
    key = _key()
    with cache_lock(key, hold=5, wait=1):
        started = time.monotonic()
        with cache_lock(key, hold=5, wait=0.2) as got:
            assert not got
        assert time.monotonic() - started >= 0.2
        assert shared_cache().get(key) is not None  # the holder's, not taken away by the other


def test_a_lock_whose_holder_died_expires() -> None:
    key = _key()
    shared_cache().add(key, "a holder that died", 1)
    with cache_lock(key, hold=5, wait=3) as got:
        assert got


def test_the_cache_client_is_one_per_process_not_one_per_thread() -> None:
    seen = []
    threads = [threading.Thread(target=lambda: seen.append(shared_cache())) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len({id(cache) for cache in seen}) == 1
    assert seen[0] is shared_cache()


def test_the_cache_client_follows_a_change_of_caches(settings: Any) -> None:
    before = shared_cache()

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

    assert shared_cache() is not before
    assert type(shared_cache()).__name__ == "LocMemCache"


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_a_server_process_compiles_its_templates_and_freezes_what_it_loaded(unfrozen: None) -> None:
    reset_loaders()  # as a process starting: nothing compiled yet

    keep_loaded_for_life()
    console = engines["django"].get_template("rooms/console.html").template  # type: ignore[attr-defined]

    assert gc.get_freeze_count() > 0
    assert all(tracked is not console for tracked in gc.get_objects())  # no full pass walks it
