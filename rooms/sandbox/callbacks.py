"""Background delivery of vendor status callbacks.

Each key (a session, a job) has its own FIFO and at most one worker, so callbacks of one session
arrive in order while sessions do not wait for each other. A request never waits for a callback.
A callback that must be signed (MetaStudio's MSS_A, MSS_A_HEAD) is signed as each attempt leaves,
not when it is queued: the signature holds the time and is valid for a minute.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

import httpx

logger = logging.getLogger(__name__)

RETRY_DELAYS = (0.2, 0.5, 1.0)

# Given the URL, the URL to post to and the headers to add, made anew for each attempt.
Signer = Callable[[str], tuple[str, dict[str, str]]]


def _unsigned(url: str) -> tuple[str, dict[str, str]]:
    return url, {}


class CallbackSender:
    """POSTs JSON payloads to customer URLs with a few retries."""

    def __init__(self) -> None:
        self._pending: dict[str, deque[tuple[str, dict[str, Any], Signer]]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._client: httpx.AsyncClient | None = None
        self.delivered = 0
        self.failed = 0

    def send(self, key: str, url: str, payload: dict[str, Any], sign: Signer = _unsigned) -> None:
        """Queue ``payload`` for ``url``; an empty URL means the account wants no callbacks."""
        if not url:
            return
        self._pending.setdefault(key, deque()).append((url, payload, sign))
        if key not in self._workers:
            self._workers[key] = asyncio.get_running_loop().create_task(self._drain(key))

    async def reset(self) -> None:
        """Forget undelivered callbacks (used by ``/_sandbox/reset``)."""
        workers = list(self._workers.values())
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        self._workers.clear()
        self._pending.clear()
        self.delivered = self.failed = 0

    async def _drain(self, key: str) -> None:
        queue = self._pending[key]
        try:
            while queue:
                await self._deliver(*queue.popleft())
        finally:
            self._workers.pop(key, None)
            if not queue:
                self._pending.pop(key, None)

    async def _deliver(self, url: str, payload: dict[str, Any], sign: Signer) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=5.0, limits=httpx.Limits(max_connections=100))
        for delay in (0.0, *RETRY_DELAYS):
            if delay:
                await asyncio.sleep(delay)
            target, headers = sign(url)
            try:
                response = await self._client.post(target, json=payload, headers=headers)
            except httpx.HTTPError as exc:
                logger.debug("callback to %s failed: %s", url, exc)
                continue
            if response.is_success:
                self.delivered += 1
                return
        self.failed += 1
        logger.warning("callback to %s dropped after %d attempts", url, len(RETRY_DELAYS) + 1)
