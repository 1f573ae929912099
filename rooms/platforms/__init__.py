"""Drivers for the vendor platforms, picked by the platform account's kind."""

from __future__ import annotations

import functools
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, TypeVar

import certifi
import httpx
from asgiref.sync import async_to_sync
from django.conf import settings

from rooms.platforms.base import Driver, PlatformError

if TYPE_CHECKING:
    from rooms.models import PlatformAccount

T = TypeVar("T")


def driver_class(kind: str) -> type[Driver]:
    """The driver for an account kind; raises PlatformError for a kind not built yet."""
    from rooms.platforms.guiji import GuijiDriver
    from rooms.platforms.metastudio import MetaStudioDriver
    from rooms.platforms.softsugar import SoftSugarDriver

    drivers: dict[str, type[Driver]] = {
        SoftSugarDriver.kind: SoftSugarDriver,
        GuijiDriver.kind: GuijiDriver,
        MetaStudioDriver.kind: MetaStudioDriver,
    }
    try:
        return drivers[kind]
    except KeyError:
        raise PlatformError(f"LiveDeck has no driver for {kind} accounts yet", permanent=True) from None


@functools.cache
def _tls() -> ssl.SSLContext:
    # Building a context loads the CA bundle (~27 ms); every client in the process shares one.
    return ssl.create_default_context(cafile=certifi.where())


def new_client(*, max_connections: int = 20, keepalive_expiry: float = 5.0) -> httpx.AsyncClient:
    """An HTTP client with LiveDeck's timeouts; one per event loop, shared by drivers. An idle
    connection is reused for `keepalive_expiry` seconds."""
    return httpx.AsyncClient(
        verify=_tls(),
        timeout=httpx.Timeout(settings.VENDOR_TIMEOUT, connect=settings.VENDOR_CONNECT_TIMEOUT),
        limits=httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=keepalive_expiry,
        ),
    )


@asynccontextmanager
async def connect(account: PlatformAccount) -> AsyncIterator[Driver]:
    """A driver for `account` with its own client, closed on exit."""
    async with new_client() as client:
        yield driver_class(account.kind)(account, client)


def call(account: PlatformAccount, fn: Callable[[Driver], Awaitable[T]]) -> T:
    """Run one driver call from synchronous code (views, tasks)."""

    async def run() -> T:
        async with connect(account) as driver:
            return await fn(driver)

    return async_to_sync(run)()
