"""What takeovers send out of the process, driver calls and console pushes, on one event loop
per process that stays up.

`rooms.platforms.call` and `room_broadcast` run each call in a fresh event loop
(`async_to_sync`): a new thread, a new HTTP client and connection to the vendor for each driver
call (~2 ms more than the request itself on the development VM), and a new Redis connection of
the channel layer (which keeps one per loop) for each push (1.9 ms against 0.2 ms). A takeover
is waited for by a host on air, so here each process keeps one loop in a daemon thread, one
client on it and the channel layer's connection, open between tasks. A process forked from one
that already used it (a Celery pool process) starts its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
from channels.layers import get_channel_layer
from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from django.core.signals import setting_changed
from django.dispatch import receiver

from rooms import platforms
from rooms.platforms.base import Driver, PlatformError

if TYPE_CHECKING:
    from rooms.models import PlatformAccount

T = TypeVar("T")


class _Loop:
    """An event loop running in a daemon thread, and the one client used on it."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self.client: httpx.AsyncClient | None = None
        self.made_by: Callable[..., httpx.AsyncClient] | None = None
        threading.Thread(target=self.loop.run_forever, name="vendor-calls", daemon=True).start()

    async def client_now(self) -> httpx.AsyncClient:
        # Runs on the loop's thread only, so the client needs no lock. It is made by
        # `rooms.platforms.new_client` as that is when asked (tests swap it for a fake vendor).
        make = platforms.new_client
        if self.client is None or self.made_by is not make:
            if self.client is not None:
                await self.client.aclose()
            self.client, self.made_by = make(), make
        return self.client

    async def driver(self, account: PlatformAccount) -> Driver:
        return platforms.driver_class(account.kind)(account, await self.client_now())


_lock = threading.Lock()
_current: _Loop | None = None


def _running() -> _Loop:
    global _current
    with _lock:
        if _current is None or _current.pid != os.getpid():
            _current = _Loop()
        return _current


def warm() -> None:
    """Start this process's loop and client now (a pool process starting), so the first
    takeover does not wait for the driver's imports and the client's TLS setup."""
    from rooms.models import PlatformAccount

    for kind in PlatformAccount.Kind:
        with contextlib.suppress(PlatformError):
            platforms.driver_class(kind)
    running = _running()
    _run(running.client_now(), running)


def _run(coroutine: Coroutine[Any, Any, T], running: _Loop) -> T:
    return asyncio.run_coroutine_threadsafe(coroutine, running.loop).result()


def vendor_call(account: PlatformAccount, fn: Callable[[Driver], Awaitable[T]]) -> T:
    """Run one driver call from synchronous code (tasks, views) on this process's client."""
    running = _running()

    async def call() -> T:
        return await fn(await running.driver(account))

    return _run(call(), running)


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


PUSH_LOCK_SECONDS = 5  # held for one render and one send; expires if its holder dies


def console_push(group: str, render: Callable[[], str]) -> None:
    """Render a fragment and send it to every console in `group`, as `room_broadcast` does.

    The pushes of a group are made one at a time (a lock in the cache, across processes): a
    fragment is read from the database and sent before the next one is read, so a render that
    missed a change (a callback's, while the worker was rendering) never reaches the consoles
    after the push that shows it."""
    cache = shared_cache()
    key = f"console-push:{group}"
    token = uuid.uuid4().hex
    deadline = time.monotonic() + 2
    while not cache.add(key, token, PUSH_LOCK_SECONDS):
        if time.monotonic() > deadline:  # a stuck holder: a late push beats none
            token = ""
            break
        time.sleep(0.001)
    try:
        layer = get_channel_layer()
        assert layer is not None
        html = render()
        _run(layer.group_send(group, {"type": "room.state", "html": html}), _running())
    finally:
        if token and cache.get(key) == token:
            cache.delete(key)
