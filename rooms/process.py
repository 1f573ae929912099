"""What a process keeps for its whole life, for the hot paths that run in it: an event loop per
purpose, running in a daemon thread (with the HTTP clients and channel-layer connection that live
on it), and one cache client.

`async_to_sync` would make a new loop, thread and connection for every call; a host on air and a
heartbeat batch of thousands cannot pay that each time. A process forked from one that already
had its loop (a Celery pool process) makes its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import threading
import time
import uuid
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from django.core.signals import setting_changed
from django.dispatch import receiver

T = TypeVar("T")
L = TypeVar("L", bound="ProcessLoop")


class ProcessLoop:
    """An event loop running in a daemon thread of this process; subclasses keep on it what
    should outlive one call. Get one with `process_loop`, never by constructing it."""

    thread_name: ClassVar[str] = "process-loop"

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, name=self.thread_name, daemon=True).start()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run `coroutine` on the loop and wait for its result, from synchronous code."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()


_loops_lock = threading.Lock()
_loops: dict[type[ProcessLoop], ProcessLoop] = {}


def process_loop(kind: type[L]) -> L:
    """This process's one `kind` of loop, made on first use and anew after a fork."""
    with _loops_lock:
        current = _loops.get(kind)
        if current is None or current.pid != os.getpid():
            current = _loops[kind] = kind()
        return current  # type: ignore[return-value]


def keep_loaded_for_life() -> None:
    """Load now what a server's first requests would (the URLs and the views behind them, the
    vendor drivers and their models, LiveDeck's templates compiled), then take everything the
    process holds out of the garbage collector's full passes (`gc.freeze`): a server keeps it
    until it stops.

    A full pass walks every object not frozen. Freezing only what Django had loaded left 42,000
    objects in daphne (the URLs, pydantic's models, compiled templates, loaded later): each pass
    then took 25-54 ms on the development VM, with a host's takeover or cancel waiting behind it.
    """
    from django.template import engines
    from django.urls import get_resolver

    from rooms.models import PlatformAccount
    from rooms.platforms import driver_class
    from rooms.platforms.base import PlatformError

    get_resolver().reverse_dict  # noqa: B018 (imports every URL module and builds the lookup)
    for kind in PlatformAccount.Kind:
        with contextlib.suppress(PlatformError):
            driver_class(kind)
    templates = Path(settings.BASE_DIR, "templates")
    for path in sorted(templates.rglob("*.html")):
        engines["django"].get_template(path.relative_to(templates).as_posix())
    gc.freeze()


_cache: BaseCache | None = None


def shared_cache() -> BaseCache:
    """The default cache, one instance per process. `django.core.cache.cache` is one per thread,
    and daphne runs each request in a thread of its own: every callback and push that touched it
    opened a new Redis connection (connect and handshake, ~4 per takeover). Redis's connection
    pool is thread-safe and makes a new one in a forked process."""
    global _cache
    if _cache is None:
        _cache = caches.create_connection("default")
    return _cache


@receiver(setting_changed)
def _forget_cache(*, setting: str, **kwargs: Any) -> None:
    global _cache
    if setting == "CACHES":
        _cache = None


@contextlib.contextmanager
def cache_lock(key: str, *, hold: float, wait: float) -> Iterator[bool]:
    """Hold `key` across every process sharing the cache, for at most `hold` seconds (it
    expires if its holder dies). Waits up to `wait` seconds for it; then goes on without it, as
    a late push or send beats none. Yields whether it was got."""
    cache = shared_cache()
    token = uuid.uuid4().hex
    deadline = time.monotonic() + wait
    while not cache.add(key, token, hold):
        if time.monotonic() > deadline:
            token = ""
            break
        time.sleep(0.001)
    try:
        yield bool(token)
    finally:
        if token and cache.get(key) == token:
            cache.delete(key)
