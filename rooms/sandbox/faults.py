"""Fault switches for rehearsing failure: latency, 5xx, hung requests, dropped sockets, expired token.

Faults apply only to vendor paths (``/api/...``, ``/live-manager/...``, ``/v1/...``), never to
``/_sandbox/...``, so a test can always switch them off again.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

from pydantic import BaseModel, ConfigDict, Field

from .web import HttpError

# How long a request to a path in ``timeout_paths`` hangs before it is answered 504.
HANG_SECONDS = 30.0


class Faults(BaseModel):
    """The current fault set; ``PUT /_sandbox/faults`` replaces it whole, missing keys mean "off"."""

    model_config = ConfigDict(extra="forbid")

    latency_ms: float = Field(0.0, ge=0, le=60_000)
    error_rate: float = Field(0.0, ge=0, le=1)
    timeout_paths: list[str] = Field(default_factory=list)
    drop_websockets: bool = False
    expired_token: bool = False


def unauthorized() -> Exception:
    return HttpError(401, "Unauthorized: token expired")


async def apply_http_faults(
    faults: Faults, path: str, *, expired_token: Callable[[], Exception | None] = unauthorized
) -> None:
    """Delay, hang or fail a vendor request as the switches say; returns normally when none fires.

    ``expired_token`` builds what the path's vendor answers for an expired token (None: the path
    takes no token, so the fault does not apply to it).
    """
    if faults.latency_ms:
        await asyncio.sleep(faults.latency_ms / 1000)
    if path in faults.timeout_paths:
        await asyncio.sleep(HANG_SECONDS)
        raise HttpError(504, "Gateway Timeout (sandbox fault)")
    if faults.error_rate and random.random() < faults.error_rate:
        raise HttpError(503, "Service Unavailable (sandbox fault)")
    if faults.expired_token:
        error = expired_token()
        if error is not None:
            raise error
