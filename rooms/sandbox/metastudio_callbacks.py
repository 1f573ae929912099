"""Delivery of MetaStudio's live event callbacks, signed as each room's LiveEventCallBackConfig says.

Like ``callbacks.CallbackSender``, each job has its own FIFO and at most one worker, so one job's
callbacks arrive in order and jobs do not wait for each other. It is a sender of its own because the
signature is made when a request leaves, not when it is queued: MSS_A and MSS_A_HEAD put the time in
the signature (valid for one minute), and MSS_A_HEAD signs with headers.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import httpx

from .metastudio_auth import signed_callback

logger = logging.getLogger(__name__)

RETRY_DELAYS = (0.2, 0.5, 1.0)


@dataclass(frozen=True)
class Delivery:
    url: str
    auth_type: str
    key: str
    payload: dict[str, Any]


class MetaStudioCallbacks:
    """POSTs ``{"event_type", "message"}`` bodies to customer URLs with a few retries."""

    def __init__(self) -> None:
        self._pending: dict[str, deque[Delivery]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._client: httpx.AsyncClient | None = None
        self.delivered = 0
        self.failed = 0

    def send(self, key: str, delivery: Delivery) -> None:
        if not delivery.url:
            return
        self._pending.setdefault(key, deque()).append(delivery)
        if key not in self._workers:
            self._workers[key] = asyncio.get_running_loop().create_task(self._drain(key))

    async def reset(self) -> None:
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
                await self._deliver(queue.popleft())
        finally:
            self._workers.pop(key, None)
            if not queue:
                self._pending.pop(key, None)

    async def _deliver(self, delivery: Delivery) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=5.0, limits=httpx.Limits(max_connections=100))
        body = json.dumps(delivery.payload, ensure_ascii=False).encode()
        for delay in (0.0, *RETRY_DELAYS):
            if delay:
                await asyncio.sleep(delay)
            url, headers = signed_callback(delivery.url, delivery.auth_type, delivery.key, time.time())
            headers["Content-Type"] = "application/json"
            try:
                response = await self._client.post(url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                logger.debug("callback to %s failed: %s", delivery.url, exc)
                continue
            if response.is_success:
                self.delivered += 1
                return
        self.failed += 1
        logger.warning("callback to %s dropped after %d attempts", delivery.url, len(RETRY_DELAYS) + 1)
