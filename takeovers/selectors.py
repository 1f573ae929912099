"""Reads of takeovers that the console and the broadcasts share."""

from __future__ import annotations

from django.conf import settings

from rooms.models import LiveSession
from rooms.platforms.base import TakeoverState
from takeovers.models import Takeover


def takeovers_for_console(session: LiveSession | None) -> dict[str, list[Takeover]]:
    """The queue (in the vendor's order) and the log of what played, for the console."""
    if session is None:
        return {"queue": [], "log": []}
    takeovers = list(session.takeovers.all())
    queue = sorted(
        (t for t in takeovers if t.is_active or t.takeover_state is TakeoverState.PENDING),
        key=lambda t: (t.queue_position or 10_000, t.created_at),
    )
    played = sorted(
        (t for t in takeovers if not t.is_active and t.state != "pending"), key=lambda t: t.created_at
    )
    return {"queue": queue, "log": played[-settings.TAKEOVER_LOG_LENGTH :][::-1]}
