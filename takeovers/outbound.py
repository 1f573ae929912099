"""What takeovers send out of the process, driver calls and console pushes, on one event loop
per process that stays up.

`rooms.platforms.call` and `room_broadcast` run each call in a fresh event loop
(`async_to_sync`): a new thread, a new HTTP client and connection to the vendor for each driver
call (~2 ms more than the request itself on the development VM), and a new Redis connection of
the channel layer (which keeps one per loop) for each push (1.9 ms against 0.2 ms). A takeover
is waited for by a host on air, so here each process keeps one loop (`rooms.process`), one
client on it and the channel layer's connection, open between tasks.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

import httpx
from channels.layers import get_channel_layer

from rooms import platforms
from rooms.platforms.base import Driver
from rooms.process import ProcessLoop, process_loop
from rooms.services import console_lock

if TYPE_CHECKING:
    from rooms.models import PlatformAccount

T = TypeVar("T")


class _Loop(ProcessLoop):
    """The loop takeovers' vendor calls and pushes run on, and the one client used on it."""

    thread_name = "vendor-calls"

    def __init__(self) -> None:
        super().__init__()
        self.client: httpx.AsyncClient | None = None
        self.made_by: Callable[..., httpx.AsyncClient] | None = None

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


def _running() -> _Loop:
    return process_loop(_Loop)


def warm() -> None:
    """Start this process's loop and client now (a pool process starting), so the first
    takeover does not wait for the client's TLS setup."""
    running = _running()
    running.run(running.client_now())


def vendor_call(account: PlatformAccount, fn: Callable[[Driver], Awaitable[T]]) -> T:
    """Run one driver call from synchronous code (tasks, views) on this process's client."""
    running = _running()

    async def call() -> T:
        return await fn(await running.driver(account))

    return running.run(call())


def console_push(group: str, render: Callable[[], str]) -> None:
    """Render a fragment and send it to every console in `group`, under the group's push lock
    (`rooms.services.console_lock`), as `rooms_broadcast` does."""
    with console_lock(group):
        layer = get_channel_layer()
        assert layer is not None
        html = render()
        _running().run(layer.group_send(group, {"type": "room.state", "html": html}))
